//! `tools/list`, the same in every era: one page of the catalog, by cursor.

use http::StatusCode;
use serde_json::Value;

use super::endpoint::{Endpoint, Reply};
use super::jsonrpc::{self, code};
use super::version::ProtocolVersion;

pub(super) fn tools_list(
    ep: &Endpoint,
    id: &Value,
    params: Option<&Value>,
    version: ProtocolVersion,
) -> Reply {
    let cursor = match params.and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.as_str()),
        Some(_) => return invalid_cursor(id),
    };
    match ep.catalog.tools_page(version, cursor) {
        Some(page) => Reply::json(jsonrpc::raw_result_bytes(id, page)),
        None => invalid_cursor(id),
    }
}

fn invalid_cursor(id: &Value) -> Reply {
    Reply::error(
        StatusCode::OK,
        Some(id),
        code::INVALID_PARAMS,
        "invalid cursor: list again without one",
    )
}
