//! `src/tools.rs`: one input (and output) type per tool, the trait your handlers implement,
//! and the dispatch from tool names to handlers and templates.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::main_rs::raw_string;
use super::types::{TypeSpace, doc_attrs};
use crate::model::{Model, ToolModel};
use crate::spec::Handler;

/// Names `tools.rs` defines besides the tool types.
const RESERVED: &[&str] = &["Tools", "Dispatch"];

/// The Rust type names of one tool.
pub struct ToolTypes {
    pub input: String,
    /// Present when the tool has an output schema.
    pub output: Option<String>,
}

/// Types for every `rust` tool (templates read their arguments as JSON), in spec order; the
/// same for `tools.rs` and `handlers.rs`.
pub fn plan(model: &Model) -> (TypeSpace, Vec<Option<ToolTypes>>) {
    let mut space = TypeSpace::new(RESERVED);
    let names = model
        .tools
        .iter()
        .map(|t| {
            if t.handler != Handler::Rust {
                return None;
            }
            let input = space.root_struct(
                &t.input,
                &format!("{}Input", t.type_name),
                vec![format!("Arguments of `{}`.", t.name)],
            );
            let output = t.output.as_ref().map(|schema| {
                space.root_struct(
                    schema,
                    &format!("{}Output", t.type_name),
                    vec![format!("Structured result of `{}`.", t.name)],
                )
            });
            Some(ToolTypes { input, output })
        })
        .collect();
    (space, names)
}

/// The `rust` tools with their types, in spec order.
pub fn rust_tools<'a>(
    model: &'a Model,
    names: &'a [Option<ToolTypes>],
) -> Vec<(&'a ToolModel, &'a ToolTypes)> {
    model
        .tools
        .iter()
        .zip(names)
        .filter_map(|(t, ty)| ty.as_ref().map(|ty| (t, ty)))
        .collect()
}

/// What a `rust` tool's handler returns.
pub fn return_type(types: &ToolTypes) -> TokenStream {
    match &types.output {
        Some(output) => {
            let output = format_ident!("{}", output);
            quote!(#output)
        }
        None => quote!(::mcpgen_runtime::tools::ToolResult),
    }
}

fn template_field(t: &ToolModel) -> proc_macro2::Ident {
    format_ident!("{}_template", t.ident.trim_end_matches('_'))
}

pub fn tokens(model: &Model) -> TokenStream {
    let (space, names) = plan(model);
    let types = space.defs.iter().map(|d| d.tokens());
    let rust_tools = rust_tools(model, &names);
    let template_tools: Vec<&ToolModel> = model
        .tools
        .iter()
        .filter(|t| t.handler == Handler::Template)
        .collect();

    let methods = rust_tools.iter().map(|(t, ty)| {
        let ident = format_ident!("{}", t.ident);
        let input = format_ident!("{}", ty.input);
        let ret = return_type(ty);
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
                ctx: ::mcpgen_runtime::tools::ToolContext,
            ) -> impl ::std::future::Future<
                Output = ::std::result::Result<#ret, ::mcpgen_runtime::tools::ToolError>,
            > + ::std::marker::Send;
        }
    });

    let fields = template_tools.iter().map(|t| {
        let field = template_field(t);
        quote!(#field: ::mcpgen_runtime::template::Template,)
    });
    let inits = template_tools.iter().map(|t| {
        let field = template_field(t);
        let name = &t.name;
        let source = raw_string(t.template.as_deref().unwrap_or_default());
        quote! {
            #field: ::mcpgen_runtime::template::Template::new(#name, #source)
                .expect("mcpgen checked this template"),
        }
    });

    let arms = model.tools.iter().zip(&names).map(|(t, ty)| {
        let name = &t.name;
        match ty {
            None => {
                let field = template_field(t);
                quote!(#name => self.#field.render_for(&args, &ctx),)
            }
            Some(ty) => {
                let ident = format_ident!("{}", t.ident);
                if ty.output.is_some() {
                    quote! {
                        #name => {
                            let output = self.tools.#ident(arguments(args)?, ctx).await?;
                            ::mcpgen_runtime::tools::ToolResult::json(&output)
                        }
                    }
                } else {
                    quote!(#name => self.tools.#ident(arguments(args)?, ctx).await,)
                }
            }
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
            fn arguments<I: ::mcpgen_runtime::serde::de::DeserializeOwned>(
                args: ::mcpgen_runtime::serde_json::Value,
            ) -> ::std::result::Result<I, ::mcpgen_runtime::tools::ToolError> {
                ::mcpgen_runtime::serde_json::from_value(args).map_err(|e| {
                    ::mcpgen_runtime::tools::ToolError::new(::std::format!("invalid arguments: {e}"))
                })
            }
        }
    });

    quote! {
        //! Tool input and output types, the trait your handlers implement, and dispatch.

        #(#types)*

        /// The spec's `rust` tools: implement this in `src/handlers.rs`.
        pub trait Tools: ::std::marker::Send + ::std::marker::Sync + 'static {
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

        impl<T: Tools> ::mcpgen_runtime::tools::ToolHandler for Dispatch<T> {
            fn call<'a>(
                &'a self,
                tool: &'a str,
                #args: ::mcpgen_runtime::serde_json::Value,
                #ctx: ::mcpgen_runtime::tools::ToolContext,
            ) -> ::mcpgen_runtime::tools::BoxFuture<
                'a,
                ::std::result::Result<
                    ::mcpgen_runtime::tools::ToolResult,
                    ::mcpgen_runtime::tools::ToolError,
                >,
            > {
                ::std::boxed::Box::pin(async move {
                    match tool {
                        #(#arms)*
                        _ => ::std::result::Result::Err(::mcpgen_runtime::tools::ToolError::new(
                            ::std::format!("unknown tool `{tool}`"),
                        )),
                    }
                })
            }
        }

        #arguments_fn
    }
}
