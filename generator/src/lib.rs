//! mcpgen: from a YAML spec to an MCP server crate.
