//! The Streamable HTTP endpoint: HTTP checks in their required order (Host and Origin, then
//! authentication, then method, media types and size), then one JSON-RPC message, or a
//! 2025-03-26 batch, served in the era its headers and `_meta` select.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde::Deserialize as _;
use serde_json::{Value, json};
use tracing::Instrument as _;
use tracing::field::Empty;

use super::call::{self, Notify};
use super::catalog::Catalog;
use super::guard::OriginPolicy;
use super::jsonrpc::{self, Incoming, Kind, ParseFailure, code};
use super::version::{ProtocolVersion, Versions};
use crate::auth::{Authenticator, Principal};
use crate::tools::{LogLevel, ToolHandler};

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

static MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
static MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
static MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// Headers a browser client may read: the challenge and the MCP response headers.
const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version";

/// Most messages in one 2025-03-26 batch. Batches exist for a handful of related requests;
/// 50 is far above what a client sends (the SDKs send one message per POST), and bounds the
/// work one POST can ask for: without a cap, a 3.9 MB batch of `tools/list` asked for a
/// 315 MB response. A larger batch gets 400 with -32600 naming the limit.
pub const MAX_BATCH_MESSAGES: usize = 50;

/// Default largest batch response, in bytes (4 MiB, the default request limit): past it the
/// batch is answered with one -32600 error instead of the responses. See
/// [`McpServer::max_response`](crate::server::McpServer::max_response).
pub const DEFAULT_MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// Everything a request needs, shared by all requests.
pub(crate) struct Endpoint {
    pub catalog: Catalog,
    pub handler: Arc<dyn ToolHandler>,
    pub auth: Arc<dyn Authenticator>,
    pub origins: OriginPolicy,
    pub max_body: usize,
    /// Largest batch response in bytes.
    pub max_response: usize,
    /// The protocol versions served.
    pub versions: Versions,
}

/// The answer to one message, before it becomes HTTP.
pub(crate) enum Reply {
    /// 202, no body: notifications and responses.
    Accepted,
    Json(StatusCode, Vec<u8>),
    /// A response made elsewhere (the authenticator's 403), sent as is.
    Http(Response),
    Stream(Response),
}

impl Reply {
    pub fn json(body: Vec<u8>) -> Self {
        Self::Json(StatusCode::OK, body)
    }

    fn error(status: StatusCode, id: Option<&Value>, code: i32, message: &str) -> Self {
        Self::Json(status, jsonrpc::error_bytes(id, code, message, None))
    }
}

/// What the client's `Accept` allows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Accept {
    /// JSON only (also no `Accept`, or `*/*`): never stream.
    Json,
    /// Both: JSON unless the tool sends notifications.
    Both,
    /// Only `text/event-stream`: every answer with a body is an SSE stream.
    Sse,
}

/// Axum handler for every HTTP method on the endpoint path.
///
/// One log line per request: the span carries `method` and `tool` (and to every event inside
/// it), the closing event `status` and `duration_ms`. The outcome is recorded on the event
/// only: recording it on the span as well printed each field twice and cost about a tenth of
/// the whole request in formatting (callgrind, `bench/run`).
pub(crate) async fn handle(State(ep): State<Arc<Endpoint>>, req: Request) -> Response {
    let span = tracing::info_span!("mcp", method = Empty, tool = Empty);
    let start = Instant::now();
    let resp = process(&ep, req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, duration_ms = ms, "mcp request"));
    resp
}

async fn process(ep: &Arc<Endpoint>, req: Request) -> Response {
    let (parts, body) = req.into_parts();

    // 1. Host and Origin: a rebinding page or a foreign site learns nothing, not even 401.
    // The 403 carries CORS headers and says which origin was refused and how to allow it.
    let cors = match ep.origins.check(&parts.headers) {
        Ok(cors) => cors,
        Err(refused) => {
            let data = json!({ refused.what: refused.value });
            let body =
                jsonrpc::error_bytes(None, code::INVALID_REQUEST, &refused.message, Some(&data));
            return refused.response(body);
        }
    };
    if parts.method == Method::OPTIONS {
        // A preflight carries no credentials by design: answering it before authentication
        // is what lets a browser send the real request with them.
        return preflight(cors.as_ref(), &parts.headers);
    }

    // 2. Authentication, before anything that could answer 400, 405, 406, 413 or 415.
    let principal = match ep.auth.authenticate(&parts).await {
        Ok(p) => Arc::new(p),
        Err(resp) => return with_cors(resp, cors.as_ref()),
    };

    // 3. Everything else.
    let resp = serve_post(ep, &parts, body, &principal).await;
    with_cors(resp, cors.as_ref())
}

