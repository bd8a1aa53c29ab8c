//! `src/tools.rs`: one input (and output) type per tool, the trait your handlers implement,
//! and the dispatch from tool names to handlers and templates. Prints the model's names.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::main_rs::raw_string;
use super::types::{doc_attrs, tokens as type_tokens};
use crate::model::{Model, ToolModel};

/// The `rust` tools with their input type and optional output type, in spec order.
pub fn rust_tools(model: &Model) -> Vec<(&ToolModel, &str, Option<&str>)> {
    model
        .tools
        .iter()
        .filter_map(|t| Some((t, t.input_type.as_deref()?, t.output_type.as_deref())))
        .collect()
}

/// What a `rust` tool's handler returns, as `tools.rs` and `handlers.rs` spell it.
pub fn return_type(output: Option<&str>) -> TokenStream {
    match output {
        Some(output) => {
            let output = format_ident!("{}", output);
            quote!(#output)
        }
        None => quote!(ToolResult),
    }
}

pub fn tokens(model: &Model) -> TokenStream {
    let types: Vec<TokenStream> = model.types.defs.iter().map(type_tokens).collect();
    let rust_tools = rust_tools(model);
    let template_tools: Vec<(&ToolModel, &str)> = model
        .tools
        .iter()
        .filter_map(|t| Some((t, t.template_field.as_deref()?)))
        .collect();

    let methods = rust_tools.iter().map(|(t, input, output)| {
        let ident = format_ident!("{}", t.ident);
        let input = format_ident!("{}", input);
        let ret = return_type(*output);
        let mut doc: Vec<String> = t.description.lines().map(str::to_owned).collect();
        doc.push(String::new());
        doc.push(if t.scopes.is_empty() {
            format!("Tool `{}`; needs no scope.", t.name)
        } else {
            format!(
                "Tool `{}`; needs scopes `{}`.",
                t.name,
                t.scopes.join("`, `")
            )
        });
        let doc = doc_attrs(&doc);
        quote! {
            #doc
            fn #ident(
                &self,
                input: #input,
                ctx: ToolContext,
            ) -> impl Future<Output = Result<#ret, ToolError>> + Send;
        }
    });

    let fields = template_tools.iter().map(|(t, field)| {
        let field = format_ident!("{}", field);
        let doc = format!(" The template of `{}`.", t.name);
        quote! {
            #[doc = #doc]
            #field: Template,
        }
    });
    let inits = template_tools.iter().map(|(t, field)| {
        let field = format_ident!("{}", field);
        let name = &t.name;
        let source = raw_string(t.template.as_deref().unwrap_or_default());
        quote! {
            #field: Template::new(#name, #source).expect("mcpgen checked this template"),
        }
    });

    let arms = model.tools.iter().map(|t| {
        let name = &t.name;
        if let Some(field) = &t.template_field {
            let field = format_ident!("{}", field);
            return quote!(#name => self.#field.render_for(&args, &ctx),);
        }
        let ident = format_ident!("{}", t.ident);
        if t.output_type.is_some() {
            quote! {
                #name => {
                    let output = self.tools.#ident(arguments(args)?, ctx).await?;
                    ToolResult::json(&output)
                }
            }
        } else {
            quote!(#name => self.tools.#ident(arguments(args)?, ctx).await,)
        }
    });

    // With no `rust` tools the handlers are never called; `_` says so to the compiler.
    let (tools_field, tools_init) = if rust_tools.is_empty() {
        (format_ident!("_tools"), quote!(_tools: tools))
    } else {
        (format_ident!("tools"), quote!(tools))
    };
    let args = if model.tools.is_empty() {
        format_ident!("_args")
    } else {
        format_ident!("args")
    };
    let ctx = if model.tools.is_empty() {
        format_ident!("_ctx")
    } else {
        format_ident!("ctx")
    };
    let arguments_fn = (!rust_tools.is_empty()).then(|| {
        quote! {
            /// Arguments as a tool's input type. The runtime validated them against the input
            /// schema already, so this fails only where a schema is looser than its type.
            fn arguments<I: DeserializeOwned>(args: serde_json::Value) -> Result<I, ToolError> {
                serde_json::from_value(args)
                    .map_err(|e| ToolError::new(format!("invalid arguments: {e}")))
            }
        }
    });

    let serde_use = match (types.is_empty(), rust_tools.is_empty()) {
        (true, true) => quote!(),
        (true, false) => quote!(
            use mcpgen_runtime::serde::de::DeserializeOwned;
        ),
        (false, _) => quote!(
            use mcpgen_runtime::serde::{Deserialize, Serialize, de::DeserializeOwned};
        ),
    };
    let template_use = (!template_tools.is_empty()).then(|| {
        quote!(
            use mcpgen_runtime::template::Template;
        )
    });

    quote! {
        //! Tool input and output types, the trait your handlers implement, and dispatch.

        #serde_use
        use mcpgen_runtime::serde_json;
        #template_use
        use mcpgen_runtime::tools::{BoxFuture, ToolContext, ToolError, ToolHandler, ToolResult};

        #(#types)*

        /// The spec's `rust` tools: implement this in `src/handlers.rs`.
        pub trait Tools: Send + Sync + 'static {
            #(#methods)*
        }

        /// Routes each call by tool name, to your handlers or to a template.
        pub struct Dispatch<T> {
            #tools_field: T,
            #(#fields)*
        }

        impl<T: Tools> Dispatch<T> {
            pub fn new(tools: T) -> Self {
                Self {
                    #tools_init,
                    #(#inits)*
                }
            }
        }

        impl<T: Tools> ToolHandler for Dispatch<T> {
            fn call<'a>(
                &'a self,
                tool: &'a str,
                #args: serde_json::Value,
                #ctx: ToolContext,
            ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
                Box::pin(async move {
                    match tool {
                        #(#arms)*
                        _ => Err(ToolError::new(format!("unknown tool `{tool}`"))),
                    }
                })
            }
        }

        #arguments_fn
    }
}
