//! tools/call: argument validation, per-tool scopes before validation, results and errors,
//! every content block type, structured output, and SSE streaming of progress and logs.

mod mcp_common;

use std::sync::{Arc, Mutex};

use http::StatusCode;
use mcp_common::*;
use serde_json::{Value, json};

async fn call(app: &axum::Router, version: &str, params: Value) -> Reply {
    legacy(app, Some(version), json!(1), "tools/call", params).await
}

#[tokio::test]
async fn valid_call_returns_text() {
    let r = call(
        &app(),
        "2025-11-25",
        json!({"name": "echo", "arguments": {"text": "héllo"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.text(),
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"héllo"}]}}"#
    );
}

#[tokio::test]
async fn invalid_arguments_are_an_is_error_result_naming_the_problem() {
    let app = app();
    let r = call(
        &app,
        "2025-11-25",
        json!({"name": "echo", "arguments": {"text": 5}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["result"]["isError"], true);
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("invalid arguments for tool `echo`: /text: 5 is not of type \"string\""),
        "{text}"
    );
    // Missing arguments: validated as {}.
    let v = call(&app, "2025-11-25", json!({"name": "echo"}))
        .await
        .json();
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("arguments: \"text\" is a required property"),
        "{text}"
    );
    // Not an object.
    let v = call(
        &app,
        "2025-11-25",
        json!({"name": "echo", "arguments": [1]}),
    )
    .await
    .json();
    assert_eq!(v["result"]["isError"], true);
    // additionalProperties: false.
    let v = call(
        &app,
        "2025-11-25",
        json!({"name": "fail", "arguments": {"x": 1}}),
    )
    .await
    .json();
    assert_eq!(v["result"]["isError"], true);
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("invalid arguments")
    );
    // null arguments are treated as none.
    let v = call(
        &app,
        "2025-11-25",
        json!({"name": "rich", "arguments": null}),
    )
    .await
    .json();
    assert!(v["result"].get("isError").is_none());
}

#[tokio::test]
async fn handler_errors_are_is_error_results() {
    let v = call(
        &app(),
        "2025-11-25",
        json!({"name": "fail", "arguments": {}}),
    )
    .await
    .json();
    assert_eq!(
        v,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "the order does not exist; check the id"}], "isError": true}})
    );
}

#[tokio::test]
async fn a_panicking_handler_is_an_is_error_result() {
    let v = call(
        &app(),
        "2025-11-25",
        json!({"name": "panics", "arguments": {}}),
    )
    .await
    .json();
    assert_eq!(v["result"]["isError"], true);
    assert_eq!(
        v["result"]["content"][0]["text"],
        "the tool failed unexpectedly; try again later"
    );
}

#[tokio::test]
async fn unknown_tool_and_bad_params_are_32602() {
    let app = app();
    let cases = [
        (
            json!({"name": "nope", "arguments": {}}),
            "unknown tool: nope",
        ),
        (json!({"arguments": {}}), "params.name must be a string"),
        (json!({"name": 3}), "params.name must be a string"),
        (json!([]), "params must be an object with the tool name"),
    ];
    for (params, message) in cases {
        let v = call(&app, "2025-11-25", params).await.json();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": message}})
        );
    }
}

#[tokio::test]
async fn structured_content_matches_output_schema_and_is_mirrored_as_text() {
    let app = app();
    let v = call(
        &app,
        "2025-06-18",
        json!({"name": "add", "arguments": {"a": 2, "b": 0.5}}),
    )
    .await
    .json();
    assert_eq!(
        v["result"],
        json!({"content": [{"type": "text", "text": "{\"sum\":2.5}"}], "structuredContent": {"sum": 2.5}})
    );
    // Before 2025-06-18 there is no structuredContent: the text block carries the JSON.
    for version in ["2024-11-05", "2025-03-26"] {
        let v = call(
            &app,
            version,
            json!({"name": "add", "arguments": {"a": 2, "b": 0.5}}),
        )
        .await
        .json();
        assert_eq!(
            v["result"],
            json!({"content": [{"type": "text", "text": "{\"sum\":2.5}"}]}),
            "{version}"
        );
    }
    // Output that breaks the schema never reaches the client as data.
    let v = call(
        &app,
        "2025-11-25",
        json!({"name": "bad_output", "arguments": {}}),
    )
    .await
    .json();
    assert_eq!(
        v["result"],
        json!({"content": [{"type": "text", "text": "the tool produced output that does not match its output schema"}], "isError": true})
    );
}