async fn serve_post(
    ep: &Arc<Endpoint>,
    parts: &http::request::Parts,
    body: Body,
    principal: &Arc<Principal>,
) -> Response {
    if parts.method != Method::POST {
        let mut resp = plain_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use POST",
            None,
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE)
        && !is_json_media_type(ct)
    {
        return plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type must be application/json",
            None,
        );
    }
    let Some(accept) = accept_mode(&parts.headers) else {
        return plain_error(
            StatusCode::NOT_ACCEPTABLE,
            "accept must allow application/json or text/event-stream",
            None,
        );
    };
    let too_large = || {
        plain_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
            None,
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > ep.max_body as u64) {
        return too_large();
    }
    let bytes = match http_body_util::Limited::new(body, ep.max_body)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                "cannot read the request body",
                None,
            );
        }
    };

    let reply = if first_byte(&bytes) == Some(b'[') {
        batch(ep, parts, principal, &bytes).await
    } else {
        match jsonrpc::parse_one(&bytes) {
            Ok(msg) => single(ep, parts, principal, msg, accept).await,
            Err(ParseFailure::Syntax) => Reply::error(
                StatusCode::BAD_REQUEST,
                None,
                code::PARSE_ERROR,
                "parse error: the body is not valid JSON",
            ),
            Err(ParseFailure::Shape(id)) => Reply::error(
                StatusCode::BAD_REQUEST,
                id.as_ref(),
                code::INVALID_REQUEST,
                "invalid request: not a JSON-RPC 2.0 message",
            ),
        }
    };
    into_response(reply, accept)
}

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

async fn single(
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
    match select_era(&method, params.as_ref(), &parts.headers) {
        // `initialize` negotiates its version from the body, so its header is not checked.
        Era::Legacy(v) if method != "initialize" && !ep.versions.contains(v) => {
            legacy_unsupported(ep, &id, v.as_str())
        }
        Era::Legacy(v) => legacy(ep, principal, id, &method, params, v, sse, false).await,
        Era::LegacyUnsupported(requested) => legacy_unsupported(ep, &id, &requested),
        Era::Modern => modern(ep, parts, principal, id, &method, params, sse).await,
    }
}

fn legacy_unsupported(ep: &Endpoint, id: &Value, requested: &str) -> Reply {
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
async fn legacy(
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

fn tools_list(
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

/// The stateless era (2026-07-28): headers mirror the body, every request carries `_meta`.
async fn modern(
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

async fn batch(
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
        match legacy(ep, principal, id, &method, params, version, false, true).await {
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

fn into_response(reply: Reply, accept: Accept) -> Response {
    match reply {
        Reply::Accepted => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::ACCEPTED;
            r
        }
        // A client that only takes SSE gets its answer as a one-event stream.
        Reply::Json(StatusCode::OK, body) if accept == Accept::Sse => {
            let event = call::frame(&body);
            call::sse_response(futures_util::stream::once(async move { Ok(event) }))
        }
        Reply::Json(status, body) => json_response(status, body),
        Reply::Http(resp) | Reply::Stream(resp) => resp,
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An HTTP-level refusal with a JSON-RPC error body that has no id.
fn plain_error(status: StatusCode, message: &str, id: Option<&Value>) -> Response {
    json_response(
        status,
        jsonrpc::error_bytes(id, code::INVALID_REQUEST, message, None),
    )
}

fn preflight(cors: Option<&HeaderValue>, headers: &HeaderMap) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    if let Some(origin) = cors {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        // Echo what the browser asks for: Authorization and the Mcp-Param-* headers vary by
        // tool and are not covered by a `*` wildcard.
        let asked = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| {
                HeaderValue::from_static(
                    "Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Method, Mcp-Name",
                )
            });
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    h.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    r
}

fn with_cors(mut resp: Response, cors: Option<&HeaderValue>) -> Response {
    if let Some(origin) = cors {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

fn is_json_media_type(v: &HeaderValue) -> bool {
    let Ok(s) = v.to_str() else { return false };
    let essence = s
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `None` when the client accepts neither JSON nor SSE (406).
fn accept_mode(headers: &HeaderMap) -> Option<Accept> {
    let mut json = false;
    let mut sse = false;
    let mut any = false;
    for value in headers.get_all(header::ACCEPT) {
        any = true;
        let Ok(s) = value.to_str() else { continue };
        for item in s.split(',') {
            let media = item.split(';').next().unwrap_or("").trim();
            if media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/*")
                || media == "*/*"
            {
                json = true;
            } else if media.eq_ignore_ascii_case("text/event-stream")
                || media.eq_ignore_ascii_case("text/*")
            {
                sse = true;
            }
        }
    }
    match (any, json, sse) {
        (false, _, _) => Some(Accept::Json),
        (true, true, false) => Some(Accept::Json),
        (true, true, true) => Some(Accept::Both),
        (true, false, true) => Some(Accept::Sse),
        (true, false, false) => None,
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

fn first_byte(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}
