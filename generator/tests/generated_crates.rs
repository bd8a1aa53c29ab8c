//! The golden crates as programs: each compiles without warnings and passes clippy, and the
//! generated servers answer a real OAuth flow and MCP session on loopback.
//!
//! Every crate is built once per test run, into one shared target dir (`target/generated`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn target_dir() -> PathBuf {
    repo().join("target/generated")
}

const CRATES: &[(&str, &str)] = &[
    ("medtainer", "medtainer-mcp"),
    ("forge", "forge-mcp"),
    ("local-notes", "local-notes-mcp"),
    ("conformance-fixture", "conformance-fixture-mcp"),
];

fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    // Pin dependency versions to the workspace's lock, so the generated crates build with what
    // the runtime was tested with.
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(repo().join("Cargo.lock"), &lock).map_err(|e| e.to_string())?;
    }
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`cargo {}` in {} failed:\n{}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Builds (and lints) every golden crate once; later callers wait for the first.
fn built() -> &'static Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        for (stem, _) in CRATES {
            let dir = repo().join("tests/golden").join(stem);
            cargo(&dir, &["clippy", "--all-targets", "--", "-D", "warnings"])?;
            cargo(&dir, &["build"])?;
        }
        Ok(())
    })
}

fn binary(name: &str) -> PathBuf {
    if let Err(e) = built() {
        panic!("{e}");
    }
    target_dir().join("debug").join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A generated server running on loopback; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary_name: &str, extra: &[&str]) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(binary(binary_name))
        .args(["--bind", &bind, "--public-url", &base, "--store", "memory"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Keep the pipe drained so a chatty server never blocks.
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let server = Server { child, base };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = agent().get(&format!("{}/healthz", server.base)).call()
            && r.status() == 200
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "{binary_name} did not answer /healthz"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("request completes");
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    Reply {
        status: r.status().as_u16(),
        headers,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

fn post_form(url: &str, form: &[(&str, &str)]) -> Reply {
    reply(agent().post(url).send_form(form.iter().copied()))
}

fn mcp(server: &Server, token: Option<&str>, body: Value) -> Reply {
    let mut req = agent()
        .post(&format!("{}/mcp", server.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    reply(req.send(body.to_string()))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| url_decode(v))
    })
}

fn url_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Discovery, registration, authorization (PKCE S256) and token, as a client does them.
fn oauth_token(server: &Server, scope: &str) -> String {
    let base = &server.base;
    let challenge = mcp(
        server,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize"}),
    );
    assert_eq!(challenge.status, 401);
    let www = challenge
        .header("www-authenticate")
        .expect("a challenge")
        .to_owned();
    let prm_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    assert!(
        www.contains(&format!("resource_metadata=\"{prm_url}\"")),
        "{www}"
    );

    let prm = get(&prm_url).json();
    assert_eq!(prm["resource"], format!("{base}/mcp"));
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    let asm = get(&format!("{base}/.well-known/oauth-authorization-server")).json();
    assert_eq!(asm["issuer"], issuer.as_str());
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));

    let redirect = "http://127.0.0.1:9/callback";
    let reg = reply(
        agent()
            .post(asm["registration_endpoint"].as_str().unwrap())
            .header("content-type", "application/json")
            .send(
                json!({
                    "client_name": "mcpgen e2e",
                    "redirect_uris": [redirect],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none"
                })
                .to_string(),
            ),
    );
    assert_eq!(reg.status, 201, "{}", reg.body);
    let client_id = reg.json()["client_id"].as_str().unwrap().to_owned();

    let verifier = "e2e-verifier-0123456789-0123456789-0123456789-abcdef";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let authorize = reply(
        agent()
            .get(asm["authorization_endpoint"].as_str().unwrap())
            .query("response_type", "code")
            .query("client_id", &client_id)
            .query("redirect_uri", redirect)
            .query("code_challenge", &challenge)
            .query("code_challenge_method", "S256")
            .query("state", "xyz")
            .query("scope", scope)
            .query("resource", format!("{base}/mcp"))
            .call(),
    );
    assert_eq!(authorize.status, 302, "{}", authorize.body);
    let location = authorize.header("location").unwrap().to_owned();
    assert!(location.starts_with(redirect), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(issuer.as_str())
    );
    let code = query_param(&location, "code").expect("a code");

    let token = post_form(
        asm["token_endpoint"].as_str().unwrap(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", &client_id),
            ("code_verifier", verifier),
            ("resource", &format!("{base}/mcp")),
        ],
    );
    assert_eq!(token.status, 200, "{}", token.body);
    assert_eq!(token.header("cache-control"), Some("no-store"));
    let token = token.json();
    assert_eq!(token["token_type"], "Bearer");
    token["access_token"].as_str().unwrap().to_owned()
}

fn initialize(server: &Server, token: Option<&str>) -> Value {
    let init = mcp(
        server,
        token,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}}),
    );
    assert_eq!(init.status, 200, "{}", init.body);
    let notified = mcp(
        server,
        token,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    assert_eq!(notified.status, 202);
    init.json()["result"].clone()
}

fn call(server: &Server, token: Option<&str>, tool: &str, args: Value) -> Reply {
    mcp(
        server,
        token,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": tool, "arguments": args}}),
    )
}

#[test]
fn golden_crates_compile_and_pass_clippy() {
    if let Err(e) = built() {
        panic!("{e}");
    }
}

