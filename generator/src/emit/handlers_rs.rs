//! `src/handlers.rs`: the user's file, created once with a stub per `rust` tool.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::tools_rs::{plan, rust_tools};
use crate::model::{Model, ToolModel};

/// The method as the user writes it, for the "add this method" note.
pub fn signature(model: &Model, tool: &ToolModel) -> String {
    let (_, names) = plan(model);
    let Some(types) = model
        .tools
        .iter()
        .position(|t| t.name == tool.name)
        .and_then(|i| names.get(i))
        .and_then(Option::as_ref)
    else {
        return format!("async fn {}(..)", tool.ident);
    };
    let ret = match &types.output {
        Some(o) => o.clone(),
        None => "ToolResult".into(),
    };
    format!(
        "async fn {}(&self, input: {}, ctx: ToolContext) -> Result<{ret}, ToolError>",
        tool.ident, types.input
    )
}

pub fn tokens(model: &Model) -> TokenStream {
    let (_, names) = plan(model);
    let rust_tools = rust_tools(model, &names);
    let mut imports: Vec<proc_macro2::Ident> = vec![format_ident!("Tools")];
    for (_, ty) in &rust_tools {
        imports.push(format_ident!("{}", ty.input));
        if let Some(o) = &ty.output {
            imports.push(format_ident!("{}", o));
        }
    }
    let needs_result = rust_tools.iter().any(|(_, ty)| ty.output.is_none());
    let runtime_imports = if rust_tools.is_empty() {
        quote!()
    } else if needs_result {
        quote!(
            use mcpgen_runtime::tools::{ToolContext, ToolError, ToolResult};
        )
    } else {
        quote!(
            use mcpgen_runtime::tools::{ToolContext, ToolError};
        )
    };
    let methods = rust_tools.iter().map(|(t, ty)| {
        let ident = format_ident!("{}", t.ident);
        let input = format_ident!("{}", ty.input);
        let ret = match &ty.output {
            Some(o) => {
                let o = format_ident!("{}", o);
                quote!(#o)
            }
            None => quote!(ToolResult),
        };
        let message = format!("`{}` is not implemented yet", t.name);
        quote! {
            async fn #ident(&self, input: #input, ctx: ToolContext) -> Result<#ret, ToolError> {
                let _ = (input, ctx);
                Err(ToolError::new(#message))
            }
        }
    });
    quote! {
        //! Your tool handlers. mcpgen created this file once and never overwrites it: it is
        //! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

        #runtime_imports
        use crate::tools::{#(#imports),*};

        /// Implements the spec's `rust` tools.
        pub struct Handlers;

        impl Tools for Handlers {
            #(#methods)*
        }
    }
}
