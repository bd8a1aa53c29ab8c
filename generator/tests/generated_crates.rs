//! The golden crates as programs: each compiles without warnings and passes clippy, and the
//! generated servers answer a real OAuth flow and MCP session on loopback.
//!
//! Every crate is built once per test run, into one shared target dir (`target/generated`).

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

#[test]
fn golden_crates_compile_and_pass_clippy() {
    if let Err(e) = built() {
        panic!("{e}");
    }
}

#[test]
fn medtainer_serves_a_full_oauth_flow_and_session() {
    let server = start("medtainer-mcp", &["--consent", "auto"]);
    let token = oauth_token(&server, "claudeai orders.read");

    let init = initialize(&server, Some(&token));
    assert_eq!(init["protocolVersion"], "2025-11-25");
    assert_eq!(init["serverInfo"]["name"], "medtainer");
    assert_eq!(init["serverInfo"]["title"], "MedTainer");

    let list = mcp(
        &server,
        Some(&token),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    let tools = list.json()["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "search_products",
            "get_inventory",
            "get_order_status",
            "create_order",
            "cancel_order",
            "track_shipment",
            "get_customer"
        ]
    );
    for t in &tools {
        let a = &t["annotations"];
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(a[hint].is_boolean(), "{} lacks {hint}", t["name"]);
        }
    }

    // A `rust` tool whose handler is still the stub answers with its tool error.
    let stub = call(
        &server,
        Some(&token),
        "get_order_status",
        json!({"order_id": "SO-20931"}),
    );
    assert_eq!(stub.status, 200);
    let result = &stub.json()["result"];
    assert_eq!(result["isError"], true);
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not implemented yet")
    );

    // Arguments are checked against the schema before the handler runs.
    let invalid = call(&server, Some(&token), "get_order_status", json!({}));
    assert_eq!(invalid.json()["result"]["isError"], true);

    // A tool needing a scope the token lacks: 403 naming every scope it needs.
    let denied = call(
        &server,
        Some(&token),
        "create_order",
        json!({"customer_id": "c", "lines": []}),
    );
    assert_eq!(denied.status, 403);
    let www = denied.header("www-authenticate").unwrap();
    assert!(
        www.contains("insufficient_scope") && www.contains("orders.write"),
        "{www}"
    );
}

#[test]
fn conformance_fixture_answers_without_auth() {
    let server = start("conformance-fixture-mcp", &[]);
    let init = initialize(&server, None);
    assert_eq!(init["serverInfo"]["name"], "conformance-fixture");
    let list = mcp(
        &server,
        None,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    assert_eq!(list.json()["result"]["tools"].as_array().unwrap().len(), 11);

    let text = call(&server, None, "test_simple_text", json!({}));
    assert_eq!(
        text.json()["result"]["content"][0]["text"],
        "This is a simple text response for testing."
    );
    let hello = call(
        &server,
        None,
        "json_schema_2020_12_tool",
        json!({"name": "Ada"}),
    );
    assert_eq!(hello.json()["result"]["content"][0]["text"], "Hello, Ada.");
    let stub = call(&server, None, "test_image_content", json!({}));
    assert_eq!(stub.json()["result"]["isError"], true);
}

#[test]
fn local_notes_templates_answer_after_oauth() {
    let server = start("local-notes-mcp", &[]);
    let token = oauth_token(&server, "notes");
    initialize(&server, Some(&token));
    let hello = call(&server, Some(&token), "greet", json!({"name": "Ada"}));
    assert_eq!(hello.json()["result"]["content"][0]["text"], "Hello, Ada!");
    // Automatic approval on loopback grants as the subject `local`.
    let who = call(&server, Some(&token), "whoami", json!({}));
    let who = who.json()["result"]["content"][0]["text"].clone();
    assert!(
        who.as_str().is_some_and(|t| t.starts_with("local via ")),
        "{who}"
    );
    let note = call(
        &server,
        Some(&token),
        "format_note",
        json!({"title": "Plan", "body": "Ship it.", "tags": ["a", "b"]}),
    );
    assert_eq!(
        note.json()["result"]["content"][0]["text"],
        "# Plan\nShip it.\ntags: a, b"
    );
    // `tags` is optional: left out, the template's `{% if tags %}` is false (it used to
    // answer "missing argument `tags`"); `greeting` has a schema default, filled in.
    let note = call(
        &server,
        Some(&token),
        "format_note",
        json!({"title": "Plan", "body": "Ship it."}),
    );
    assert_eq!(
        note.json()["result"]["isError"],
        Value::Null,
        "{}",
        note.body
    );
    assert_eq!(
        note.json()["result"]["content"][0]["text"],
        "# Plan\nShip it.\n"
    );
    let hi = call(
        &server,
        Some(&token),
        "greet",
        json!({"name": "Ada", "greeting": "Hi"}),
    );
    assert_eq!(hi.json()["result"]["content"][0]["text"], "Hi, Ada!");
}

#[test]
fn regenerating_keeps_user_code_and_names_the_missing_method() {
    if let Err(e) = built() {
        panic!("{e}");
    }
    let work = repo().join("target/regen");
    let _ = std::fs::remove_dir_all(&work);
    let crate_dir = work.join("medtainer");
    copy_dir(&repo().join("tests/golden/medtainer"), &crate_dir);

    // The user implements a handler...
    let handlers_path = crate_dir.join("src/handlers.rs");
    let stub = std::fs::read_to_string(&handlers_path).unwrap();
    let user_code = stub.replace(
        "Err(ToolError::new(\"`get_order_status` is not implemented yet\"))",
        "Ok(GetOrderStatusOutput { order_id: input.order_id, status: crate::tools::GetOrderStatusOutputStatus::Shipped, placed_at: None, lines: Vec::new(), tracking_numbers: None })",
    );
    assert_ne!(user_code, stub);
    std::fs::write(&handlers_path, &user_code).unwrap();

    // ...then the spec gains a tool.
    let spec = std::fs::read_to_string(repo().join("specs/medtainer.yaml")).unwrap()
        + "  - name: check_stock_alerts\n    description: Products below their reorder level.\n    scopes: [claudeai, catalog.read]\n    input: { type: object }\n";
    let spec_path = work.join("medtainer.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args([
            "build",
            "target/regen/medtainer.yaml",
            "--out",
            "target/regen/medtainer",
            "--runtime-path",
            "runtime",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("async fn check_stock_alerts(&self, input: CheckStockAlertsInput, ctx: ToolContext) -> Result<ToolResult, ToolError>"),
        "{note}"
    );
    assert_eq!(
        std::fs::read_to_string(&handlers_path).unwrap(),
        user_code,
        "user code was touched"
    );

    // The compiler names the method too.
    let err = cargo(&crate_dir, &["build"]).expect_err("a missing method does not compile");
    assert!(err.contains("missing: `check_stock_alerts`"), "{err}");
}
