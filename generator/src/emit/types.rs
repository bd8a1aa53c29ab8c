//! Prints the model's type space (see [`crate::types`]) as items of `tools.rs`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::types::{DefaultValue, Field, Presence, RustType, TypeDef};

/// A type as `tools.rs` spells it (its imports are `Deserialize`, `Serialize`, `serde_json`).
pub fn rust_type(ty: &RustType) -> TokenStream {
    match ty {
        RustType::String => quote!(String),
        RustType::I64 => quote!(i64),
        RustType::F64 => quote!(f64),
        RustType::Bool => quote!(bool),
        RustType::Unit => quote!(()),
        RustType::Value => quote!(serde_json::Value),
        RustType::JsonMap => quote!(serde_json::Map<String, serde_json::Value>),
        RustType::Vec(t) => {
            let t = rust_type(t);
            quote!(Vec<#t>)
        }
        RustType::Option(t) => {
            let t = rust_type(t);
            quote!(Option<#t>)
        }
        RustType::Map(t) => {
            let t = rust_type(t);
            quote!(::std::collections::BTreeMap<String, #t>)
        }
        RustType::Boxed(t) => {
            let t = rust_type(t);
            quote!(Box<#t>)
        }
        RustType::Named(name) => {
            let ident = format_ident!("{}", name);
            quote!(#ident)
        }
    }
}

/// The item's tokens: doc comments, derives, serde attributes where names change, and the
/// functions that supply defaults.
pub fn tokens(def: &TypeDef) -> TokenStream {
    match def {
        TypeDef::Struct { name, doc, fields } => {
            let ident = format_ident!("{}", name);
            let doc = doc_attrs(doc);
            let field_tokens = fields.iter().map(|f| field(name, f));
            let defaults: Vec<TokenStream> = fields
                .iter()
                .filter_map(|f| match &f.presence {
                    Presence::Default { fn_name, value } => {
                        let fn_ident = format_ident!("{}", fn_name);
                        let ty = rust_type(&f.ty);
                        let value = default_literal(value);
                        let doc = format!(" The schema's default of `{}`.", json_name(f));
                        Some(quote! {
                            #[doc = #doc]
                            fn #fn_ident() -> #ty {
                                #value
                            }
                        })
                    }
                    _ => None,
                })
                .collect();
            let impl_defaults = (!defaults.is_empty()).then(|| {
                quote! {
                    impl #ident {
                        #(#defaults)*
                    }
                }
            });
            quote! {
                #doc
                #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
                #[serde(crate = "mcpgen_runtime::serde")]
                pub struct #ident {
                    #(#field_tokens)*
                }

                #impl_defaults
            }
        }
        TypeDef::Enum {
            name,
            doc,
            variants,
        } => {
            let ident = format_ident!("{}", name);
            let doc = doc_attrs(doc);
            // One `rename_all` when every value is the snake_case of its variant, so the
            // common case reads cleanly; per-variant renames otherwise.
            let uniform = variants.iter().all(|(v, json)| serde_snake(v) == *json);
            let rename_all = uniform.then(|| quote!(#[serde(rename_all = "snake_case")]));
            let variants = variants.iter().map(|(v, json)| {
                let v = format_ident!("{}", v);
                let rename = (!uniform).then(|| quote!(#[serde(rename = #json)]));
                quote! {
                    #rename
                    #v,
                }
            });
            quote! {
                #doc
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
                #[serde(crate = "mcpgen_runtime::serde")]
                #rename_all
                pub enum #ident {
                    #(#variants)*
                }
            }
        }
    }
}

fn json_name(f: &Field) -> &str {
    f.rename.as_deref().unwrap_or(&f.ident)
}

fn field(struct_name: &str, f: &Field) -> TokenStream {
    let ident = format_ident!("{}", f.ident);
    let doc = doc_attrs(&f.doc);
    let rename = f.rename.as_ref().map(|r| quote!(#[serde(rename = #r)]));
    let ty = rust_type(&f.ty);
    match &f.presence {
        Presence::Required => quote! {
            #doc
            #rename
            pub #ident: #ty,
        },
        Presence::Optional => quote! {
            #doc
            #rename
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub #ident: Option<#ty>,
        },
        Presence::Default { fn_name, .. } => {
            let path = format!("{struct_name}::{fn_name}");
            quote! {
                #doc
                #rename
                #[serde(default = #path)]
                pub #ident: #ty,
            }
        }
    }
}

fn default_literal(value: &DefaultValue) -> TokenStream {
    match value {
        DefaultValue::Bool(b) => quote!(#b),
        DefaultValue::I64(n) => {
            let lit = proc_macro2::Literal::u64_unsuffixed(n.unsigned_abs());
            if *n < 0 { quote!(-#lit) } else { quote!(#lit) }
        }
        DefaultValue::F64(x) => {
            let abs = x.abs();
            let text = if abs.fract() == 0.0 && abs < 1e15 {
                format!("{abs:.1}")
            } else {
                format!("{abs:?}")
            };
            let lit: proc_macro2::Literal = text
                .parse()
                .unwrap_or_else(|_| proc_macro2::Literal::f64_unsuffixed(abs));
            if x.is_sign_negative() {
                quote!(-#lit)
            } else {
                quote!(#lit)
            }
        }
        DefaultValue::String(s) => quote!(#s.into()),
        DefaultValue::Variant(name, variant) => {
            let (name, variant) = (format_ident!("{}", name), format_ident!("{}", variant));
            quote!(#name::#variant)
        }
    }
}

/// What serde's `rename_all = "snake_case"` makes of a variant name.
fn serde_snake(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `#[doc = "..."]` attributes; prettyplease prints them as `///` comments.
pub fn doc_attrs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|l| {
        let l = if l.trim().is_empty() {
            String::new()
        } else {
            format!(" {}", l.trim_end())
        };
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}
