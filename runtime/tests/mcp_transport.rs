//! HTTP rules of the MCP endpoint: paths, methods, media types, limits, ids, Origin and Host,
//! CORS, the order of checks against authentication, statelessness and /healthz.

mod mcp_common;

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode, header};
use mcp_common::*;
use mcpgen_runtime::mcp::{HOSTED_CLIENT_ORIGINS, MAX_BATCH_MESSAGES};
use serde_json::{Value, json};

fn init_body(id: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}})
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const PING_REPLY: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

#[tokio::test]
async fn get_and_delete_are_405_with_allow() {
    let app = app();
    for method in ["GET", "DELETE", "PUT"] {
        for path in ["/mcp", "/mcp/"] {
            let r = send(
                &app,
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(r.header("allow"), Some("POST"));
        }
    }
}

#[tokio::test]
async fn trailing_slash_is_served_not_redirected() {
    let app = app();
    for path in ["/mcp", "/mcp/"] {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(PING))
            .unwrap();
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.text(), PING_REPLY);
    }
}

#[tokio::test]
async fn custom_endpoint_path() {
    let app = server().endpoint("/api/mcp/").router();
    for (path, status) in [("/api/mcp", 200), ("/api/mcp/", 200), ("/mcp", 404)] {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(PING))
            .unwrap();
        assert_eq!(send(&app, req).await.status.as_u16(), status, "{path}");
    }
}

#[tokio::test]
async fn stateless_no_session_id_issued_and_incoming_one_ignored() {
    let app = app();
    let r = post_json(&app, &[], &init_body(json!(1))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("mcp-session-id").is_none());
    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("mcp-session-id", "stale-session-from-another-process"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), PING_REPLY);
    assert!(r.headers.get("mcp-session-id").is_none());
}

