//! `login: oidc` against a real OpenID provider: the `oidc-provider` package on loopback
//! (`tests/clients/oidc_provider.mjs`), a server on a socket, and the official Python MCP SDK
//! as the client, with a browser that follows the redirects through the provider and approves
//! the consent page (`tests/clients/python_client.py --sign-in`).
//!
//! The provider and the clients come from `tests/clients/install.sh`; without them these
//! tests fail when `CI` is set and otherwise skip with one line saying to run the script.

mod app_common;
mod oauth_common;
#[path = "../../tests/clients/oidc_provider.rs"]
mod oidc_provider;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use app_common::*;
use mcpgen_runtime::app::{App, Server};
use mcpgen_runtime::oauth::oidc::{
    OIDC_CLIENT_ID_ENV, OIDC_CLIENT_SECRET_ENV, OIDC_ISSUER_ENV, OidcConfig,
};
use mcpgen_runtime::oauth::{Login, OidcAllow, OidcClaim, OidcSpec};
use mcpgen_runtime::template::Template;
use mcpgen_runtime::tools::{BoxFuture, ToolContext, ToolDef, ToolError, ToolHandler, ToolResult};
use oidc_provider::Providers;
use serde_json::{Value, json};

/// How long one client run may take before it is killed and the test fails.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Deps {
    python: PathBuf,
}

fn clients() -> PathBuf {
    repo().join("tests/clients")
}

/// The installed provider and clients, or `None` (after saying so) outside CI.
fn deps() -> Option<&'static Deps> {
    static DEPS: OnceLock<Option<Deps>> = OnceLock::new();
    DEPS.get_or_init(|| {
        if !oidc_provider::installed(&clients(), "oauth_oidc") {
            return None;
        }
        let deps = Deps {
            python: clients().join(".deps/py-mcp2/bin/python"),
        };
        if deps.python.exists() {
            return Some(deps);
        }
        if std::env::var_os("CI").is_some() {
            panic!(
                "the Python client is missing ({}); CI must run tests/clients/install.sh",
                deps.python.display()
            );
        }
        let _ = writeln!(
            std::io::stderr(),
            "oauth_oidc: skipped, the Python client is not installed: run tests/clients/install.sh"
        );
        None
    })
    .as_ref()
}

/// Everything the server logs, for the audit-line assertions (one subscriber for the whole
/// test binary; each test looks for its own reasons).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        captured
    })
}

/// The log lines that contain every one of `words`.
fn log_lines_with(words: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .map(str::to_owned)
        .collect()
}

/// The test app: `login: oidc` admitting whom `allow` admits (the issuer comes from the
/// environment), and one template tool answering with who called.
fn oidc_app(allow: OidcAllow) -> App {
    let mut app = app();
    let mut whoami: ToolDef = app.tools[0].clone();
    whoami.name = "whoami".into();
    whoami.description = "who is calling".into();
    whoami.input_schema = json!({"type": "object", "properties": {}});
    app.tools = vec![whoami];
    let auth = app.auth.as_mut().unwrap();
    auth.login = Login::Oidc;
    auth.oidc = Some(OidcSpec {
        issuer: None,
        allow,
    });
    app
}

/// The provider's settings as a deployment passes them: in the environment.
fn provider_env(issuer: &str) -> [(&'static str, String); 3] {
    [
        (OIDC_ISSUER_ENV, issuer.to_owned()),
        (OIDC_CLIENT_ID_ENV, oidc_provider::CLIENT_ID.to_owned()),
        (
            OIDC_CLIENT_SECRET_ENV,
            oidc_provider::CLIENT_SECRET.to_owned(),
        ),
    ]
}

struct WhoAmI(Template);

impl ToolHandler for WhoAmI {
    fn call<'a>(
        &'a self,
        _tool: &'a str,
        args: Value,
        ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        Box::pin(async move { self.0.render_for(&args, &ctx) })
    }
}

/// The rule of most tests: the `example.com` domain.
fn example_com() -> OidcAllow {
    OidcAllow {
        emails: vec![],
        domains: vec!["example.com".into()],
        claim: None,
    }
}

