//! Your tool handlers. mcpgen created this file once and never overwrites it: it is
//! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

use mcpgen_runtime::tools::{ToolContext, ToolError, ToolResult};

use crate::tools::{
    Tools, SearchProductsInput, GetInventoryInput, GetInventoryOutput,
    GetOrderStatusInput, GetOrderStatusOutput, CreateOrderInput, CancelOrderInput,
    TrackShipmentInput, GetCustomerInput,
};

/// Implements the spec's `rust` tools.
pub struct Handlers;

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
