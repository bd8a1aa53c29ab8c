//! The MCP half of the runtime: JSON-RPC framing, protocol versions and eras, the prepared
//! answers of a server, and the Streamable HTTP endpoint that serves them.

mod call;
pub(crate) mod catalog;
pub(crate) mod endpoint;
pub(crate) mod guard;
pub mod jsonrpc;
pub mod version;

pub use catalog::BuildError;
pub use version::ProtocolVersion;
