//! The 2026-07-28 era on the same endpoint: server/discover, required `_meta`, the mirrored
//! headers (Mcp-Method, Mcp-Name, MCP-Protocol-Version), unsupported versions, caching fields,
//! removed methods, and per-request log levels.

mod mcp_common;

use http::StatusCode;
use mcp_common::*;
use serde_json::{Value, json};

fn server_meta() -> Value {
    json!({"io.modelcontextprotocol/serverInfo": {"name": "test-server", "title": "Test Server", "version": "1.2.3", "description": "A server for tests", "websiteUrl": "https://example.com"}})
}

#[tokio::test]
async fn server_discover() {
    let r = modern(&app(), json!("d-1"), "server/discover", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.headers.get("mcp-session-id").is_none());
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": "d-1", "result": {
            "resultType": "complete",
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"logging": {}, "tools": {}},
            "instructions": "Use echo to echo.",
            "ttlMs": 300000,
            "cacheScope": "public",
            "_meta": server_meta()
        }})
    );
    let app = server()
        .cache_ttl(std::time::Duration::from_secs(60))
        .router();
    let r = modern(&app, json!(1), "server/discover", json!({})).await;
    assert_eq!(r.json()["result"]["ttlMs"], 60000);
}

#[tokio::test]
async fn tools_list_carries_cache_fields() {
    let r = modern(&app(), json!(1), "tools/list", json!({})).await;
    let v = r.json();
    let result = &v["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 300000);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(result["_meta"], server_meta());
    assert_eq!(result["tools"].as_array().unwrap().len(), 10);
    assert_eq!(result["tools"][0]["title"], "Echo");
    assert!(result["tools"][1]["outputSchema"].is_object());
    // Pagination works the same way.
    let app = server().page_size(8).router();
    let v = modern(&app, json!(1), "tools/list", json!({})).await.json();
    let cursor = v["result"]["nextCursor"].as_str().unwrap().to_owned();
    let v = modern(&app, json!(2), "tools/list", json!({"cursor": cursor}))
        .await
        .json();
    assert_eq!(v["result"]["tools"].as_array().unwrap().len(), 2);
    assert_eq!(v["result"]["resultType"], "complete");
    let v = modern(&app, json!(3), "tools/list", json!({"cursor": "nope"}))
        .await
        .json();
    assert_eq!(v["error"]["code"], -32602);
}

#[tokio::test]
async fn tools_call_result_has_result_type() {
    let r = modern(
        &app(),
        json!(5),
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": 5, "result": {
            "content": [{"type": "text", "text": "{\"sum\":3.0}"}],
            "structuredContent": {"sum": 3.0},
            "resultType": "complete",
            "_meta": server_meta()
        }})
    );
}