/// A server on `listener` (loopback) signing people in at `issuer`, admitting whom `allow`
/// admits. Returns its MCP URL and the sender that stops it.
async fn serve(
    listener: tokio::net::TcpListener,
    issuer: &str,
    allow: OidcAllow,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let addr = listener.local_addr().unwrap();
    let public = format!("http://{addr}");
    let app = oidc_app(allow);
    let env = provider_env(issuer);
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = config_for(
        &app,
        &[
            "--bind",
            &addr.to_string(),
            "--public-url",
            &public,
            "--store",
            "memory",
        ],
        &vars,
    );
    assert!(config.oidc.is_some(), "{config:?}");
    let handler = WhoAmI(Template::new("whoami", "{{ caller.subject }}").expect("template"));
    let server = Server::build(&app, &config, handler).await.expect("builds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    (format!("{public}/mcp"), stop)
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn result(&self) -> Value {
        assert!(self.ok, "client failed:\n{}\n{}", self.stdout, self.stderr);
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("no RESULT line: {}", self.stdout));
        serde_json::from_str(line).expect("RESULT json")
    }
}

/// The Python SDK client through the whole flow with a signing-in browser, calling `whoami`.
async fn python_client(deps: &Deps, url: &str) -> Run {
    let mut cmd = Command::new(&deps.python);
    cmd.arg(repo().join("tests/clients/python_client.py"))
        .arg(url)
        .args(["--follow", "--call", "whoami", "{}"])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("python starts");
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
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "client timed out");
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            ok: status.success(),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    })
    .await
    .expect("client thread")
}

async fn loopback() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_at_the_provider_and_the_tool_sees_their_subject() {
    let Some(deps) = deps() else { return };
    logs();
    let listener = loopback().await;
    let by_claim = loopback().await;
    let callback = format!("http://{}/oauth/callback", listener.local_addr().unwrap());
    let claim_callback = format!("http://{}/oauth/callback", by_claim.local_addr().unwrap());
    let mut providers = Providers::start(&clients(), &[&callback, &claim_callback]);
    let (url, _stop) = serve(listener, &providers.a, example_com()).await;

    let r = python_client(deps, &url).await.result();
    assert_eq!(
        r["calls"][0],
        json!({"name": "whoami", "is_error": false, "text": "alice"}),
        "{r}"
    );
    // The browser went through the provider and back through the callback.
    let visited: Vec<&str> = r["visited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        visited
            .iter()
            .any(|v| v.starts_with(&format!("{}/auth", providers.a))),
        "{visited:?}"
    );
    assert!(
        visited.iter().any(|v| v.starts_with(&callback)),
        "{visited:?}"
    );
    assert!(
        !log_lines_with(&["oidc_signed_in", "subject=\"alice\""]).is_empty(),
        "no sign-in audit line"
    );

    // A claim rule admits bob@other.example, a guest, whom no domain rule would.
    let guests = OidcAllow {
        claim: Some(OidcClaim {
            name: "groups".into(),
            value: "guests".into(),
        }),
        ..OidcAllow::default()
    };
    let (url, _stop2) = serve(by_claim, &providers.a, guests).await;
    providers.command("account bob");
    let r = python_client(deps, &url).await.result();
    assert!(
        !log_lines_with(&["oidc_signed_in", "subject=\"bob\""]).is_empty(),
        "no sign-in audit line for bob"
    );
    assert_eq!(
        r["calls"][0],
        json!({"name": "whoami", "is_error": false, "text": "bob"}),
        "{r}"
    );
}