#[tokio::test]
async fn accept_wildcard_or_absent_answers_json() {
    let app = app();
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/*"),
    ] {
        let mut h = vec![("content-type", "application/json")];
        if let Some(a) = accept {
            h.push(("accept", a));
        }
        let r = post_raw(&app, &h, PING).await;
        assert_eq!(r.status, StatusCode::OK, "{accept:?}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), PING_REPLY);
    }
}

#[tokio::test]
async fn accept_only_event_stream_answers_sse() {
    let app = app();
    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-accel-buffering"), Some("no"));
    assert_eq!(
        r.sse_messages(),
        vec![json!({"jsonrpc": "2.0", "id": 1, "result": {}})]
    );
}

#[tokio::test]
async fn unacceptable_accept_is_406() {
    let r = post_raw(
        &app(),
        &[
            ("content-type", "application/json"),
            ("accept", "image/png"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn content_type_rules() {
    let app = app();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = post_raw(&app, &[("content-type", ct)], PING).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
    }
    for ct in [
        Some("application/json; charset=utf-8"),
        Some("Application/JSON"),
        None,
    ] {
        let h: Vec<(&str, &str)> = ct.map(|c| vec![("content-type", c)]).unwrap_or_default();
        let r = post_raw(&app, &h, PING).await;
        assert_eq!(r.status, StatusCode::OK, "{ct:?}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = server().max_body(64).router();
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(100)
    );
    // Declared length.
    let r = post_raw(&app, &[("content-type", "application/json")], &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
        .as_bytes()
        .chunks(10)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let req = Request::post("/mcp")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // At the limit is fine.
    let r = post_raw(&app, &[("content-type", "application/json")], PING).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn default_limit_is_4_mib() {
    let app = app();
    let pad = "x".repeat(4 * 1024 * 1024);
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{pad}"}}}}"#);
    let r = post_raw(&app, &[("content-type", "application/json")], &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let ok = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        &pad[..4 * 1024 * 1024 - 100]
    );
    let r = post_raw(&app, &[("content-type", "application/json")], &ok).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn parse_errors_are_32700() {
    let app = app();
    for body in [
        "{",
        "not json",
        "",
        "{\"jsonrpc\":\"2.0\",\"id\":1,",
        "\u{feff}x",
    ] {
        let r = post_raw(&app, &[("content-type", "application/json")], body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}");
        let v = r.json();
        assert_eq!(v["error"]["code"], -32700, "{body:?}");
        assert!(v.get("id").is_none(), "an unreadable request has no id");
    }
}

#[tokio::test]
async fn invalid_requests_are_32600_with_id_when_readable() {
    let app = app();
    let cases = [
        (r#"{"id":7,"method":"ping"}"#, Some(json!(7))),
        (
            r#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#,
            Some(json!("a")),
        ),
        (r#"{"jsonrpc":"2.0","id":7,"method":5}"#, Some(json!(7))),
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, None),
        (r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#, None),
        (r#"{"jsonrpc":"2.0","id":3}"#, Some(json!(3))),
        ("42", None),
        ("\"ping\"", None),
    ];
    for (body, id) in cases {
        let r = post_raw(&app, &[("content-type", "application/json")], body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        let v = r.json();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["error"]["code"], -32600, "{body}");
        assert_eq!(v.get("id").cloned(), id, "{body}");
    }
}

#[tokio::test]
async fn ids_are_echoed_with_their_exact_type() {
    let app = app();
    for id in [
        r#""1""#,
        "1",
        "0",
        "-5",
        "1.5",
        "9007199254740993",
        r#""""#,
        r#""é""#,
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        let r = post_raw(&app, &[("content-type", "application/json")], &body).await;
        assert_eq!(
            r.text(),
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
        );
    }
}

#[tokio::test]
async fn unknown_method_is_32601() {
    let r = legacy(
        &app(),
        Some("2025-11-25"),
        json!(9),
        "resources/list",
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": 9, "error": {"code": -32601, "message": "method not found: resources/list"}})
    );
}

#[tokio::test]
async fn origin_absent_is_allowed_present_must_be_listed() {
    let app = server().allowed_origins(["https://claude.ai"]).router();
    let r = post_raw(&app, &[("content-type", "application/json")], PING).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("access-control-allow-origin").is_none());

    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("origin", "https://claude.ai"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://claude.ai")
    );
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in ["www-authenticate", "mcp-protocol-version", "mcp-session-id"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }

    for bad in ["https://evil.example.com", "null", "http://localhost:3000"] {
        let r = post_raw(
            &app,
            &[("content-type", "application/json"), ("origin", bad)],
            PING,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
        let v = r.json();
        assert_eq!(v["error"]["code"], -32600);
        assert!(v.get("id").is_none());
    }
}

#[tokio::test]
async fn loopback_servers_allow_loopback_origins_and_check_host() {
    let app = server().loopback(true).router();
    for origin in [
        "http://localhost:6274",
        "http://127.0.0.1:3000",
        "http://[::1]:8080",
    ] {
        let r = post_raw(
            &app,
            &[
                ("content-type", "application/json"),
                ("origin", origin),
                ("host", "localhost:3000"),
            ],
            PING,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{origin}");
    }
    // The conformance dns-rebinding-protection scenario: Host and Origin set to an attacker's.
    let r = post_json(
        &app,
        &[
            ("host", "evil.example.com"),
            ("origin", "http://evil.example.com"),
        ],
        &init_body(json!(1)),
    )
    .await;
    assert!(r.status.is_client_error());
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Host alone.
    let r = post_json(
        &app,
        &[("host", "evil.example.com:3000")],
        &init_body(json!(1)),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for host in [
        "localhost",
        "localhost:3000",
        "127.0.0.1:3000",
        "[::1]:3000",
    ] {
        let r = post_json(
            &app,
            &[("host", host), ("origin", &format!("http://{host}"))],
            &init_body(json!(1)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{host}");
    }
    // A remote server does not check Host (it sits behind proxies and load balancers).
    let remote = app_remote();
    let r = post_json(
        &remote,
        &[("host", "evil.example.com")],
        &init_body(json!(1)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A loopback server behind a proxy accepts its configured public host.
    let proxied = server()
        .loopback(true)
        .allowed_hosts(["mcp.example.com"])
        .router();
    let r = post_json(
        &proxied,
        &[("host", "mcp.example.com")],
        &init_body(json!(1)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

fn app_remote() -> axum::Router {
    server().loopback(false).router()
}

#[tokio::test]
async fn cors_preflight() {
    let app = server()
        .allowed_origins(["https://app.example"])
        .authenticator(Arc::new(TokenAuth))
        .router();
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/mcp")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .body(Body::empty())
        .unwrap();
    // No token: a preflight never carries one, so it is answered before authentication.
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, content-type, mcp-protocol-version")
    );
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/mcp")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unauthenticated_sees_401_before_any_other_error() {
    let app = server()
        .allowed_origins(["https://claude.ai"])
        .authenticator(Arc::new(TokenAuth))
        .max_body(64)
        .router();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String);
    let cases: Vec<Case> = vec![
        (
            "valid initialize with a header",
            vec![
                ("content-type", "application/json"),
                ("accept", "*/*"),
                ("mcp-protocol-version", "2025-11-25"),
            ],
            init_body(json!(1)).to_string(),
        ),
        (
            "bad version header",
            vec![
                ("content-type", "application/json"),
                ("mcp-protocol-version", "1999-01-01"),
            ],
            PING.into(),
        ),
        (
            "parse error",
            vec![("content-type", "application/json")],
            "{".into(),
        ),
        ("415", vec![("content-type", "text/plain")], PING.into()),
        (
            "406",
            vec![
                ("content-type", "application/json"),
                ("accept", "image/png"),
            ],
            PING.into(),
        ),
        (
            "413",
            vec![("content-type", "application/json")],
            "x".repeat(100),
        ),
        (
            "modern header mismatch",
            vec![
                ("content-type", "application/json"),
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/list"),
            ],
            PING.into(),
        ),
        (
            "allowed origin",
            vec![
                ("content-type", "application/json"),
                ("origin", "https://claude.ai"),
            ],
            PING.into(),
        ),
        (
            "bad token",
            vec![
                ("content-type", "application/json"),
                ("authorization", "Bearer nope"),
            ],
            PING.into(),
        ),
    ];
    for (name, headers, body) in cases {
        let r = post_raw(&app, &headers, &body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .starts_with("Bearer resource_metadata="),
            "{name}"
        );
        // The body is not read, so the connection closes after the 401: saying so keeps a
        // client from sending its next request (after sign-in) on it.
        assert_eq!(r.header("connection"), Some("close"), "{name}");
    }
    // 401 with CORS headers so a browser can read the challenge.
    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("origin", "https://claude.ai"),
        ],
        PING,
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://claude.ai")
    );
    // GET without a token: also the challenge.
    let r = send(&app, Request::get("/mcp").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Origin comes first: a foreign page gets 403, not the challenge.
    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With the token, the same bad requests get their own errors.
    let auth = ("authorization", "Bearer good");
    let r = post_raw(&app, &[("content-type", "text/plain"), auth], PING).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = post_raw(&app, &[("content-type", "application/json"), auth], "{").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post_raw(&app, &[auth], PING).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn healthz() {
    let app = app();
    let r = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "ok");
    let off = server().healthz(false).router();
    let r = send(&off, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn merging_another_router() {
    let oauth = axum::Router::new().route(
        "/.well-known/oauth-protected-resource",
        axum::routing::get(|| async { "prm" }),
    );
    let app = app().merge(oauth);
    let r = send(
        &app,
        Request::get("/.well-known/oauth-protected-resource")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.text(), "prm");
    let r = post_raw(&app, &[("content-type", "application/json")], PING).await;
    assert_eq!(r.text(), PING_REPLY);
}

#[test]
fn invalid_descriptions_are_build_errors() {
    let mut tools = tools();
    tools.push(tools[0].clone());
    let err = mcpgen_runtime::server::McpServer::new(info(), tools, Handler)
        .try_router()
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "tool `echo` is defined twice");
    let mut tools = mcp_common::tools();
    tools[0].input_schema = json!({"type": 12});
    let err = mcpgen_runtime::server::McpServer::new(info(), tools, Handler)
        .try_router()
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("tool `echo`: invalid input schema"),
        "{err}"
    );
    let err = server().endpoint("mcp").try_router().err().unwrap();
    assert!(err.to_string().contains("must start with '/'"));
}

