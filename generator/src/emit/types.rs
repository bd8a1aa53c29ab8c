//! Rust types from the JSON Schemas of tool inputs and outputs.
//!
//! Objects become structs, string enums become enums, optional properties `Option`, arrays
//! `Vec`; where a schema has no single Rust type the field is a `serde_json::Value` and its doc
//! comment says why. Types go into one ordered space with unique names, so the output never
//! depends on anything but the spec.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::naming;

/// A struct or enum to emit.
pub enum TypeDef {
    Struct {
        name: String,
        doc: Vec<String>,
        fields: Vec<Field>,
    },
    Enum {
        name: String,
        doc: Vec<String>,
        /// Rust variant name and the JSON string it stands for.
        variants: Vec<(String, String)>,
    },
}

pub struct Field {
    pub ident: String,
    /// The JSON name, when it differs from `ident`.
    pub rename: Option<String>,
    pub ty: TokenStream,
    pub optional: bool,
    pub doc: Vec<String>,
}

/// Every type of the generated `tools.rs`, in the order they were first needed.
pub struct TypeSpace {
    pub defs: Vec<TypeDef>,
    taken: BTreeSet<String>,
}

/// The root schema being typed, and the `$ref`s being expanded (to box recursive ones).
struct Ctx<'a> {
    root: &'a Value,
    prefix: String,
    expanding: Vec<(String, String)>,
}

impl TypeSpace {
    /// `reserved`: names `tools.rs` defines itself.
    pub fn new(reserved: &[&str]) -> Self {
        Self {
            defs: Vec::new(),
            taken: reserved.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }

    /// Adds the struct for a tool's input or output schema (root `type: object`) and returns
    /// its name.
    pub fn root_struct(&mut self, schema: &Value, name: &str, doc: Vec<String>) -> String {
        let name = self.unique(name.to_owned());
        let mut ctx = Ctx {
            root: schema,
            prefix: name.clone(),
            expanding: Vec::new(),
        };
        self.add_struct(&mut ctx, schema, name.clone(), doc);
        name
    }

    fn add_struct(&mut self, ctx: &mut Ctx<'_>, schema: &Value, name: String, doc: Vec<String>) {
        // Reserve the slot now so nested types come after their parent.
        let slot = self.defs.len();
        self.defs.push(TypeDef::Struct {
            name: name.clone(),
            doc: Vec::new(),
            fields: Vec::new(),
        });
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Vec::new();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (prop, sub) in props {
                let ident = naming::snake(prop);
                let hint = format!("{name}{}", naming::pascal(prop));
                let mut field_doc = describe(sub);
                let (ty, nullable) = self.type_of(ctx, sub, &hint, &mut field_doc);
                if let Some(default) = sub.get("default") {
                    field_doc.push(format!("Default: `{default}`."));
                }
                fields.push(Field {
                    rename: (ident != *prop).then(|| prop.clone()),
                    ident,
                    ty,
                    optional: nullable || !required.contains(prop.as_str()),
                    doc: field_doc,
                });
            }
        }
        self.defs[slot] = TypeDef::Struct { name, doc, fields };
    }

