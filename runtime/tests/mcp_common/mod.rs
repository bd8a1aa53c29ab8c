//! Shared fixtures of the MCP endpoint tests: a hand-written server description and handler,
//! a bearer-token authenticator, and request helpers driving the router in-process.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use mcpgen_runtime::auth::{AuthFuture, Authenticator, Person, Principal};
use mcpgen_runtime::server::McpServer;
use mcpgen_runtime::tools::{
    Annotations, BoxFuture, Content, LogLevel, ServerInfo, ToolContext, ToolDef, ToolError,
    ToolHandler, ToolResult,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const MODERN: &str = "2026-07-28";

pub fn info() -> ServerInfo {
    ServerInfo {
        name: "test-server".into(),
        version: "1.2.3".into(),
        title: Some("Test Server".into()),
        description: Some("A server for tests".into()),
        instructions: Some("Use echo to echo.".into()),
        website_url: Some("https://example.com".into()),
    }
}

pub fn tool(name: &str, input: Value) -> ToolDef {
    ToolDef {
        name: name.into(),
        title: None,
        description: format!("the {name} tool"),
        input_schema: input,
        output_schema: None,
        annotations: Annotations::default(),
        scopes: vec![],
    }
}

fn no_args() -> Value {
    json!({"type": "object", "additionalProperties": false})
}

pub fn tools() -> Vec<ToolDef> {
    let mut echo = tool(
        "echo",
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
    );
    echo.title = Some("Echo".into());
    echo.annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };
    let mut add = tool(
        "add",
        json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
    );
    add.output_schema = Some(
        json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}),
    );
    let mut bad_output = tool("bad_output", no_args());
    bad_output.output_schema = Some(
        json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}),
    );
    let mut secret = tool(
        "secret",
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
    );
    secret.scopes = vec!["admin".into()];
    vec![
        echo,
        add,
        tool("progress", no_args()),
        tool("logs", no_args()),
        tool("fail", no_args()),
        bad_output,
        tool("panics", no_args()),
        tool("rich", no_args()),
        secret,
        tool("whoami", no_args()),
    ]
}

pub struct Handler;

impl ToolHandler for Handler {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: Value,
        ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        Box::pin(async move {
            match tool {
                "echo" => Ok(ToolResult::text(args["text"].as_str().unwrap_or_default())),
                "add" => {
                    let sum = args["a"].as_f64().unwrap_or(0.0) + args["b"].as_f64().unwrap_or(0.0);
                    Ok(ToolResult::structured(json!({ "sum": sum })))
                }
                "progress" => {
                    ctx.progress(1.0, Some(2.0), Some("half way"));
                    tokio::task::yield_now().await;
                    ctx.progress(2.0, Some(2.0), None);
                    Ok(ToolResult::text("done"))
                }
                "logs" => {
                    ctx.log(LogLevel::Debug, "debug detail");
                    ctx.log(LogLevel::Warning, json!({"disk": "low"}));
                    Ok(ToolResult::text("logged"))
                }
                "fail" => Err(ToolError::new("the order does not exist; check the id")),
                "bad_output" => Ok(ToolResult::structured(json!({ "sum": "not a number" }))),
                "panics" => panic!("handler bug"),
                "rich" => Ok(ToolResult::content(vec![
                    Content::text("hello"),
                    Content::image("aW1n", "image/png"),
                    Content::audio("YXVk", "audio/wav"),
                    Content::resource_link("file:///a.txt", "a.txt"),
                    Content::embedded_text("file:///b.txt", Some("text/plain".into()), "bee"),
                    Content::embedded_blob("file:///c.bin", None, "Y2Vl"),
                ])),
                "secret" => Ok(ToolResult::text(format!("n={}", args["n"]))),
                "whoami" => Ok(ToolResult::text(
                    ctx.principal()
                        .client_id
                        .clone()
                        .unwrap_or_else(|| "nobody".into()),
                )),
                other => Err(ToolError::new(format!("no such tool {other}"))),
            }
        })
    }
}