#[tokio::test]
async fn notification_gets_202_with_empty_body() {
    let r = post_raw(
        &app(),
        &[("content-type", "application/json")],
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.is_empty());
    assert!(r.headers.get(header::CONTENT_TYPE).is_none());
}

fn tools_list_batch(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"}))
            .collect(),
    )
}

#[tokio::test]
async fn batches_are_capped_in_messages() {
    let app = app();
    let r = post_json(&app, &[], &tools_list_batch(MAX_BATCH_MESSAGES)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().map(Vec::len), Some(MAX_BATCH_MESSAGES));
    // One more, and the whole batch is refused before any of it runs.
    let r = post_json(&app, &[], &tools_list_batch(MAX_BATCH_MESSAGES + 1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let v = r.json();
    assert_eq!(v["error"]["code"], -32600);
    assert!(v.get("id").is_none());
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&MAX_BATCH_MESSAGES.to_string()) && message.contains("51"),
        "{message}"
    );
}

/// Counts the bytes live on each thread, so a test can bound what one request allocates
/// (`#[tokio::test]` runs the request on the test's own thread).
mod live_bytes {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        let _ = LIVE.try_with(|live| {
            let v = live.get() + n;
            live.set(v);
            let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
        });
    }

    // SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            add(l.size() as isize);
            unsafe { System.alloc(l) }
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            add(l.size() as isize);
            unsafe { System.alloc_zeroed(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            add(-(l.size() as isize));
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            add(new as isize - l.size() as isize);
            unsafe { System.realloc(p, l, new) }
        }
    }

    /// Starts a measurement: the peak is reset to what is live now, which is returned.
    pub fn start() -> isize {
        let live = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(live));
        live
    }

    /// The most bytes live on this thread since [`start`].
    pub fn peak() -> isize {
        PEAK.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: live_bytes::Counting = live_bytes::Counting;

/// A batch is counted before it is built: a body under the 4 MiB limit holding two million
/// `0,` would otherwise become two million `serde_json::Value`s (64 MB and more) just to be
/// refused for holding more than 50, and a few such requests at once exhaust memory.
#[tokio::test]
async fn oversized_batches_are_refused_without_building_them() {
    let app = app();
    let n = 2_000_000;
    let mut body = String::with_capacity(2 * n + 2);
    body.push('[');
    for i in 0..n {
        body.push_str(if i == 0 { "0" } else { ",0" });
    }
    body.push(']');
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    let before = live_bytes::start();
    let r = post_raw(&app, &headers, &body).await;
    let grew = live_bytes::peak() - before;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], -32600);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(&n.to_string()), "{message}");
    // The body itself (4 MB) may be copied once or twice; its values must not be built.
    assert!(
        grew < 4 * body.len() as isize,
        "refusing a {} byte batch took {grew} bytes",
        body.len()
    );
}

