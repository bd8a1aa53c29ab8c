//! What the endpoint's modules share: the state every request reads ([`Endpoint`]), the answer
//! to one message before it becomes HTTP ([`Reply`]), what the client's `Accept` allows, and
//! the protocol names more than one era reads.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use http::header::HeaderName;
use serde_json::Value;

use super::catalog::Catalog;
use super::guard::OriginPolicy;
use super::jsonrpc;
use super::version::Versions;
use crate::auth::Authenticator;
use crate::tools::ToolHandler;

pub(super) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

pub(super) static MCP_PROTOCOL_VERSION: HeaderName =
    HeaderName::from_static("mcp-protocol-version");

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
    /// Where requests are counted (off unless the server has a metrics listener).
    pub metrics: crate::metrics::Metrics,
    /// Where spans go (`None`: tracing off, no span made).
    pub traces: Option<crate::traces::Tracing>,
    /// The endpoint's path, the `http.route` of its spans.
    pub route: String,
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

    pub(super) fn error(status: StatusCode, id: Option<&Value>, code: i32, message: &str) -> Self {
        Self::Json(status, jsonrpc::error_bytes(id, code, message, None))
    }
}

/// What the client's `Accept` allows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Accept {
    /// JSON only (also no `Accept`, or `*/*`): never stream.
    Json,
    /// Both: JSON unless the tool sends notifications.
    Both,
    /// Only `text/event-stream`: every answer with a body is an SSE stream.
    Sse,
}
