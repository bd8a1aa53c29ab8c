//! The merged router a generated server runs, built from an app description and a
//! configuration the way `run` builds it: a client's whole flow in-process, `--public-url`
//! moving every derived URL, start-up errors found while building, and one real socket.

mod app_common;
mod redis_common;

use std::time::Duration;

use app_common::*;
use axum::body::Body;
use http::{Request, StatusCode, header};
use mcpgen_runtime::app::Server;
use mcpgen_runtime::oauth::hash_password;
use serde_json::{Value, json};

const LOCAL: &str = "http://127.0.0.1:8000";
const LOCAL_HOST: &str = "127.0.0.1:8000";
const CALLBACK: &str = "http://127.0.0.1:5555/callback";

/// The production app made fully local by flags: what tests and local development run.
async fn local_server() -> Server {
    let config = config_for(
        &app(),
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    Server::build(&app(), &config, Handler::new())
        .await
        .expect("builds")
}

/// Registers a client, runs authorize (automatic consent) and the token exchange; returns the
/// access token.
async fn access_token(router: &axum::Router, scope: Option<&str>) -> String {
    let reg = send(
        router,
        Request::post("/register")
            .header(header::HOST, LOCAL_HOST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({
                    "client_name": "test client",
                    "redirect_uris": [CALLBACK],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none"
                })
                .to_string(),
            ))
            .expect("request"),
    )
    .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text());
    let client_id = reg.json()["client_id"].as_str().expect("id").to_owned();

    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "s-1"),
        ("resource", "http://127.0.0.1:8000/mcp"),
    ];
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    let r = get(router, LOCAL_HOST, &format!("/authorize?{}", form(&pairs))).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    let location = url::Url::parse(r.header("location")).expect("absolute location");
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let one = |name: &str| {
        let v: Vec<&String> = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(v.len(), 1, "{name} in {location}");
        v[0].clone()
    };
    assert_eq!(one("state"), "s-1");
    assert_eq!(one("iss"), LOCAL);
    let code = one("code");

    let r = send(
        router,
        Request::post("/token")
            .header(header::HOST, LOCAL_HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", &client_id),
                ("code_verifier", VERIFIER),
                ("resource", "http://127.0.0.1:8000/mcp"),
            ])))
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(
        body["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("bearer")
    );
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

fn call(id: u64, name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}})
}

