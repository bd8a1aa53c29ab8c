//! The spec, format 1: the Rust types a YAML spec deserializes into, and their JSON Schema.
//!
//! The schema is generated from these types (schemars), so the types, the validator and the
//! schema editors use cannot drift apart. Patterns here are the traps made unrepresentable.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
pub const SCOPE_PATTERN: &str = mcpgen_rules::SCOPE_TOKEN_PATTERN;
/// What Claude enforces on tool names; one bad name makes it drop every tool.
pub const TOOL_NAME_PATTERN: &str = "^[a-zA-Z0-9_-]{1,64}$";
/// The spec's name becomes the crate `<name>-mcp`.
pub const NAME_PATTERN: &str = "^[a-z][a-z0-9]*(-[a-z0-9]+)*$";
/// Semantic versioning 2.0.0.
pub const VERSION_PATTERN: &str =
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$";
/// A whole number followed by a unit: seconds, minutes, hours or days.
pub const DURATION_PATTERN: &str = "^[1-9][0-9]{0,8}[smhd]$";
/// `host:port`, with an IPv6 host in brackets.
pub const BIND_PATTERN: &str = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$";

/// An mcpgen spec, format 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mcpgen spec, format 1")]
pub struct Spec {
    /// Format of this file. Always `1`.
    #[schemars(schema_with = "format_schema")]
    pub mcpgen: u64,
    /// Lowercase name; the generated crate and binary are `<name>-mcp`.
    #[schemars(regex(pattern = NAME_PATTERN), length(max = 48))]
    pub name: String,
    /// The server's version (semver), reported in `serverInfo`.
    #[schemars(regex(pattern = VERSION_PATTERN))]
    pub version: String,
    /// Human-readable name shown by clients. Default: derived from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub title: Option<String>,
    /// One line on what the server is for (`serverInfo.description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub description: Option<String>,
    /// How the model should use these tools, sent at initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub instructions: Option<String>,
    pub server: Server,
    /// OAuth settings, or `none` for a loopback server with no authentication.
    #[serde(default)]
    pub auth: AuthSetting,
    /// Warnings of `mcpgen check` this spec silences, having weighed them. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub allow: Vec<Lint>,
    #[serde(default)]
    pub tools: Vec<Tool>,
}

/// A warning of `mcpgen check` that a spec can silence with `allow`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Lint {
    /// Tools that need scopes beyond `auth.default_scopes`, which clients that do not complete
    /// a step-up (claude.ai, Claude Code) can never call.
    StepUp,
}

fn format_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Format of this file. Always `1`.",
        "const": 1
    })
}

/// Where the server is reached and how its endpoint behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Canonical origin clients reach, e.g. `https://mcp.example.com`. The MCP resource is
    /// `public_url` + `endpoint`. Plain `http` only on a loopback host.
    #[schemars(regex(pattern = "^https?://"))]
    pub public_url: String,
    /// Path of the MCP endpoint. Default `/mcp` (some clients work with nothing else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^/"))]
    pub endpoint: Option<String>,
    /// `host:port` to listen on. Default: `127.0.0.1:8080` for a loopback public URL,
    /// `0.0.0.0:8080` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = BIND_PATTERN))]
    pub bind: Option<String>,
    /// Browser origins allowed to call the endpoint (requests without `Origin` always are).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Hosted clients' web origins allowed on a public server, beyond `allowed_origins`:
    /// `true` (default) for the runtime's list (claude.ai, claude.com, chatgpt.com), `false`
    /// for none, or a list of origins that replaces it. Loopback servers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_client_origins: Option<HostedClientOrigins>,
    /// Protocol versions served. Default: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub protocol_versions: Vec<ProtocolVersion>,
}

/// `server.hosted_client_origins`: on or off, or exactly these origins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HostedClientOrigins {
    /// `true`: the runtime's list of hosted-client origins; `false`: none.
    Default(bool),
    /// Exactly these origins (e.g. `[https://claude.ai]`).
    Only(Vec<String>),
}

/// An MCP protocol version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum ProtocolVersion {
    #[serde(rename = "2024-11-05")]
    V2024_11_05,
    #[serde(rename = "2025-03-26")]
    V2025_03_26,
    #[serde(rename = "2025-06-18")]
    V2025_06_18,
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
    #[serde(rename = "2026-07-28")]
    V2026_07_28,
}

