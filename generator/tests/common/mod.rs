//! What the end-to-end tests share: building the golden crates once (into `target/generated`),
//! starting a generated server on loopback, and speaking HTTP, OAuth and MCP to it with ureq.
//!
//! Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

pub fn target_dir() -> PathBuf {
    repo().join("target/generated")
}

pub const CRATES: &[(&str, &str)] = &[
    ("medtainer", "medtainer-mcp"),
    ("forge", "forge-mcp"),
    ("local-notes", "local-notes-mcp"),
    ("conformance-fixture", "conformance-fixture-mcp"),
];

pub fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
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
pub fn built() -> &'static Result<(), String> {
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

pub fn binary(name: &str) -> PathBuf {
    if let Err(e) = built() {
        panic!("{e}");
    }
    target_dir().join("debug").join(name)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A generated server running on loopback; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(binary_name: &str, extra: &[&str]) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--bind".to_string(), format!("127.0.0.1:{port}")];
    args.extend(["--public-url".into(), base]);
    if !extra.contains(&"--store") {
        args.extend(["--store".into(), "memory".into()]);
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    launch(binary_name, port, &args)
}

/// Starts a generated server with exactly `args`, listening on `port`, and waits until it
/// answers `/healthz`. Requests go to `127.0.0.1:port` whatever its public URL says.
pub fn launch(binary_name: &str, port: u16, args: &[String]) -> Server {
    launch_with_env(binary_name, port, args, &[])
}

/// [`launch`] with `env` added to the server's environment.
pub fn launch_with_env(
    binary_name: &str,
    port: u16,
    args: &[String],
    env: &[(&str, String)],
) -> Server {
    let mut child = Command::new(binary(binary_name))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Keep the pipe drained so a chatty server never blocks.
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
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

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
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

pub fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

pub fn post_form(url: &str, form: &[(&str, &str)]) -> Reply {
    reply(agent().post(url).send_form(form.iter().copied()))
}

pub fn mcp(server: &Server, token: Option<&str>, body: Value) -> Reply {
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

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| url_decode(v))
    })
}

pub fn url_decode(s: &str) -> String {
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
pub fn oauth_token(server: &Server, scope: &str) -> String {
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

pub fn initialize(server: &Server, token: Option<&str>) -> Value {
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

pub fn call(server: &Server, token: Option<&str>, tool: &str, args: Value) -> Reply {
    mcp(
        server,
        token,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": tool, "arguments": args}}),
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
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

/// The person the `login: users` cases sign in as: name, email and password.
pub const USER: (&str, &str, &str) = ("ada", "ada@example.com", "correct horse battery staple");

/// Runs `<binary> users ARGS` on `store`, with `stdin` as its input; panics unless it exits 0.
pub fn users_cli(binary_name: &str, store: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(binary(binary_name))
        .arg("users")
        .args(args)
        .args(["--store", store])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "users {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `binary_name` serving with `--login users` on a fresh SQLite file, which holds [`USER`],
/// added through the binary's own `users add`. Returns the server and the store URL.
pub fn start_with_users(binary_name: &str) -> (Server, String) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = repo().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("users-{}-{n}.sqlite3", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = format!("sqlite:{}", path.display());
    let (name, email, password) = USER;
    users_cli(
        binary_name,
        &store,
        &["add", name, "--email", email, "--password-stdin"],
        &format!("{password}\n"),
    );
    let server = start(binary_name, &["--login", "users", "--store", &store]);
    (server, store)
}

/// Where a server on loopback `port` receives people back from its OpenID provider: the
/// redirect URI to register there.
pub fn oidc_callback(port: u16) -> String {
    format!("http://127.0.0.1:{port}/oauth/callback")
}

/// `binary_name` serving on loopback `port` with `--login oidc` (its spec's `auth.oidc`), with
/// the provider's settings in `env` (`MCPGEN_OIDC_ISSUER`, `MCPGEN_OIDC_CLIENT_ID`,
/// `MCPGEN_OIDC_CLIENT_SECRET`), as a deployment passes them.
pub fn start_with_oidc(binary_name: &str, port: u16, env: &[(&str, String)]) -> Server {
    let base = format!("http://127.0.0.1:{port}");
    let args = [
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--public-url",
        &base,
        "--store",
        "memory",
        "--login",
        "oidc",
    ]
    .map(str::to_owned);
    launch_with_env(binary_name, port, &args, env)
}
