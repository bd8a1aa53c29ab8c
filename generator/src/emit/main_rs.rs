//! `src/main.rs`: the spec's constants (server info, tools and their JSON Schemas, auth
//! settings) and the call into the runtime.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::model::Model;
use crate::spec::Login;

fn opt_string(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(Some(#s.into())),
        None => quote!(None),
    }
}

/// A `Vec` built from an array, which formatters lay out (they cannot reach into `vec![]`).
fn vec_of(items: impl IntoIterator<Item = TokenStream>) -> TokenStream {
    let items: Vec<TokenStream> = items.into_iter().collect();
    if items.is_empty() {
        quote!(Vec::new())
    } else {
        quote!(Vec::from([#(#items),*]))
    }
}

fn strings(items: &[String]) -> TokenStream {
    vec_of(items.iter().map(|s| quote!(#s.into())))
}

fn secs(n: u64) -> TokenStream {
    let lit = proc_macro2::Literal::u64_unsuffixed(n);
    quote!(Duration::from_secs(#lit))
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
    let lib = format_ident!("{}", model.lib_name);
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
        None => quote!(None),
        Some(list) => {
            let list = strings(list);
            quote!(Some(#list))
        }
    };
    let versions = vec_of(model.protocol_versions.iter().map(|v| {
        let variant = format_ident!("V{}", v.as_str().replace('-', "_"));
        quote!(ProtocolVersion::#variant)
    }));

    // One struct literal per tool, in spec order: a change to one tool changes its lines only.
    let tools = vec_of(model.tools.iter().map(|t| {
        let name = &t.name;
        let title = opt_string(Some(&t.title));
        let description = &t.description;
        let input = schema_literal(&t.input);
        let output = match &t.output {
            Some(schema) => {
                let lit = schema_literal(schema);
                quote!(Some(schema(#lit)))
            }
            None => quote!(None),
        };
        let a = &t.annotations;
        let (read_only, destructive, idempotent, open_world) =
            (a.read_only, a.destructive, a.idempotent, a.open_world);
        let scopes = strings(&t.scopes);
        quote! {
            ToolDef {
                name: #name.into(),
                title: #title,
                description: #description.into(),
                input_schema: schema(#input),
                output_schema: #output,
                annotations: Annotations {
                    read_only: #read_only,
                    destructive: #destructive,
                    idempotent: #idempotent,
                    open_world: #open_world,
                },
                scopes: #scopes,
            }
        }
    }));

    let auth = match &model.auth {
        None => quote!(None),
        Some(a) => {
            let issuer = if a.issuer == model.public_url {
                // Follows `--public-url`, as an issuer equal to the public URL must.
                quote!(None)
            } else {
                opt_string(Some(&a.issuer))
            };
            let scopes = vec_of(a.scopes.iter().map(|s| {
                let (n, d) = (&s.name, &s.description);
                quote!((#n.into(), #d.into()))
            }));
            let default_scopes = strings(&a.default_scopes);
            let login = match a.login {
                Login::Password => quote!(Login::Password),
                Login::Users => quote!(Login::Users),
                Login::Oidc => quote!(Login::Oidc),
                Login::Auto => quote!(Login::Auto),
            };
            let oidc = match &a.oidc {
                None => quote!(None),
                Some(o) => {
                    let issuer = opt_string(o.issuer.as_deref());
                    let (emails, domains) = (strings(&o.emails), strings(&o.domains));
                    let claim = match &o.claim {
                        None => quote!(None),
                        Some((name, value)) => quote!(Some(OidcClaim {
                            name: #name.into(),
                            value: #value.into(),
                        })),
                    };
                    quote!(Some(OidcSpec {
                        issuer: #issuer,
                        allow: OidcAllow {
                            emails: #emails,
                            domains: #domains,
                            claim: #claim,
                        },
                    }))
                }
            };
            let (access, refresh) = (secs(a.access_ttl_secs), secs(a.refresh_ttl_secs));
            let grace = secs(a.refresh_reuse_grace_secs);
            let (dynamic, cimd) = (a.dynamic_registration, a.client_id_metadata_documents);
            let redirects = strings(&a.extra_redirect_uris);
            quote! {
                Some(AuthSpec {
                    issuer: #issuer,
                    scopes: #scopes,
                    default_scopes: #default_scopes,
                    login: #login,
                    oidc: #oidc,
                    access_ttl: #access,
                    refresh_ttl: #refresh,
                    refresh_reuse_grace: #grace,
                    dynamic_registration: #dynamic,
                    client_id_metadata_documents: #cimd,
                    extra_redirect_uris: #redirects,
                })
            }
        }
    };
    let auth_uses = model.auth.as_ref().map(|a| {
        let oidc = a.oidc.as_ref().map(|o| {
            let claim = o.claim.is_some().then(|| quote!(OidcClaim,));
            quote!(use mcpgen_runtime::oauth::{OidcAllow, #claim OidcSpec};)
        });
        quote! {
            use std::time::Duration;
            use mcpgen_runtime::oauth::Login;
            #oidc
        }
    });

    let app_use = if model.auth.is_some() {
        quote!(
            use mcpgen_runtime::app::{self, App, AuthSpec};
        )
    } else {
        quote!(
            use mcpgen_runtime::app::{self, App};
        )
    };

    quote! {
        //! Wires the spec's constants and your handlers into the runtime. Each tool's input and
        //! output types, and the handler method it calls, are in `tools.rs` under its name.

        use std::process::ExitCode;

        #auth_uses
        #app_use
        use mcpgen_runtime::mcp::ProtocolVersion;
        use mcpgen_runtime::serde_json::{self, Value};
        use mcpgen_runtime::tools::{Annotations, ServerInfo, ToolDef};

        use #lib::handlers::Handlers;
        use #lib::tools::Dispatch;

        /// Parses a schema below; they are generated from the validated spec.
        fn schema(json: &str) -> Value {
            serde_json::from_str(json).expect("mcpgen writes valid JSON Schemas")
        }

        /// The spec's tools, in its order.
        fn tools() -> Vec<ToolDef> {
            #tools
        }

        /// The server as the spec describes it; flags and environment adjust it at start.
        fn app() -> App {
            App {
                name: #crate_name,
                info: ServerInfo {
                    name: #name.into(),
                    version: #version.into(),
                    title: #title,
                    description: #description,
                    instructions: #instructions,
                    website_url: None,
                },
                tools: tools(),
                public_url: #public_url.into(),
                endpoint: #endpoint.into(),
                bind: #bind.into(),
                allowed_origins: #origins,
                hosted_client_origins: #hosted,
                protocol_versions: #versions,
                auth: #auth,
            }
        }

        /// Builds your handlers with the effective configuration (`Handlers::new` in
        /// `src/handlers.rs`), then serves until SIGINT or SIGTERM.
        fn main() -> ExitCode {
            app::run_setup(app(), |config| async move {
                Handlers::new(&config).await.map(Dispatch::new)
            })
        }
    }
}
