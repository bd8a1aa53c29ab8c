//! Tools: names, handlers and templates, and their input and output schemas.

use super::*;

impl Checker<'_> {
    pub(super) fn tools(
        &mut self,
        tools: &[Value],
        spec: &Value,
        declared: &[String],
        auth_none: bool,
    ) {
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut idents: HashMap<String, (usize, String)> = HashMap::new();
        for (i, tool) in tools.iter().enumerate() {
            let base = format!("/tools/{i}");
            self.scope_refs(&format!("{base}/scopes"), spec, declared, auth_none);
            self.unique_strings(&format!("{base}/scopes"), spec, "scope");
            let Some(tool) = tool.as_object() else {
                continue;
            };
            if let Some(name) = tool.get("name").and_then(Value::as_str) {
                let at = format!("{base}/name");
                if let Some(first) = names.get(name) {
                    let first = self.pos.value(&format!("/tools/{first}/name"));
                    self.at_value(&at, format!("duplicate tool name `{name}`"))
                        .related
                        .push((first, "first used here".into()));
                    self.help("tool names must be unique; rename one of them");
                } else {
                    names.insert(name.to_owned(), i);
                    let ident = naming::snake(name);
                    if !valid_tool_name(name) {
                        // Already reported; its Rust name means nothing.
                    } else if let Some((first, first_name)) = idents.get(&ident) {
                        let first_span = self.pos.value(&format!("/tools/{first}/name"));
                        self.at_value(
                            &at,
                            format!("tool names `{first_name}` and `{name}` both become the Rust name `{ident}`"),
                        )
                        .related
                        .push((first_span, format!("`{first_name}` is here")));
                        self.help(
                            "rename one of them so they differ in more than case and separators",
                        );
                    } else {
                        idents.insert(ident, (i, name.to_owned()));
                    }
                }
            }
            let handler = tool
                .get("handler")
                .and_then(Value::as_str)
                .unwrap_or("rust");
            match (handler, tool.get("template")) {
                ("template", None) => {
                    self.at_key(
                        &format!("{base}/handler"),
                        "`handler: template` needs a `template`",
                    );
                    self.help(
                        "add `template: \"...\"`, a minijinja template with the arguments in scope",
                    );
                }
                ("rust", Some(_)) => {
                    self.at_key(
                        &format!("{base}/template"),
                        "`template` is only used with `handler: template`",
                    );
                    self.help("add `handler: template`, or remove `template`");
                }
                ("template", Some(Value::String(src))) => {
                    let arguments: Vec<&str> = tool
                        .get("input")
                        .and_then(|i| i.get("properties"))
                        .and_then(Value::as_object)
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    if arguments.contains(&TEMPLATE_CALLER) {
                        self.at_key(
                            &format!("{base}/input/properties/{TEMPLATE_CALLER}"),
                            format!(
                                "a template tool's argument cannot be named `{TEMPLATE_CALLER}`"
                            ),
                        );
                        self.help(format!(
                            "templates see who calls as `{TEMPLATE_CALLER}`; rename the argument"
                        ));
                    }
                    self.template(&format!("{base}/template"), src, &arguments)
                }
                _ => {}
            }
            if let Some(schema) = tool.get("input") {
                self.tool_schema(&format!("{base}/input"), schema, true);
            }
            if let Some(schema) = tool.get("output") {
                self.tool_schema(&format!("{base}/output"), schema, false);
            }
        }
    }

    /// A tool's template: it parses, and every variable it reads is an argument or `caller`
    /// (a misspelled name would otherwise fail every call).
    pub(super) fn template(&mut self, pointer: &str, src: &str, arguments: &[&str]) {
        let mut env = minijinja::Environment::new();
        if let Err(e) = env.add_template("tool", src) {
            self.at_value(
                pointer,
                format!(
                    "template does not parse: {}",
                    e.detail().unwrap_or("syntax error")
                ),
            );
            if let Some(line) = e.line() {
                self.help(format!("see line {line} of the template"));
            }
            return;
        }
        let Ok(tmpl) = env.get_template("tool") else {
            return;
        };
        let globals: Vec<&str> = env.globals().map(|(k, _)| k).collect();
        // Sorted, so several unknown names are reported in a stable order.
        let mut unknown: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| {
                v != TEMPLATE_CALLER
                    && !arguments.contains(&v.as_str())
                    && !globals.contains(&v.as_str())
            })
            .collect();
        unknown.sort();
        for name in unknown {
            self.at_value(
                pointer,
                format!("template reads `{name}`, which is not an argument of the tool"),
            );
            let help = match nearest(&name, arguments.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None if arguments.is_empty() => format!(
                    "the tool has no arguments; declare `{name}` under `input.properties`, or use `{TEMPLATE_CALLER}`"
                ),
                None => format!(
                    "a template sees the arguments ({}) and `{TEMPLATE_CALLER}`",
                    arguments
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.help(help);
        }
    }

    /// An input or output schema: a valid JSON Schema whose root clients accept.
    pub(super) fn tool_schema(&mut self, pointer: &str, schema: &Value, input: bool) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if obj.get("type").and_then(Value::as_str) != Some("object") {
            return; // the schema check reported it
        }
        let which = if input { "input" } else { "output" };
        for kw in ["anyOf", "oneOf", "allOf", "not", "if"] {
            if obj.contains_key(kw) {
                self.at_key(
                    &format!("{pointer}/{kw}"),
                    format!("`{kw}` at the root of a tool's {which} schema"),
                );
                self.help("Claude rejects tools whose schema root combines schemas; describe one object and move the alternatives into its properties");
            }
        }
        self.property_idents(pointer, schema);
        self.required_declared(pointer, schema);
        self.keywords(pointer, schema);
        // Unresolvable references are found here, where their position is known; the
        // validator below would only say that one of them failed.
        if self.refs(pointer, schema) {
            return;
        }
        if let Err(e) = jsonschema::options().build(schema) {
            let at = format!("{pointer}{}", e.instance_path().as_str());
            match e.instance().as_ref() {
                Value::String(t) if at.ends_with("/type") => {
                    const TYPES: [&str; 7] = [
                        "string", "number", "integer", "boolean", "object", "array", "null",
                    ];
                    self.at_value(&at, format!("`{t}` is not a JSON Schema type"));
                    match nearest(t, TYPES) {
                        Some(near) => self.help(format!("did you mean `{near}`?")),
                        None => self.help(format!("one of {}", backticked(&TYPES))),
                    }
                }
                _ => {
                    self.at_value(&at, format!("{which} schema is not valid JSON Schema: {e}"));
                }
            }
        }
    }

    /// Unknown keywords in a schema: JSON Schema ignores them, so a typo (`propertes`) or a
    /// comma in a flow mapping (`{ description: Size, e.g. 5 }`) silently changes the tool.
    pub(super) fn keywords(&mut self, pointer: &str, schema: &Value) {
        for (at, obj) in subschemas(pointer, schema) {
            for (k, v) in obj {
                if keyword_kind(k).is_some() || k.starts_with("x-") {
                    continue;
                }
                self.at_key(
                    &push_pointer(&at, k),
                    format!("unknown JSON Schema keyword `{k}`"),
                );
                if v.is_null() && k.contains(' ') {
                    self.help(
                        "a comma inside `{ ... }` ends a value: quote text that contains commas",
                    );
                } else if let Some(near) = nearest(k, SCHEMA_KEYWORDS.iter().map(|(k, _)| *k)) {
                    self.help(format!("did you mean `{near}`?"));
                } else {
                    self.help("name extensions `x-...`, or remove the key");
                }
            }
        }
    }

    /// Reports each `$ref` that does not point into its own schema; true if any did not.
    pub(super) fn refs(&mut self, pointer: &str, schema: &Value) -> bool {
        let mut found = false;
        for (at, obj) in subschemas(pointer, schema) {
            let Some(Value::String(r)) = obj.get("$ref") else {
                continue;
            };
            let target = r.strip_prefix('#').map(percent_decode).and_then(|frag| {
                if frag.is_empty() {
                    Some(schema)
                } else {
                    schema.pointer(&frag)
                }
            });
            if target.is_some() {
                continue;
            }
            found = true;
            self.at_value(
                &push_pointer(&at, "$ref"),
                format!("`$ref` `{r}` does not resolve"),
            );
            if r.starts_with('#') {
                self.help("point it at a definition in this schema, e.g. `#/$defs/address`");
            } else {
                self.help(
                    "schemas cannot refer to other documents; copy the definition under `$defs`",
                );
            }
        }
        found
    }

    /// Names in an object's `required` that its `properties` do not declare: a property
    /// renamed in one place and not the other. The generated type has no field for it, and
    /// with `additionalProperties: false` no call can satisfy the schema. Objects whose
    /// undeclared properties have a schema (`patternProperties`, `additionalProperties: {..}`)
    /// may require them, and so may a schema that declares no object of its own (a branch
    /// `- required: [id]` of an `anyOf` names the enclosing object's properties).
    pub(super) fn required_declared(&mut self, pointer: &str, schema: &Value) {
        for (at, obj) in subschemas(pointer, schema) {
            let Some(required) = obj.get("required").and_then(Value::as_array) else {
                continue;
            };
            let is_object = obj.contains_key("properties")
                || obj.get("type").and_then(Value::as_str) == Some("object");
            if !is_object
                || obj.contains_key("patternProperties")
                || obj
                    .get("additionalProperties")
                    .is_some_and(Value::is_object)
            {
                continue;
            }
            let declared: Vec<&str> = obj
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            for (i, name) in required.iter().enumerate() {
                let Some(name) = name.as_str() else { continue };
                if declared.contains(&name) {
                    continue;
                }
                self.at_value(
                    &format!("{at}/required/{i}"),
                    format!("`required` names `{name}`, which is not in `properties`"),
                );
                match nearest(name, declared.iter().copied()) {
                    Some(near) => self.help(format!("did you mean `{near}`?")),
                    None => self.help(format!(
                        "declare `{name}` under `properties`, or remove it from `required`"
                    )),
                }
            }
        }
    }

    /// Property names of one object that become the same Rust field name.
    pub(super) fn property_idents(&mut self, pointer: &str, schema: &Value) {
        for (at, obj) in subschemas(pointer, schema) {
            let Some(props) = obj.get("properties").and_then(Value::as_object) else {
                continue;
            };
            let base = format!("{at}/properties");
            let mut seen: BTreeMap<String, &str> = BTreeMap::new();
            for name in props.keys() {
                let ident = naming::snake(name);
                let Some(first) = seen.get(&ident) else {
                    seen.insert(ident, name);
                    continue;
                };
                let first_span = self.pos.key(&push_pointer(&base, first));
                self.at_key(
                    &push_pointer(&base, name),
                    format!(
                        "properties `{first}` and `{name}` both become the Rust field `{ident}`"
                    ),
                )
                .related
                .push((first_span, format!("`{first}` is here")));
                self.help("rename one of them");
            }
        }
    }
}