#[test]
fn medtainer_serves_a_full_oauth_flow_and_session() {
    let server = start("medtainer-mcp", &["--consent", "auto"]);
    let token = oauth_token(&server, "claudeai orders.read");

    let init = initialize(&server, Some(&token));
    assert_eq!(init["protocolVersion"], "2025-11-25");
    assert_eq!(init["serverInfo"]["name"], "medtainer");
    assert_eq!(init["serverInfo"]["title"], "MedTainer");

    let list = mcp(
        &server,
        Some(&token),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    let tools = list.json()["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "search_products",
            "get_inventory",
            "get_order_status",
            "create_order",
            "cancel_order",
            "track_shipment",
            "get_customer"
        ]
    );
    for t in &tools {
        let a = &t["annotations"];
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(a[hint].is_boolean(), "{} lacks {hint}", t["name"]);
        }
    }

    // A `rust` tool whose handler is still the stub answers with its tool error.
    let stub = call(
        &server,
        Some(&token),
        "get_order_status",
        json!({"order_id": "SO-20931"}),
    );
    assert_eq!(stub.status, 200);
    let result = &stub.json()["result"];
    assert_eq!(result["isError"], true);
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not implemented yet")
    );

    // Arguments are checked against the schema before the handler runs.
    let invalid = call(&server, Some(&token), "get_order_status", json!({}));
    assert_eq!(invalid.json()["result"]["isError"], true);

    // A tool needing a scope the token lacks: 403 naming every scope it needs.
    let denied = call(
        &server,
        Some(&token),
        "create_order",
        json!({"customer_id": "c", "lines": []}),
    );
    assert_eq!(denied.status, 403);
    let www = denied.header("www-authenticate").unwrap();
    assert!(
        www.contains("insufficient_scope") && www.contains("orders.write"),
        "{www}"
    );
}

#[test]
fn conformance_fixture_answers_without_auth() {
    let server = start("conformance-fixture-mcp", &[]);
    let init = initialize(&server, None);
    assert_eq!(init["serverInfo"]["name"], "conformance-fixture");
    let list = mcp(
        &server,
        None,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    assert_eq!(list.json()["result"]["tools"].as_array().unwrap().len(), 11);

    let text = call(&server, None, "test_simple_text", json!({}));
    assert_eq!(
        text.json()["result"]["content"][0]["text"],
        "This is a simple text response for testing."
    );
    let hello = call(
        &server,
        None,
        "json_schema_2020_12_tool",
        json!({"name": "Ada"}),
    );
    assert_eq!(hello.json()["result"]["content"][0]["text"], "Hello, Ada.");
    let stub = call(&server, None, "test_image_content", json!({}));
    assert_eq!(stub.json()["result"]["isError"], true);
}

#[test]
fn local_notes_templates_answer_after_oauth() {
    let server = start("local-notes-mcp", &[]);
    let token = oauth_token(&server, "notes");
    initialize(&server, Some(&token));
    let hello = call(&server, Some(&token), "greet", json!({"name": "Ada"}));
    assert_eq!(hello.json()["result"]["content"][0]["text"], "Hello, Ada!");
    let note = call(
        &server,
        Some(&token),
        "format_note",
        json!({"title": "Plan", "body": "Ship it.", "tags": ["a", "b"]}),
    );
    assert_eq!(
        note.json()["result"]["content"][0]["text"],
        "# Plan\nShip it.\ntags: a, b"
    );
}

#[test]
fn regenerating_keeps_user_code_and_names_the_missing_method() {
    if let Err(e) = built() {
        panic!("{e}");
    }
    let work = repo().join("target/regen");
    let _ = std::fs::remove_dir_all(&work);
    let crate_dir = work.join("medtainer");
    copy_dir(&repo().join("tests/golden/medtainer"), &crate_dir);

    // The user implements a handler...
    let handlers_path = crate_dir.join("src/handlers.rs");
    let stub = std::fs::read_to_string(&handlers_path).unwrap();
    let user_code = stub.replace(
        "Err(ToolError::new(\"`get_order_status` is not implemented yet\"))",
        "Ok(GetOrderStatusOutput { order_id: input.order_id, status: crate::tools::GetOrderStatusOutputStatus::Shipped, placed_at: None, lines: Vec::new(), tracking_numbers: None })",
    );
    assert_ne!(user_code, stub);
    std::fs::write(&handlers_path, &user_code).unwrap();

    // ...then the spec gains a tool.
    let spec = std::fs::read_to_string(repo().join("specs/medtainer.yaml")).unwrap()
        + "  - name: check_stock_alerts\n    description: Products below their reorder level.\n    scopes: [claudeai, catalog.read]\n    input: { type: object }\n";
    let spec_path = work.join("medtainer.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args([
            "build",
            "target/regen/medtainer.yaml",
            "--out",
            "target/regen/medtainer",
            "--runtime-path",
            "runtime",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("async fn check_stock_alerts(&self, input: CheckStockAlertsInput, ctx: ToolContext) -> Result<ToolResult, ToolError>"),
        "{note}"
    );
    assert_eq!(
        std::fs::read_to_string(&handlers_path).unwrap(),
        user_code,
        "user code was touched"
    );

    // The compiler names the method too.
    let err = cargo(&crate_dir, &["build"]).expect_err("a missing method does not compile");
    assert!(err.contains("missing: `check_stock_alerts`"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}
