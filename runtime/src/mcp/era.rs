//! Which era serves one JSON-RPC message (see the module docs of [`mcp`](super)), and handing
//! it to that era's dispatcher.

use std::sync::Arc;

use http::StatusCode;
use http::header::HeaderMap;
use serde_json::Value;

use super::endpoint::{Accept, Endpoint, MCP_PROTOCOL_VERSION, META_VERSION, Reply};
use super::exchange::Message;
use super::jsonrpc::{Incoming, Kind, code};
use super::legacy::{legacy, legacy_unsupported};
use super::modern::modern;
use super::version::ProtocolVersion;
use crate::auth::Principal;
use crate::metrics::McpMethod;

/// Which era serves a request.
enum Era {
    Legacy(ProtocolVersion),
    /// A legacy request whose `MCP-Protocol-Version` we do not speak (400).
    LegacyUnsupported(String),
    Modern,
}

fn select_era(method: &str, params: Option<&Value>, headers: &HeaderMap) -> Era {
    let has_meta_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_VERSION))
        .is_some();
    let header = headers.get(&MCP_PROTOCOL_VERSION).map(|h| {
        h.to_str()
            .map(str::trim)
            .map_err(|_| String::from("(not ascii)"))
    });
    let parsed = match &header {
        Some(Ok(h)) => ProtocolVersion::parse(h),
        _ => None,
    };
    // Only a modern client puts the version in `_meta`; its header must then match it, so a
    // legacy header there is a mismatch, not a legacy request.
    if has_meta_version {
        return Era::Modern;
    }
    if let Some(v) = parsed.filter(|v| !v.is_modern()) {
        return Era::Legacy(v);
    }
    // `initialize` is always legacy without modern `_meta`: the header is not checked on it
    // (Claude's probe carries one, the conformance harness does not).
    if method == "initialize" {
        return Era::Legacy(ProtocolVersion::LATEST_LEGACY);
    }
    match header {
        None => Era::Legacy(ProtocolVersion::DEFAULT_LEGACY),
        Some(_) if parsed.is_some() => Era::Modern,
        Some(Ok(h)) => Era::LegacyUnsupported(h.to_owned()),
        Some(Err(h)) => Era::LegacyUnsupported(h),
    }
}

pub(super) async fn single(
    ep: &Arc<Endpoint>,
    parts: &http::request::Parts,
    principal: &Arc<Principal>,
    mut msg: Incoming<'_>,
    accept: Accept,
) -> Reply {
    match msg.kind() {
        Err(invalid) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                invalid.id.as_ref(),
                code::INVALID_REQUEST,
                invalid.message,
            );
        }
        Ok(Kind::Notification | Kind::Response) => return Reply::Accepted,
        Ok(Kind::Request) => {}
    }
    let (Some(id), Some(method)) = (msg.id.take(), msg.method.take()) else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            None,
            code::INVALID_REQUEST,
            "invalid request",
        );
    };
    let params = msg.params.take();
    tracing::Span::current().record("method", &*method);
    let sse = accept != Accept::Json;
    let message = Message::begin(&method, &id);
    let reply = match select_era(&method, params.as_ref(), &parts.headers) {
        // `initialize` negotiates its version from the body, so its header is not checked.
        Era::Legacy(v) if method != "initialize" && !ep.versions.contains(v) => {
            legacy_unsupported(ep, &id, v.as_str())
        }
        Era::Legacy(v) => legacy(ep, principal, id, &method, params, v, sse, false).await,
        Era::LegacyUnsupported(requested) => legacy_unsupported(ep, &id, &requested),
        Era::Modern => modern(ep, parts, principal, id, &method, params, sse).await,
    };
    message.done(McpMethod::from_name(&method));
    reply
}
