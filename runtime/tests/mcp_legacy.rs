//! The handshake era (2024-11-05 to 2025-11-25): initialize and version negotiation, the
//! MCP-Protocol-Version header, notifications, ping, tools/list pagination and batches.

mod mcp_common;

use http::StatusCode;
use mcp_common::*;
use serde_json::{Value, json};

async fn initialize(version: &str) -> Value {
    let params = json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    let r = legacy(&app(), None, json!(1), "initialize", params).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], 1);
    v["result"].clone()
}

#[tokio::test]
async fn initialize_answers_the_requested_version_with_its_server_info() {
    let caps = json!({"logging": {}, "tools": {}});
    assert_eq!(
        initialize("2024-11-05").await,
        json!({"protocolVersion": "2024-11-05", "capabilities": caps,
            "serverInfo": {"name": "test-server", "version": "1.2.3"},
            "instructions": "Use echo to echo."})
    );
    assert_eq!(
        initialize("2025-03-26").await,
        json!({"protocolVersion": "2025-03-26", "capabilities": caps,
            "serverInfo": {"name": "test-server", "version": "1.2.3"},
            "instructions": "Use echo to echo."})
    );
    assert_eq!(
        initialize("2025-06-18").await,
        json!({"protocolVersion": "2025-06-18", "capabilities": caps,
            "serverInfo": {"name": "test-server", "title": "Test Server", "version": "1.2.3"},
            "instructions": "Use echo to echo."})
    );
    assert_eq!(
        initialize("2025-11-25").await,
        json!({"protocolVersion": "2025-11-25", "capabilities": caps,
            "serverInfo": {"name": "test-server", "title": "Test Server", "version": "1.2.3",
                "description": "A server for tests", "websiteUrl": "https://example.com"},
            "instructions": "Use echo to echo."})
    );
}

