//! Start-up errors keep the error that caused them as their `source()`, so a caller (or a
//! tool that prints the whole chain) can tell an I/O failure from a bad value, while the
//! message a person reads stays one line.

mod app_common;

use std::error::Error as _;

use app_common::*;
use mcpgen_runtime::app::Server;
use mcpgen_runtime::template::Template;

const LOCAL: &str = "http://127.0.0.1:8000";

#[test]
fn a_public_url_that_is_not_a_url_keeps_the_parse_error() {
    let e = parse_for(&app(), &["--public-url", "not a url"], &[]).expect_err("not a url");
    assert!(e.to_string().contains("is not a url"), "{e}");
    let source = e.source().expect("the url parse error is kept");
    assert!(
        source.downcast_ref::<url::ParseError>().is_some(),
        "{source:?}"
    );
}

#[test]
fn a_template_that_does_not_compile_keeps_the_minijinja_error() {
    let e = Template::new("broken", "{% if x %}unclosed").unwrap_err();
    let source = e.source().expect("the template error is kept");
    assert!(
        source.downcast_ref::<minijinja::Error>().is_some(),
        "{source:?}"
    );
}

/// The start-up error for a store that does not open; its source is the store's error.
async fn store_error(store: &str) -> mcpgen_runtime::config::StartError {
    let config = config_for(
        &app(),
        &["--public-url", LOCAL, "--consent", "auto", "--store", store],
        &[],
    );
    match Server::build(&app(), &config, Handler::new()).await {
        Ok(_) => panic!("the store {store} opened"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_store_that_does_not_open_keeps_the_sqlite_error() {
    // A directory: the file check lets it through, and SQLite refuses to open it.
    let dir = std::env::temp_dir().join(format!("mcpgen-error-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create dir");
    let e = store_error(&format!("sqlite:{}", dir.display())).await;
    let _ = std::fs::remove_dir(&dir);
    let store = e.source().expect("the store error is kept");
    let sqlite = store.source().expect("the sqlite error is kept");
    assert!(
        sqlite.downcast_ref::<rusqlite::Error>().is_some(),
        "{sqlite:?}"
    );
}

#[tokio::test]
async fn a_store_file_that_cannot_be_created_keeps_the_io_error() {
    let e = store_error("sqlite:/nonexistent-dir/x/y.sqlite3").await;
    assert!(
        e.to_string()
            .starts_with("cannot open store sqlite:/nonexistent-dir/x/y.sqlite3"),
        "{e}"
    );
    let store = e.source().expect("the store error is kept");
    let io = store.source().expect("the io error is kept");
    let io = io.downcast_ref::<std::io::Error>().expect("an io error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[tokio::test]
async fn an_address_in_use_keeps_the_io_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let config = config_for(
        &app(),
        &[
            "--bind",
            &addr,
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    let server = Server::build(&app(), &config, Handler::new())
        .await
        .expect("builds");
    let e = server.listen().await.expect_err("address taken");
    let io = e.source().expect("the io error is kept");
    let io = io.downcast_ref::<std::io::Error>().expect("an io error");
    assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
}
