//! The handshake era (2024-11-05 to 2025-11-25): `initialize`, `ping`, `tools/list`,
//! `tools/call` and `logging/setLevel`.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{Value, json};

use super::call::{self, Notify};
use super::endpoint::{Endpoint, Reply};
use super::jsonrpc::{self, code};
use super::list::tools_list;
use super::version::ProtocolVersion;
use crate::auth::Principal;
use crate::tools::LogLevel;

pub(super) fn legacy_unsupported(ep: &Endpoint, id: &Value, requested: &str) -> Reply {
    let supported: Vec<&str> = ep.versions.iter().map(|v| v.as_str()).collect();
    let data = json!({ "supported": supported, "requested": requested });
    Reply::Json(
        StatusCode::BAD_REQUEST,
        jsonrpc::error_bytes(
            Some(id),
            code::INVALID_REQUEST,
            &format!("unsupported MCP-Protocol-Version: {requested}"),
            Some(&data),
        ),
    )
}

/// The handshake era (2024-11-05 to 2025-11-25).
#[allow(clippy::too_many_arguments)]
pub(super) async fn legacy(
    ep: &Arc<Endpoint>,
    principal: &Arc<Principal>,
    id: Value,
    method: &str,
    params: Option<Value>,
    version: ProtocolVersion,
    sse: bool,
    in_batch: bool,
) -> Reply {
    match method {
        "initialize" => {
            if in_batch {
                return Reply::error(
                    StatusCode::OK,
                    Some(&id),
                    code::INVALID_REQUEST,
                    "initialize must not be part of a batch",
                );
            }
            let requested = params
                .as_ref()
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str);
            match ep.versions.negotiate(requested) {
                Some(v) => Reply::json(jsonrpc::raw_result_bytes(&id, ep.catalog.initialize(v))),
                // A server of the stateless era only: say which versions it speaks.
                None => {
                    let supported: Vec<&str> = ep.versions.iter().map(|v| v.as_str()).collect();
                    let data = json!({ "supported": supported, "requested": requested });
                    Reply::Json(
                        StatusCode::BAD_REQUEST,
                        jsonrpc::error_bytes(
                            Some(&id),
                            code::INVALID_PARAMS,
                            "this server speaks no initialize-era protocol version",
                            Some(&data),
                        ),
                    )
                }
            }
        }
        "ping" => Reply::json(jsonrpc::raw_result_bytes(&id, b"{}")),
        "tools/list" => tools_list(ep, &id, params.as_ref(), version),
        "tools/call" => {
            // Stateless: no logging/setLevel state to consult, so every level is sent.
            let notify = Notify {
                sse: sse && !in_batch,
                log_level: Some(LogLevel::Debug),
            };
            call::call_tool(ep, principal, id, params, version, notify).await
        }
        "logging/setLevel" => {
            let level = params
                .as_ref()
                .and_then(|p| p.get("level"))
                .and_then(Value::as_str)
                .and_then(LogLevel::parse);
            match level {
                Some(_) => Reply::json(jsonrpc::raw_result_bytes(&id, b"{}")),
                None => Reply::error(
                    StatusCode::OK,
                    Some(&id),
                    code::INVALID_PARAMS,
                    "params.level must be a log level",
                ),
            }
        }
        _ => Reply::error(
            StatusCode::OK,
            Some(&id),
            code::METHOD_NOT_FOUND,
            &format!("method not found: {method}"),
        ),
    }
}
