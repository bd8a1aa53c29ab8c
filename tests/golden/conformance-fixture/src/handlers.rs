//! Your tool handlers. mcpgen created this file once and never overwrites it: it is
//! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

use mcpgen_runtime::config::Config;
use mcpgen_runtime::tools::{ToolContext, ToolError, ToolResult};

use crate::tools::{
    TestAudioContentInput, TestElicitationInput, TestEmbeddedResourceInput, TestErrorHandlingInput,
    TestImageContentInput, TestMultipleContentTypesInput, TestSamplingInput,
    TestToolWithLoggingInput, TestToolWithProgressInput, Tools,
};

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

impl Tools for Handlers {
    async fn test_image_content(
        &self,
        input: TestImageContentInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_image_content` is not implemented yet",
        ))
    }
    async fn test_audio_content(
        &self,
        input: TestAudioContentInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_audio_content` is not implemented yet",
        ))
    }
    async fn test_embedded_resource(
        &self,
        input: TestEmbeddedResourceInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_embedded_resource` is not implemented yet",
        ))
    }
    async fn test_multiple_content_types(
        &self,
        input: TestMultipleContentTypesInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_multiple_content_types` is not implemented yet",
        ))
    }
    async fn test_tool_with_logging(
        &self,
        input: TestToolWithLoggingInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_tool_with_logging` is not implemented yet",
        ))
    }
    async fn test_tool_with_progress(
        &self,
        input: TestToolWithProgressInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_tool_with_progress` is not implemented yet",
        ))
    }
    async fn test_error_handling(
        &self,
        input: TestErrorHandlingInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`test_error_handling` is not implemented yet",
        ))
    }
    async fn test_sampling(
        &self,
        input: TestSamplingInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`test_sampling` is not implemented yet"))
    }
    async fn test_elicitation(
        &self,
        input: TestElicitationInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`test_elicitation` is not implemented yet"))
    }
}
