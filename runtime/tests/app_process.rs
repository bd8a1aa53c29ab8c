//! The process path of a generated server (`run_with`, what `run` calls): exit codes, the
//! start-up error line, `--version`, `hash-password`, the listening log line, and graceful
//! shutdown on SIGTERM. The test binary re-runs itself as the server process: the `child`
//! test runs the app when `MCPGEN_APP_CHILD_ARGS` is set and is a no-op otherwise.

mod app_common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use app_common::*;
use mcpgen_runtime::app::run_with;

const CHILD_ARGS: &str = "MCPGEN_APP_CHILD_ARGS";

#[test]
fn child() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("child args");
    let argv = std::iter::once("medtainer-mcp".to_owned()).chain(args);
    let code = run_with(app(), Handler::new(), argv, |k| std::env::var(k).ok());
    let _ = std::io::stdout().flush();
    // `ExitCode::exit_process` is unstable; the codes run_with returns are these three.
    let code = [0u8, 1, 2]
        .into_iter()
        .find(|c| std::process::ExitCode::from(*c) == code)
        .expect("a known exit code");
    std::process::exit(i32::from(code));
}

/// Starts this test binary as the server with `args` and the given environment (nothing
/// else from the parent's environment).
fn spawn(args: &[&str], vars: &[(&str, &str)], stdin: bool) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
        .env_clear()
        .env(CHILD_ARGS, serde_json::to_string(args).expect("json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() });
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn the server process")
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn start_errors_exit_2_with_one_line() {
    let (code, _, stderr) = finish(spawn(&["--consent", "auto"], &[], false));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "error: --consent auto needs a loopback public url, and https://medtainer.example.com \
         is not: use --consent password\n"
    );
    let (code, _, stderr) = finish(spawn(&[], &[], false));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: consent password needs MCPGEN_PASSWORD_HASH: create it with `medtainer-mcp \
         hash-password`\n"
    );
    // The store is opened after flags are checked: still a start-up error.
    let (code, _, stderr) = finish(spawn(
        &[
            "--public-url",
            "http://127.0.0.1:1",
            "--consent",
            "auto",
            "--store",
            "sqlite:/nonexistent-dir/x.sqlite3",
        ],
        &[],
        false,
    ));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: cannot open store"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A bad RUST_LOG, and clap's usage errors.
    let (code, _, stderr) = finish(spawn(
        &["--public-url", "http://127.0.0.1:1", "--consent", "auto"],
        &[("RUST_LOG", "info,[")],
        false,
    ));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: RUST_LOG"), "{stderr}");
    let (code, _, stderr) = finish(spawn(&["--frobnicate"], &[], false));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: unexpected argument '--frobnicate'"),
        "{stderr}"
    );
}

#[test]
fn version_and_help_exit_0() {
    let (code, stdout, _) = finish(spawn(&["--version"], &[], false));
    assert_eq!(code, 0);
    assert!(
        stdout.lines().any(|l| l == "medtainer-mcp 0.3.1"),
        "{stdout}"
    );
    let (code, stdout, _) = finish(spawn(&["--help"], &[], false));
    assert_eq!(code, 0);
    assert!(stdout.contains("MCPGEN_PUBLIC_URL"), "{stdout}");
}

#[test]
fn hash_password_reads_stdin() {
    let mut child = spawn(&["hash-password"], &[], true);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long random password for tests\n")
        .expect("write");
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 0, "{stderr}");
    let hash = stdout
        .lines()
        .find(|l| l.starts_with("$argon2id$"))
        .unwrap_or_else(|| panic!("no hash in {stdout:?}"));
    assert!(mcpgen_runtime::oauth::verify_password(
        hash,
        "a long random password for tests"
    ));
    assert!(stderr.is_empty(), "{stderr}");

    let mut child = spawn(&["hash-password"], &[], true);
    drop(child.stdin.take());
    let (code, _, stderr) = finish(child);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: no password on stdin"),
        "{stderr}"
    );
}

/// Lines of the child's stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?}; saw {seen:#?}");
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn terminate(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
}

#[test]
fn serves_logs_and_stops_on_sigterm() {
    let hash = mcpgen_runtime::oauth::hash_password("a long random password for tests");
    let mut child = spawn(
        &["--bind", "127.0.0.1:0", "--store", "memory"],
        &[
            ("MCPGEN_PUBLIC_URL", "https://mcp.example.org"),
            ("MCPGEN_PASSWORD_HASH", &hash),
        ],
        false,
    );
    let lines = stderr_lines(&mut child);
    let line = wait_for(&lines, "listening");
    assert!(
        !line.contains('\u{1b}'),
        "no colours when not a terminal: {line}"
    );
    for field in [
        "public_url=https://mcp.example.org",
        "resource=https://mcp.example.org/mcp",
        "issuer=https://mcp.example.org",
        "store=memory",
        "consent=password",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(!line.contains(&hash), "the hash is a secret: {line}");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("addr in the log line")
        .to_owned();

    let reply = http_get(&addr, "/healthz");
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok"),
        "{reply}"
    );

    terminate(&child);
    wait_for(&lines, "shutting down");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn json_logs() {
    let mut child = spawn(
        &[
            "--bind",
            "127.0.0.1:0",
            "--store",
            "memory",
            "--consent",
            "auto",
        ],
        &[
            ("MCPGEN_PUBLIC_URL", "http://localhost:9"),
            ("MCPGEN_LOG_FORMAT", "json"),
        ],
        false,
    );
    let lines = stderr_lines(&mut child);
    let line = wait_for(&lines, "listening");
    let v: serde_json::Value = serde_json::from_str(&line).expect("a json line");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "listening");
    assert_eq!(v["fields"]["resource"], "http://localhost:9/mcp");
    assert_eq!(v["fields"]["consent"], "auto");
    let addr = v["fields"]["addr"].as_str().expect("addr").to_owned();
    let reply = http_get(&addr, "/healthz");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    terminate(&child);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}
