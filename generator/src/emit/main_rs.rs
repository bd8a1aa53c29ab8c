//! `src/main.rs`: the spec's constants (server info, tools and their JSON Schemas, auth
//! settings) and the call into the runtime.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::model::Model;
use crate::spec::Consent;

fn opt_string(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(::std::option::Option::Some(#s.into())),
        None => quote!(::std::option::Option::None),
    }
}

fn strings(items: &[String]) -> TokenStream {
    quote!(::std::vec![#(#items.into()),*])
}

/// A JSON Schema as a pretty-printed string literal: readable in review, parsed once at start.
fn schema_literal(schema: &Value) -> TokenStream {
    let text = serde_json::to_string_pretty(schema).unwrap_or_else(|_| "{}".into());
    raw_string(&text)
}

/// `r#"..."#` with as many `#` as the text needs: newlines stay newlines in the file. Text with
/// a carriage return (which raw strings cannot hold) becomes an escaped literal instead.
pub fn raw_string(text: &str) -> TokenStream {
    if text.contains('\r') {
        let lit = proc_macro2::Literal::string(text);
        return quote!(#lit);
    }
    let mut hashes = 1;
    while text.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let fence = "#".repeat(hashes);
    let source = format!("r{fence}\"{text}\"{fence}");
    let lit: proc_macro2::Literal = source.parse().expect("a raw string literal parses");
    quote!(#lit)
}

pub fn tokens(model: &Model) -> TokenStream {
    let lib = format_ident!("{}", model.crate_name.replace('-', "_"));
    let crate_name = &model.crate_name;
    let name = &model.name;
    let version = &model.version;
    let title = opt_string(Some(&model.title));
    let description = opt_string(model.description.as_deref());
    let instructions = opt_string(model.instructions.as_deref());
    let public_url = &model.public_url;
    let endpoint = &model.endpoint;
    let bind = &model.bind;
    let origins = strings(&model.allowed_origins);
    let hosted = match &model.hosted_client_origins {
        None => quote!(::std::option::Option::None),
        Some(list) => {
            let list = strings(list);
            quote!(::std::option::Option::Some(#list))
        }
    };
    let versions = model.protocol_versions.iter().map(|v| {
        let variant = format_ident!("V{}", v.as_str().replace('-', "_"));
        quote!(::mcpgen_runtime::mcp::ProtocolVersion::#variant)
    });

    let mut schema_consts = Vec::new();
    let tools = model.tools.iter().map(|t| {
        let name = &t.name;
        let title = opt_string(Some(&t.title));
        let description = &t.description;
        let input_const = format_ident!("{}_INPUT", t.ident.trim_end_matches('_').to_uppercase());
        let input_lit = schema_literal(&t.input);
        let input_doc = format!(" Input schema of `{}`.", t.name);
        schema_consts.push(quote! {
            #[doc = #input_doc]
            const #input_const: &str = #input_lit;
        });
        let output = match &t.output {
            Some(schema) => {
                let output_const =
                    format_ident!("{}_OUTPUT", t.ident.trim_end_matches('_').to_uppercase());
                let output_lit = schema_literal(schema);
                let output_doc = format!(" Output schema of `{}`.", t.name);
                schema_consts.push(quote! {
                    #[doc = #output_doc]
                    const #output_const: &str = #output_lit;
                });
                quote!(::std::option::Option::Some(schema(#output_const)))
            }
            None => quote!(::std::option::Option::None),
        };
        let a = &t.annotations;
        let (read_only, destructive, idempotent, open_world) =
            (a.read_only, a.destructive, a.idempotent, a.open_world);
        let scopes = strings(&t.scopes);
        quote! {
            ::mcpgen_runtime::tools::ToolDef {
                name: #name.into(),
                title: #title,
                description: #description.into(),
                input_schema: schema(#input_const),
                output_schema: #output,
                annotations: ::mcpgen_runtime::tools::Annotations {
                    read_only: #read_only,
                    destructive: #destructive,
                    idempotent: #idempotent,
                    open_world: #open_world,
                },
                scopes: #scopes,
            }
        }
    });
    let tools: Vec<TokenStream> = tools.collect();

    let auth = match &model.auth {
        None => quote!(::std::option::Option::None),
        Some(a) => {
            let issuer = if a.issuer == model.public_url {
                // Follows `--public-url`, as an issuer equal to the public URL must.
                quote!(::std::option::Option::None)
            } else {
                opt_string(Some(&a.issuer))
            };
            let scopes = a.scopes.iter().map(|s| {
                let (n, d) = (&s.name, &s.description);
                quote!((#n.into(), #d.into()))
            });
            let default_scopes = strings(&a.default_scopes);
            let consent = match a.consent {
                Consent::Password => quote!(::mcpgen_runtime::oauth::Consent::Password),
                Consent::Auto => quote!(::mcpgen_runtime::oauth::Consent::Auto),
            };
            let (access, refresh) = (a.access_ttl_secs, a.refresh_ttl_secs);
            let grace = a.refresh_reuse_grace_secs;
            let (dynamic, cimd) = (a.dynamic_registration, a.client_id_metadata_documents);
            let redirects = strings(&a.extra_redirect_uris);
            quote! {
                ::std::option::Option::Some(::mcpgen_runtime::app::AuthSpec {
                    issuer: #issuer,
                    scopes: ::std::vec![#(#scopes),*],
                    default_scopes: #default_scopes,
                    consent: #consent,
                    access_ttl: ::std::time::Duration::from_secs(#access),
                    refresh_ttl: ::std::time::Duration::from_secs(#refresh),
                    refresh_reuse_grace: ::std::time::Duration::from_secs(#grace),
                    dynamic_registration: #dynamic,
                    client_id_metadata_documents: #cimd,
                    extra_redirect_uris: #redirects,
                })
            }
        }
    };

    quote! {
        //! Wires the spec's constants and your handlers into the runtime.

        #(#schema_consts)*

        /// Parses a schema above; they are generated from the validated spec.
        fn schema(json: &str) -> ::mcpgen_runtime::serde_json::Value {
            ::mcpgen_runtime::serde_json::from_str(json).expect("mcpgen writes valid JSON Schemas")
        }

        /// The server as the spec describes it; flags and environment adjust it at start.
        fn app() -> ::mcpgen_runtime::app::App {
            ::mcpgen_runtime::app::App {
                name: #crate_name,
                info: ::mcpgen_runtime::tools::ServerInfo {
                    name: #name.into(),
                    version: #version.into(),
                    title: #title,
                    description: #description,
                    instructions: #instructions,
                    website_url: ::std::option::Option::None,
                },
                tools: ::std::vec![#(#tools),*],
                public_url: #public_url.into(),
                endpoint: #endpoint.into(),
                bind: #bind.into(),
                allowed_origins: #origins,
                hosted_client_origins: #hosted,
                protocol_versions: ::std::vec![#(#versions),*],
                auth: #auth,
            }
        }

        fn main() -> ::std::process::ExitCode {
            ::mcpgen_runtime::app::run(app(), #lib::tools::Dispatch::new(#lib::handlers::Handlers))
        }
    }
}