impl ProtocolVersion {
    pub const ALL: [ProtocolVersion; 5] = [
        Self::V2024_11_05,
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
        Self::V2026_07_28,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }
}

/// `auth: none`, or the OAuth authorization server's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuthSetting {
    None(NoAuth),
    OAuth(Auth),
}

impl Default for AuthSetting {
    fn default() -> Self {
        Self::OAuth(Auth::default())
    }
}

impl JsonSchema for AuthSetting {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AuthSetting".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let auth = generator.subschema_for::<Auth>();
        json_schema!({
            "description": "OAuth settings, or `none` (only with a loopback public URL).",
            "anyOf": [{ "const": "none" }, auth]
        })
    }
}

/// The literal `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAuth {
    None,
}

/// The OAuth 2.1 authorization server built into the generated server.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Issuer identifier. Default: `server.public_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://"))]
    pub issuer: Option<String>,
    /// The scopes tokens can carry, by name (RFC 6749 scope-tokens).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "scopes_schema")]
    pub scopes: BTreeMap<String, ScopeDef>,
    /// Scopes granted when a client asks for none, and required by tools that name none.
    /// Default: every declared scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scopes: Option<Vec<ScopeName>>,
    /// How people sign in before they approve a client. Default `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
    /// The former name of `login`, from before users and OpenID sign-in: `password` or
    /// `auto`, as `login` takes them. Use `login`; a spec may not set both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
    /// The OpenID provider people sign in with, and who is admitted. Required with
    /// `login: oidc`; beside another login, it is used when the server runs with `--login oidc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<Box<Oidc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

fn scopes_schema(generator: &mut SchemaGenerator) -> Schema {
    let def = generator.subschema_for::<ScopeDef>();
    let name = generator.subschema_for::<ScopeName>();
    json_schema!({
        "description": "The scopes tokens can carry, by name (RFC 6749 scope-tokens).",
        "type": "object",
        "propertyNames": name,
        "additionalProperties": def
    })
}

/// A scope name: an RFC 6749 §3.3 scope-token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeName(pub String);

impl JsonSchema for ScopeName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ScopeName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An RFC 6749 scope-token: printable ASCII, no spaces, quotes or backslashes.",
            "type": "string",
            "pattern": SCOPE_PATTERN
        })
    }
}

/// What a scope allows, shown on the consent page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    #[schemars(length(min = 1))]
    pub description: String,
}

/// The former `auth.consent`: the two ways `auth.login` had before users and OpenID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Consent {
    /// As `login: password`.
    Password,
    /// As `login: auto`.
    Auto,
}

impl From<Consent> for Login {
    fn from(c: Consent) -> Self {
        match c {
            Consent::Password => Login::Password,
            Consent::Auto => Login::Auto,
        }
    }
}

/// How people sign in at the authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Login {
    /// One shared password (its Argon2 hash in `MCPGEN_PASSWORD_HASH`), typed on the consent
    /// page; every grant belongs to the subject `operator`.
    Password,
    /// Accounts in the server's store, managed with `<bin> users add|list|remove|passwd`;
    /// people sign in with name and password, and the subject is the user's name.
    Users,
    /// An upstream OpenID provider (`auth.oidc`) signs people in; the client id and secret
    /// come from `MCPGEN_OIDC_CLIENT_ID` and `MCPGEN_OIDC_CLIENT_SECRET`.
    Oidc,
    /// Approve at once, as the subject `local`. Only with a loopback public URL (tests,
    /// local development).
    Auto,
}

impl Login {
    /// The spec's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Login::Password => "password",
            Login::Users => "users",
            Login::Oidc => "oidc",
            Login::Auto => "auto",
        }
    }
}

/// An email address: something before and after one `@`, no spaces.
pub const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s]+$";
/// An email domain, lowercase: `example.com`.
pub const DOMAIN_PATTERN: &str =
    r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$";

/// `login: oidc`: the OpenID provider and who it admits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The provider's issuer URL, as its discovery document names it
    /// (`https://accounts.google.com`). Default: `MCPGEN_OIDC_ISSUER` at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://"))]
    pub issuer: Option<String>,
    /// Who is admitted once the provider signed them in: anyone matching one of the rules.
    /// At least one rule is required.
    pub allow: OidcAllow,
}

