//! Validate: the JSON Schema check, then the checks a schema cannot express.
//!
//! Every problem in a file is collected (none stops the others), located by JSON Pointer and
//! turned into a [`Diagnostic`] with the message a person needs.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use mcpgen_rules::base_url::{self, BaseUrlError, check_base_url};
use mcpgen_rules::{is_loopback_host, is_loopback_url, is_scope_token};
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::naming;
use crate::parse::{Document, Positions, describe, push_pointer};
use crate::spec::{self, Spec};

/// The variable through which a template sees who calls (the runtime's
/// `mcpgen_runtime::template::CALLER`).
const TEMPLATE_CALLER: &str = "caller";

/// Validates a parsed spec. `Ok` only when the spec is free of every known problem.
pub fn validate(doc: &Document) -> Result<Spec, Vec<Diagnostic>> {
    let mut v = Checker {
        pos: &doc.positions,
        diags: Vec::new(),
    };
    v.schema(&doc.value);
    v.semantics(&doc.value);
    v.text(&doc.value);
    if !v.diags.is_empty() {
        return Err(v.diags);
    }
    // The schema was generated from these types, so this only fails if they drift apart.
    serde_json::from_value(doc.value.clone()).map_err(|e| {
        vec![Diagnostic::new(
            format!("internal error: the spec passed validation but does not load: {e}"),
            0..0,
        )]
    })
}

/// The spec format's JSON Schema, generated once per process.
fn spec_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(spec::json_schema)
}

fn schema_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(spec_schema())
            .expect("the generated spec schema is valid JSON Schema")
    })
}

/// `tools[2].input.properties.type`: a pointer as a person reads it.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    if out.is_empty() {
        "the spec".into()
    } else {
        out
    }
}

