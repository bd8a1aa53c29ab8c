//! A server restricted to some protocol versions (a spec's `server.protocol_versions`):
//! `initialize` negotiates among them, and every other version is refused with the list.

mod mcp_common;

use http::StatusCode;
use mcp_common::*;
use mcpgen_runtime::mcp::ProtocolVersion as V;
use serde_json::json;

fn init_params(version: &str) -> serde_json::Value {
    json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}})
}

#[tokio::test]
async fn initialize_counter_offers_the_newest_served_version() {
    let app = server()
        .protocol_versions([V::V2025_03_26, V::V2025_06_18])
        .router();
    let r = legacy(
        &app,
        None,
        json!(1),
        "initialize",
        init_params("2025-11-25"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-06-18");
    let r = legacy(
        &app,
        None,
        json!(1),
        "initialize",
        init_params("2025-03-26"),
    )
    .await;
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-03-26");
}

#[tokio::test]
async fn requests_for_a_version_not_served_get_400_with_the_served_list() {
    let app = server().protocol_versions([V::V2025_06_18]).router();
    let r = legacy(&app, Some("2025-11-25"), json!(2), "tools/list", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"]["data"]["supported"],
        json!(["2025-06-18"])
    );
    let r = legacy(&app, Some("2025-06-18"), json!(2), "tools/list", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    // No header means 2025-03-26, which this server does not serve.
    let r = legacy(&app, None, json!(2), "tools/list", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nor does it batch, which only 2025-03-26 had.
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]);
    let r = post_json(&app, &[], &batch).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_stateless_era_can_be_switched_off_and_on_its_own() {
    let legacy_only = server().protocol_versions(V::LEGACY).router();
    let r = modern(&legacy_only, json!(1), "server/discover", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], -32022);
    assert_eq!(
        r.json()["error"]["data"]["supported"],
        json!([]),
        "no stateless version is served"
    );

    let modern_only = server().protocol_versions([V::V2026_07_28]).router();
    let r = modern(&modern_only, json!(1), "server/discover", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["result"]["supportedVersions"],
        json!(["2026-07-28"])
    );
    let r = legacy(
        &modern_only,
        None,
        json!(1),
        "initialize",
        init_params("2025-11-25"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], -32602);
    assert_eq!(
        r.json()["error"]["data"]["supported"],
        json!(["2026-07-28"])
    );
}