/// Admission rules of `login: oidc`; a person matching any one is admitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcAllow {
    /// Email addresses admitted (the provider must say the email is verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), inner(regex(pattern = EMAIL_PATTERN)))]
    pub emails: Option<Vec<String>>,
    /// Email domains admitted, lowercase: `example.com` admits `ada@example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), inner(regex(pattern = DOMAIN_PATTERN)))]
    pub domains: Option<Vec<String>>,
    /// An ID token claim that must hold a value (`groups` containing `mcp-users`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<OidcClaim>,
}

/// A required ID token claim value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcClaim {
    /// The claim's name (`groups`, `hd`, `roles`).
    #[schemars(length(min = 1))]
    pub name: String,
    /// The value it must equal, or, for a list claim, contain.
    #[schemars(length(min = 1))]
    pub value: String,
}

/// The default `refresh_reuse_grace`, in seconds: hosted clients retry refreshes in bursts
/// reported to last 30 to 80 s; two minutes covers them.
pub const DEFAULT_REFRESH_REUSE_GRACE_SECS: u64 = 120;

/// The longest `refresh_reuse_grace`, in seconds (the runtime refuses more, too).
pub const MAX_REFRESH_REUSE_GRACE_SECS: u64 = 600;

/// Token lifetimes and the refresh grace, as a number and a unit: `90s`, `15m`, `1h`, `30d`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// Default `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub access_ttl: Option<String>,
    /// Default `30d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub refresh_ttl: Option<String>,
    /// How long after a refresh token's first use presenting it again still gets fresh tokens
    /// (clients refresh several times at once, or retry a lost response) instead of revoking
    /// the grant as a reuse (RFC 9700 §4.14.2). Every answer stays valid until one is used.
    /// Default `2m`, at most `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub refresh_reuse_grace: Option<String>,
}

/// How clients register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Dynamic client registration (RFC 7591) at `/register`. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
    /// Client ID metadata documents (an https URL as `client_id`). Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_documents: Option<bool>,
    /// Redirect URIs allowed beyond the built-in list of known clients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
}

/// One tool the server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `^[a-zA-Z0-9_-]{1,64}$`: what Claude accepts.
    #[schemars(regex(pattern = TOOL_NAME_PATTERN))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub title: Option<String>,
    /// What the tool does, for the model.
    #[schemars(length(min = 1))]
    pub description: String,
    /// Scopes a token needs to call this tool. Default: `auth.default_scopes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<ScopeName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// JSON Schema of the arguments; the root must be `type: object`.
    #[schemars(schema_with = "object_schema")]
    pub input: Value,
    /// JSON Schema of the structured result; the root must be `type: object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "object_schema")]
    pub output: Option<Value>,
    /// `rust` (you write the handler) or `template` (text rendered from the arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<Handler>,
    /// A minijinja template, with the arguments in scope; for `handler: template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub template: Option<String>,
}

fn object_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A JSON Schema (2020-12) whose root is `type: object`.",
        "type": "object",
        "required": ["type"],
        "properties": { "type": { "const": "object" } }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Handler {
    Rust,
    Template,
}

/// Hints for clients; all of them, with the tool's title, are always sent. Defaults are the
/// MCP ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    /// Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    /// Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world: Option<bool>,
}

/// The JSON Schema of format 1, as `mcpgen schema` prints it.
pub fn json_schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<Spec>().to_value();
    strip_null(&mut schema);
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String("https://mcpgen.dev/schema/spec-1.json".into()),
        );
    }
    schema
}

/// Optional fields may be left out but not written as `null`: an empty `title:` is a mistake.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(branches)) = obj.get("anyOf")
                && branches.len() == 2
                && branches
                    .iter()
                    .any(|b| b == &serde_json::json!({"type": "null"}))
            {
                let keep = branches
                    .iter()
                    .find(|b| *b != &serde_json::json!({"type": "null"}))
                    .cloned();
                obj.remove("anyOf");
                if let Some(Value::Object(keep)) = keep {
                    for (k, v) in keep {
                        obj.entry(k).or_insert(v);
                    }
                }
            }
            for v in obj.values_mut() {
                strip_null(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}
