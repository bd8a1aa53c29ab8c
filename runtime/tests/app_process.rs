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
/// When set, the child's `greet` tool renders this template instead of the usual one.
const CHILD_GREETING: &str = "MCPGEN_APP_CHILD_GREETING";

#[test]
fn child() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("child args");
    let argv = std::iter::once("medtainer-mcp".to_owned()).chain(args);
    let handler = match std::env::var(CHILD_GREETING) {
        Ok(template) => Handler::with_greeting(&template),
        Err(_) => Handler::new(),
    };
    let code = run_with(app(), handler, argv, |k| std::env::var(k).ok());
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
    let (code, _, stderr) = finish(spawn(&["--login", "auto"], &[], false));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "error: --login auto needs a loopback public url, and https://medtainer.example.com \
         is not: use --login password, users or oidc\n"
    );
    let (code, _, stderr) = finish(spawn(&[], &[], false));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: login password needs MCPGEN_PASSWORD_HASH: create it with `medtainer-mcp \
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
        "login=password",
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
    assert_eq!(v["fields"]["login"], "auto");
    let addr = v["fields"]["addr"].as_str().expect("addr").to_owned();
    let reply = http_get(&addr, "/healthz");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    terminate(&child);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const OWNER_PASSWORD: &str = "the owner's long password";

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A password-consent server on https://mcp.example.org with `args` added; its address and
/// its stderr lines.
fn password_server(args: &[&str], log_format: &str) -> (Child, String, mpsc::Receiver<String>) {
    let hash = mcpgen_runtime::oauth::hash_password(OWNER_PASSWORD);
    let mut all = vec!["--bind", "127.0.0.1:0", "--store", "memory"];
    all.extend_from_slice(args);
    let mut child = spawn(
        &all,
        &[
            ("MCPGEN_PUBLIC_URL", "https://mcp.example.org"),
            ("MCPGEN_PASSWORD_HASH", &hash),
            ("MCPGEN_LOG_FORMAT", log_format),
        ],
        false,
    );
    let lines = stderr_lines(&mut child);
    let line = wait_for(&lines, "listening");
    let addr = match serde_json::from_str::<serde_json::Value>(&line) {
        Ok(v) => v["fields"]["addr"].as_str().expect("addr").to_owned(),
        Err(_) => line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .expect("addr in the log line")
            .to_owned(),
    };
    (child, addr, lines)
}

fn register_client(addr: &str) -> String {
    let body = serde_json::json!({
        "client_name": "Claude",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let (status, reply) = socket_request(
        addr,
        "POST",
        "/register",
        &[("Content-Type", "application/json")],
        &body.to_string(),
    );
    assert_eq!(status, 201, "{reply}");
    let json = reply.split_once("\r\n\r\n").expect("body").1;
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    v["client_id"].as_str().expect("client_id").to_owned()
}

/// Submits the consent form with `password`, as a browser behind the proxy at the socket peer
/// would, forwarded for `client_ip`.
fn consent(addr: &str, client_id: &str, password: &str, client_ip: &str) -> (u16, String) {
    let body = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("state", "s"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("csrf", "double-submitted"),
        ("password", password),
        ("action", "approve"),
    ]);
    socket_request(
        addr,
        "POST",
        "/authorize",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", "__Host-mcpgen_csrf=double-submitted"),
            ("X-Forwarded-For", &format!("203.0.113.99, {client_ip}")),
        ],
        &body,
    )
}

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

#[test]
fn concurrent_wrong_passwords_are_counted_first_and_checked_a_few_at_a_time() {
    use mcpgen_runtime::oauth::PASSWORD_BURST;
    let (child, addr, _lines) = password_server(&["--trusted-proxies", "127.0.0.0/8"], "text");
    let client_id = register_client(&addr);
    let before = peak_rss_kib(&child);

    // 60 wrong passwords at once from one address: only its burst is checked.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..60)
            .map(|_| s.spawn(|| consent(&addr, &client_id, "a wrong guess", "198.51.100.7").0))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect()
    });
    let verified = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(verified + limited, 60, "{statuses:?}");
    // The bucket regains one attempt every 12 s: one more may pass on a slow machine.
    let burst = PASSWORD_BURST as usize;
    assert!(
        (burst..=burst + 1).contains(&verified),
        "{verified} of 60 wrong passwords were checked"
    );
    // Two 19 MiB Argon2 working memories at most (about 40 MiB); checks run all at once, or
    // each with fresh memory, took about 1 GiB.
    let peak = peak_rss_kib(&child);
    assert!(
        peak < before + 64 * 1024,
        "peak memory went from {before} KiB to {peak} KiB"
    );

    // That address is locked out, even with the right password; the owner, elsewhere, is not.
    let (status, reply) = consent(&addr, &client_id, OWNER_PASSWORD, "198.51.100.7");
    assert_eq!(status, 429, "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("retry-after:"),
        "{reply}"
    );
    let (status, reply) = consent(&addr, &client_id, OWNER_PASSWORD, "192.0.2.10");
    assert_eq!(status, 302, "{reply}");
    assert!(reply.contains("code="), "{reply}");
    terminate(&child);
    let mut child = child;
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// A value crafted to forge a log line: a newline, a fake `token_issued` line, a carriage
/// return and terminal escapes.
const FORGE: &str =
    "x\nFORGED decision=\"token_issued\" client_id=\"evil\"\r\u{1b}[2J\u{1b}]0;t\u{7}";

/// Sends `forge` in the names and values of every OAuth and MCP input, then a real grant, and
/// returns the server's stderr lines.
fn hostile_session(log_format: &str, forge: &str) -> Vec<String> {
    let (mut child, addr, lines) = password_server(&[], log_format);
    let a = addr.as_str();
    let client_id = register_client(a);
    // Registration: the name and the redirect URIs.
    let bad_client = serde_json::json!({
        "client_name": forge,
        "redirect_uris": [CALLBACK, format!("https://example.com/{forge}")],
    });
    let json = [("Content-Type", "application/json")];
    socket_request(a, "POST", "/register", &json, &bad_client.to_string());
    let named = serde_json::json!({"client_name": forge, "redirect_uris": [CALLBACK]});
    socket_request(a, "POST", "/register", &json, &named.to_string());
    socket_request(
        a,
        "POST",
        "/register",
        &json,
        &format!("{{\"{}\": 1", forge.escape_default()),
    );

    // Authorization: repeated names, every parameter's value, on GET and POST.
    let valid = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("state", forge),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("scope", forge),
        ("resource", forge),
    ];
    let html = [
        ("Accept", "text/html"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let mut variants = vec![form(&[(forge, "1"), (forge, "2")])];
    for i in 0..valid.len() {
        let mut p = valid.to_vec();
        p[i].1 = forge;
        variants.push(form(&p));
    }
    for q in &variants {
        socket_request(a, "GET", &format!("/authorize?{q}"), &html, "");
        socket_request(a, "POST", "/authorize", &html, q);
    }
    // The real grant, with a hostile extra parameter and a hostile state.
    let mut consent_form = valid.to_vec();
    consent_form.retain(|(k, _)| *k != "resource" && *k != "scope");
    consent_form.extend([
        ("csrf", "c"),
        ("password", OWNER_PASSWORD),
        ("action", "approve"),
        (forge, forge),
    ]);
    let (status, reply) = socket_request(
        a,
        "POST",
        "/authorize",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", "__Host-mcpgen_csrf=c"),
        ],
        &form(&consent_form),
    );
    assert_eq!(status, 302, "{reply}");
    let location = reply
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("location");
    let code = url::Url::parse(location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let token_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", client_id.as_str()),
        ("code_verifier", VERIFIER),
        (forge, forge),
    ];
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, reply) = socket_request(a, "POST", "/token", &ct, &form(&token_form));
    assert_eq!(status, 200, "{reply}");
    let body: serde_json::Value =
        serde_json::from_str(reply.split_once("\r\n\r\n").expect("body").1).expect("json");
    let access = body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    // Token and revocation: repeated names and every parameter's value.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "r"),
        ("client_id", client_id.as_str()),
        ("scope", "claudeai"),
        ("resource", "https://mcp.example.org/mcp"),
    ];
    let revoke = [
        ("token", "t"),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id.as_str()),
    ];
    for (path, base) in [
        ("/token", &token_form[..5]),
        ("/token", &refresh[..]),
        ("/revoke", &revoke[..]),
    ] {
        socket_request(a, "POST", path, &ct, &form(&[(forge, "1"), (forge, "2")]));
        for i in 0..base.len() {
            let mut p = base.to_vec();
            p[i].1 = forge;
            socket_request(a, "POST", path, &ct, &form(&p));
        }
    }

    // MCP: method, tool name, argument names and values, ids, with and without a token.
    let bearer = format!("Bearer {access}");
    let mcp = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2025-06-18"),
        ("Authorization", bearer.as_str()),
    ];
    let mcp_anon = &mcp[..3];
    for body in [
        serde_json::json!({"jsonrpc": "2.0", "id": forge, "method": forge}),
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": forge, "arguments": {forge: forge}}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": forge, forge: 1}}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "greet", "arguments": {"order_id": forge, "name": forge}}}),
        serde_json::json!([{"jsonrpc": "2.0", "id": 4, "method": forge}]),
        serde_json::json!({"jsonrpc": "2.0", "method": forge, forge: forge}),
    ] {
        socket_request(a, "POST", "/mcp", &mcp, &body.to_string());
        socket_request(a, "POST", "/mcp", mcp_anon, &body.to_string());
    }
    terminate(&child);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    lines.iter().collect()
}

#[test]
fn request_values_cannot_forge_text_log_lines() {
    let lines = hostile_session("text", FORGE);
    for line in &lines {
        assert!(
            line.as_bytes().first().is_some_and(u8::is_ascii_digit)
                && [" INFO ", " WARN ", " ERROR ", " DEBUG "]
                    .iter()
                    .any(|l| line.contains(l)),
            "not a log line of its own: {line:?}"
        );
        assert!(
            !line.contains('\r') && !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "a control character in {line:?}"
        );
    }
    let issued = lines
        .iter()
        .filter(|l| l.contains("decision=\"token_issued\""))
        .count();
    assert_eq!(issued, 1, "{lines:#?}");
    // The hostile values did reach the log, escaped.
    assert!(lines.iter().any(|l| l.contains("FORGED")), "{lines:#?}");
}

#[test]
fn request_values_cannot_forge_json_log_lines() {
    let lines = hostile_session("json", FORGE);
    let mut issued = 0;
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a json line ({e}): {line:?}"));
        if v["fields"]["decision"] == "token_issued" {
            issued += 1;
        }
        assert!(!line.contains('\u{1b}') && !line.contains('\r'), "{line:?}");
    }
    assert_eq!(issued, 1, "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("FORGED")), "{lines:#?}");
}

/// Starts a loopback server with auto consent and `args`; returns it, its log lines and the
/// address it listens on.
fn start_local(args: &[&str]) -> (Child, mpsc::Receiver<String>, String) {
    let mut all = vec![
        "--bind",
        "127.0.0.1:0",
        "--store",
        "memory",
        "--consent",
        "auto",
    ];
    all.extend_from_slice(args);
    let mut child = spawn(&all, &[("MCPGEN_PUBLIC_URL", "http://127.0.0.1:9")], false);
    let lines = stderr_lines(&mut child);
    let addr = listening_addr(&lines);
    (child, lines, addr)
}

fn listening_addr(lines: &mpsc::Receiver<String>) -> String {
    let line = wait_for(lines, "listening");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("addr in the log line")
        .to_owned()
}

/// Sends `request` as is and reads the reply until the server closes the connection.
fn raw(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server has closed `s` (end of stream or reset), waiting up to `within`.
fn closed_within(s: &mut std::net::TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // Whatever the server answers first, it must then close.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Reads one `Content-Length` response off a keep-alive connection.
fn read_response(s: &mut std::net::TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
        let n = s.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before a whole response: {text:?}");
        out.extend_from_slice(&buf[..n]);
    }
}

fn healthz_request(addr: &str) -> String {
    format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

/// Slowloris: 50 connections each sending a request head a byte at a time are closed once
/// the head timeout (2 s here, 30 s by default) passes, and a normal client is served while
/// they hang on.
#[test]
fn slow_clients_are_closed_while_others_are_served() {
    let (child, _lines, addr) = start_local(&["--head-timeout", "2"]);
    let head = healthz_request(&addr).into_bytes();
    let mut slow: Vec<(std::net::TcpStream, usize)> = (0..50)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).expect("connect");
            s.write_all(&head[..1]).expect("first byte");
            (s, 1)
        })
        .collect();

    let reply = http_get(&addr, "/healthz");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    // Keep trickling (the pace of the attack, not a synchronisation) until every slow
    // connection is closed; the bound is well under the 30 s default.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut open = slow.len();
    while open > 0 && std::time::Instant::now() < deadline {
        open = 0;
        for (s, sent) in &mut slow {
            if *sent == usize::MAX {
                continue;
            }
            if closed_within(s, Duration::from_millis(5)) {
                *sent = usize::MAX;
                continue;
            }
            if *sent < head.len() - 1 && s.write_all(&head[*sent..=*sent]).is_ok() {
                *sent += 1;
            }
            open += 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(open, 0, "slow connections still open after 20 s");
    let reply = http_get(&addr, "/healthz");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    terminate(&child);
}

/// A request body that stops arriving is abandoned after the body timeout, and the
/// connection closed; an idle keep-alive connection is closed after the idle timeout.
#[test]
fn stalled_bodies_and_idle_connections_are_closed() {
    let (child, _lines, addr) = start_local(&["--body-timeout", "1", "--idle-timeout", "1"]);
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /register HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"redirect_uris\""
    )
    .expect("write");
    assert!(
        closed_within(&mut s, Duration::from_secs(15)),
        "a stalled body holds its connection"
    );

    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.write_all(healthz_request(&addr).as_bytes())
        .expect("write");
    let reply = read_response(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        closed_within(&mut s, Duration::from_secs(15)),
        "an idle keep-alive connection stays open"
    );
    terminate(&child);
}

/// With the connection cap reached, the established client keeps being served and a new one
/// waits for a free slot. The soft descriptor limit is raised to the hard one at start.
#[cfg(target_os = "linux")]
#[test]
fn connection_cap_keeps_established_clients_served() {
    // Start with a low soft limit, as a shell's `ulimit -n 1024` would.
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=128:")
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
        .env_clear()
        .env(
            CHILD_ARGS,
            serde_json::to_string(&[
                "--bind",
                "127.0.0.1:0",
                "--store",
                "memory",
                "--consent",
                "auto",
                "--max-connections",
                "4",
            ])
            .expect("json"),
        )
        .env("MCPGEN_PUBLIC_URL", "http://127.0.0.1:9")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("spawn prlimit");
    let lines = stderr_lines(&mut child);
    let addr = listening_addr(&lines);

    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("limits");
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line")
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect();
    assert_eq!(
        files[0], files[1],
        "soft limit raised to the hard one: {limits}"
    );
    assert_ne!(files[0], "128", "{limits}");

    let mut established = std::net::TcpStream::connect(&addr).expect("connect");
    established
        .write_all(healthz_request(&addr).as_bytes())
        .expect("write");
    assert!(read_response(&mut established).starts_with("HTTP/1.1 200"));
    // From other addresses: one source may hold only part of the cap (see
    // `one_source_cannot_take_every_connection_slot`).
    let mut idle: Vec<_> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|ip| connect_from(ip, &addr))
        .collect();
    // The fifth connection is in the listen backlog, not served.
    let mut waiting = connect_from("127.0.0.5", &addr);
    waiting
        .write_all(healthz_request(&addr).as_bytes())
        .expect("write");
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert!(
        waiting.read(&mut buf).is_err(),
        "served beyond the connection cap"
    );
    // The established client is served meanwhile.
    for _ in 0..3 {
        established
            .write_all(healthz_request(&addr).as_bytes())
            .expect("write");
        assert!(read_response(&mut established).starts_with("HTTP/1.1 200"));
    }
    // A slot frees: the waiting client is served.
    drop(idle.pop());
    assert!(read_response(&mut waiting).starts_with("HTTP/1.1 200"));
    terminate(&child);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// RFC 9112 §3.2: a request with two `Host` headers, or (HTTP/1.1) none, gets 400; so does an
/// absolute-form target naming another host than `Host` (§3.2.2), which would let one check
/// read one host and another check the other.
#[test]
fn host_header_edge_cases_get_400() {
    let (child, _lines, addr) = start_local(&[]);
    let bad = [
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nHost: {addr}\r\n\r\n"),
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nHost: evil.example\r\n\r\n"),
        "GET /healthz HTTP/1.1\r\n\r\n".to_owned(),
        format!("GET http://evil.example/healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        format!("GET http://{addr}/healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
        "GET /healthz HTTP/1.1\r\nHost: user@127.0.0.1\r\n\r\n".to_owned(),
    ];
    for request in &bad {
        let reply = raw(&addr, request);
        assert!(reply.starts_with("HTTP/1.1 400"), "{request:?} -> {reply}");
    }
    let good = [
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        format!("GET http://{addr}/healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        "GET /healthz HTTP/1.0\r\n\r\n".to_owned(),
    ];
    for request in &good {
        let reply = raw(&addr, request);
        assert!(
            reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200"),
            "{request:?} -> {reply}"
        );
    }
    terminate(&child);
}

/// Request heads are buffered only up to a small size: 200 connections each sending a
/// 400 KB head (under hyper's default buffer of about 400 KiB, which every open connection
/// could fill: 8 GB at a cap of 20,000) get 431 and leave memory about where it was, while a
/// head of a realistic size is served.
#[test]
fn large_request_heads_are_refused_in_bounded_memory() {
    let (child, _lines, addr) = start_local(&["--head-timeout", "5"]);
    let before = peak_rss_kib(&child);
    let header = format!("X-Filler: {}\r\n", "a".repeat(8000));
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.set_write_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let _ = write!(s, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n");
        // Until the server refuses the head (or all of it is sent).
        for _ in 0..50 {
            if s.write_all(header.as_bytes()).is_err() {
                break;
            }
        }
        conns.push(s);
    }
    for s in &mut conns {
        let reply = read_response(s);
        assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    }
    let peak = peak_rss_kib(&child);
    assert!(
        peak < before + 32 * 1024,
        "peak memory went from {before} KiB to {peak} KiB"
    );
    // A head of a few KiB (a long cookie, a bearer token) is fine.
    let reply = raw(
        &addr,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{header}{header}\r\n"
        ),
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    terminate(&child);
}

/// SIGTERM stops the server even while a client keeps a request body trickling in (a byte
/// within every body timeout): draining waits for requests in flight, but not for ever.
#[test]
fn a_trickling_body_does_not_hold_shutdown() {
    let (mut child, lines, addr) = start_local(&["--head-timeout", "1", "--body-timeout", "1"]);
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /register HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 60000\r\nExpect: 100-continue\r\n\r\n"
    )
    .expect("write");
    // The handler reads the body: the request is in flight.
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 25];
    s.read_exact(&mut buf).expect("100 continue");
    assert!(buf.starts_with(b"HTTP/1.1 100 Continue"), "{buf:?}");
    s.write_all(b"{").expect("write");
    terminate(&child);
    wait_for(&lines, "shutting down");
    // Keep the body coming, a byte every 200 ms (the pace of the attack), for up to 20 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut exited = None;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            exited = Some(status);
            break;
        }
        let _ = s.write_all(b" ");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    assert!(
        exited.is_some(),
        "still running 20 s after SIGTERM with a trickling body"
    );
}

/// A request cannot write a log line of unbounded length either: values are clipped, so a
/// line stays far below the 16 KiB at which Docker, or 48 KiB at which journald, splits it
/// into records of their own (the rest of a long value would then start a record).
#[test]
fn request_values_cannot_make_long_log_lines() {
    let long = FORGE.repeat(80);
    for format in ["text", "json"] {
        let lines = hostile_session(format, &long);
        for line in &lines {
            assert!(
                line.len() <= 4096,
                "a log line of {} bytes: {}",
                line.len(),
                &line[..line.floor_char_boundary(300)]
            );
        }
    }
}

/// Connects to `addr` from the loopback address `from` (any of 127.0.0.0/8 on Linux).
#[cfg(target_os = "linux")]
fn connect_from(from: &str, addr: &str) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(format!("{from}:0").parse().expect("from"))
            .expect("bind");
        sock.connect(addr.parse().expect("addr"))
            .await
            .expect("connect")
    });
    let s = s.into_std().expect("std");
    s.set_nonblocking(false).expect("blocking");
    s
}

/// One source cannot hold every connection slot: with the cap taken by idle connections
/// from one address (each closed only after the head timeout, then reopened by an attacker),
/// a client from another address is still served at once, while those connections stay open.
#[cfg(target_os = "linux")]
#[test]
fn one_source_cannot_take_every_connection_slot() {
    let (child, _lines, addr) = start_local(&["--max-connections", "16", "--head-timeout", "30"]);
    let mut hog: Vec<_> = (0..16).map(|_| connect_from("127.0.0.1", &addr)).collect();
    let mut other = connect_from("127.0.0.2", &addr);
    other
        .write_all(healthz_request(&addr).as_bytes())
        .expect("write");
    let reply = read_response(&mut other);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Served while the hog still held its connections, not after they timed out.
    let mut open = 0;
    for s in &mut hog {
        if !closed_within(s, Duration::from_millis(1)) {
            open += 1;
        }
    }
    assert!(
        open > 0,
        "served only once the other source's connections closed"
    );
    terminate(&child);
}

/// `healthcheck` is what a container's `HEALTHCHECK` runs (slim images have no HTTP client):
/// with the server's own environment it reaches the server through the unspecified bind
/// address on loopback and exits 0, and once the server is gone it exits 1 naming the address.
#[test]
fn healthcheck_subcommand_follows_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let bind = format!("0.0.0.0:{port}");
    let hash = mcpgen_runtime::oauth::hash_password("a long random password for tests");
    let env = [
        ("MCPGEN_BIND", bind.as_str()),
        ("MCPGEN_PUBLIC_URL", "https://mcp.example.org"),
        ("MCPGEN_STORE", "memory"),
        ("MCPGEN_PASSWORD_HASH", hash.as_str()),
    ];
    let mut server = spawn(&[], &env, false);
    let lines = stderr_lines(&mut server);
    wait_for(&lines, "listening");

    let (code, _, stderr) = finish(spawn(&["healthcheck"], &env, false));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");

    terminate(&server);
    assert_eq!(server.wait().expect("wait").code(), Some(0));
    let (code, _, stderr) = finish(spawn(&["healthcheck"], &env, false));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot reach http://127.0.0.1:{port}/healthz: "
        )),
        "{stderr}"
    );
}

/// Runs `users ARGS` on `store` with `stdin` as its input; exit code, stdout, stderr.
fn users(store: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut all = vec!["users"];
    all.extend_from_slice(args);
    let mut child = spawn(&all, &[("MCPGEN_STORE", store)], stdin.is_some());
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
    }
    finish(child)
}

/// `login: users` end to end, with the CLI and the server as separate processes on one SQLite
/// file: a user added with `users add` signs in through the form, the tool the token calls
/// sees them as `caller`, `users passwd` changes the password and keeps the grants, and
/// `users remove` (while the server runs) makes the very next call with their token a 401.
/// Sign-ins with a wrong password or an unknown name are refused alike.
#[test]
fn users_sign_in_and_their_removal_cuts_their_tokens_off_at_once() {
    let path = std::env::temp_dir().join(format!("mcpgen-users-{}.sqlite3", std::process::id()));
    let store = format!("sqlite:{}", path.display());
    let password = "correct horse battery staple";

    let (code, stdout, stderr) = users(
        &store,
        &[
            "add",
            "ada",
            "--email",
            "ada@example.com",
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.lines().any(|l| l == "added user \"ada\""),
        "{stdout}"
    );
    assert!(
        stderr.contains("login: password"),
        "the spec's login is named: {stderr}"
    );
    let (code, _, stderr) = users(&store, &["add", "ada", "--password-stdin"], Some("x\n"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("exists") && stderr.contains("users passwd"),
        "{stderr}"
    );
    let (code, _, stderr) = users(
        &store,
        &["add", "bad name", "--password-stdin"],
        Some("x\n"),
    );
    assert_eq!(code, 2, "{stderr}");
    let (code, stdout, stderr) = users(&store, &["list", "--json"], None);
    assert_eq!(code, 0, "{stderr}");
    // The child's stdout also carries the test harness's own lines.
    let json = stdout
        .lines()
        .find(|l| l.starts_with('['))
        .expect("a json line");
    let list: serde_json::Value = serde_json::from_str(json).expect("json");
    assert_eq!(list[0]["name"], "ada");
    assert_eq!(list[0]["email"], "ada@example.com");
    assert!(
        !stdout.contains("argon2"),
        "hashes are never listed: {stdout}"
    );

    let mut server = spawn(
        &[
            "--bind",
            "127.0.0.1:0",
            "--store",
            &store,
            "--login",
            "users",
        ],
        &[
            ("MCPGEN_PUBLIC_URL", "https://mcp.example.org"),
            (
                CHILD_GREETING,
                "{{ caller.subject }} <{{ caller.email }}> via {{ caller.client_id }}",
            ),
        ],
        false,
    );
    let lines = stderr_lines(&mut server);
    let addr = listening_addr(&lines);
    let client_id = register_client(&addr);

    let page = socket_request(
        &addr,
        "GET",
        &format!(
            "/authorize?{}",
            form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", CALLBACK),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
        ),
        &[],
        "",
    );
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(
        page.1.contains("name=\"username\""),
        "a user name field: {}",
        page.1
    );
    let sign_in = |username: &str, password: &str| {
        let body = form(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", CALLBACK),
            ("state", "s"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("csrf", "double-submitted"),
            ("username", username),
            ("password", password),
            ("action", "approve"),
        ]);
        socket_request(
            &addr,
            "POST",
            "/authorize",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", "__Host-mcpgen_csrf=double-submitted"),
            ],
            &body,
        )
    };
    for (who, pass) in [
        ("ada", "wrong password"),
        ("bob", password),
        ("operator", password),
    ] {
        let (status, reply) = sign_in(who, pass);
        assert_eq!(status, 401, "{who}: {reply}");
        assert!(reply.contains("Wrong user name or password"), "{reply}");
    }
    let (status, reply) = sign_in("ada", password);
    assert_eq!(status, 302, "{reply}");
    let location = reply
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or(l.strip_prefix("Location: "))
        })
        .expect("location");
    let code = url::Url::parse(location.trim())
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let (status, reply) = socket_request(
        &addr,
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ]),
    );
    assert_eq!(status, 200, "{reply}");
    let body = reply.split_once("\r\n\r\n").expect("body").1;
    let tokens: serde_json::Value = serde_json::from_str(body).expect("json");
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().expect("token"));
    let greet = || {
        let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "greet", "arguments": {"order_id": "A-1"}}});
        socket_request(
            &addr,
            "POST",
            "/mcp",
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json, text/event-stream"),
                ("MCP-Protocol-Version", "2025-06-18"),
                ("Authorization", &bearer),
            ],
            &call.to_string(),
        )
    };
    let (status, reply) = greet();
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply.contains(&format!("ada <ada@example.com> via {client_id}")),
        "{reply}"
    );

    // A new password: the old one no longer signs in, the new one does, and the grant made
    // before is kept.
    let new_password = "another long passphrase";
    let (code, stdout, stderr) = users(
        &store,
        &["passwd", "ada", "--password-stdin"],
        Some(&format!("{new_password}\n")),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("changed the password"), "{stdout}");
    assert_eq!(sign_in("ada", password).0, 401);
    assert_eq!(sign_in("ada", new_password).0, 302);
    assert_eq!(greet().0, 200, "passwd keeps the grants already made");

    // Removed while the server runs: the next call with the same token is refused, and both
    // grants are revoked.
    let (code, stdout, stderr) = users(&store, &["remove", "ada"], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l == "removed user \"ada\"; revoked 2 grants"),
        "{stdout}"
    );
    let (status, reply) = greet();
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("invalid_token"), "{reply}");
    let (status, _) = sign_in("ada", new_password);
    assert_eq!(status, 401, "a removed user cannot sign in again");
    let (code, _, stderr) = users(&store, &["remove", "ada"], None);
    assert_eq!(code, 1, "{stderr}");

    terminate(&server);
    assert_eq!(server.wait().expect("wait").code(), Some(0));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
