//! The JSON Schema check: every schema error as a located diagnostic with the fix.

use super::*;

impl Checker<'_> {
    pub(super) fn schema(&mut self, value: &Value) {
        let errors: Vec<ValidationError<'_>> = schema_validator().iter_errors(value).collect();
        for e in &errors {
            self.schema_error(e);
        }
    }

    pub(super) fn schema_error(&mut self, e: &ValidationError<'_>) {
        let pointer = e.instance_path().as_str().to_owned();
        let shape = shape(&pointer);
        let what = display_path(&pointer);
        let instance = e.instance();
        let shown = match instance.as_ref() {
            Value::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        };
        match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = known_keys(&shape);
                for key in unexpected {
                    let at = push_pointer(&pointer, key);
                    self.at_key(&at, format!("unknown key `{key}`"));
                    match nearest(key, known.iter().map(String::as_str)) {
                        Some(near) => self.help(format!("did you mean `{near}`?")),
                        None if !known.is_empty() => {
                            self.help(format!("valid keys here: {}", known.join(", ")))
                        }
                        None => {}
                    }
                }
            }
            ValidationErrorKind::Required { property } => {
                let key = property.as_str().unwrap_or_default();
                if shape == "/tools/*/input" || shape == "/tools/*/output" {
                    self.root_not_object(&pointer);
                    return;
                }
                // A misspelt key is reported once, as an unknown key with a suggestion.
                let known = known_keys(&shape);
                let misspelt = instance.as_object().is_some_and(|obj| {
                    obj.keys().any(|k| {
                        !known.contains(k) && nearest(k, known.iter().map(String::as_str)) == Some(key)
                    })
                });
                if misspelt {
                    return;
                }
                let span = self.head(&pointer);
                let owner = if pointer.is_empty() {
                    "the spec".to_string()
                } else {
                    format!("`{what}`")
                };
                self.push(Diagnostic::new(
                    format!("{owner} is missing the required key `{key}`"),
                    span,
                ));
                if let Some(help) = required_help(&shape, key) {
                    self.help(help);
                }
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => type_words(&t.to_string()),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| type_words(&t.to_string()))
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                self.at_value(
                    &pointer,
                    format!(
                        "`{what}` must be {expected}, found {}",
                        describe(instance.as_ref())
                    ),
                );
                if matches!(instance.as_ref(), Value::Null) {
                    self.help("give it a value, or remove the key to use the default");
                } else if shape.starts_with("/auth/scopes/") && shape.matches('/').count() == 3 {
                    let name = pointer.rsplit('/').next().unwrap_or("scope");
                    self.help(format!("write `{name}: {{ description: ... }}`"));
                }
            }
            ValidationErrorKind::Pattern { .. } => {
                let s = instance.as_str().unwrap_or_default();
                self.pattern_error(&pointer, &shape, s);
            }
            ValidationErrorKind::PropertyNames { error } => {
                // Only `auth.scopes` constrains its keys.
                let key = error.instance().as_str().unwrap_or_default().to_owned();
                let at = push_pointer(&pointer, &key);
                self.bad_scope(&at, &key, true);
            }
            ValidationErrorKind::MinLength { .. } => {
                self.at_value(&pointer, format!("`{what}` must not be empty"));
            }
            ValidationErrorKind::MaxLength { limit } => {
                self.at_value(
                    &pointer,
                    format!("`{what}` is longer than {limit} characters"),
                );
            }
            ValidationErrorKind::MinItems { .. } => {
                self.at_value(&pointer, format!("`{what}` must not be empty"));
                if shape == "/server/protocol_versions" {
                    self.help("list at least one version, or remove the key to serve them all");
                }
            }
            ValidationErrorKind::Constant { expected_value } => {
                if shape == "/mcpgen" {
                    self.at_value(&pointer, format!("unsupported spec format {shown}"));
                    self.help("this mcpgen reads format 1: write `mcpgen: 1`");
                } else if shape.ends_with("/type")
                    && (shape.starts_with("/tools/*/input") || shape.starts_with("/tools/*/output"))
                {
                    let parent = &pointer[..pointer.len() - "/type".len()];
                    self.root_not_object(parent);
                } else {
                    self.at_value(
                        &pointer,
                        format!("`{what}` must be `{expected_value}`, found {shown}"),
                    );
                }
            }
            ValidationErrorKind::Enum { options } => {
                let options = options.as_array().cloned().unwrap_or_default();
                self.enum_error(&pointer, &shape, instance.as_ref(), &options);
            }
            ValidationErrorKind::OneOfNotValid { context }
                if context.iter().all(|branch| {
                    matches!(branch.as_slice(), [b] if matches!(b.kind(), ValidationErrorKind::Constant { .. }))
                }) =>
            {
                // schemars writes an enum with documented variants as a `oneOf` of constants.
                let options: Vec<Value> = context
                    .iter()
                    .filter_map(|branch| match branch.first().map(|b| b.kind()) {
                        Some(ValidationErrorKind::Constant { expected_value }) => {
                            Some(expected_value.as_ref().clone())
                        }
                        _ => None,
                    })
                    .collect();
                self.enum_error(&pointer, &shape, instance.as_ref(), &options);
            }
            ValidationErrorKind::AnyOf { context } if shape == "/auth" => {
                if instance.is_object() {
                    // The mapping branch explains what is wrong with the mapping.
                    if let Some(branch) = context.get(1) {
                        for inner in branch {
                            self.schema_error(inner);
                        }
                    }
                } else {
                    self.at_value(
                        &pointer,
                        format!("`auth` must be `none` or a mapping, found {shown}"),
                    );
                    self.help("write `auth: none` (loopback servers only) or OAuth settings");
                }
            }
            _ => {
                self.at_value(&pointer, format!("`{what}`: {e}"));
            }
        }
    }

    pub(super) fn enum_error(
        &mut self,
        pointer: &str,
        shape: &str,
        instance: &Value,
        options: &[Value],
    ) {
        let options: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
        let shown = match instance {
            Value::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        };
        let message = if shape == "/server/protocol_versions/*" {
            format!("unknown protocol version {shown}")
        } else {
            format!(
                "`{}` must be {}, found {shown}",
                display_path(pointer),
                backticked(&options)
            )
        };
        self.at_value(pointer, message);
        match instance
            .as_str()
            .and_then(|s| nearest(s, options.iter().copied()))
        {
            Some(near) => self.help(format!("did you mean `{near}`?")),
            None => self.help(format!("write one of {}", backticked(&options))),
        }
    }

    pub(super) fn root_not_object(&mut self, pointer: &str) {
        let which = if pointer.ends_with("/output") {
            "output"
        } else {
            "input"
        };
        let at = if matches!(self.pos.value(&format!("{pointer}/type")), r if r != self.pos.value(pointer))
        {
            format!("{pointer}/type")
        } else {
            pointer.to_owned()
        };
        self.at_value(
            &at,
            format!("the root of a tool's {which} schema must be `type: object`"),
        );
        self.help(format!(
            "clients drop tools whose {which} schema is not an object; put the values under `properties`"
        ));
    }

    pub(super) fn pattern_error(&mut self, pointer: &str, shape: &str, s: &str) {
        match shape {
            "/name" => {
                self.at_value(pointer, format!("`{s}` is not a valid name"));
                self.help("use lowercase letters, digits and single dashes, starting with a letter, e.g. `medtainer`");
            }
            "/version" => {
                self.at_value(pointer, format!("`{s}` is not a semantic version"));
                self.help("write it as MAJOR.MINOR.PATCH, e.g. `0.1.0`");
            }
            "/tools/*/name" => {
                let why = if s.is_empty() {
                    "is empty".to_string()
                } else if s.chars().count() > 64 {
                    format!("is {} characters long, over 64", s.chars().count())
                } else {
                    let bad = s
                        .chars()
                        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
                        .unwrap_or(' ');
                    format!("contains `{bad}`")
                };
                let message = if s.is_empty() {
                    "tool name is empty".to_string()
                } else {
                    format!("tool name `{s}` {why}")
                };
                self.at_value(pointer, message);
                self.help("tool names are 1 to 64 letters, digits, `_` or `-`: Claude drops every tool of a server when one name is outside that");
            }
            "/auth/default_scopes/*" | "/tools/*/scopes/*" => self.bad_scope(pointer, s, false),
            "/auth/tokens/access_ttl"
            | "/auth/tokens/refresh_ttl"
            | "/auth/tokens/refresh_reuse_grace" => {
                self.at_value(pointer, format!("`{s}` is not a duration"));
                self.help("write a whole number and a unit: `90s`, `15m`, `1h` or `30d`");
            }
            "/server/bind" => {
                self.at_value(pointer, format!("`{s}` is not `host:port`"));
                self.help("e.g. `0.0.0.0:8080`, or `[::]:8080` for IPv6");
            }
            "/server/public_url" | "/auth/issuer" => {
                self.at_value(pointer, format!("`{s}` is not an http or https URL"));
                self.help("write the full origin, e.g. `https://mcp.example.com`");
            }
            "/server/endpoint" => {
                self.at_value(pointer, format!("endpoint `{s}` does not start with `/`"));
                self.help("write a path, e.g. `/mcp`");
            }
            _ => {
                let what = display_path(pointer);
                self.at_value(pointer, format!("`{what}` has an invalid value `{s}`"));
            }
        }
    }
}