#[tokio::test]
async fn missing_meta_fields_are_32602_and_400() {
    let app = app();
    let no_version = json!({"io.modelcontextprotocol/clientCapabilities": {}});
    let no_caps = json!({"io.modelcontextprotocol/protocolVersion": MODERN});
    let bad_caps = json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": []});
    let cases = [
        (101, json!({})),
        (102, json!({"_meta": no_version})),
        (104, json!({"_meta": no_caps})),
        (105, json!({"_meta": bad_caps})),
        (106, json!({"_meta": "x"})),
    ];
    for (id, params) in cases {
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": "server/discover", "params": params});
        let r = post_json(
            &app,
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "server/discover"),
            ],
            &body,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id}");
        let v = r.json();
        assert_eq!(v["id"], id);
        assert_eq!(v["error"]["code"], -32602, "{id}");
    }
    // No params at all.
    let body = json!({"jsonrpc": "2.0", "id": 107, "method": "tools/list"});
    let r = post_json(
        &app,
        &[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/list"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], -32602);
}

#[tokio::test]
async fn client_info_is_optional() {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    let r = modern(
        &app(),
        json!(105),
        "server/discover",
        json!({"_meta": meta}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["result"]["resultType"], "complete");
}

async fn raw_modern(headers: &[(&str, &str)], method: &str, params: Value) -> Reply {
    let mut params = params;
    if params.get("_meta").is_none() {
        params["_meta"] = meta();
    }
    let body = json!({"jsonrpc": "2.0", "id": 300, "method": method, "params": params});
    post_json(&app(), headers, &body).await
}

fn assert_mismatch(r: &Reply, what: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
    let v = r.json();
    assert_eq!(v["id"], 300, "{what}");
    assert_eq!(v["error"]["code"], -32020, "{what}: {v}");
}

#[tokio::test]
async fn header_mismatches_are_32020() {
    let pv = ("mcp-protocol-version", MODERN);
    let call = json!({"name": "echo", "arguments": {"text": "x"}});
    assert_mismatch(
        &raw_modern(
            &[pv, ("mcp-method", "prompts/list")],
            "tools/list",
            json!({}),
        )
        .await,
        "method mismatch",
    );
    assert_mismatch(
        &raw_modern(&[pv], "tools/list", json!({})).await,
        "method missing",
    );
    assert_mismatch(
        &raw_modern(&[pv, ("mcp-method", "TOOLS/LIST")], "tools/list", json!({})).await,
        "method case",
    );
    assert_mismatch(
        &raw_modern(&[("mcp-method", "tools/list")], "tools/list", json!({})).await,
        "version missing",
    );
    assert_mismatch(
        &raw_modern(
            &[
                pv,
                ("mcp-method", "tools/call"),
                ("mcp-name", "wrong_tool_name"),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "name mismatch",
    );
    assert_mismatch(
        &raw_modern(
            &[pv, ("mcp-method", "tools/call")],
            "tools/call",
            call.clone(),
        )
        .await,
        "name missing",
    );
    assert_mismatch(
        &raw_modern(
            &[
                pv,
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?!!!?="),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "bad base64",
    );
    assert_mismatch(
        &raw_modern(
            &[
                pv,
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?ZWNobw?="),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "unpadded base64 is invalid",
    );
    assert_mismatch(
        &raw_modern(
            &[
                pv,
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?BASE64?ZWNobw==?="),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "sentinel is case-sensitive, so this is the literal name",
    );
    // Header version differs from _meta version (conformance: header is the spec version,
    // _meta an unknown one).
    let mut m = meta();
    m["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    assert_mismatch(
        &raw_modern(
            &[pv, ("mcp-method", "server/discover")],
            "server/discover",
            json!({"_meta": m}),
        )
        .await,
        "version mismatch",
    );
    // A legacy version header on a modern request is a mismatch too.
    assert_mismatch(
        &raw_modern(
            &[
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-method", "tools/list"),
            ],
            "tools/list",
            json!({}),
        )
        .await,
        "legacy header with modern _meta",
    );
}

#[tokio::test]
async fn header_matches_are_accepted() {
    let call = json!({"name": "echo", "arguments": {"text": "x"}});
    let ok = |r: Reply, what: &str| {
        assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text());
        assert_eq!(r.json()["result"]["content"][0]["text"], "x", "{what}");
    };
    ok(
        raw_modern(
            &[
                ("MCP-PROTOCOL-VERSION", MODERN),
                ("MCP-METHOD", "tools/call"),
                ("MCP-NAME", "echo"),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "upper-case names",
    );
    ok(
        raw_modern(
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", " tools/call "),
                ("mcp-name", "  echo  "),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "whitespace",
    );
    ok(
        raw_modern(
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?ZWNobw==?="),
            ],
            "tools/call",
            call.clone(),
        )
        .await,
        "base64 sentinel",
    );
}

#[tokio::test]
async fn unicode_tool_names_use_the_sentinel() {
    let mut tools = tools();
    tools[0].name = "écho".into();
    let app = mcpgen_runtime::server::McpServer::new(info(), tools, Handler).router();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "écho", "arguments": {"text": "x"}, "_meta": meta()}});
    // "écho" in UTF-8, base64.
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "=?base64?w6ljaG8=?="),
    ];
    let r = post_json(&app, &headers, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The handler only knows "echo", so it answers with an isError result: the header matched.
    assert_eq!(r.json()["result"]["isError"], true);
}

#[tokio::test]
async fn unsupported_versions_are_32022_with_the_supported_list() {
    let mut m = meta();
    m["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let body =
        json!({"jsonrpc": "2.0", "id": 301, "method": "server/discover", "params": {"_meta": m}});
    let r = post_json(
        &app(),
        &[
            ("mcp-protocol-version", "v999.0.0"),
            ("mcp-method", "server/discover"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": 301, "error": {"code": -32022, "message": "unsupported protocol version",
            "data": {"supported": ["2026-07-28"], "requested": "v999.0.0"}}})
    );
    // A legacy version in modern shape is not a modern version either.
    let mut m = meta();
    m["io.modelcontextprotocol/protocolVersion"] = json!("1900-01-01");
    let body = json!({"jsonrpc": "2.0", "id": 302, "method": "tools/list", "params": {"_meta": m}});
    let r = post_json(
        &app(),
        &[
            ("mcp-protocol-version", "1900-01-01"),
            ("mcp-method", "tools/list"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], -32022);
}

#[tokio::test]
async fn removed_and_unknown_methods_are_404_32601() {
    for method in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "unknown/method",
        "prompts/list",
    ] {
        let r = modern(&app(), json!(500), method, json!({})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        let v = r.json();
        assert_eq!(v["id"], 500);
        assert_eq!(v["error"]["code"], -32601, "{method}");
    }
}

#[tokio::test]
async fn unknown_tool_is_32602() {
    let r = modern(
        &app(),
        json!(6),
        "tools/call",
        json!({"name": "nope", "arguments": {}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": 6, "error": {"code": -32602, "message": "unknown tool: nope"}})
    );
}

#[tokio::test]
async fn logs_only_with_a_log_level_and_at_or_above_it() {
    let app = app();
    // No logLevel: no notifications/message, plain JSON.
    let r = modern(
        &app,
        json!(1),
        "tools/call",
        json!({"name": "logs", "arguments": {}}),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["result"]["content"][0]["text"], "logged");

    let mut m = meta();
    m["io.modelcontextprotocol/logLevel"] = json!("info");
    let r = modern(
        &app,
        json!(2),
        "tools/call",
        json!({"name": "logs", "arguments": {}, "_meta": m}),
    )
    .await;
    let msgs = r.sse_messages();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        msgs[0],
        json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "warning", "data": {"disk": "low"}}})
    );
    assert_eq!(msgs[1]["id"], 2);
    assert_eq!(msgs[1]["result"]["resultType"], "complete");

    let mut m = meta();
    m["io.modelcontextprotocol/logLevel"] = json!("debug");
    let r = modern(
        &app,
        json!(3),
        "tools/call",
        json!({"name": "logs", "arguments": {}, "_meta": m}),
    )
    .await;
    let msgs = r.sse_messages();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[0]["params"],
        json!({"level": "debug", "data": "debug detail"})
    );

    let mut m = meta();
    m["io.modelcontextprotocol/logLevel"] = json!("verbose");
    let r = modern(
        &app,
        json!(4),
        "tools/call",
        json!({"name": "logs", "arguments": {}, "_meta": m}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], -32602);
}

#[tokio::test]
async fn notifications_are_accepted() {
    let body = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta()}});
    let r = post_json(&app(), &[("mcp-protocol-version", MODERN)], &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn modern_without_header_but_with_meta_is_a_mismatch_not_legacy() {
    let body =
        json!({"jsonrpc": "2.0", "id": 300, "method": "tools/list", "params": {"_meta": meta()}});
    let r = post_json(&app(), &[("mcp-method", "tools/list")], &body).await;
    assert_mismatch(&r, "no version header");
}