#[tokio::test]
async fn initialize_counter_offers_the_newest_legacy_version() {
    for requested in ["1900-01-01", "2026-07-28", "2099-12-31", ""] {
        assert_eq!(
            initialize(requested).await["protocolVersion"],
            "2025-11-25",
            "{requested}"
        );
    }
    // No params at all is not an error either.
    let r = post_json(
        &app(),
        &[],
        &json!({"jsonrpc": "2.0", "id": 2, "method": "initialize"}),
    )
    .await;
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn instructions_are_left_out_when_absent() {
    let mut info = info();
    info.instructions = None;
    info.title = None;
    let app = mcpgen_runtime::server::McpServer::new(info, tools(), Handler).router();
    let params = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    let v = legacy(&app, None, json!(1), "initialize", params)
        .await
        .json();
    assert!(v["result"].get("instructions").is_none());
    assert!(v["result"]["serverInfo"].get("title").is_none());
}

#[tokio::test]
async fn protocol_version_header_is_not_checked_on_initialize() {
    let params = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    for header in ["2025-11-25", "garbage", "2026-07-28"] {
        let r = legacy(&app(), Some(header), json!(1), "initialize", params.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{header}");
        assert_eq!(r.json()["result"]["protocolVersion"], "2025-06-18");
    }
}

#[tokio::test]
async fn unsupported_protocol_version_header_is_400() {
    for header in ["1999-01-01", "2025-11-25x", "latest"] {
        let r = legacy(&app(), Some(header), json!(4), "tools/list", json!({})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{header}");
        let v = r.json();
        assert_eq!(v["id"], 4);
        assert_eq!(v["error"]["code"], -32600);
        assert_eq!(v["error"]["data"]["requested"], header);
        assert_eq!(
            v["error"]["data"]["supported"],
            json!([
                "2024-11-05",
                "2025-03-26",
                "2025-06-18",
                "2025-11-25",
                "2026-07-28"
            ])
        );
    }
    for header in [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        " 2025-11-25 ",
    ] {
        let r = legacy(&app(), Some(header), json!(4), "ping", json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{header}");
    }
}

#[tokio::test]
async fn notifications_and_responses_get_202_without_body() {
    let app = app();
    for body in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        json!({"jsonrpc": "2.0", "method": "notifications/whatever"}),
        json!({"jsonrpc": "2.0", "id": 5, "result": {}}),
        json!({"jsonrpc": "2.0", "id": 5, "error": {"code": -1, "message": "no"}}),
    ] {
        let r = post_json(&app, &[("mcp-protocol-version", "2025-11-25")], &body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{body}");
        assert!(r.body.is_empty());
    }
}

#[tokio::test]
async fn ping_and_set_level() {
    let r = legacy(&app(), Some("2025-11-25"), json!("p"), "ping", json!({})).await;
    assert_eq!(r.text(), r#"{"jsonrpc":"2.0","id":"p","result":{}}"#);
    let r = legacy(
        &app(),
        Some("2025-11-25"),
        json!(1),
        "logging/setLevel",
        json!({"level": "warning"}),
    )
    .await;
    assert_eq!(r.json()["result"], json!({}));
    let r = legacy(
        &app(),
        Some("2025-11-25"),
        json!(1),
        "logging/setLevel",
        json!({"level": "loud"}),
    )
    .await;
    assert_eq!(r.json()["error"]["code"], -32602);
}

#[tokio::test]
async fn tools_list_by_version() {
    let app = app();
    let v = legacy(&app, Some("2025-11-25"), json!(1), "tools/list", json!({}))
        .await
        .json();
    let tools = v["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 10);
    assert!(v["result"].get("nextCursor").is_none());
    assert!(v["result"].get("resultType").is_none());
    assert_eq!(
        tools[0],
        json!({
            "name": "echo",
            "title": "Echo",
            "description": "the echo tool",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            "annotations": {"title": "Echo", "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}
        })
    );
    assert_eq!(
        tools[1]["outputSchema"],
        json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]})
    );
    // Every tool states all four hints.
    for t in tools {
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(t["annotations"][hint].is_boolean(), "{} {hint}", t["name"]);
        }
    }
    assert_eq!(
        tools[2]["annotations"],
        json!({"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true})
    );
    // Without the header (2025-03-26 assumed) and in 2024-11-05: no title, no outputSchema.
    for header in [None, Some("2024-11-05"), Some("2025-03-26")] {
        let v = legacy(&app, header, json!(1), "tools/list", json!({}))
            .await
            .json();
        let t = &v["result"]["tools"];
        assert!(t[0].get("title").is_none(), "{header:?}");
        assert!(t[1].get("outputSchema").is_none(), "{header:?}");
        assert_eq!(t[0]["annotations"]["title"], "Echo");
    }
}

#[tokio::test]
async fn tools_list_pagination_with_opaque_cursors() {
    let app = server().page_size(4).router();
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let v = legacy(&app, Some("2025-11-25"), json!(1), "tools/list", params)
            .await
            .json();
        let result = &v["result"];
        let page: Vec<String> = result["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(page.len() <= 4);
        names.extend(page);
        pages += 1;
        match result.get("nextCursor") {
            Some(Value::String(c)) => {
                assert!(!c.is_empty());
                cursor = Some(c.clone());
            }
            None => break,
            Some(other) => panic!("bad nextCursor {other}"),
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = tools().into_iter().map(|t| t.name).collect();
    assert_eq!(names, expected);
    for bad in [json!("bogus"), json!(""), json!("cGFnZTo5OQ"), json!(3)] {
        let v = legacy(
            &app,
            Some("2025-11-25"),
            json!(8),
            "tools/list",
            json!({"cursor": bad}),
        )
        .await
        .json();
        assert_eq!(v["id"], 8);
        assert_eq!(v["error"]["code"], -32602, "{bad}");
    }
    let v = legacy(
        &app,
        Some("2025-11-25"),
        json!(8),
        "tools/list",
        json!({"cursor": null}),
    )
    .await
    .json();
    assert_eq!(v["result"]["tools"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn batches_only_in_2025_03_26() {
    let app = app();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "two", "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}},
        {"jsonrpc": "2.0", "id": 4, "method": "nope"},
        7
    ]);
    for header in [None, Some("2025-03-26")] {
        let headers: Vec<(&str, &str)> = header
            .map(|h| vec![("mcp-protocol-version", h)])
            .unwrap_or_default();
        let r = post_json(&app, &headers, &batch).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.json(),
            json!([
                {"jsonrpc": "2.0", "id": 1, "result": {}},
                {"jsonrpc": "2.0", "id": "two", "result": {"content": [{"type": "text", "text": "hi"}]}},
                {"jsonrpc": "2.0", "id": 3, "error": {"code": -32600, "message": "initialize must not be part of a batch"}},
                {"jsonrpc": "2.0", "id": 4, "error": {"code": -32601, "message": "method not found: nope"}},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "invalid request: not a JSON-RPC 2.0 message"}}
            ])
        );
    }
    for header in ["2025-06-18", "2025-11-25", "2024-11-05", MODERN] {
        let r = post_json(&app, &[("mcp-protocol-version", header)], &batch).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{header}");
        assert_eq!(r.json()["error"]["code"], -32600);
    }
    let only_notes = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let r = post_json(&app, &[], &only_notes).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.is_empty());
    let r = post_json(&app, &[], &json!([])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], -32600);
    let r = post_raw(
        &app,
        &[("content-type", "application/json")],
        "[{\"jsonrpc\":",
    )
    .await;
    assert_eq!(r.json()["error"]["code"], -32700);
}

#[tokio::test]
async fn full_legacy_session_as_claude_does_it() {
    let app = authed_app();
    let auth = ("authorization", "Bearer good");
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "claude-ai", "version": "0.1.0"}}});
    let r = post_json(&app, &[auth, ("mcp-protocol-version", "2025-11-25")], &init).await;
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-11-25");
    let r = post_json(
        &app,
        &[auth, ("mcp-protocol-version", "2025-11-25")],
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = legacy_with(&app, auth, "tools/list", json!({})).await;
    assert_eq!(r.json()["result"]["tools"].as_array().unwrap().len(), 10);
    let r = legacy_with(
        &app,
        auth,
        "tools/call",
        json!({"name": "whoami", "arguments": {}}),
    )
    .await;
    assert_eq!(r.json()["result"]["content"][0]["text"], "client-good");
}

