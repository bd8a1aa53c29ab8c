//! The stateless era (2026-07-28): the `Mcp-Method`, `Mcp-Name` and `MCP-Protocol-Version`
//! headers must mirror the body, every request carries `_meta`, and only `server/discover`,
//! `tools/list` and `tools/call` exist.

use std::sync::Arc;

use base64::Engine as _;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName};
use serde_json::{Value, json};

use super::call::{self, Notify};
use super::endpoint::{Endpoint, MCP_PROTOCOL_VERSION, META_VERSION, Reply};
use super::jsonrpc::{self, code};
use super::list::tools_list;
use super::version::ProtocolVersion;
use crate::auth::Principal;
use crate::tools::LogLevel;

const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

static MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
static MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// The stateless era (2026-07-28): headers mirror the body, every request carries `_meta`.
pub(super) async fn modern(
    ep: &Arc<Endpoint>,
    parts: &http::request::Parts,
    principal: &Arc<Principal>,
    id: Value,
    method: &str,
    params: Option<Value>,
    sse: bool,
) -> Reply {
    let mismatch = |message: &str| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            Some(&id),
            code::HEADER_MISMATCH,
            message,
        )
    };
    match header_text(&parts.headers, &MCP_METHOD) {
        None => return mismatch("header mismatch: Mcp-Method header is missing"),
        Some(Err(())) => return mismatch("header mismatch: Mcp-Method header is not ascii"),
        Some(Ok(h)) if h != method => {
            return mismatch(&format!(
                "header mismatch: Mcp-Method header value '{h}' does not match body value '{method}'"
            ));
        }
        Some(Ok(_)) => {}
    }
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(field) = name_field
        && let Some(body_name) = params
            .as_ref()
            .and_then(|p| p.get(field))
            .and_then(Value::as_str)
    {
        match header_text(&parts.headers, &MCP_NAME).map(|r| r.and_then(decode_sentinel)) {
            None => return mismatch("header mismatch: Mcp-Name header is missing"),
            Some(Err(())) => {
                return mismatch("header mismatch: Mcp-Name header is not a valid value");
            }
            Some(Ok(h)) if *h != *body_name => {
                return mismatch(&format!(
                    "header mismatch: Mcp-Name header value '{h}' does not match body value '{body_name}'"
                ));
            }
            Some(Ok(_)) => {}
        }
    }

    let meta = params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object);
    let meta_version = meta.and_then(|m| m.get(META_VERSION));
    match (
        header_text(&parts.headers, &MCP_PROTOCOL_VERSION),
        meta_version,
    ) {
        (None, _) => return mismatch("header mismatch: MCP-Protocol-Version header is missing"),
        (Some(Err(())), _) => {
            return mismatch("header mismatch: MCP-Protocol-Version header is not ascii");
        }
        (Some(Ok(h)), Some(Value::String(b))) if h != b => {
            return mismatch(&format!(
                "header mismatch: MCP-Protocol-Version header value '{h}' does not match _meta value '{b}'"
            ));
        }
        _ => {}
    }
    let invalid = |message: &str| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            Some(&id),
            code::INVALID_PARAMS,
            message,
        )
    };
    let Some(meta) = meta else {
        return invalid("params._meta is required in protocol version 2026-07-28");
    };
    let Some(Value::String(requested)) = meta_version else {
        return invalid(&format!(
            "params._meta[\"{META_VERSION}\"] must be a string"
        ));
    };
    if !meta.get(META_CAPABILITIES).is_some_and(Value::is_object) {
        return invalid(&format!(
            "params._meta[\"{META_CAPABILITIES}\"] must be an object"
        ));
    }
    let Some(version) =
        ProtocolVersion::parse(requested).filter(|v| v.is_modern() && ep.versions.contains(*v))
    else {
        let data = json!({ "supported": ep.catalog.supported_modern, "requested": requested });
        return Reply::Json(
            StatusCode::BAD_REQUEST,
            jsonrpc::error_bytes(
                Some(&id),
                code::UNSUPPORTED_PROTOCOL_VERSION,
                "unsupported protocol version",
                Some(&data),
            ),
        );
    };
    let log_level = match meta.get(META_LOG_LEVEL) {
        None => None,
        Some(l) => match l.as_str().and_then(LogLevel::parse) {
            Some(l) => Some(l),
            None => {
                return invalid(&format!(
                    "params._meta[\"{META_LOG_LEVEL}\"] is not a log level"
                ));
            }
        },
    };

    match method {
        "server/discover" => Reply::json(jsonrpc::raw_result_bytes(&id, ep.catalog.discover())),
        "tools/list" => tools_list(ep, &id, params.as_ref(), version),
        "tools/call" => {
            let notify = Notify { sse, log_level };
            call::call_tool(ep, principal, id, params, version, notify).await
        }
        // `initialize` and `ping` do not exist in this era; the status tells a modern client
        // this server has no such method, the body that it is a modern server.
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            Some(&id),
            code::METHOD_NOT_FOUND,
            &format!("method not found: {method}"),
        ),
    }
}

/// A header's value with optional whitespace trimmed; `Err` when it is not visible ASCII.
fn header_text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<Result<&'h str, ()>> {
    headers
        .get(name)
        .map(|v| v.to_str().map(str::trim).map_err(|_| ()))
}

/// Decodes the `=?base64?...?=` form of `Mcp-Name`; other values are literal.
fn decode_sentinel(v: &str) -> Result<std::borrow::Cow<'_, str>, ()> {
    match v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        None => Ok(std::borrow::Cow::Borrowed(v)),
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| ())?;
            String::from_utf8(bytes)
                .map(std::borrow::Cow::Owned)
                .map_err(|_| ())
        }
    }
}
