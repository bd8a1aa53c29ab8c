//! The type space: the Rust types of the tools' input and output JSON Schemas, named once here
//! (part of the model) so the emitters only print them.
//!
//! Objects become structs, string enums become enums, optional properties `Option`, arrays
//! `Vec`; a property with a `default` is its plain type, filled in by serde with the schema's
//! default (as the runtime fills it into the arguments, so both agree). Where a schema has no
//! single Rust type the field is a `serde_json::Value` and its doc comment says why. Each local
//! `$ref` definition becomes one type however often it is used. Types go into one ordered
//! space with unique names, so the output never depends on anything but the spec.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::naming;

/// A Rust type as a field or an item of another type holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum RustType {
    String,
    I64,
    F64,
    Bool,
    /// `()`: the schema allows only `null`.
    Unit,
    /// `serde_json::Value`: the schema has no single Rust type.
    Value,
    /// `serde_json::Map<String, Value>`: an object with no declared properties.
    JsonMap,
    Vec(Box<RustType>),
    Option(Box<RustType>),
    /// `BTreeMap<String, T>`: an object typed by `additionalProperties`.
    Map(Box<RustType>),
    /// `Box<T>`: a recursive reference.
    Boxed(Box<RustType>),
    /// A struct or enum of the type space.
    Named(String),
}

/// A struct or enum to emit.
#[derive(Debug, Clone, PartialEq)]
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

impl TypeDef {
    pub fn name(&self) -> &str {
        match self {
            TypeDef::Struct { name, .. } | TypeDef::Enum { name, .. } => name,
        }
    }
}

/// How a property is filled when the arguments leave it out.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    /// Required: always present.
    Required,
    /// `Option<T>`: `None` when absent (or `null`).
    Optional,
    /// The schema's default, from the associated function `fn_name` of the struct.
    Default {
        fn_name: String,
        value: DefaultValue,
    },
}

/// A default the Rust type can hold as a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Bool(bool),
    I64(i64),
    F64(f64),
    String(String),
    /// An enum's variant: `(enum, variant)`.
    Variant(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub ident: String,
    /// The JSON name, when it differs from `ident`.
    pub rename: Option<String>,
    pub ty: RustType,
    pub presence: Presence,
    pub doc: Vec<String>,
}

/// Every type of the generated `tools.rs`, in the order they were first needed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypeSpace {
    pub defs: Vec<TypeDef>,
    taken: BTreeSet<String>,
}

/// The root schema being typed, the `$ref`s being expanded (to box recursive ones) and the
/// ones already typed (one type per definition).
struct Ctx<'a> {
    root: &'a Value,
    prefix: String,
    expanding: Vec<(String, String)>,
    typed: BTreeMap<String, (RustType, bool)>,
}