/// Runs the client, expects the sign-in to be refused with a page and an audit line whose
/// reason contains `reason`.
async fn expect_refused(deps: &Deps, url: &str, reason: &str) {
    let run = python_client(deps, url).await;
    assert!(
        !run.ok,
        "signed in, but should be refused ({reason}): {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("refused: 403"),
        "no refusal page ({reason}): {}",
        run.stderr
    );
    assert!(
        !log_lines_with(&["oidc_refused", reason]).is_empty(),
        "no audit line with {reason:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_wrong_nonces_and_other_issuers_are_refused() {
    let Some(deps) = deps() else { return };
    logs();
    let listener = loopback().await;
    let mixup_listener = loopback().await;
    let callback = format!("http://{}/oauth/callback", listener.local_addr().unwrap());
    let mixup_callback = format!(
        "http://{}/oauth/callback",
        mixup_listener.local_addr().unwrap()
    );
    let mut providers = Providers::start(&clients(), &[&callback, &mixup_callback]);
    let (url, _stop) = serve(listener, &providers.a, example_com()).await;

    // bob@other.example is outside the rule.
    providers.command("account bob");
    expect_refused(
        deps,
        &url,
        "not admitted by the allow rule: subject \\\"bob\\\"",
    )
    .await;
    // carol@example.com is in the domain, but the provider has not verified the address.
    providers.command("account carol");
    expect_refused(deps, &url, "email not verified by the provider").await;

    // alice is admitted, but the ID token carries another nonce than the one sent.
    providers.command("account alice");
    providers.command("nonce tampered-nonce");
    expect_refused(deps, &url, "invalid id token: Invalid nonce").await;

    // A server whose configured issuer is A/mixup meets provider B (B's discovery document
    // under A's name): same client, valid signatures, another issuer. B names itself in the
    // redirect (RFC 9207), which the callback refuses; without that, the ID token's `iss`.
    let mixup = format!("{}/mixup", providers.a);
    let (mixup_url, _stop2) = serve(mixup_listener, &mixup, example_com()).await;
    expect_refused(deps, &mixup_url, "is not the configured issuer").await;
    providers.command("iss off");
    expect_refused(deps, &mixup_url, "invalid id token: Invalid issuer").await;
    assert!(providers.b.starts_with("http://127.0.0.1:"));
}

/// The sign-in sent to the provider carries `state`, `nonce` and an S256 challenge, and the
/// pending request rides in an `HttpOnly`, `SameSite=Lax` cookie named after `state`. A
/// callback without that cookie (another browser: login CSRF), with the cookie of another
/// sign-in, or with a forged cookie is refused with a page before the code is redeemed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_needs_the_browser_that_started_the_sign_in() {
    use http::StatusCode;
    if deps().is_none() {
        return;
    }
    logs();
    let mut providers = Providers::start(&clients(), &["http://127.0.0.1:8000/oauth/callback"]);
    providers.command("account alice");
    let mut config = oauth_common::config(oauth_common::LOCAL);
    config.auth.login = Login::Oidc;
    config.auth.oidc = Some(OidcSpec {
        issuer: Some(providers.a.clone()),
        allow: example_com(),
    });
    config.oidc = Some(
        OidcConfig::resolve(
            config.auth.oidc.as_ref().unwrap(),
            env(&[
                (OIDC_CLIENT_ID_ENV, "mcpgen-test"),
                (OIDC_CLIENT_SECRET_ENV, "mcpgen-test-secret"),
            ]),
        )
        .unwrap(),
    );
    let s = oauth_common::server_with(config);
    let redirect = "http://127.0.0.1:9999/cb";
    let client = oauth_common::register(
        &s.router,
        json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let id = client["client_id"].as_str().unwrap();

    let start = || {
        let router = s.router.clone();
        let id = id.to_owned();
        async move { oauth_common::authorize(&router, &id, redirect, &[]).await }
    };
    let first = start().await;
    assert_eq!(first.status, StatusCode::FOUND, "{}", first.text());
    let to_provider = url::Url::parse(first.header("location")).unwrap();
    assert!(
        to_provider
            .as_str()
            .starts_with(&format!("{}/auth?", providers.a))
    );
    let q: std::collections::HashMap<String, String> =
        to_provider.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:8000/oauth/callback");
    assert!(q["nonce"].len() >= 22 && q["state"].len() >= 22, "{q:?}");
    assert!(q["scope"].split(' ').any(|s| s == "openid"), "{q:?}");
    let set_cookie = first.header("set-cookie").to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    assert!(set_cookie.len() < 4000);
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let state = q["state"].clone();

    let second = start().await;
    let other_cookie = second
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(
        cookie.split('=').next(),
        other_cookie.split('=').next(),
        "two sign-ins in one browser must not share a cookie"
    );

    let callback = |cookie: Option<String>| {
        let router = s.router.clone();
        let uri = format!(
            "/oauth/callback?{}",
            oauth_common::form(&[("code", "any-code"), ("state", &state)])
        );
        async move {
            let mut req = http::Request::get(uri);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            oauth_common::send(&router, req.body(axum::body::Body::empty()).unwrap()).await
        }
    };
    // No cookie: a callback this browser did not start.
    let r = callback(None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text().contains("not started in this browser"),
        "{}",
        r.text()
    );
    // The other sign-in's cookie, renamed to this one's name.
    let (name, _) = cookie.split_once('=').unwrap();
    let (_, other_value) = other_cookie.split_once('=').unwrap();
    let r = callback(Some(format!("{name}={other_value}"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A forged payload under the right name.
    let (_, value) = cookie.split_once('=').unwrap();
    let forged = format!("{name}=e30{value}");
    let r = callback(Some(forged)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        log_lines_with(&["oidc_refused", "no sign-in cookie for this state"]).len() >= 3,
        "each refusal is logged"
    );
    // "Sign in as someone else" (prompt=login) asks the provider to sign in again, and the
    // request the sign-in returns to no longer asks for it (it would loop); other prompt
    // values stay.
    let r = oauth_common::authorize(&s.router, id, redirect, &[("prompt", "login consent")]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    let to_provider = url::Url::parse(r.header("location")).unwrap();
    let prompt: Vec<String> = to_provider
        .query_pairs()
        .filter(|(k, _)| k == "prompt")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(prompt, ["login"]);
    let flow = r.header("set-cookie").split(';').next().unwrap();
    let payload = flow.split_once('=').unwrap().1.split('.').next().unwrap();
    use base64::Engine as _;
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let back: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(payload["q"].as_str().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(back.get("prompt").map(String::as_str), Some("consent"));
    assert_eq!(back["client_id"], id);

    // A client that starts sign-ins in a loop: the browser keeps at most four flow cookies,
    // the newest.
    let mut jar: Vec<(String, String)> = Vec::new();
    let mut newest = String::new();
    for _ in 0..8 {
        let pairs = [
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", redirect),
            ("code_challenge", oauth_common::CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        let header = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = http::Request::get(format!("/authorize?{}", oauth_common::form(&pairs)));
        if !header.is_empty() {
            req = req.header("cookie", header);
        }
        let r = oauth_common::send(&s.router, req.body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::FOUND);
        for c in r.headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            jar.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                newest = k.to_owned();
                jar.push((k.to_owned(), v.to_owned()));
            }
        }
        assert!(jar.len() <= 4, "{} flow cookies kept", jar.len());
    }
    assert_eq!(jar.len(), 4);
    assert!(jar.iter().any(|(k, _)| *k == newest));

    // With the right cookie the callback gets as far as the provider, which does not know
    // the made-up code.
    let r = callback(Some(cookie.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        !log_lines_with(&["oidc_refused", "token request failed"]).is_empty(),
        "the right cookie passes the state check"
    );
    // A state is used once: the refused callback deletes its flow cookie, so the same
    // callback URL (from the history, a log, a Referer) cannot be tried again with it.
    let (name, _) = cookie.split_once('=').unwrap();
    assert!(
        r.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok())
            .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
        "the refused sign-in's flow cookie is not deleted: {:?}",
        r.headers.get_all("set-cookie")
    );
}

/// `login: oidc` takes the client id and secret only from the environment, and a server
/// without them (or without an issuer) refuses to start, naming what to set.
#[test]
fn a_server_without_the_provider_settings_refuses_to_start() {
    let app = oidc_app(example_com());
    let args = ["--public-url", "http://127.0.0.1:8000", "--store", "memory"];
    let issuer = (OIDC_ISSUER_ENV, "https://accounts.google.com");
    let id = (OIDC_CLIENT_ID_ENV, "id");
    let secret = (OIDC_CLIENT_SECRET_ENV, "s3cret");
    for (vars, names) in [
        (vec![issuer, id], OIDC_CLIENT_SECRET_ENV),
        (vec![issuer, secret], OIDC_CLIENT_ID_ENV),
        (vec![id, secret], OIDC_ISSUER_ENV),
    ] {
        let e = error_for(&app, &args, &vars);
        assert!(e.contains(names), "{e}");
    }
    let config = config_for(&app, &args, &[issuer, id, secret]);
    let oidc = config.oidc.as_deref().expect("resolved");
    assert_eq!(oidc.issuer, "https://accounts.google.com");
    assert_eq!(oidc.client_id, "id");
    assert!(!format!("{config:?}").contains("s3cret"));
    let e = error_for(
        &oidc_app(OidcAllow::default()),
        &args,
        &[issuer, id, secret],
    );
    assert!(e.contains("allow"), "{e}");
}
