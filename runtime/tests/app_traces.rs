//! OTLP traces: what a collector receives after tool calls (decoded from the OTLP/HTTP
//! protobuf the server sends), and that without the variables nothing is sent anywhere.
#![cfg(feature = "otlp")]

mod app_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app_common::*;
use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use mcpgen_runtime::app::{App, Server};
use mcpgen_runtime::tools::{
    Annotations, BoxFuture, ToolContext, ToolDef, ToolError, ToolHandler, ToolResult,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};

const LOCAL: &str = "http://127.0.0.1:8000";
const LOCAL_HOST: &str = "127.0.0.1:8000";
/// An argument value that must never reach a collector.
const SECRET_ARG: &str = "secret-argument-7f3a";
/// A caller's span: trace `4bf9...4736`, span `00f0...02b7`, sampled.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn tool(name: &str) -> ToolDef {
    ToolDef {
        name: name.into(),
        title: None,
        description: format!("the {name} tool"),
        input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
        output_schema: None,
        annotations: Annotations::default(),
        scopes: vec![],
    }
}

/// A local server without auth: `echo` answers, `fail` reports a tool error.
fn traced_app() -> App {
    App {
        tools: vec![tool("echo"), tool("fail")],
        public_url: LOCAL.into(),
        bind: "127.0.0.1:0".into(),
        auth: None,
        ..app()
    }
}

struct Tools;

impl ToolHandler for Tools {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: Value,
        _ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        Box::pin(async move {
            match tool {
                "echo" => Ok(ToolResult::text(args["text"].as_str().unwrap_or_default())),
                _ => Err(ToolError::new("the order service is down")),
            }
        })
    }
}

/// What the collector received: each export's headers and decoded request.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, ExportTraceServiceRequest)>>>);