#[tokio::test]
async fn whole_flow_on_a_local_server() {
    let server = local_server().await;
    assert_eq!(server.resource(), "http://127.0.0.1:8000/mcp");
    assert_eq!(server.issuer(), Some(LOCAL));
    let router = server.router();

    // Unauthenticated: 401 pointing at the metadata, with the scope and no error.
    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenge = r.header("www-authenticate");
    assert!(
        challenge.contains(
            "resource_metadata=\"http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp\""
        ),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=") && !challenge.contains("error="),
        "{challenge}"
    );

    // Discovery.
    let prm = get(
        &router,
        LOCAL_HOST,
        "/.well-known/oauth-protected-resource/mcp",
    )
    .await;
    assert_eq!(prm.status, StatusCode::OK);
    let prm = prm.json();
    assert_eq!(prm["resource"], "http://127.0.0.1:8000/mcp");
    assert_eq!(prm["authorization_servers"], json!([LOCAL]));
    let asm = get(
        &router,
        LOCAL_HOST,
        "/.well-known/oauth-authorization-server",
    )
    .await
    .json();
    assert_eq!(asm["issuer"], LOCAL);
    assert_eq!(asm["token_endpoint"], "http://127.0.0.1:8000/token");
    assert_eq!(
        asm["registration_endpoint"],
        "http://127.0.0.1:8000/register"
    );
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));

    // Register, authorize, token.
    let token = access_token(&router, None).await;

    // MCP.
    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let init = r.json();
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(init["result"]["serverInfo"]["name"], "medtainer");
    assert_eq!(init["result"]["serverInfo"]["version"], "0.3.1");

    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);

    let list = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await
    .json();
    let tools = list["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["greet", "echo"]);
    for t in tools {
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(t["annotations"][hint].is_boolean(), "{hint} in {t}");
        }
    }

    // The template tool renders the arguments, trailing newline kept.
    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        call(3, "greet", json!({"order_id": "A-17", "name": "Ada"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_ne!(v["result"]["isError"], json!(true), "{v}");
    assert_eq!(
        v["result"]["content"],
        json!([{"type": "text", "text": "Order A-17 for Ada is on its way.\n"}])
    );

    // A missing (optional) argument the template uses: an error result naming it.
    let v = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        call(4, "greet", json!({"order_id": "A-17"})),
    )
    .await
    .json();
    assert_eq!(v["result"]["isError"], json!(true), "{v}");
    let text = v["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("`name`"), "{text}");

    // The token holds the default scope only: the orders.read tool is 403 naming its scope.
    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        call(5, "echo", json!({"text": "hi"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let challenge = r.header("www-authenticate");
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("orders.read"),
        "{challenge}"
    );

    // With the scope it runs.
    let token = access_token(&router, Some("claudeai orders.read")).await;
    let v = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        call(6, "echo", json!({"text": "hi"})),
    )
    .await
    .json();
    assert_eq!(v["result"]["content"][0]["text"], "hi", "{v}");

    // Operations.
    let r = get(&router, LOCAL_HOST, "/healthz").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn origins_and_hosts() {
    let router = local_server().await.router();
    let token = access_token(&router, None).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let with_origin = |origin: &'static str, host: &'static str| {
        let router = router.clone();
        let token = token.clone();
        let ping = ping.clone();
        async move {
            send(
                &router,
                Request::post("/mcp")
                    .header(header::HOST, host)
                    .header(header::ORIGIN, origin)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ACCEPT, "application/json")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::from(ping.to_string()))
                    .expect("request"),
            )
            .await
            .status
        }
    };
    // The spec's origin, the public URL's origin and (loopback) other loopback origins pass.
    assert_eq!(
        with_origin("https://claude.ai", LOCAL_HOST).await,
        StatusCode::OK
    );
    assert_eq!(with_origin(LOCAL, LOCAL_HOST).await, StatusCode::OK);
    assert_eq!(
        with_origin("http://localhost:6274", LOCAL_HOST).await,
        StatusCode::OK
    );
    assert_eq!(
        with_origin("https://evil.example", LOCAL_HOST).await,
        StatusCode::FORBIDDEN
    );
    // A loopback server refuses a foreign Host (DNS rebinding).
    assert_eq!(
        with_origin("https://claude.ai", "evil.example").await,
        StatusCode::FORBIDDEN
    );
}

async fn production(args: &[&str], issuer: Option<&str>) -> Server {
    let mut a = app();
    if let Some(i) = issuer {
        a.auth.as_mut().expect("auth").issuer = Some(i.to_owned());
    }
    let h = hash_password("a long and random enough password");
    let mut argv = vec!["--store", "memory"];
    argv.extend_from_slice(args);
    let config = config_for(&a, &argv, &[("MCPGEN_PASSWORD_HASH", &h)]);
    Server::build(&a, &config, Handler::new())
        .await
        .expect("builds")
}

#[tokio::test]
async fn public_url_moves_resource_issuer_and_metadata() {
    // Without the flag: the spec's URLs.
    let s = production(&[], None).await;
    assert_eq!(s.resource(), "https://medtainer.example.com/mcp");
    assert_eq!(s.issuer(), Some("https://medtainer.example.com"));

    let s = production(&["--public-url", "https://staging.example.net/"], None).await;
    assert_eq!(s.resource(), "https://staging.example.net/mcp");
    assert_eq!(s.issuer(), Some("https://staging.example.net"));
    let router = s.router();
    let host = "staging.example.net";
    let prm = get(&router, host, "/.well-known/oauth-protected-resource")
        .await
        .json();
    assert_eq!(prm["resource"], "https://staging.example.net/mcp");
    assert_eq!(
        prm["authorization_servers"],
        json!(["https://staging.example.net"])
    );
    let asm = get(&router, host, "/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(asm["issuer"], "https://staging.example.net");
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "revocation_endpoint",
    ] {
        let url = asm[key].as_str().unwrap_or_default();
        assert!(
            url.starts_with("https://staging.example.net/"),
            "{key}: {url}"
        );
    }
    let body = get(&router, host, "/.well-known/openid-configuration")
        .await
        .text();
    assert!(!body.contains("medtainer.example.com"), "{body}");
    let r = rpc(
        &router,
        host,
        "/mcp",
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("www-authenticate")
            .contains("https://staging.example.net/.well-known/oauth-protected-resource/mcp"),
        "{}",
        r.header("www-authenticate")
    );

    // A separate issuer stays where the spec put it; --issuer moves it.
    let s = production(
        &["--public-url", "https://staging.example.net"],
        Some("https://auth.example.com"),
    )
    .await;
    assert_eq!(s.resource(), "https://staging.example.net/mcp");
    assert_eq!(s.issuer(), Some("https://auth.example.com"));
    let prm = get(
        &s.router(),
        host,
        "/.well-known/oauth-protected-resource/mcp",
    )
    .await
    .json();
    assert_eq!(
        prm["authorization_servers"],
        json!(["https://auth.example.com"])
    );
    let s = production(
        &[
            "--public-url",
            "https://staging.example.net",
            "--issuer",
            "https://auth.staging.example.net",
        ],
        Some("https://auth.example.com"),
    )
    .await;
    assert_eq!(s.issuer(), Some("https://auth.staging.example.net"));
}

#[tokio::test]
async fn public_url_with_a_path_moves_the_endpoint() {
    let config = config_for(
        &app(),
        &[
            "--public-url",
            "http://127.0.0.1:8000/tenant",
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    let s = Server::build(&app(), &config, Handler::new())
        .await
        .expect("builds");
    assert_eq!(s.resource(), "http://127.0.0.1:8000/tenant/mcp");
    let r = rpc(
        &s.router(),
        LOCAL_HOST,
        "/tenant/mcp",
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the endpoint moved under the path"
    );
}

#[tokio::test]
async fn auth_none_serves_without_tokens() {
    let mut a = app();
    a.public_url = LOCAL.into();
    a.bind = "127.0.0.1:8000".into();
    a.auth = None;
    let config = config_for(&a, &[], &[]);
    let s = Server::build(&a, &config, Handler::new())
        .await
        .expect("builds");
    assert_eq!(s.issuer(), None);
    assert_eq!(s.resource(), "http://127.0.0.1:8000/mcp");
    let v = rpc(
        &s.router(),
        LOCAL_HOST,
        "/mcp",
        None,
        call(1, "echo", json!({"text": "open"})),
    )
    .await
    .json();
    assert_eq!(v["result"]["content"][0]["text"], "open", "{v}");
    // No OAuth routes.
    let r = get(
        &s.router(),
        LOCAL_HOST,
        "/.well-known/oauth-authorization-server",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn build_errors_are_start_errors() {
    // A store that cannot be opened.
    let config = config_for(
        &app(),
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "sqlite:/nonexistent-dir/x/y.sqlite3",
        ],
        &[],
    );
    let e = Server::build(&app(), &config, Handler::new())
        .await
        .expect_err("no such directory");
    assert!(
        e.to_string()
            .starts_with("cannot open store sqlite:/nonexistent-dir/x/y.sqlite3"),
        "{e}"
    );
    assert!(
        e.to_string().contains("--store") && !e.to_string().contains('\n'),
        "{e}"
    );

    // An endpoint that would collide with the OAuth or health routes: an error, not a panic.
    for endpoint in ["/token", "/healthz", "/register/mcp"] {
        let mut a = app();
        a.endpoint = endpoint.into();
        let config = config_for(
            &a,
            &[
                "--public-url",
                LOCAL,
                "--consent",
                "auto",
                "--store",
                "memory",
            ],
            &[],
        );
        let e = Server::build(&a, &config, Handler::new())
            .await
            .expect_err(endpoint);
        assert!(e.to_string().contains("collides"), "{endpoint}: {e}");
    }

    // A description the OAuth half refuses (no scopes).
    let mut a = app();
    a.auth.as_mut().expect("auth").scopes.clear();
    let config = config_for(
        &a,
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    let e = Server::build(&a, &config, Handler::new())
        .await
        .expect_err("no scopes");
    assert!(e.to_string().contains("scope"), "{e}");

    // Two tools with one name.
    let mut a = app();
    let dup = a.tools[0].clone();
    a.tools.push(dup);
    let config = config_for(
        &a,
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    let e = Server::build(&a, &config, Handler::new())
        .await
        .expect_err("duplicate tool");
    assert!(
        e.to_string().starts_with("invalid server description"),
        "{e}"
    );
}

#[tokio::test]
async fn sqlite_store_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("mcpgen-app-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = format!("sqlite:{}", dir.join("state.sqlite3").display());
    let config = config_for(
        &app(),
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            &store,
        ],
        &[],
    );
    let token = {
        let s = Server::build(&app(), &config, Handler::new())
            .await
            .expect("builds");
        access_token(&s.router(), None).await
    };
    let s = Server::build(&app(), &config, Handler::new())
        .await
        .expect("builds again");
    let v = rpc(
        &s.router(),
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        call(1, "greet", json!({"order_id": "1", "name": "B"})),
    )
    .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain HTTP/1.1 GET over a real socket (blocking I/O on a worker thread: the runtime's
/// tokio has no io-util).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
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
    })
    .await
    .expect("client thread")
}

/// A loopback server with automatic consent, serving on a free port until `stop` is sent:
/// its address, the sender that stops it, and the serving task.
async fn serve_locally() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let config = config_for(
        &app(),
        &[
            "--bind",
            "127.0.0.1:0",
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
    let listener = server.listen().await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

#[tokio::test]
async fn serves_on_a_socket_and_shuts_down_gracefully() {
    let (addr, stop, task) = serve_locally().await;

    let reply = http_get(addr, "/healthz").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok"), "{reply}");
    let reply = http_get(addr, "/.well-known/oauth-protected-resource/mcp").await;
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.contains("http://127.0.0.1:8000/mcp"),
        "{reply}"
    );

    stop.send(()).expect("server still running");
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shuts down promptly")
        .expect("task does not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

/// Shutdown stops accepting, closes idle keep-alive connections, and lets a request in
/// flight (its body still arriving) finish with its answer.
#[tokio::test]
async fn shutdown_drains_requests_in_flight() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (addr, stop, task) = serve_locally().await;

    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = r#"{"redirect_uris":["http://127.0.0.1:3000/callback"],"client_name":"drain"}"#;
    let mut busy = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /register HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.expect("write");
    // 100 Continue: the handler is reading the body, so the request is in flight.
    let mut buf = vec![0u8; 25];
    busy.read_exact(&mut buf).await.expect("100 continue");
    assert!(buf.starts_with(b"HTTP/1.1 100 Continue\r\n"), "{buf:?}");

    stop.send(()).expect("server still running");
    let mut none = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut none))
        .await
        .expect("the idle connection is closed at shutdown");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");

    busy.write_all(body.as_bytes())
        .await
        .expect("rest of the body");
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), busy.read_to_string(&mut reply))
        .await
        .expect("the answer comes")
        .expect("read");
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shuts down once drained")
        .expect("task does not panic");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn an_address_in_use_is_a_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
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
    assert_eq!(
        e.to_string(),
        format!(
            "cannot listen on {addr}: the address is already in use: choose another with --bind"
        )
    );
}

/// One series' value in a Prometheus text exposition; `None` when the series is absent.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

#[tokio::test]
async fn metrics_count_tool_calls_and_refused_tokens_on_their_own_listener() {
    let config = config_for(
        &app(),
        &[
            "--bind",
            "127.0.0.1:0",
            "--metrics-bind",
            "127.0.0.1:0",
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    let mut server = Server::build(&app(), &config, Handler::new())
        .await
        .expect("builds");
    let router = server.router();
    let token = access_token(&router, None).await;
    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some(&token),
        call(1, "greet", json!({"order_id": "A-1", "name": "Ada"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        Some("not-a-token"),
        call(2, "greet", json!({"order_id": "A-1"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let listener = server.listen().await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let metrics_addr = server
        .listen_metrics()
        .await
        .expect("binds metrics")
        .expect("a metrics address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let reply = http_get(metrics_addr, "/metrics").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("text/plain; version=0.0.4"), "{reply}");
    let expect = [
        (
            r#"mcpgen_mcp_requests_total{method="tools/call",tool="greet",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"mcpgen_mcp_request_duration_seconds_count{method="tools/call",tool="greet"}"#,
            1.0,
        ),
        (
            r#"mcpgen_oauth_refusals_total{endpoint="bearer",reason="unknown token"}"#,
            1.0,
        ),
        ("mcpgen_oauth_registrations_total", 1.0),
        ("mcpgen_oauth_codes_issued_total", 1.0),
        (
            r#"mcpgen_oauth_tokens_issued_total{grant_type="authorization_code"}"#,
            1.0,
        ),
        ("mcpgen_store_errors_total", 0.0),
        // The scrape's own connection is on the metrics listener, not counted here.
        ("mcpgen_open_connections", 0.0),
    ];
    for (name, value) in expect {
        assert_eq!(series(&reply, name), Some(value), "{name} in {reply}");
    }
    // The public listener does not serve metrics.
    let public = http_get(addr, "/metrics").await;
    assert!(!public.contains("mcpgen_"), "{public}");

    stop.send(()).expect("server still running");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shuts down promptly")
        .expect("task does not panic")
        .expect("serves");
    assert!(
        tokio::net::TcpStream::connect(metrics_addr).await.is_err(),
        "the metrics listener is closed"
    );
}

/// `/readyz` until it answers `want`, asking at most 100 times 50 ms apart.
async fn ready_becomes(router: &axum::Router, want: StatusCode) -> StatusCode {
    let mut last = StatusCode::OK;
    for _ in 0..100 {
        last = get(router, LOCAL_HOST, "/readyz").await.status;
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

#[tokio::test]
async fn readyz_follows_the_store_while_healthz_stays_up() {
    let port = redis_common::free_port();
    let redis = redis_common::start_on(port)
        .await
        .expect("redis-server starts");
    let store = format!("redis://127.0.0.1:{port}");
    let config = config_for(
        &app(),
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            &store,
        ],
        &[],
    );
    let server = Server::build(&app(), &config, Handler::new())
        .await
        .expect("builds");
    let router = server.router();
    let r = get(&router, LOCAL_HOST, "/readyz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    drop(redis);
    assert_eq!(
        ready_becomes(&router, StatusCode::SERVICE_UNAVAILABLE).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let r = get(&router, LOCAL_HOST, "/readyz").await;
    assert_eq!(r.header("retry-after"), "5");
    // Liveness does not depend on the store.
    assert_eq!(
        get(&router, LOCAL_HOST, "/healthz").await.status,
        StatusCode::OK
    );

    let _redis = redis_common::start_on(port)
        .await
        .expect("redis-server restarts");
    assert_eq!(ready_becomes(&router, StatusCode::OK).await, StatusCode::OK);
}