impl TypeSpace {
    /// `reserved`: names `tools.rs` defines or imports itself.
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
            typed: BTreeMap::new(),
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
                let place = format!("the `{prop}` property of [`{name}`]");
                let (ty, nullable) = self.type_of(ctx, sub, &hint, &place, &mut field_doc);
                let default = sub.get("default");
                let presence = if nullable {
                    Presence::Optional
                } else if let Some(value) = default.and_then(|d| self.default_value(&ty, d)) {
                    Presence::Default {
                        fn_name: format!("default_{}", ident.trim_end_matches('_')),
                        value,
                    }
                } else if required.contains(prop.as_str()) {
                    Presence::Required
                } else {
                    Presence::Optional
                };
                if let Some(default) = default {
                    // Its own paragraph: rustdoc joins consecutive lines.
                    if !field_doc.is_empty() {
                        field_doc.push(String::new());
                    }
                    field_doc.push(format!("Default: `{default}`."));
                }
                fields.push(Field {
                    rename: (ident != *prop).then(|| prop.clone()),
                    ident,
                    ty,
                    presence,
                    doc: field_doc,
                });
            }
        }
        self.defs[slot] = TypeDef::Struct { name, doc, fields };
    }

    /// A default as a literal of the field's type; `None` when the type cannot hold it as
    /// one (the field stays an `Option` and its doc names the default).
    fn default_value(&self, ty: &RustType, default: &Value) -> Option<DefaultValue> {
        Some(match (ty, default) {
            (RustType::Bool, Value::Bool(b)) => DefaultValue::Bool(*b),
            (RustType::I64, Value::Number(n)) => DefaultValue::I64(n.as_i64()?),
            (RustType::F64, Value::Number(n)) => DefaultValue::F64(n.as_f64()?),
            (RustType::String, Value::String(s)) => DefaultValue::String(s.clone()),
            (RustType::Named(enum_name), Value::String(s)) => {
                let variants = self.defs.iter().find_map(|d| match d {
                    TypeDef::Enum { name, variants, .. } if name == enum_name => Some(variants),
                    _ => None,
                })?;
                let (variant, _) = variants.iter().find(|(_, json)| json == s)?;
                DefaultValue::Variant(enum_name.clone(), variant.clone())
            }
            _ => return None,
        })
    }

    /// The Rust type of a schema, and whether `null` is one of its values. `place` says
    /// where the schema sits, for the docs of a nested type that has none of its own.
    fn type_of(
        &mut self,
        ctx: &mut Ctx<'_>,
        schema: &Value,
        hint: &str,
        place: &str,
        doc: &mut Vec<String>,
    ) -> (RustType, bool) {
        let Some(obj) = schema.as_object() else {
            // `true` / `false` schemas accept anything / nothing.
            doc.push("Untyped: the schema is a boolean.".into());
            return (RustType::Value, false);
        };
        if let Some(Value::String(r)) = obj.get("$ref") {
            return self.type_of_ref(ctx, r, doc);
        }
        for kw in ["anyOf", "oneOf", "allOf", "not", "if"] {
            if obj.contains_key(kw) {
                doc.push(format!("Untyped: `{kw}` has no single Rust type."));
                return (RustType::Value, false);
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
                        return (RustType::Value, false);
                    }
                }
            }
            _ if obj.contains_key("properties") => ("object", false),
            _ => {
                doc.push("Untyped: the schema names no type.".into());
                return (RustType::Value, false);
            }
        };
        let rust = match ty {
            "string" => match string_enum(obj) {
                Some(values) => {
                    let name = self.unique(hint.to_owned());
                    let variants = variant_names(&values);
                    self.defs.push(TypeDef::Enum {
                        name: name.clone(),
                        doc: describe_or(schema, place),
                        variants,
                    });
                    RustType::Named(name)
                }
                None => RustType::String,
            },
            "integer" => RustType::I64,
            "number" => RustType::F64,
            "boolean" => RustType::Bool,
            "null" => RustType::Unit,
            "array" => {
                let item = match obj.get("items") {
                    Some(items) => {
                        let mut item_doc = Vec::new();
                        let item_place = format!("an item of {place}");
                        let (t, nullable) = self.type_of(
                            ctx,
                            items,
                            &format!("{hint}Item"),
                            &item_place,
                            &mut item_doc,
                        );
                        if nullable {
                            RustType::Option(Box::new(t))
                        } else {
                            t
                        }
                    }
                    None => RustType::Value,
                };
                RustType::Vec(Box::new(item))
            }
            "object" => {
                if obj
                    .get("properties")
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.is_empty())
                {
                    let name = self.unique(hint.to_owned());
                    self.add_struct(ctx, schema, name.clone(), describe_or(schema, place));
                    RustType::Named(name)
                } else {
                    match obj.get("additionalProperties") {
                        Some(extra) if extra.is_object() => {
                            let mut d = Vec::new();
                            let value_place = format!("a value of {place}");
                            let (t, _) = self.type_of(
                                ctx,
                                extra,
                                &format!("{hint}Value"),
                                &value_place,
                                &mut d,
                            );
                            RustType::Map(Box::new(t))
                        }
                        _ => RustType::JsonMap,
                    }
                }
            }
            other => {
                doc.push(format!("Untyped: unknown type `{other}`."));
                RustType::Value
            }
        };
        (rust, nullable)
    }

    fn type_of_ref(
        &mut self,
        ctx: &mut Ctx<'_>,
        reference: &str,
        doc: &mut Vec<String>,
    ) -> (RustType, bool) {
        if let Some(done) = ctx.typed.get(reference) {
            return done.clone();
        }
        // Validation guarantees local references that resolve.
        let Some(target) = reference.strip_prefix('#').and_then(|p| {
            if p.is_empty() {
                Some(ctx.root)
            } else {
                ctx.root.pointer(p)
            }
        }) else {
            doc.push(format!("Untyped: `$ref` `{reference}` is not local."));
            return (RustType::Value, false);
        };
        if let Some((_, name)) = ctx.expanding.iter().find(|(r, _)| r == reference) {
            // A recursive reference: the type is being defined; box it to give it a size.
            return (
                RustType::Boxed(Box::new(RustType::Named(name.clone()))),
                false,
            );
        }
        let last = reference.rsplit('/').next().unwrap_or("Ref");
        let hint = format!("{}{}", ctx.prefix, naming::pascal(last));
        let place = format!("the definition `{reference}` of [`{}`]", ctx.prefix);
        let result = if target.get("type").and_then(Value::as_str) == Some("object")
            || target.get("properties").is_some()
        {
            let name = self.unique(hint);
            ctx.expanding.push((reference.to_owned(), name.clone()));
            self.add_struct(ctx, target, name.clone(), describe_or(target, &place));
            ctx.expanding.pop();
            (RustType::Named(name), false)
        } else {
            ctx.expanding.push((reference.to_owned(), hint.clone()));
            let result = self.type_of(ctx, target, &hint, &place, doc);
            ctx.expanding.pop();
            result
        };
        ctx.typed.insert(reference.to_owned(), result.clone());
        result
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

/// [`describe`], or where the schema sits when it says nothing of itself.
fn describe_or(schema: &Value, place: &str) -> Vec<String> {
    let doc = describe(schema);
    if doc.is_empty() {
        let mut place = place.to_owned();
        if let Some(first) = place.get(..1) {
            place = first.to_ascii_uppercase() + &place[1..];
        }
        vec![format!("{place}.")]
    } else {
        doc
    }
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
