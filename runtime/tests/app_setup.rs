//! `run_setup_with`: generated servers build their handlers at start, with the effective
//! configuration, and a failure to build them is a start-up error (exit code 2).

mod app_common;

use std::process::ExitCode;
use std::sync::Mutex;

use app_common::*;
use mcpgen_runtime::app::run_setup_with;

#[test]
fn a_failing_setup_is_a_start_up_error_and_sees_the_effective_configuration() {
    let seen = Mutex::new(None);
    let argv = [
        "medtainer-mcp",
        "--public-url",
        "http://127.0.0.1:9",
        "--consent",
        "auto",
        "--store",
        "memory",
    ];
    let code = run_setup_with(
        app(),
        |config| {
            *seen.lock().unwrap() = Some((config.public_url.clone(), config.store.clone()));
            async { Err::<Handler, _>("no database at db.internal:5432") }
        },
        argv,
        |_| None,
    );
    assert_eq!(code, ExitCode::from(2));
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some(("http://127.0.0.1:9".to_owned(), "memory".to_owned()))
    );
}

#[test]
fn flag_errors_come_before_the_setup_runs() {
    let ran = Mutex::new(false);
    let code = run_setup_with(
        app(),
        |_config| {
            *ran.lock().unwrap() = true;
            async { Ok::<_, String>(Handler::new()) }
        },
        ["medtainer-mcp", "--consent", "auto"],
        |_| None,
    );
    assert_eq!(code, ExitCode::from(2));
    assert!(!*ran.lock().unwrap(), "setup ran despite a flag error");
}