    /// The Rust type of a schema, and whether `null` is one of its values.
    fn type_of(
        &mut self,
        ctx: &mut Ctx<'_>,
        schema: &Value,
        hint: &str,
        doc: &mut Vec<String>,
    ) -> (TokenStream, bool) {
        let value = quote!(::mcpgen_runtime::serde_json::Value);
        let Some(obj) = schema.as_object() else {
            // `true` / `false` schemas accept anything / nothing.
            doc.push("Untyped: the schema is a boolean.".into());
            return (value, false);
        };
        if let Some(Value::String(r)) = obj.get("$ref") {
            return self.type_of_ref(ctx, r, doc);
        }
        for kw in ["anyOf", "oneOf", "allOf", "not", "if"] {
            if obj.contains_key(kw) {
                doc.push(format!("Untyped: `{kw}` has no single Rust type."));
                return (value, false);
            }
        }
        let (ty, nullable) = match obj.get("type") {
            Some(Value::String(t)) => (t.as_str(), false),
            Some(Value::Array(types)) => {
                let non_null: Vec<&str> = types
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|t| *t != "null")
                    .collect();
                match non_null.as_slice() {
                    [one] => (*one, non_null.len() < types.len()),
                    _ => {
                        doc.push("Untyped: the schema allows several types.".into());
                        return (value, false);
                    }
                }
            }
            _ if obj.contains_key("properties") => ("object", false),
            _ => {
                doc.push("Untyped: the schema names no type.".into());
                return (value, false);
            }
        };
        let tokens = match ty {
            "string" => match string_enum(obj) {
                Some(values) => {
                    let name = self.unique(hint.to_owned());
                    let variants = variant_names(&values);
                    self.defs.push(TypeDef::Enum {
                        name: name.clone(),
                        doc: describe(schema),
                        variants,
                    });
                    let ident = format_ident!("{}", name);
                    quote!(#ident)
                }
                None => quote!(::std::string::String),
            },
            "integer" => quote!(i64),
            "number" => quote!(f64),
            "boolean" => quote!(bool),
            "null" => quote!(()),
            "array" => {
                let item = match obj.get("items") {
                    Some(items) => {
                        let mut item_doc = Vec::new();
                        let (t, nullable) =
                            self.type_of(ctx, items, &format!("{hint}Item"), &mut item_doc);
                        if nullable {
                            quote!(::std::option::Option<#t>)
                        } else {
                            t
                        }
                    }
                    None => value.clone(),
                };
                quote!(::std::vec::Vec<#item>)
            }
            "object" => {
                if obj
                    .get("properties")
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.is_empty())
                {
                    let name = self.unique(hint.to_owned());
                    self.add_struct(ctx, schema, name.clone(), describe(schema));
                    let ident = format_ident!("{}", name);
                    quote!(#ident)
                } else {
                    match obj.get("additionalProperties") {
                        Some(extra) if extra.is_object() => {
                            let mut d = Vec::new();
                            let (t, _) = self.type_of(ctx, extra, &format!("{hint}Value"), &mut d);
                            quote!(::std::collections::BTreeMap<::std::string::String, #t>)
                        }
                        _ => quote!(
                            ::mcpgen_runtime::serde_json::Map<::std::string::String, #value>
                        ),
                    }
                }
            }
            other => {
                doc.push(format!("Untyped: unknown type `{other}`."));
                value
            }
        };
        (tokens, nullable)
    }

    fn type_of_ref(
        &mut self,
        ctx: &mut Ctx<'_>,
        reference: &str,
        doc: &mut Vec<String>,
    ) -> (TokenStream, bool) {
        let value = quote!(::mcpgen_runtime::serde_json::Value);
        // Validation guarantees local references that resolve.
        let Some(target) = reference.strip_prefix('#').and_then(|p| {
            if p.is_empty() {
                Some(ctx.root)
            } else {
                ctx.root.pointer(p)
            }
        }) else {
            doc.push(format!("Untyped: `$ref` `{reference}` is not local."));
            return (value, false);
        };
        if let Some((_, name)) = ctx.expanding.iter().find(|(r, _)| r == reference) {
            // A recursive reference: the type is being defined; box it to give it a size.
            let ident = format_ident!("{}", name);
            return (quote!(::std::boxed::Box<#ident>), false);
        }
        let last = reference.rsplit('/').next().unwrap_or("Ref");
        let hint = format!("{}{}", ctx.prefix, naming::pascal(last));
        if target.get("type").and_then(Value::as_str) == Some("object")
            || target.get("properties").is_some()
        {
            let name = self.unique(hint);
            ctx.expanding.push((reference.to_owned(), name.clone()));
            self.add_struct(ctx, target, name.clone(), describe(target));
            ctx.expanding.pop();
            let ident = format_ident!("{}", name);
            (quote!(#ident), false)
        } else {
            ctx.expanding.push((reference.to_owned(), hint.clone()));
            let result = self.type_of(ctx, target, &hint, doc);
            ctx.expanding.pop();
            result
        }
    }
}

/// Doc lines from a schema's `title` and `description`.
fn describe(schema: &Value) -> Vec<String> {
    let mut doc = Vec::new();
    for key in ["title", "description"] {
        if let Some(text) = schema.get(key).and_then(Value::as_str) {
            doc.extend(text.lines().map(str::to_owned));
        }
    }
    doc
}

/// The values of a string enum, when every value is a string.
fn string_enum(obj: &serde_json::Map<String, Value>) -> Option<Vec<String>> {
    let values = obj.get("enum")?.as_array()?;
    if values.is_empty() {
        return None;
    }
    values
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn variant_names(values: &[String]) -> Vec<(String, String)> {
    let mut taken = BTreeSet::new();
    values
        .iter()
        .map(|v| {
            let base = naming::pascal(v);
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}{n}");
                n += 1;
            }
            (name, v.clone())
        })
        .collect()
}

impl TypeDef {
    /// The item's tokens: doc comments, derives, serde attributes where names change.
    pub fn tokens(&self) -> TokenStream {
        match self {
            TypeDef::Struct { name, doc, fields } => {
                let ident = format_ident!("{}", name);
                let doc = doc_attrs(doc);
                let fields = fields.iter().map(|f| {
                    let ident = field_ident(&f.ident);
                    let doc = doc_attrs(&f.doc);
                    let rename = f.rename.as_ref().map(|r| quote!(#[serde(rename = #r)]));
                    let ty = &f.ty;
                    if f.optional {
                        quote! {
                            #doc
                            #rename
                            #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                            pub #ident: ::std::option::Option<#ty>,
                        }
                    } else {
                        quote! {
                            #doc
                            #rename
                            pub #ident: #ty,
                        }
                    }
                });
                quote! {
                    #doc
                    #[derive(
                        ::std::fmt::Debug,
                        ::std::clone::Clone,
                        ::std::cmp::PartialEq,
                        ::mcpgen_runtime::serde::Deserialize,
                        ::mcpgen_runtime::serde::Serialize,
                    )]
                    #[serde(crate = "::mcpgen_runtime::serde")]
                    pub struct #ident {
                        #(#fields)*
                    }
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
                    #[derive(
                        ::std::fmt::Debug,
                        ::std::clone::Clone,
                        ::std::marker::Copy,
                        ::std::cmp::PartialEq,
                        ::std::cmp::Eq,
                        ::std::hash::Hash,
                        ::mcpgen_runtime::serde::Deserialize,
                        ::mcpgen_runtime::serde::Serialize,
                    )]
                    #[serde(crate = "::mcpgen_runtime::serde")]
                    #rename_all
                    pub enum #ident {
                        #(#variants)*
                    }
                }
            }
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

/// `type_` and friends are plain identifiers; raw identifiers are never needed.
fn field_ident(name: &str) -> proc_macro2::Ident {
    format_ident!("{}", name)
}

/// `#[doc = "..."]` attributes; prettyplease prints them as `///` comments.
pub fn doc_attrs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|l| {
        let l = format!(" {}", l.trim_end());
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}