/// The pointer with array indices replaced by `*`, to match locations against known ones.
fn shape(pointer: &str) -> String {
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
fn def_for(shape: &str) -> Option<&'static str> {
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

fn known_keys(shape: &str) -> Vec<String> {
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

/// The closest candidate to `word`, when it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Why a string is not an RFC 6749 scope-token, in words; `None` when it is one
/// ([`mcpgen_rules::is_scope_token`] decides).
pub fn scope_problem(scope: &str) -> Option<String> {
    if is_scope_token(scope) {
        return None;
    }
    if scope.is_empty() {
        return Some("is empty".into());
    }
    if scope.starts_with(' ') {
        return Some("starts with a space".into());
    }
    if scope.ends_with(' ') {
        return Some("ends with a space".into());
    }
    for c in scope.chars() {
        let problem = match c {
            ' ' => "contains a space".to_string(),
            '"' => "contains a double quote".to_string(),
            '\\' => "contains a backslash".to_string(),
            c if c.is_ascii_control() => {
                format!("contains the control character U+{:04X}", c as u32)
            }
            c if !c.is_ascii() => format!("contains the non-ASCII character `{c}`"),
            _ => continue,
        };
        return Some(problem);
    }
    Some("is not a scope-token".into())
}

const SCOPE_HELP: &str = "a scope is an RFC 6749 scope-token: printable ASCII with no spaces, quotes or backslashes; clients join scopes with spaces, so one bad scope corrupts every token request";

/// Paths the generated server answers itself; the MCP endpoint cannot take them.
const RESERVED_PATHS: &[&str] = &["/authorize", "/token", "/register", "/revoke", "/healthz"];

struct Checker<'a> {
    pos: &'a Positions,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at_value(&mut self, pointer: &str, message: impl Into<String>) -> &mut Diagnostic {
        let span = self.pos.value(pointer);
        self.push(Diagnostic::new(message, span))
    }

    fn at_key(&mut self, pointer: &str, message: impl Into<String>) -> &mut Diagnostic {
        let span = self.pos.key(pointer);
        self.push(Diagnostic::new(message, span))
    }

    /// The first line of a node: where "this mapping is missing a key" points.
    fn head(&self, pointer: &str) -> Range<usize> {
        if pointer.is_empty() {
            // The whole file would be one huge span; its first character says "the spec".
            0..0
        } else {
            self.pos.key(pointer)
        }
    }

    fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }

    fn help(&mut self, help: impl Into<String>) {
        if let Some(d) = self.diags.last_mut() {
            d.help = Some(help.into());
        }
    }

    // ----- the JSON Schema check -----

    fn schema(&mut self, value: &Value) {
        let errors: Vec<ValidationError<'_>> = schema_validator().iter_errors(value).collect();
        for e in &errors {
            self.schema_error(e);
        }
    }

    fn schema_error(&mut self, e: &ValidationError<'_>) {
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

    fn enum_error(&mut self, pointer: &str, shape: &str, instance: &Value, options: &[Value]) {
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

    fn root_not_object(&mut self, pointer: &str) {
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

    fn pattern_error(&mut self, pointer: &str, shape: &str, s: &str) {
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

    fn bad_scope(&mut self, pointer: &str, scope: &str, key: bool) {
        let why = scope_problem(scope).unwrap_or_else(|| "is not a scope-token".into());
        let message = if scope.is_empty() {
            "scope name is empty".to_string()
        } else {
            format!("scope `{}` {why}", scope.escape_debug())
        };
        if key {
            self.at_key(pointer, message);
        } else {
            self.at_value(pointer, message);
        }
        self.help(SCOPE_HELP);
    }

    // ----- checks a schema cannot express -----

    fn semantics(&mut self, spec: &Value) {
        let public_url = spec.pointer("/server/public_url").and_then(Value::as_str);
        let public_loopback = public_url.is_some_and(is_loopback_url);
        if let Some(url) = public_url {
            self.origin_url("/server/public_url", url);
        }
        if let Some(endpoint) = spec.pointer("/server/endpoint").and_then(Value::as_str) {
            self.endpoint(endpoint);
        }
        if let Some(bind) = spec.pointer("/server/bind").and_then(Value::as_str) {
            self.bind(bind);
        }
        if let Some(origins) = spec
            .pointer("/server/allowed_origins")
            .and_then(Value::as_array)
        {
            for (i, o) in origins.iter().enumerate() {
                if let Some(o) = o.as_str() {
                    self.allowed_origin(&format!("/server/allowed_origins/{i}"), o);
                }
            }
        }
        if let Some(origins) = spec
            .pointer("/server/hosted_client_origins")
            .and_then(Value::as_array)
        {
            for (i, o) in origins.iter().enumerate() {
                if let Some(o) = o.as_str() {
                    self.allowed_origin(&format!("/server/hosted_client_origins/{i}"), o);
                }
            }
        }
        self.unique_strings("/server/protocol_versions", spec, "protocol version");

        let auth = spec.get("auth");
        let auth_none = auth.and_then(Value::as_str) == Some("none");
        if auth_none && public_url.is_some() && !public_loopback {
            self.at_value("/auth", "`auth: none` needs a loopback public URL");
            self.help("a server on the internet must authenticate its clients; remove `auth: none`, or use `http://127.0.0.1:PORT` for a local server");
        }
        let declared: Vec<String> = spec
            .pointer("/auth/scopes")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if declared.iter().any(|s| s == "offline_access") {
            self.at_key(
                "/auth/scopes/offline_access",
                "`offline_access` is not a scope to declare",
            );
            self.help("mcpgen offers `offline_access` for refresh tokens itself; remove it here");
        }
        // A misspelt `scopes` key is reported as such, not as a missing scope.
        let scopes_misspelt = auth.and_then(Value::as_object).is_some_and(|a| {
            a.keys()
                .any(|k| k != "scopes" && nearest(k, ["scopes"]).is_some())
        });
        if !auth_none
            && declared.is_empty()
            && !scopes_misspelt
            && auth.is_none_or(Value::is_object)
        {
            let at = if auth.is_some() { "/auth" } else { "" };
            let span = self.head(at);
            self.push(Diagnostic::new(
                "an OAuth server needs at least one scope",
                span,
            ));
            self.help("declare one under `auth.scopes`, e.g. `mcp: { description: Use this server }`; or write `auth: none` for a loopback server");
        }
        if let Some(Value::Array(defaults)) = spec.pointer("/auth/default_scopes")
            && defaults.is_empty()
        {
            self.at_value(
                "/auth/default_scopes",
                "`auth.default_scopes` must not be empty",
            );
            self.help("list the scopes a client gets when it asks for none, or remove the key to use every declared scope");
        }
        if let Some(auth) = auth.and_then(Value::as_object) {
            if let Some(issuer) = auth.get("issuer").and_then(Value::as_str) {
                self.origin_url("/auth/issuer", issuer);
            }
            if auth.get("consent").and_then(Value::as_str) == Some("auto")
                && public_url.is_some()
                && !public_loopback
            {
                self.at_value(
                    "/auth/consent",
                    "`consent: auto` needs a loopback public URL",
                );
                self.help("with `auto`, anyone who reaches the server gets a token; use `password` on a public server");
            }
            self.scope_refs("/auth/default_scopes", spec, &declared, auth_none);
            self.unique_strings("/auth/default_scopes", spec, "scope");
            self.ttls(auth);
            if let Some(uris) = spec
                .pointer("/auth/registration/redirect_uris")
                .and_then(Value::as_array)
            {
                for (i, u) in uris.iter().enumerate() {
                    if let Some(u) = u.as_str() {
                        self.redirect_uri(&format!("/auth/registration/redirect_uris/{i}"), u);
                    }
                }
            }
        }
        if let Some(tools) = spec.get("tools").and_then(Value::as_array) {
            self.tools(tools, spec, &declared, auth_none);
        }
    }

    /// A public URL or issuer: a base URL ([`mcpgen_rules::check_base_url`]) that is an
    /// origin, without a path.
    fn origin_url(&mut self, pointer: &str, raw: &str) {
        let what = display_path(pointer);
        let url = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(e) => {
                // The schema already reported values that are not http(s) at all.
                if raw.starts_with("http://") || raw.starts_with("https://") {
                    self.at_value(pointer, format!("`{raw}` is not a valid URL: {e}"));
                }
                return;
            }
        };
        match check_base_url(&url) {
            Err(BaseUrlError::NotHttp | BaseUrlError::NotUrl(_)) => {}
            Err(BaseUrlError::QueryOrFragment) => {
                self.at_value(
                    pointer,
                    format!("`{what}` must not have a query or fragment"),
                );
                self.help(format!(
                    "write the origin alone, e.g. `{}://{}`",
                    url.scheme(),
                    url.host_str().unwrap_or("host")
                ));
            }
            Err(BaseUrlError::Credentials) => {
                self.at_value(pointer, format!("`{what}` must not carry credentials"));
            }
            Ok(()) | Err(BaseUrlError::InsecureHttp) if url.path() != "/" => {
                self.at_value(
                    pointer,
                    format!("`{what}` must be an origin, without a path"),
                );
                if pointer == "/server/public_url" {
                    self.help(format!(
                        "put the path in `server.endpoint`: clients look for OAuth metadata at the origin root; public_url `{}`",
                        base_url::origin(&url)
                    ));
                } else {
                    self.help(format!(
                        "the authorization server lives at the origin: `{}`",
                        base_url::origin(&url)
                    ));
                }
            }
            Err(BaseUrlError::InsecureHttp) => {
                self.at_value(
                    pointer,
                    format!("`{raw}` uses plain http on a host that is not loopback"),
                );
                self.help(format!(
                    "use `https://{}`: clients refuse OAuth over plain http except on localhost",
                    url.host_str().unwrap_or("host")
                ));
            }
            Ok(()) => {}
        }
    }

    fn endpoint(&mut self, endpoint: &str) {
        let p = "/server/endpoint";
        if !endpoint.starts_with('/') {
            return; // the schema's pattern reported it
        }
        if endpoint.contains(['?', '#']) {
            self.at_value(
                p,
                format!("endpoint `{endpoint}` must be a path without a query or fragment"),
            );
        } else if endpoint.len() > 1 && endpoint.ends_with('/') {
            self.at_value(p, format!("endpoint `{endpoint}` ends with `/`"));
            self.help(format!(
                "write `{}`; the server answers the trailing-slash form too",
                endpoint.trim_end_matches('/')
            ));
        } else if endpoint.contains("//")
            || !endpoint
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
        {
            self.at_value(p, format!("endpoint `{endpoint}` is not a plain path"));
            self.help("use letters, digits, `-`, `_`, `.`, `~` and single `/`, e.g. `/mcp`");
        } else if endpoint == "/.well-known"
            || endpoint.starts_with("/.well-known/")
            || RESERVED_PATHS.contains(&endpoint)
        {
            self.at_value(
                p,
                format!("endpoint `{endpoint}` is a path the server already answers"),
            );
            self.help("use another path, e.g. `/mcp`");
        }
    }

    fn bind(&mut self, bind: &str) {
        let port = bind.rsplit(':').next().and_then(|p| p.parse::<u32>().ok());
        if port.is_some_and(|p| p > 65535) {
            self.at_value("/server/bind", format!("port in `{bind}` is over 65535"));
        }
    }

    fn allowed_origin(&mut self, pointer: &str, raw: &str) {
        let ok = url::Url::parse(raw).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
                && !raw.ends_with('/')
        });
        if ok.is_none() {
            self.at_value(pointer, format!("`{raw}` is not an origin"));
            self.help("an origin is a scheme, a host and an optional port, e.g. `https://app.example.com`");
        }
    }

    fn redirect_uri(&mut self, pointer: &str, raw: &str) {
        let url = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(e) => {
                self.at_value(pointer, format!("`{raw}` is not an absolute URI: {e}"));
                return;
            }
        };
        if url.fragment().is_some() {
            self.at_value(pointer, format!("redirect URI `{raw}` has a fragment"));
            self.help("OAuth forbids fragments in redirect URIs (RFC 6749 §3.1.2)");
            return;
        }
        match url.scheme() {
            "https" => {}
            "http" if url.host_str().is_some_and(is_loopback_host) => {}
            "http" => {
                self.at_value(
                    pointer,
                    format!("redirect URI `{raw}` uses plain http on a host that is not loopback"),
                );
                self.help("use https, or a loopback address such as `http://127.0.0.1/callback`");
            }
            scheme if scheme.contains('.') => {} // a private-use scheme (RFC 8252 §7.1)
            scheme => {
                self.at_value(
                    pointer,
                    format!("redirect URI scheme `{scheme}` is not allowed"),
                );
                self.help("native apps use a reverse-domain scheme such as `com.example.app:/callback` (RFC 8252 §7.1)");
            }
        }
    }

    fn ttls(&mut self, auth: &serde_json::Map<String, Value>) {
        let ttl = |key: &str| {
            auth.get("tokens")
                .and_then(|t| t.get(key))
                .and_then(Value::as_str)
                .and_then(parse_duration)
        };
        let access = ttl("access_ttl").unwrap_or(3600);
        let refresh = ttl("refresh_ttl").unwrap_or(30 * 86400);
        if access < 60 {
            self.at_value(
                "/auth/tokens/access_ttl",
                "`access_ttl` is shorter than a minute",
            );
            self.help("clients refresh on a schedule; give tokens at least `5m`");
        } else if access >= refresh {
            let at = if auth
                .get("tokens")
                .and_then(|t| t.get("refresh_ttl"))
                .is_some()
            {
                "/auth/tokens/refresh_ttl"
            } else {
                "/auth/tokens/access_ttl"
            };
            self.at_value(at, "`refresh_ttl` must be longer than `access_ttl`");
            self.help("e.g. `access_ttl: 1h` and `refresh_ttl: 30d`");
        }
        if ttl("refresh_reuse_grace").is_some_and(|g| g > spec::MAX_REFRESH_REUSE_GRACE_SECS) {
            self.at_value(
                "/auth/tokens/refresh_reuse_grace",
                "`refresh_reuse_grace` is longer than 10 minutes",
            );
            self.help("clients retry a refresh for up to about 80 s; `2m` covers that, and a longer grace lets a leaked refresh token mint tokens for longer");
        }
    }

    fn unique_strings(&mut self, pointer: &str, spec: &Value, what: &str) {
        let Some(items) = spec.pointer(pointer).and_then(Value::as_array) else {
            return;
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.as_str() else { continue };
            if let Some(first) = seen.get(s) {
                let first = self.pos.value(&format!("{pointer}/{first}"));
                self.at_value(
                    &format!("{pointer}/{i}"),
                    format!("{what} `{s}` is listed twice"),
                )
                .related
                .push((first, "first listed here".into()));
            } else {
                seen.insert(s, i);
            }
        }
    }

    fn scope_refs(&mut self, pointer: &str, spec: &Value, declared: &[String], auth_none: bool) {
        let Some(items) = spec.pointer(pointer).and_then(Value::as_array) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.as_str() else { continue };
            if scope_problem(s).is_some() || declared.iter().any(|d| d == s) {
                continue;
            }
            let at = format!("{pointer}/{i}");
            if auth_none {
                self.at_value(&at, format!("scope `{s}` is named, but `auth` is `none`"));
                self.help("a server without authentication has no scopes; remove this list");
            } else {
                self.at_value(&at, format!("scope `{s}` is not declared"));
                let valid = declared
                    .iter()
                    .map(String::as_str)
                    .filter(|d| scope_problem(d).is_none());
                match nearest(s, valid) {
                    Some(near) => self.help(format!("did you mean `{near}`?")),
                    None => self.help(format!(
                        "declare it under `auth.scopes`: `{s}: {{ description: ... }}`"
                    )),
                }
            }
        }
    }

    fn tools(&mut self, tools: &[Value], spec: &Value, declared: &[String], auth_none: bool) {
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
    fn template(&mut self, pointer: &str, src: &str, arguments: &[&str]) {
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

    /// Every string and key of the spec: no control characters (tab, line feed and carriage
    /// return aside in text that may span lines) and no bidirectional controls; see
    /// [`text`](crate::text) for why.
    fn text(&mut self, spec: &Value) {
        let mut stack = vec![(String::new(), spec, false)];
        while let Some((pointer, value, data)) = stack.pop() {
            match value {
                Value::String(s) => {
                    let key = pointer.rsplit('/').next().unwrap_or("");
                    let lines = data || MULTI_LINE_KEYS.contains(&key);
                    if let Some((at, bad)) = crate::text::first_forbidden(s, lines) {
                        let what = format!("`{}`", display_path(&pointer));
                        self.forbidden_char(&pointer, &what, at, bad, lines, false);
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        stack.push((format!("{pointer}/{i}"), item, data));
                    }
                }
                Value::Object(map) => {
                    let in_schema = {
                        let mut t = pointer.split('/');
                        t.nth(1) == Some("tools") && matches!(t.nth(1), Some("input" | "output"))
                    };
                    for (k, v) in map {
                        let here = push_pointer(&pointer, k);
                        if let Some((at, bad)) = crate::text::first_forbidden(k, false) {
                            let what = if pointer.is_empty() {
                                "a top-level key".to_owned()
                            } else {
                                format!("a key in `{}`", display_path(&pointer))
                            };
                            self.forbidden_char(&here, &what, at, bad, false, true);
                        }
                        let data = data || (in_schema && SCHEMA_DATA_KEYS.contains(&k.as_str()));
                        stack.push((here, v, data));
                    }
                }
                _ => {}
            }
        }
    }

    fn forbidden_char(
        &mut self,
        pointer: &str,
        what: &str,
        at: usize,
        bad: crate::text::Forbidden,
        lines: bool,
        key: bool,
    ) {
        use crate::text::Forbidden;
        // Names, scopes and URLs have rules of their own, already reported at this place.
        let span = if key {
            self.pos.key(pointer)
        } else {
            self.pos.value(pointer)
        };
        if self.diags.iter().any(|d| d.span == span) {
            return;
        }
        let message = match bad {
            Forbidden::Control(c) => format!(
                "{what} contains the control character U+{:04X} at character {at}",
                c as u32
            ),
            Forbidden::Bidi(c) => format!(
                "{what} contains the bidirectional control U+{:04X} at character {at}",
                c as u32
            ),
        };
        self.push(Diagnostic::new(message, span));
        self.help(match (bad, lines) {
            (Forbidden::Bidi(_), _) => "remove it: it makes text display in an order other than the one it is read in; write the text in its natural order".to_owned(),
            (Forbidden::Control(_), true) => "remove it: descriptions, instructions, templates and schema values may hold tab, line feed and carriage return, but no other control character".to_owned(),
            (Forbidden::Control(_), false) => "remove it: titles, names, keys and other one-line values hold no control characters (not even tab or line breaks; only descriptions, instructions, templates and schema values may span lines)".to_owned(),
        });
    }

    /// An input or output schema: a valid JSON Schema whose root clients accept.
    fn tool_schema(&mut self, pointer: &str, schema: &Value, input: bool) {
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
    fn keywords(&mut self, pointer: &str, schema: &Value) {
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
    fn refs(&mut self, pointer: &str, schema: &Value) -> bool {
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

    /// Property names of one object that become the same Rust field name.
    fn property_idents(&mut self, pointer: &str, schema: &Value) {
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

/// Every schema object inside `schema` (itself included) with its pointer, following only the
/// keywords whose values are schemas, so data (`const`, `enum`, `default`, a property named
/// `properties`) is never mistaken for a schema.
fn subschemas<'a>(
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

/// Keys whose string values may span lines: tab, line feed and carriage return are allowed.
const MULTI_LINE_KEYS: &[&str] = &["description", "instructions", "template"];
/// Schema keywords whose values are data (any string a tool may receive or return), where
/// tab, line feed and carriage return are allowed too.
const SCHEMA_DATA_KEYS: &[&str] = &["default", "const", "enum", "examples"];

#[derive(Clone, Copy)]
enum KeywordKind {
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
const SCHEMA_KEYWORDS: &[(&str, KeywordKind)] = {
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

fn keyword_kind(k: &str) -> Option<KeywordKind> {
    SCHEMA_KEYWORDS
        .iter()
        .find(|(name, _)| *name == k)
        .map(|(_, kind)| *kind)
}

/// `%2F`-style escapes in a URI fragment, decoded (JSON Pointer fragments use them).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a tool name is what Claude accepts: [`crate::spec::TOOL_NAME_PATTERN`],
/// `^[a-zA-Z0-9_-]{1,64}$`.
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn required_help(shape: &str, key: &str) -> Option<String> {
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

fn type_words(t: &str) -> String {
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

fn backticked(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Seconds in a duration such as `90s`, `15m`, `1h`, `30d`.
pub fn parse_duration(s: &str) -> Option<u64> {
    let unit = match s.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return None,
    };
    let n: u64 = s[..s.len() - 1].parse().ok()?;
    if n == 0 || s.starts_with('0') {
        return None;
    }
    n.checked_mul(unit)
}
