//! Your tool handlers. mcpgen created this file once and never overwrites it: it is
//! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

use crate::tools::Tools;

/// Implements the spec's `rust` tools.
pub struct Handlers;

impl Tools for Handlers {}