async fn export(State(got): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    match ExportTraceServiceRequest::decode(body) {
        Ok(req) => {
            got.0.lock().unwrap().push((headers, req));
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// A minimal OTLP/HTTP collector on loopback: `POST /v1/traces` with protobuf.
async fn collector() -> (std::net::SocketAddr, Received) {
    let got = Received::default();
    let router = axum::Router::new()
        .route("/v1/traces", axum::routing::post(export))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, got)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(Any::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn call(id: Value, name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": {"text": SECRET_ARG}}})
}

/// Serves `server` until the returned sender fires; the task ends when it has shut down
/// (for a traced server: after the last spans went out).
fn serve(
    server: Server,
    listener: tokio::net::TcpListener,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_arrive_at_the_collector_as_mcp_spans_under_their_http_request() {
    let (addr, got) = collector().await;
    let endpoint = format!("http://{addr}");
    let app = traced_app();
    let config = config_for(
        &app,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%3D1"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ],
    );
    let server = Server::build(&app, &config, Tools).await.expect("builds");
    let router = server.router();
    let listener = server.listen().await.expect("binds");
    let (stop, task) = serve(server, listener);

    let ok = rpc(&router, LOCAL_HOST, "/mcp", None, call(json!(1), "echo")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let ok_request_id = ok.header("x-request-id").to_owned();
    let failed = rpc(
        &router,
        LOCAL_HOST,
        "/mcp",
        None,
        call(json!("b-2"), "fail"),
    )
    .await;
    assert_eq!(
        failed.json()["result"]["isError"],
        true,
        "{}",
        failed.text()
    );
    // A traced caller's `traceparent` (W3C Trace Context) puts the request in its trace.
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let listed = send(
        &router,
        http::Request::post("/mcp")
            .header(http::header::HOST, LOCAL_HOST)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("traceparent", TRACEPARENT)
            .body(axum::body::Body::from(list.to_string()))
            .expect("request"),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);

    // Shutdown sends what is queued, so everything has arrived once the server is down.
    stop.send(()).expect("server still running");
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("shuts down")
        .expect("no panic")
        .expect("serves");

    let received = got.0.lock().unwrap().clone();
    assert!(!received.is_empty(), "nothing reached the collector");
    for (headers, _) in &received {
        assert_eq!(
            headers["x-api-key"], "k=1",
            "OTEL_EXPORTER_OTLP_HEADERS is sent"
        );
        assert_eq!(headers["content-type"], "application/x-protobuf");
    }
    let mut spans = Vec::new();
    for (_, req) in &received {
        for rs in &req.resource_spans {
            let resource = rs.resource.as_ref().expect("a resource");
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref());
            assert_eq!(
                service,
                Some(&Any::StringValue("medtainer-mcp".into())),
                "the service is named after the binary"
            );
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().cloned());
            }
        }
    }
    let named = |name: &str| -> Vec<&Span> { spans.iter().filter(|s| s.name == name).collect() };
    const SERVER: i32 = 2; // SPAN_KIND_SERVER
    const ERROR: i32 = 2; // STATUS_CODE_ERROR

    let requests = named("POST /mcp");
    assert_eq!(requests.len(), 3, "one span per HTTP request: {spans:#?}");
    for r in &requests {
        assert_eq!(r.kind, SERVER);
        assert_eq!(text_attr(r, "http.request.method"), Some("POST"));
        assert_eq!(text_attr(r, "http.route"), Some("/mcp"));
        assert_eq!(
            attr(r, "http.response.status_code"),
            Some(&Any::IntValue(200))
        );
    }
    let (joined, roots): (Vec<&&Span>, Vec<&&Span>) =
        requests.iter().partition(|r| !r.parent_span_id.is_empty());
    assert_eq!(
        roots.len(),
        2,
        "without traceparent a request starts a trace"
    );
    assert_eq!(joined.len(), 1);
    assert_eq!(
        hex(&joined[0].trace_id),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "the caller's trace"
    );
    assert_eq!(hex(&joined[0].parent_span_id), "00f067aa0ba902b7");
    let parent_of = |child: &Span| -> &Span {
        let p = requests
            .iter()
            .find(|r| r.span_id == child.parent_span_id)
            .unwrap_or_else(|| panic!("{} has no request span as parent", child.name));
        assert_eq!(p.trace_id, child.trace_id, "same trace");
        p
    };

    let echo = named("tools/call echo");
    assert_eq!(echo.len(), 1, "{spans:#?}");
    let echo = echo[0];
    assert_eq!(echo.kind, SERVER);
    assert_eq!(text_attr(echo, "mcp.method.name"), Some("tools/call"));
    assert_eq!(text_attr(echo, "gen_ai.tool.name"), Some("echo"));
    assert_eq!(
        text_attr(echo, "gen_ai.operation.name"),
        Some("execute_tool")
    );
    assert_eq!(text_attr(echo, "jsonrpc.request.id"), Some("1"));
    assert_eq!(text_attr(echo, "mcp.protocol.version"), Some("2025-11-25"));
    assert_eq!(text_attr(echo, "error.type"), None);
    assert_ne!(echo.status.as_ref().map_or(0, |s| s.code), ERROR);
    let echo_request = parent_of(echo);
    assert_eq!(
        text_attr(echo_request, "mcpgen.request_id"),
        Some(ok_request_id.as_str()),
        "the request span carries the X-Request-Id of the log line"
    );

    let fail = named("tools/call fail");
    assert_eq!(fail.len(), 1, "{spans:#?}");
    let fail = fail[0];
    assert_eq!(text_attr(fail, "jsonrpc.request.id"), Some("b-2"));
    assert_eq!(text_attr(fail, "error.type"), Some("tool_error"));
    assert_eq!(fail.status.as_ref().map(|s| s.code), Some(ERROR));
    assert_ne!(parent_of(fail).span_id, echo_request.span_id);

    let list = named("tools/list");
    assert_eq!(list.len(), 1, "{spans:#?}");
    assert_eq!(parent_of(list[0]).span_id, joined[0].span_id);
    assert_eq!(text_attr(list[0], "mcp.method.name"), Some("tools/list"));
    assert_eq!(text_attr(list[0], "gen_ai.operation.name"), None);
    parent_of(list[0]);

    // Arguments never leave the server.
    let everything = format!("{spans:?}");
    assert!(!everything.contains(SECRET_ARG), "{everything}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_otlp_endpoint_nothing_is_sent_anywhere() {
    // Every other OTEL_* variable points at a listener that must see no connection; the
    // default OTLP/HTTP address is watched too when it is free.
    let watched = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let default = std::net::TcpListener::bind("127.0.0.1:4318").ok();
    let other = format!("http://{}", watched.local_addr().expect("addr"));
    let app = traced_app();
    let config = config_for(
        &app,
        &[],
        &[
            ("OTEL_SERVICE_NAME", "watched"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=1"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", other.as_str()),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", other.as_str()),
        ],
    );
    assert!(config.traces.is_none(), "{config:?}");
    let server = Server::build(&app, &config, Tools).await.expect("builds");
    let router = server.router();
    let listener = server.listen().await.expect("binds");
    let (stop, task) = serve(server, listener);
    let r = rpc(&router, LOCAL_HOST, "/mcp", None, call(json!(1), "fail")).await;
    assert_eq!(r.status, StatusCode::OK);
    stop.send(()).expect("server still running");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shuts down")
        .expect("no panic")
        .expect("serves");

    // The server is down, and a traced one would have sent its spans before it ended.
    for l in std::iter::once(&watched).chain(default.as_ref()) {
        l.set_nonblocking(true).expect("nonblocking");
        match l.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a connection was attempted: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_holds_neither_requests_nor_shutdown() {
    // Accepts connections and never answers on them.
    let stuck = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", stuck.local_addr().expect("addr"));
    let (seen_tx, mut seen) = tokio::sync::mpsc::channel::<()>(16);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = stuck.accept().await {
            held.push(socket);
            let _ = seen_tx.try_send(());
        }
    });
    let app = traced_app();
    let config = config_for(
        &app,
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let server = Server::build(&app, &config, Tools).await.expect("builds");
    let router = server.router();
    let listener = server.listen().await.expect("binds");
    let (stop, task) = serve(server, listener);
    for id in 0..5 {
        let r = rpc(&router, LOCAL_HOST, "/mcp", None, call(json!(id), "echo")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    stop.send(()).expect("server still running");
    // Shutdown gives the collector a few seconds (`SHUTDOWN_TIMEOUT`), not the export timeout
    // (10 s) or forever; the limit here only turns a hang into a failure.
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("shutdown does not wait on the collector")
        .expect("no panic")
        .expect("serves");
    assert!(
        seen.try_recv().is_ok(),
        "the exporter did try the collector at shutdown"
    );
}