/// The variable through which a template sees who calls (the runtime's
/// `mcpgen_runtime::template::CALLER`).
pub(super) const TEMPLATE_CALLER: &str = "caller";

/// Every schema object inside `schema` (itself included) with its pointer, following only the
/// keywords whose values are schemas, so data (`const`, `enum`, `default`, a property named
/// `properties`) is never mistaken for a schema.
pub(super) fn subschemas<'a>(
    pointer: &str,
    schema: &'a Value,
) -> Vec<(String, &'a serde_json::Map<String, Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![(pointer.to_owned(), schema)];
    while let Some((at, node)) = stack.pop() {
        let Some(obj) = node.as_object() else {
            continue;
        };
        for (k, v) in obj {
            let here = push_pointer(&at, k);
            match keyword_kind(k) {
                Some(KeywordKind::Schema) => stack.push((here, v)),
                Some(KeywordKind::SchemaMap) => {
                    for (name, sub) in v.as_object().into_iter().flatten() {
                        stack.push((push_pointer(&here, name), sub));
                    }
                }
                Some(KeywordKind::SchemaList) => {
                    for (i, sub) in v.as_array().into_iter().flatten().enumerate() {
                        stack.push((format!("{here}/{i}"), sub));
                    }
                }
                Some(KeywordKind::Data) | None => {}
            }
        }
        out.push((at, obj));
    }
    out
}

