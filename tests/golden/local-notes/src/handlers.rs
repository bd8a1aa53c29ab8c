//! Your tool handlers. mcpgen created this file once and never overwrites it: it is
//! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

use mcpgen_runtime::config::Config;

use crate::tools::Tools;

/// Implements the spec's `rust` tools. Give it fields for what they share (a database
/// pool, an HTTP client, ...) and build them in [`Handlers::new`].
pub struct Handlers;

impl Handlers {
    /// Called once at start, with the effective configuration (the environment is the
    /// process's own), before the server listens. An error stops the server:
    /// `error: cannot set up the tool handlers: {error}`, exit code 2.
    pub async fn new(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let _ = config;
        Ok(Self)
    }
}

impl Tools for Handlers {}