#[tokio::test]
async fn batch_responses_are_capped_in_bytes() {
    let one = post_json(&app(), &[], &tools_list_batch(1))
        .await
        .body
        .len();
    // Room for two answers, not three: the third is never computed.
    let app = server().max_response(one * 2 + 10).router();
    let r = post_json(&app, &[], &tools_list_batch(2)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().map(Vec::len), Some(2));
    let r = post_json(&app, &[], &tools_list_batch(3)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.len() < one, "the refusal is small: {}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], -32600);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&(one * 2 + 10).to_string()),
        "{v}"
    );
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri("/mcp")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn hosted_client_origins_get_the_challenge_on_public_servers() {
    // No origins configured: a public server still lets the hosted clients start OAuth.
    let app = server().authenticator(Arc::new(TokenAuth)).router();
    for origin in [
        "https://claude.ai",
        "https://claude.com",
        "https://chatgpt.com",
    ] {
        assert!(HOSTED_CLIENT_ORIGINS.contains(&origin));
        let r = post_raw(
            &app,
            &[("content-type", "application/json"), ("origin", origin)],
            PING,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{origin}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        assert!(r.header("www-authenticate").is_some());
        let r = send(&app, preflight(origin)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    }
}

#[tokio::test]
async fn a_refused_origin_is_named_with_its_fix_and_cors_headers() {
    // The spec narrowed the hosted clients to claude.ai.
    let app = server()
        .hosted_client_origins(["https://claude.ai"])
        .authenticator(Arc::new(TokenAuth))
        .router();
    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("origin", "https://claude.ai"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for (origin, key) in [
        ("https://chatgpt.com", "server.hosted_client_origins"),
        ("https://app.example", "server.allowed_origins"),
    ] {
        let r = post_raw(
            &app,
            &[("content-type", "application/json"), ("origin", origin)],
            PING,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
        // CORS headers, so a browser shows the page and the console why.
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        let v = r.json();
        assert_eq!(v["error"]["code"], -32600);
        assert_eq!(v["error"]["data"]["origin"], origin);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(origin) && message.contains(key),
            "{message}"
        );
        // The preflight agrees with the request.
        let r = send(&app, preflight(origin)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
    }
    // Turned off entirely.
    let none = server()
        .hosted_client_origins(Vec::<String>::new())
        .router();
    let r = post_raw(&none, &[("origin", "https://claude.ai")], PING).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn loopback_servers_stay_strict_about_hosted_origins() {
    let app = server().loopback(true).router();
    for origin in HOSTED_CLIENT_ORIGINS {
        let r = post_raw(
            &app,
            &[("origin", origin), ("host", "127.0.0.1:8000")],
            PING,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
        // A loopback server tells a foreign page nothing.
        assert_eq!(r.header("access-control-allow-origin"), None);
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("loopback")
        );
    }
}