#[tokio::test]
async fn every_content_block_type() {
    let v = call(
        &app(),
        "2025-11-25",
        json!({"name": "rich", "arguments": {}}),
    )
    .await
    .json();
    assert_eq!(
        v["result"]["content"],
        json!([
            {"type": "text", "text": "hello"},
            {"type": "image", "data": "aW1n", "mimeType": "image/png"},
            {"type": "audio", "data": "YXVk", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt"},
            {"type": "resource", "resource": {"uri": "file:///b.txt", "mimeType": "text/plain", "text": "bee"}},
            {"type": "resource", "resource": {"uri": "file:///c.bin", "blob": "Y2Vl"}}
        ])
    );
}

#[tokio::test]
async fn scopes_are_checked_before_arguments() {
    let app = authed_app();
    // Invalid arguments, but no scope: 403 from the authenticator, as is.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "secret", "arguments": {"n": "not an int"}}});
    let r = post_json(&app, &[("authorization", "Bearer good")], &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"insufficient_scope\", scope=\"admin\"")
    );
    assert_eq!(r.text(), "{\"error\":\"unauthorized\"}");
    // Same in the modern era.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "secret", "arguments": {}, "_meta": meta()}});
    let r = post_json(
        &app,
        &[
            ("authorization", "Bearer good"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "secret"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With the scope: the arguments are validated, then the tool runs.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "secret", "arguments": {"n": "x"}}});
    let v = post_json(&app, &[("authorization", "Bearer admin")], &body)
        .await
        .json();
    assert_eq!(v["result"]["isError"], true);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "secret", "arguments": {"n": 4}}});
    let v = post_json(&app, &[("authorization", "Bearer admin")], &body)
        .await
        .json();
    assert_eq!(v["result"]["content"][0]["text"], "n=4");
    // Tools without scopes need none; unknown tools are -32602, never 403.
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nope"}});
    let r = post_json(&app, &[("authorization", "Bearer good")], &body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["error"]["code"], -32602);
    // A scope failure inside a 2025-03-26 batch is the HTTP answer for the batch.
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "secret", "arguments": {"n": 1}}}]);
    let r = post_json(&app, &[("authorization", "Bearer good")], &batch).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn progress_streams_sse_when_asked_for() {
    let app = app();
    let params = json!({"name": "progress", "arguments": {}, "_meta": {"progressToken": "tok-1"}});
    let r = call(&app, "2025-11-25", params.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("x-accel-buffering"), Some("no"));
    assert!(r.headers.get("mcp-session-id").is_none());
    assert_eq!(
        r.sse_messages(),
        vec![
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "tok-1", "progress": 1.0, "total": 2.0, "message": "half way"}}),
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "tok-1", "progress": 2.0, "total": 2.0}}),
            json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "done"}]}}),
        ]
    );
    // 2024-11-05 progress has no message; numeric tokens are echoed as numbers.
    let params0 = json!({"name": "progress", "arguments": {}, "_meta": {"progressToken": 7}});
    let msgs = call(&app, "2024-11-05", params0).await.sse_messages();
    assert_eq!(
        msgs[0]["params"],
        json!({"progressToken": 7, "progress": 1.0, "total": 2.0})
    );

    // No progress token: no notifications, plain JSON.
    let r = call(
        &app,
        "2025-11-25",
        json!({"name": "progress", "arguments": {}}),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["result"]["content"][0]["text"], "done");

    // The client takes JSON only: no stream even with a token.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    let r = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ],
        &body.to_string(),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = post_raw(
        &app,
        &[("content-type", "application/json"), ("accept", "*/*")],
        &body.to_string(),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn modern_progress_streams_too() {
    let mut params = json!({"name": "progress", "arguments": {}});
    let mut m = meta();
    m["progressToken"] = json!("p");
    params["_meta"] = m;
    let r = modern(&app(), json!(9), "tools/call", params).await;
    let msgs = r.sse_messages();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0]["method"], "notifications/progress");
    assert_eq!(msgs[2]["id"], 9);
    assert_eq!(msgs[2]["result"]["resultType"], "complete");
}

#[tokio::test]
async fn legacy_logs_stream_every_level() {
    let msgs = call(
        &app(),
        "2025-11-25",
        json!({"name": "logs", "arguments": {}}),
    )
    .await
    .sse_messages();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0]["method"], "notifications/message");
    assert_eq!(msgs[0]["params"]["level"], "debug");
    assert_eq!(
        msgs[1]["params"],
        json!({"level": "warning", "data": {"disk": "low"}})
    );
    assert_eq!(msgs[2]["result"]["content"][0]["text"], "logged");
}