/// Bearer tokens: `good` holds no scopes (person `grace`), `admin` holds `admin` (a person
/// whose subject holds a line break); anything else is 401.
pub struct TokenAuth;

fn challenge(status: StatusCode, value: &'static str) -> Response {
    let mut r = Response::new(Body::from("{\"error\":\"unauthorized\"}"));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    r
}

impl Authenticator for TokenAuth {
    fn authenticate<'a>(&'a self, parts: &'a http::request::Parts) -> AuthFuture<'a> {
        Box::pin(async move {
            let token = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            match token {
                Some("good") => Ok(Principal {
                    client_id: Some("client-good".into()),
                    person: Some(Person::new("grace")),
                    ..Default::default()
                }),
                Some("admin") => Ok(Principal {
                    client_id: Some("client-admin".into()),
                    // A subject with a line break: logs must escape it.
                    person: Some(Person::new("ada\nforged status=500")),
                    scopes: ["admin".to_string()].into_iter().collect(),
                    ..Default::default()
                }),
                _ => Err(challenge(
                    StatusCode::UNAUTHORIZED,
                    "Bearer resource_metadata=\"http://localhost/.well-known/oauth-protected-resource/mcp\"",
                )),
            }
        })
    }

    fn authorize_tool(&self, principal: &Principal, required: &[&str]) -> Result<(), Response> {
        if required.iter().all(|s| principal.scopes.contains(*s)) {
            Ok(())
        } else {
            Err(challenge(
                StatusCode::FORBIDDEN,
                "Bearer error=\"insufficient_scope\", scope=\"admin\"",
            ))
        }
    }
}

pub fn server() -> McpServer {
    McpServer::new(info(), tools(), Handler)
}

pub fn app() -> Router {
    server().router()
}

pub fn authed_app() -> Router {
    server().authenticator(Arc::new(TokenAuth)).router()
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    /// The JSON messages of an SSE body, checking its framing on the way.
    pub fn sse_messages(&self) -> Vec<Value> {
        assert_eq!(self.header("content-type"), Some("text/event-stream"));
        let text = self.text();
        assert!(text.ends_with("\n\n"), "unterminated event: {text:?}");
        text.trim_end_matches("\n\n")
            .split("\n\n")
            .map(|event| {
                let lines: Vec<&str> = event.lines().collect();
                assert_eq!(
                    lines.len(),
                    2,
                    "event is not one event line and one data line: {event:?}"
                );
                assert_eq!(lines[0], "event: message");
                let data = lines[1].strip_prefix("data: ").expect("data line");
                assert!(!data.is_empty(), "empty data event");
                serde_json::from_str(data).unwrap()
            })
            .collect()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(req))
        .await
        .expect("request timed out")
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn post_json(app: &Router, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut b = Request::post("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(app, b.body(Body::from(body.to_string())).unwrap()).await
}

pub async fn post_raw(app: &Router, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut b = Request::post("/mcp");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(app, b.body(Body::from(body.to_owned())).unwrap()).await
}

pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// A conforming 2026-07-28 request: `_meta` in params and the mirrored headers.
pub async fn modern(app: &Router, id: Value, method: &str, mut params: Value) -> Reply {
    if params.get("_meta").is_none() {
        params["_meta"] = meta();
    }
    let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(n) = &name {
        headers.push(("mcp-name", n.as_str()));
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    post_json(app, &headers, &body).await
}

/// A legacy request with the given `MCP-Protocol-Version` header (none when `None`).
pub async fn legacy(
    app: &Router,
    version: Option<&str>,
    id: Value,
    method: &str,
    params: Value,
) -> Reply {
    let headers: Vec<(&str, &str)> = version
        .map(|v| vec![("mcp-protocol-version", v)])
        .unwrap_or_default();
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    post_json(app, &headers, &body).await
}