/// The spec format's JSON Schema, generated once per process.
pub(super) fn spec_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(spec::json_schema)
}

pub(super) fn schema_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(spec_schema())
            .expect("the generated spec schema is valid JSON Schema")
    })
}

/// The pointer with array indices replaced by `*`, to match locations against known ones.
pub(super) fn shape(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|t| {
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The schema type (a `$defs` name, or the root) describing the mapping at a location.
pub(super) fn def_for(shape: &str) -> Option<&'static str> {
    Some(match shape {
        "" => "",
        "/server" => "Server",
        "/auth" => "Auth",
        "/auth/tokens" => "Tokens",
        "/auth/registration" => "Registration",
        "/tools/*" => "Tool",
        "/tools/*/annotations" => "Annotations",
        s if s.starts_with("/auth/scopes/") && s.matches('/').count() == 3 => "ScopeDef",
        _ => return None,
    })
}

pub(super) fn known_keys(shape: &str) -> Vec<String> {
    let schema = spec_schema();
    let Some(def) = def_for(shape) else {
        return Vec::new();
    };
    let node = if def.is_empty() {
        Some(schema)
    } else {
        schema.pointer(&format!("/$defs/{def}"))
    };
    node.and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

pub(super) fn required_help(shape: &str, key: &str) -> Option<String> {
    Some(match (shape, key) {
        ("", "mcpgen") => "start the file with `mcpgen: 1`".into(),
        ("", "server") => "add `server:` with `public_url: https://...`".into(),
        ("/server", "public_url") => {
            "add the origin clients reach, e.g. `public_url: https://mcp.example.com`".into()
        }
        ("/tools/*", "input") => "tools without arguments take `input: { type: object }`".into(),
        ("/tools/*", "description") => {
            "say what the tool does; the model reads it to decide when to call it".into()
        }
        _ => return None,
    })
}

pub(super) fn type_words(t: &str) -> String {
    match t {
        "object" => "a mapping".into(),
        "array" => "a sequence".into(),
        "string" => "a string".into(),
        "integer" => "a whole number".into(),
        "number" => "a number".into(),
        "boolean" => "`true` or `false`".into(),
        "null" => "null".into(),
        other => other.into(),
    }
}

pub(super) fn backticked(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}
