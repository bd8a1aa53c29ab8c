//! 2025-03-26 JSON-RPC batches and their caps: at most [`MAX_BATCH_MESSAGES`] messages, and a
//! response of at most [`Endpoint::max_response`] bytes. Other versions removed batching.

use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize as _;
use serde_json::{Value, json};

use super::endpoint::{Endpoint, MCP_PROTOCOL_VERSION, Reply};
use super::exchange::Message;
use super::jsonrpc::{self, Incoming, Kind, code};
use super::legacy::legacy;
use super::version::ProtocolVersion;
use crate::auth::Principal;
use crate::metrics::McpMethod;

/// Most messages in one 2025-03-26 batch. Batches exist for a handful of related requests;
/// 50 is far above what a client sends (the SDKs send one message per POST), and bounds the
/// work one POST can ask for: without a cap, a 3.9 MB batch of `tools/list` asked for a
/// 315 MB response. A larger batch gets 400 with -32600 naming the limit.
pub const MAX_BATCH_MESSAGES: usize = 50;

/// Batches exist only in 2025-03-26; a server that does not serve it has none.
fn legacy_unsupported_batch(ep: &Endpoint) -> Reply {
    let supported: Vec<&str> = ep.versions.iter().map(|v| v.as_str()).collect();
    let data = json!({ "supported": supported, "requested": "2025-03-26" });
    Reply::Json(
        StatusCode::BAD_REQUEST,
        jsonrpc::error_bytes(
            None,
            code::INVALID_REQUEST,
            "batches need protocol version 2025-03-26, which this server does not serve",
            Some(&data),
        ),
    )
}

/// A 2025-03-26 JSON-RPC batch. Other versions removed batching.
/// A batch's messages, built only up to [`MAX_BATCH_MESSAGES`]: past that the rest are only
/// counted (`IgnoredAny` builds nothing), so refusing a 4 MB batch of two million `0,` costs
/// its body, not two million `Value`s (over 150 MB).
enum BatchItems {
    Items(Vec<Value>),
    /// How many messages the batch holds.
    TooMany(usize),
}

impl<'de> serde::Deserialize<'de> for BatchItems {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> serde::de::Visitor<'de> for Items {
            type Value = BatchItems;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a json array")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<BatchItems, A::Error> {
                let mut items = Vec::new();
                while items.len() < MAX_BATCH_MESSAGES {
                    match seq.next_element::<Value>()? {
                        Some(v) => items.push(v),
                        None => return Ok(BatchItems::Items(items)),
                    }
                }
                let mut extra = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    extra += 1;
                }
                Ok(if extra == 0 {
                    BatchItems::Items(items)
                } else {
                    BatchItems::TooMany(MAX_BATCH_MESSAGES + extra)
                })
            }
        }
        d.deserialize_seq(Items)
    }
}

pub(super) async fn batch(
    ep: &Arc<Endpoint>,
    parts: &http::request::Parts,
    principal: &Arc<Principal>,
    bytes: &[u8],
) -> Reply {
    let version = match parts.headers.get(&MCP_PROTOCOL_VERSION) {
        _ if !ep.versions.contains(ProtocolVersion::V2025_03_26) => {
            return legacy_unsupported_batch(ep);
        }
        None => ProtocolVersion::V2025_03_26,
        Some(h) if h.as_bytes().trim_ascii() == b"2025-03-26" => ProtocolVersion::V2025_03_26,
        Some(_) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                None,
                code::INVALID_REQUEST,
                "batches are only supported in protocol version 2025-03-26",
            );
        }
    };
    let items = match serde_json::from_slice::<BatchItems>(bytes) {
        Ok(BatchItems::Items(items)) => items,
        Ok(BatchItems::TooMany(n)) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                None,
                code::INVALID_REQUEST,
                &format!(
                    "invalid request: a batch holds at most {MAX_BATCH_MESSAGES} messages, this one \
                     holds {n}; send fewer per request"
                ),
            );
        }
        Err(_) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                None,
                code::PARSE_ERROR,
                "parse error: the body is not valid JSON",
            );
        }
    };
    if items.is_empty() {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            None,
            code::INVALID_REQUEST,
            "invalid request: empty batch",
        );
    }
    tracing::Span::current().record("method", "batch");
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(items.len());
    // The response's size so far: `[`, `]` and the items with their commas.
    let size = |out: &[Vec<u8>]| out.iter().map(|b| b.len() + 1).sum::<usize>() + 1;
    let too_large = |limit: usize| {
        tracing::info!(
            target: "mcpgen::mcp",
            decision = "batch_response_too_large",
            limit,
        );
        Reply::error(
            StatusCode::BAD_REQUEST,
            None,
            code::INVALID_REQUEST,
            &format!(
                "invalid request: the batch's response would exceed {limit} bytes; send fewer \
                 messages per request"
            ),
        )
    };
    for item in &items {
        // Checked before each message, so an oversized batch stops costing work at once.
        if size(&out) > ep.max_response {
            return too_large(ep.max_response);
        }
        let salvaged = || {
            item.get("id")
                .filter(|id| id.is_string() || id.is_number())
                .cloned()
        };
        let mut msg = match Incoming::deserialize(item) {
            Ok(m) => m,
            Err(_) => {
                out.push(jsonrpc::error_bytes(
                    salvaged().as_ref(),
                    code::INVALID_REQUEST,
                    "invalid request: not a JSON-RPC 2.0 message",
                    None,
                ));
                continue;
            }
        };
        match msg.kind() {
            Err(invalid) => {
                out.push(jsonrpc::error_bytes(
                    invalid.id.as_ref(),
                    code::INVALID_REQUEST,
                    invalid.message,
                    None,
                ));
                continue;
            }
            Ok(Kind::Notification | Kind::Response) => continue,
            Ok(Kind::Request) => {}
        }
        let (Some(id), Some(method)) = (msg.id.take(), msg.method.take()) else {
            continue;
        };
        let params = msg.params.take();
        let message = Message::begin(&method, &id);
        let reply = legacy(ep, principal, id, &method, params, version, false, true).await;
        message.done(McpMethod::from_name(&method));
        match reply {
            Reply::Accepted => {}
            Reply::Json(_, body) => out.push(body),
            // A scope failure is an HTTP answer for the whole request.
            Reply::Http(resp) | Reply::Stream(resp) => return Reply::Http(resp),
        }
    }
    if out.is_empty() {
        return Reply::Accepted;
    }
    if size(&out) > ep.max_response {
        return too_large(ep.max_response);
    }
    let mut body = Vec::with_capacity(out.iter().map(|b| b.len() + 1).sum::<usize>() + 1);
    body.push(b'[');
    for (i, item) in out.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.push(b']');
    Reply::json(body)
}
