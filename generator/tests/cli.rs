//! The `mcpgen` command as users and scripts see it: output streams and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn mcpgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("mcpgen runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_valid_specs_exits_0() {
    let out = mcpgen(&[
        "check",
        "specs/medtainer.yaml",
        "specs/forge.yaml",
        "specs/local-notes.yaml",
        "specs/conformance-fixture.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("specs/medtainer.yaml: ok (7 tools)"));
    assert!(stderr(&out).is_empty());
}

#[test]
fn check_reports_every_invalid_file_and_exits_1() {
    let out = mcpgen(&[
        "check",
        "specs/medtainer.yaml",
        "tests/invalid/scope-trailing-space.yaml",
        "tests/invalid/tool-name-dot.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--> tests/invalid/scope-trailing-space.yaml:9:5"),
        "{err}"
    );
    assert!(
        err.contains("--> tests/invalid/tool-name-dot.yaml:11:11"),
        "{err}"
    );
    assert!(stdout(&out).contains("specs/medtainer.yaml: ok"));
}

#[test]
fn unreadable_file_exits_2() {
    let out = mcpgen(&["check", "specs/medtainer.yaml", "specs/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error: cannot read `specs/no-such-file.yaml`"));
    // A directory cannot be read as a spec either.
    assert_eq!(mcpgen(&["check", "specs"]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mcpgen(&[]).status.code(), Some(2));
    assert_eq!(mcpgen(&["check"]).status.code(), Some(2));
    assert_eq!(mcpgen(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let out = mcpgen(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let on_disk = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcpgen.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout(&out), on_disk);
    let schema: serde_json::Value = serde_json::from_str(&on_disk).unwrap();
    assert_eq!(
        schema["$defs"]["ScopeName"]["pattern"],
        r"^[\x21\x23-\x5B\x5D-\x7E]+$"
    );
}

#[test]
fn help_and_version() {
    let out = mcpgen(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("help", stdout(&out));
    let out = mcpgen(&["--version"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("mcpgen {}", env!("CARGO_PKG_VERSION"))
    );
}
