//! Your tool handlers. mcpgen created this file once and never overwrites it: it is
//! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

use mcpgen_runtime::config::Config;
use mcpgen_runtime::tools::{ToolContext, ToolError, ToolResult};

use crate::tools::{
    CancelOrderInput, CreateOrderInput, GetCustomerInput, GetInventoryInput, GetInventoryOutput,
    GetOrderStatusInput, GetOrderStatusOutput, SearchProductsInput, Tools, TrackShipmentInput,
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
    async fn search_products(
        &self,
        input: SearchProductsInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`search_products` is not implemented yet"))
    }
    async fn get_inventory(
        &self,
        input: GetInventoryInput,
        ctx: ToolContext,
    ) -> Result<GetInventoryOutput, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`get_inventory` is not implemented yet"))
    }
    async fn get_order_status(
        &self,
        input: GetOrderStatusInput,
        ctx: ToolContext,
    ) -> Result<GetOrderStatusOutput, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`get_order_status` is not implemented yet"))
    }
    async fn create_order(
        &self,
        input: CreateOrderInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`create_order` is not implemented yet"))
    }
    async fn cancel_order(
        &self,
        input: CancelOrderInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`cancel_order` is not implemented yet"))
    }
    async fn track_shipment(
        &self,
        input: TrackShipmentInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`track_shipment` is not implemented yet"))
    }
    async fn get_customer(
        &self,
        input: GetCustomerInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`get_customer` is not implemented yet"))
    }
}
