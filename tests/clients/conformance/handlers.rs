//! Handlers for the conformance fixture (specs/conformance-fixture.yaml), as the conformance
//! suite's reference everything-server answers. The golden crate keeps mcpgen's stubs (the
//! golden test compares them byte for byte), so generator/tests/real_clients.rs builds a copy
//! of tests/golden/conformance-fixture with this file as its src/handlers.rs and runs
//! `conformance server` against that copy.
//!
//! Sampling and elicitation stay stubs: both are requests from the server to the client in
//! the middle of a call, which a stateless server cannot route back to itself.

use std::time::Duration;

use mcpgen_runtime::tokio;

use mcpgen_runtime::tools::{Content, LogLevel, ToolContext, ToolError, ToolResult};

use crate::tools::{
    TestAudioContentInput, TestElicitationInput, TestEmbeddedResourceInput,
    TestErrorHandlingInput, TestImageContentInput, TestMultipleContentTypesInput,
    TestSamplingInput, TestToolWithLoggingInput, TestToolWithProgressInput, Tools,
};

/// A 1x1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A WAV header with no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

pub struct Handlers;

impl Handlers {
    /// Nothing to set up: the conformance tools share no state.
    pub async fn new(
        _config: &mcpgen_runtime::config::Config,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
}

impl Tools for Handlers {
    async fn test_image_content(
        &self,
        _input: TestImageContentInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::content(vec![Content::image(PNG, "image/png")]))
    }

    async fn test_audio_content(
        &self,
        _input: TestAudioContentInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::content(vec![Content::audio(WAV, "audio/wav")]))
    }

    async fn test_embedded_resource(
        &self,
        _input: TestEmbeddedResourceInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::content(vec![Content::embedded_text(
            "test://embedded-resource",
            Some("text/plain".into()),
            "This is an embedded resource content.",
        )]))
    }

    async fn test_multiple_content_types(
        &self,
        _input: TestMultipleContentTypesInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::content(vec![
            Content::text("Multiple content types test:"),
            Content::image(PNG, "image/png"),
            Content::embedded_text(
                "test://mixed-content-resource",
                Some("application/json".into()),
                r#"{"test":"data","value":123}"#,
            ),
        ]))
    }

    async fn test_tool_with_logging(
        &self,
        _input: TestToolWithLoggingInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        ctx.log(LogLevel::Info, "Tool execution started");
        tokio::time::sleep(Duration::from_millis(50)).await;
        ctx.log(LogLevel::Info, "Tool processing data");
        tokio::time::sleep(Duration::from_millis(50)).await;
        ctx.log(LogLevel::Info, "Tool execution completed");
        Ok(ToolResult::text("Tool with logging executed successfully"))
    }

    async fn test_tool_with_progress(
        &self,
        _input: TestToolWithProgressInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        for (i, done) in [0.0, 50.0, 100.0].into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ctx.progress(done, Some(100.0), None);
        }
        Ok(ToolResult::text("Tool with progress executed successfully"))
    }

    async fn test_error_handling(
        &self,
        _input: TestErrorHandlingInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Err(ToolError::new(
            "This tool intentionally returns an error for testing",
        ))
    }

    async fn test_sampling(
        &self,
        _input: TestSamplingInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Err(ToolError::new("sampling needs a stateful server"))
    }

    async fn test_elicitation(
        &self,
        _input: TestElicitationInput,
        _ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        Err(ToolError::new("elicitation needs a stateful server"))
    }
}