#[derive(Clone, Copy)]
pub(super) enum KeywordKind {
    /// The value is a schema.
    Schema,
    /// The value maps names to schemas.
    SchemaMap,
    /// The value is a list of schemas.
    SchemaList,
    /// The value is data or an annotation.
    Data,
}

/// JSON Schema 2020-12 keywords (and `definitions`, which older schemas use).
pub(super) const SCHEMA_KEYWORDS: &[(&str, KeywordKind)] = {
    use KeywordKind::*;
    &[
        ("$schema", Data),
        ("$id", Data),
        ("$ref", Data),
        ("$anchor", Data),
        ("$dynamicRef", Data),
        ("$dynamicAnchor", Data),
        ("$vocabulary", Data),
        ("$comment", Data),
        ("$defs", SchemaMap),
        ("definitions", SchemaMap),
        ("type", Data),
        ("enum", Data),
        ("const", Data),
        ("title", Data),
        ("description", Data),
        ("default", Data),
        ("examples", Data),
        ("deprecated", Data),
        ("readOnly", Data),
        ("writeOnly", Data),
        ("format", Data),
        ("contentEncoding", Data),
        ("contentMediaType", Data),
        ("contentSchema", Schema),
        ("multipleOf", Data),
        ("maximum", Data),
        ("exclusiveMaximum", Data),
        ("minimum", Data),
        ("exclusiveMinimum", Data),
        ("maxLength", Data),
        ("minLength", Data),
        ("pattern", Data),
        ("maxItems", Data),
        ("minItems", Data),
        ("uniqueItems", Data),
        ("maxContains", Data),
        ("minContains", Data),
        ("maxProperties", Data),
        ("minProperties", Data),
        ("required", Data),
        ("dependentRequired", Data),
        ("properties", SchemaMap),
        ("patternProperties", SchemaMap),
        ("additionalProperties", Schema),
        ("propertyNames", Schema),
        ("unevaluatedProperties", Schema),
        ("dependentSchemas", SchemaMap),
        ("items", Schema),
        ("prefixItems", SchemaList),
        ("contains", Schema),
        ("unevaluatedItems", Schema),
        ("allOf", SchemaList),
        ("anyOf", SchemaList),
        ("oneOf", SchemaList),
        ("not", Schema),
        ("if", Schema),
        ("then", Schema),
        ("else", Schema),
    ]
};

pub(super) fn keyword_kind(k: &str) -> Option<KeywordKind> {
    SCHEMA_KEYWORDS
        .iter()
        .find(|(name, _)| *name == k)
        .map(|(_, kind)| *kind)
}

/// Whether a tool name is what Claude accepts: [`crate::spec::TOOL_NAME_PATTERN`],
/// `^[a-zA-Z0-9_-]{1,64}$`.
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
