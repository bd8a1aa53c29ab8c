//! `mcpgen-bench-floor PORT`: POST /mcp parses a JSON-RPC `tools/call` of `greet` and answers
//! `Hello, <name>!` as a text content block; GET /healthz answers `ok`.

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
struct Request {
    id: Value,
    method: String,
    #[serde(default)]
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    name: String,
    #[serde(default)]
    arguments: Option<serde_json::Map<String, Value>>,
}

#[derive(Serialize)]
struct Text {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

#[derive(Serialize)]
struct CallResult {
    content: [Text; 1],
}

#[derive(Serialize)]
struct Response<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: CallResult,
}

async fn mcp(body: Bytes) -> impl IntoResponse {
    let Ok(req) = serde_json::from_slice::<Request>(&body) else {
        return (StatusCode::BAD_REQUEST, "parse error").into_response();
    };
    let who = req
        .params
        .as_ref()
        .filter(|p| req.method == "tools/call" && p.name == "greet")
        .and_then(|p| p.arguments.as_ref())
        .and_then(|a| a.get("name"))
        .and_then(Value::as_str);
    let Some(who) = who else {
        return (StatusCode::BAD_REQUEST, "not a greet call").into_response();
    };
    let out = Response {
        jsonrpc: "2.0",
        id: &req.id,
        result: CallResult {
            content: [Text {
                kind: "text",
                text: format!("Hello, {who}!"),
            }],
        },
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&out).unwrap_or_default(),
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    let port = std::env::args().nth(1).unwrap_or_else(|| "8790".into());
    let app = Router::new()
        .route("/mcp", post(mcp))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind");
    // TCP_NODELAY, as the runtime sets it.
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serve");
}
