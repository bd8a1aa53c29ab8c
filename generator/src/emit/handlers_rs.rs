//! `src/handlers.rs`: the user's file, created once with `Handlers::new` and a stub per `rust`
//! tool; and what a build tells the user when their file lacks something the spec now needs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::tools_rs::{return_type, rust_tools};
use crate::model::{Model, ToolModel};

/// The method as the user writes it, for the "add this method" note.
pub fn signature(tool: &ToolModel) -> String {
    let input = tool.input_type.as_deref().unwrap_or("..");
    let ret = tool.output_type.as_deref().unwrap_or("ToolResult");
    format!(
        "async fn {}(&self, input: {input}, ctx: ToolContext) -> Result<{ret}, ToolError>",
        tool.ident
    )
}

/// The constructor `main.rs` calls, as the user adds it to a file written before it existed.
pub fn constructor(unit_struct: bool) -> String {
    let value = if unit_struct { "Self" } else { "Self { .. }" };
    format!(
        "impl Handlers {{\n    pub async fn new(\n        config: &mcpgen_runtime::config::Config,\n    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {{\n        let _ = config;\n        Ok({value})\n    }}\n}}"
    )
}

/// What `src/handlers.rs` defines, as far as the build needs to know.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UserHandlers {
    /// Methods of `impl Tools for Handlers`.
    pub methods: Vec<String>,
    /// An inherent `Handlers::new` is defined.
    pub has_new: bool,
    /// `Handlers` is a unit struct (`pub struct Handlers;`).
    pub unit_struct: bool,
}

/// Reads the user's file with syn; `None` when it does not parse (the compiler will say why).
pub fn read_user_file(source: &str) -> Option<UserHandlers> {
    let file = syn::parse_file(source).ok()?;
    let mut found = UserHandlers::default();
    for item in &file.items {
        match item {
            syn::Item::Struct(s) if s.ident == "Handlers" => {
                found.unit_struct = matches!(s.fields, syn::Fields::Unit);
            }
            syn::Item::Impl(imp) => {
                let self_is_handlers = matches!(&*imp.self_ty, syn::Type::Path(p)
                    if p.path.segments.last().is_some_and(|s| s.ident == "Handlers"));
                if !self_is_handlers {
                    continue;
                }
                let fns = imp.items.iter().filter_map(|i| match i {
                    syn::ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
                    _ => None,
                });
                match &imp.trait_ {
                    Some((path, _)) if path.segments.last().is_some_and(|s| s.ident == "Tools") => {
                        found.methods.extend(fns);
                    }
                    Some(_) => {}
                    None => found.has_new |= fns.into_iter().any(|f| f == "new"),
                }
            }
            _ => {}
        }
    }
    Some(found)
}

/// The handler methods of the model's `rust` tools that the user's file lacks, as signatures.
pub fn missing_methods(model: &Model, user: &UserHandlers) -> Vec<String> {
    rust_tools(model)
        .into_iter()
        .filter(|(t, _, _)| !user.methods.contains(&t.ident))
        .map(|(t, _, _)| signature(t))
        .collect()
}

/// The `crate::tools` types the missing methods name (inputs, then typed outputs), which the
/// user's file may not import yet.
pub fn missing_types(model: &Model, user: &UserHandlers) -> Vec<String> {
    let mut types = Vec::new();
    for (t, input, output) in rust_tools(model) {
        if user.methods.contains(&t.ident) {
            continue;
        }
        types.push(input.to_string());
        types.extend(output.map(|o| o.to_string()));
    }
    types
}

pub fn tokens(model: &Model) -> TokenStream {
    let rust_tools = rust_tools(model);
    let mut imports: Vec<proc_macro2::Ident> = vec![format_ident!("Tools")];
    for (_, input, output) in &rust_tools {
        imports.push(format_ident!("{}", input));
        if let Some(o) = output {
            imports.push(format_ident!("{}", o));
        }
    }
    let needs_result = rust_tools.iter().any(|(_, _, output)| output.is_none());
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
    let methods = rust_tools.iter().map(|(t, input, output)| {
        let ident = format_ident!("{}", t.ident);
        let input = format_ident!("{}", input);
        let ret = return_type(*output);
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

        use mcpgen_runtime::config::Config;
        #runtime_imports

        use crate::tools::{#(#imports),*};

        /// Implements the spec's `rust` tools. Give it fields for what they share (a database
        /// pool, an HTTP client, ...) and build them in [`Handlers::new`].
        pub struct Handlers;

        impl Handlers {
            /// Called once at start, with the effective configuration (the environment is the
            /// process's own), before the server listens. An error stops the server:
            /// `error: cannot set up the tool handlers: {error}`, exit code 2.
            pub async fn new(
                config: &Config,
            ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                let _ = config;
                Ok(Self)
            }
        }

        impl Tools for Handlers {
            #(#methods)*
        }
    }
}