/// A writer the fmt subscriber logs into, to check what reaches the logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_have_method_tool_status_and_no_bodies_or_tokens() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = authed_app();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "SECRET-ARGUMENT"}}});
    let r = post_json(&app, &[("authorization", "Bearer admin")], &body).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = post_json(&app, &[("authorization", "Bearer good")], &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "secret", "arguments": {"n": 1}}})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let logs = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("method=\"tools/call\""), "{logs}");
    assert!(logs.contains("tool=\"echo\""), "{logs}");
    assert!(logs.contains("status=200"), "{logs}");
    assert!(logs.contains("status=403"), "{logs}");
    assert!(logs.contains("duration_ms="), "{logs}");
    assert!(!logs.contains("SECRET-ARGUMENT"), "{logs}");
    // Each tool-call line names the caller's subject, escaped.
    let line = |status: &str| {
        logs.lines()
            .find(|l| l.contains("tools/call") && l.contains(status))
            .unwrap_or_else(|| panic!("no {status} line in {logs}"))
    };
    assert!(
        line("status=200").contains(r#"subject="ada\nforged status=500""#),
        "{logs}"
    );
    assert!(line("status=403").contains(r#"subject="grace""#), "{logs}");
    assert!(!logs.lines().any(|l| l.starts_with("forged")), "{logs}");
    assert!(!logs.contains("admin\""), "a token leaked: {logs}");
    assert!(!logs.to_ascii_lowercase().contains("bearer"), "{logs}");
}

#[tokio::test]
async fn older_clients_get_newer_blocks_as_text() {
    let rich = json!({"name": "rich", "arguments": {}});
    // 2025-03-26 has audio but no resource links.
    let v = call(&app(), "2025-03-26", rich.clone()).await.json();
    assert_eq!(v["result"]["content"][2]["type"], "audio");
    assert_eq!(
        v["result"]["content"][3],
        json!({"type": "text", "text": "a.txt: file:///a.txt"})
    );
    // 2024-11-05 has neither.
    let v = call(&app(), "2024-11-05", rich).await.json();
    assert_eq!(
        v["result"]["content"][2],
        json!({"type": "text", "text": "[audio/wav audio, not shown to this client version]"})
    );
    assert_eq!(v["result"]["content"][3]["type"], "text");
    assert_eq!(v["result"]["content"].as_array().unwrap().len(), 6);
}

/// Echoes the arguments it receives as JSON text.
struct EchoArgs;

impl mcpgen_runtime::tools::ToolHandler for EchoArgs {
    fn call<'a>(
        &'a self,
        _tool: &'a str,
        args: Value,
        _ctx: mcpgen_runtime::tools::ToolContext,
    ) -> mcpgen_runtime::tools::BoxFuture<
        'a,
        Result<mcpgen_runtime::tools::ToolResult, mcpgen_runtime::tools::ToolError>,
    > {
        Box::pin(async move { Ok(mcpgen_runtime::tools::ToolResult::text(args.to_string())) })
    }
}

/// `default` is an annotation validators do not apply; the handler (or template) must still
/// see `limit = 10` when the caller leaves it out, at every depth the arguments reach.
#[tokio::test]
async fn schema_defaults_are_filled_in_before_the_handler_runs() {
    let def = tool(
        "search",
        json!({"type": "object", "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "default": 10},
            "filter": {"type": "object", "properties": {"in_stock": {"type": "boolean", "default": true}}}
        }, "required": ["query"]}),
    );
    let app = mcpgen_runtime::server::McpServer::new(info(), vec![def], EchoArgs).router();
    let args_seen = |r: Reply| -> Value {
        let v = r.json();
        serde_json::from_str(v["result"]["content"][0]["text"].as_str().unwrap()).unwrap()
    };
    let r = call(
        &app,
        "2025-11-25",
        json!({"name": "search", "arguments": {"query": "bins", "filter": {}}}),
    )
    .await;
    assert_eq!(
        args_seen(r),
        json!({"query": "bins", "limit": 10, "filter": {"in_stock": true}})
    );
    // Given values win; an absent object gets no invented members.
    let r = call(
        &app,
        "2025-11-25",
        json!({"name": "search", "arguments": {"query": "bins", "limit": 3}}),
    )
    .await;
    assert_eq!(args_seen(r), json!({"query": "bins", "limit": 3}));
}