async fn legacy_with(app: &axum::Router, auth: (&str, &str), method: &str, params: Value) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    post_json(app, &[auth, ("mcp-protocol-version", "2025-11-25")], &body).await
}

/// OpenAI-backed clients (Copilot CLI, Codex) reject a tool whose root schema is a bare
/// `{"type":"object"}` (github/copilot-cli#1825): in every version, a listed object schema
/// states `properties`, `{}` for a tool without parameters, and keeps its other keywords.
#[tokio::test]
async fn every_listed_object_schema_has_properties() {
    let app = app();
    let mut lists = Vec::new();
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let v = legacy(&app, Some(version), json!(1), "tools/list", json!({}))
            .await
            .json();
        lists.push((version, v["result"]["tools"].clone()));
    }
    let v = modern(&app, json!(1), "tools/list", json!({})).await.json();
    lists.push(("2026-07-28", v["result"]["tools"].clone()));
    for (version, tools) in lists {
        let tools = tools.as_array().unwrap();
        assert_eq!(tools.len(), 10, "{version}");
        for t in tools {
            for key in ["inputSchema", "outputSchema"] {
                if let Some(schema) = t.get(key) {
                    assert!(
                        schema["properties"].is_object(),
                        "{version} {} {key}: {schema}",
                        t["name"]
                    );
                }
            }
        }
        let progress = tools.iter().find(|t| t["name"] == "progress").unwrap();
        assert_eq!(
            progress["inputSchema"],
            json!({"type": "object", "additionalProperties": false, "properties": {}}),
            "{version}"
        );
    }
}
