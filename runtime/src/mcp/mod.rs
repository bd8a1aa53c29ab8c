//! The MCP half of the runtime: JSON-RPC framing, protocol versions and eras, the prepared
//! answers of a server, and the Streamable HTTP endpoint that serves them.
//!
//! Choices the specs leave open, written down here:
//!
//! - **Era per request.** A request whose `params._meta` carries
//!   `io.modelcontextprotocol/protocolVersion` is 2026-07-28-era (its headers must then mirror
//!   it); otherwise a legacy `MCP-Protocol-Version` header selects that legacy version; no
//!   header means 2025-03-26; a `2026-07-28` header without `_meta` is modern (and fails with
//!   -32602); `initialize` without modern `_meta` is always legacy (its header is never
//!   checked); any other header value is a legacy 400 (-32600 with `supported`/`requested`).
//! - **Status codes.** Only the spec's HTTP-level failures leave 200: 400 for -32700, -32600
//!   and the 2026-07-28 -32602/-32020/-32022 cases, 404 for -32601 in 2026-07-28. Legacy
//!   -32601 and tool-level -32602 (unknown tool, bad cursor) are JSON-RPC errors in a 200.
//! - **Check order.** Host (loopback servers) and Origin (403), CORS preflight, the
//!   authenticator (401), then the HTTP method (405, `Allow: POST`), `Content-Type` (415; an
//!   absent one is accepted), `Accept` (406 only when it allows neither JSON nor SSE), body
//!   size (413), and the message itself.
//! - **Streaming.** Only when the client listed `text/event-stream` (not `*/*`), outside
//!   batches, and the handler actually sent a notification: progress needs a `progressToken`;
//!   logs need `_meta["io.modelcontextprotocol/logLevel"]` in 2026-07-28 and are sent at every
//!   level in legacy versions (a stateless server keeps no `logging/setLevel` state).
//! - **Batches** (2025-03-26 only, or no version header): a tool-scope failure inside one is
//!   the HTTP 403 for the whole batch. At most [`MAX_BATCH_MESSAGES`] messages, and a response
//!   of at most [`McpServer::max_response`](crate::server::McpServer::max_response) bytes;
//!   past either, one -32600 error with HTTP 400.
//! - **Origins** (the guard): loopback servers accept loopback origins and host names only;
//!   other servers also accept [`HOSTED_CLIENT_ORIGINS`]. A refusal is 403 with a -32600 body
//!   naming the value and the spec key that allows it (`data: {"origin": ...}`).

//!
//! Modules, and the one way their imports go: `http` (the axum handler, HTTP checks, CORS)
//! → `era` (which era serves a message) and `batch` (2025-03-26 batches and their caps)
//! → `legacy` and `modern` (each era's methods) → `list` (`tools/list`) and `call`
//! (`tools/call`) → `endpoint` (the shared `Endpoint` and `Reply`). `guard` checks Host and
//! Origin (its policy is part of `Endpoint`); [`jsonrpc`] and [`version`] are used by the
//! others and use none of them but `exchange` (every JSON-RPC error marks the request's
//! outcome); `catalog` uses only `version`. `exchange` holds what the log line and metrics of
//! one request say, as a task-local every module can mark.

mod batch;
mod call;
pub(crate) mod catalog;
mod defaults;
pub(crate) mod endpoint;
mod era;
pub(crate) mod exchange;
pub(crate) mod guard;
pub(crate) mod http;
pub mod jsonrpc;
mod legacy;
mod list;
mod modern;
pub mod version;

pub use batch::MAX_BATCH_MESSAGES;
pub use catalog::BuildError;
pub use endpoint::DEFAULT_MAX_RESPONSE;
pub use guard::HOSTED_CLIENT_ORIGINS;
pub use version::{ProtocolVersion, Versions};
