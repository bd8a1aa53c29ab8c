//! Model: the resolved spec. Defaults are filled in and Rust names chosen, so later stages
//! never decide anything; only ordered collections, nothing from the machine or the clock.

use serde_json::Value;

use crate::naming;
use crate::spec::{self, AuthSetting, Handler, Lint, Login, ProtocolVersion, Spec};
use crate::types::TypeSpace;
use crate::validate::parse_duration;
use mcpgen_rules::base_url;
use mcpgen_rules::is_loopback_url;

/// A spec with every default resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The spec's `name`.
    pub name: String,
    /// `<name>-mcp`: the crate and binary.
    pub crate_name: String,
    /// `<name>_mcp`: the crate's library as `main.rs` names it.
    pub lib_name: String,
    pub version: String,
    pub title: String,
    pub description: Option<String>,
    pub instructions: Option<String>,
    /// Origin without a trailing slash, e.g. `https://mcp.example.com`.
    pub public_url: String,
    /// Path of the MCP endpoint, e.g. `/mcp`.
    pub endpoint: String,
    /// `public_url` + `endpoint`: the OAuth resource and the URL users enter.
    pub resource: String,
    pub public_url_is_loopback: bool,
    pub bind: String,
    pub allowed_origins: Vec<String>,
    /// `None`: the runtime's list of hosted-client origins (so it moves with the runtime);
    /// `Some`: exactly these (empty for `false`).
    pub hosted_client_origins: Option<Vec<String>>,
    pub protocol_versions: Vec<ProtocolVersion>,
    /// `None` for `auth: none`.
    pub auth: Option<AuthModel>,
    pub tools: Vec<ToolModel>,
    /// The Rust types of the `rust` tools' inputs and outputs, nested ones included.
    pub types: TypeSpace,
    /// Warnings the spec silences (`allow`), sorted, without repeats.
    pub allow: Vec<Lint>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthModel {
    /// Byte-identical in every document the server emits.
    pub issuer: String,
    /// Sorted by name.
    pub scopes: Vec<ScopeModel>,
    pub default_scopes: Vec<String>,
    /// `auth.login`, or the former `auth.consent`; default `password`.
    pub login: Login,
    /// `auth.oidc`; validate made sure it is there with `login: oidc` (with another login it
    /// serves `--login oidc`).
    pub oidc: Option<OidcModel>,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// See `auth.tokens.refresh_reuse_grace`.
    pub refresh_reuse_grace_secs: u64,
    pub dynamic_registration: bool,
    pub client_id_metadata_documents: bool,
    pub extra_redirect_uris: Vec<String>,
}

/// `auth.oidc`, resolved: absent lists are empty.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcModel {
    pub issuer: Option<String>,
    pub emails: Vec<String>,
    pub domains: Vec<String>,
    /// (name, value) of the required claim.
    pub claim: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScopeModel {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolModel {
    pub name: String,
    /// snake_case: the handler method.
    pub ident: String,
    /// PascalCase: the prefix of its input and output types.
    pub type_name: String,
    /// The input type (in `tools.rs`) of a `rust` tool; `None` for a template.
    pub input_type: Option<String>,
    /// The output type of a `rust` tool with an output schema.
    pub output_type: Option<String>,
    /// The field of `Dispatch` that holds a template tool's compiled template.
    pub template_field: Option<String>,
    pub title: String,
    pub description: String,
    /// Scopes a token needs for this tool (resolved from `default_scopes` when unset).
    pub scopes: Vec<String>,
    pub annotations: AnnotationsModel,
    pub input: Value,
    pub output: Option<Value>,
    pub handler: Handler,
    pub template: Option<String>,
}

/// All four hints, always stated (the tool's title is the fifth).
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationsModel {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// `get_order_status` → `Get order status`.
fn title_from(name: &str) -> String {
    let words: Vec<String> = name
        .split(['_', '-', '.'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let mut title = words.join(" ");
    if let Some(first) = title.get(..1) {
        title = first.to_ascii_uppercase() + &title[1..];
    }
    title
}

/// The origin of a validated URL, normalised (lowercase host, no default port, no slash).
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| base_url::origin(&u))
        .unwrap_or_else(|_| url.trim_end_matches('/').to_owned())
}

impl Model {
    /// Resolves a validated spec. Validation guarantees what this relies on.
    pub fn new(spec: &Spec) -> Self {
        let public_url = origin(&spec.server.public_url);
        let parsed = url::Url::parse(&public_url).ok();
        let loopback = is_loopback_url(&public_url);
        let endpoint = spec
            .server
            .endpoint
            .clone()
            .unwrap_or_else(|| "/mcp".into());
        let bind = spec.server.bind.clone().unwrap_or_else(|| {
            if loopback {
                let port = parsed.as_ref().and_then(url::Url::port).unwrap_or(8080);
                format!("127.0.0.1:{port}")
            } else {
                "0.0.0.0:8080".into()
            }
        });
        let protocol_versions = if spec.server.protocol_versions.is_empty() {
            ProtocolVersion::ALL.to_vec()
        } else {
            let mut v = spec.server.protocol_versions.clone();
            v.sort();
            v.dedup();
            v
        };
        let auth = match &spec.auth {
            AuthSetting::None(_) => None,
            AuthSetting::OAuth(a) => Some(AuthModel {
                issuer: a
                    .issuer
                    .as_deref()
                    .map_or_else(|| public_url.clone(), origin),
                scopes: a
                    .scopes
                    .iter()
                    .map(|(name, def)| ScopeModel {
                        name: name.clone(),
                        description: def.description.clone(),
                    })
                    .collect(),
                default_scopes: match &a.default_scopes {
                    Some(list) => list.iter().map(|s| s.0.clone()).collect(),
                    None => a.scopes.keys().cloned().collect(),
                },
                login: a
                    .login
                    .or(a.consent.map(Login::from))
                    .unwrap_or(Login::Password),
                oidc: a.oidc.as_ref().map(|o| OidcModel {
                    issuer: o.issuer.clone(),
                    emails: o.allow.emails.clone().unwrap_or_default(),
                    domains: o.allow.domains.clone().unwrap_or_default(),
                    claim: o
                        .allow
                        .claim
                        .as_ref()
                        .map(|c| (c.name.clone(), c.value.clone())),
                }),
                access_ttl_secs: ttl(
                    a.tokens.as_ref().and_then(|t| t.access_ttl.as_deref()),
                    3600,
                ),
                refresh_ttl_secs: ttl(
                    a.tokens.as_ref().and_then(|t| t.refresh_ttl.as_deref()),
                    30 * 86400,
                ),
                refresh_reuse_grace_secs: ttl(
                    a.tokens
                        .as_ref()
                        .and_then(|t| t.refresh_reuse_grace.as_deref()),
                    spec::DEFAULT_REFRESH_REUSE_GRACE_SECS,
                ),
                dynamic_registration: a
                    .registration
                    .as_ref()
                    .and_then(|r| r.dynamic)
                    .unwrap_or(true),
                client_id_metadata_documents: a
                    .registration
                    .as_ref()
                    .and_then(|r| r.client_id_metadata_documents)
                    .unwrap_or(false),
                extra_redirect_uris: a
                    .registration
                    .as_ref()
                    .map(|r| r.redirect_uris.clone())
                    .unwrap_or_default(),
            }),
        };
        let default_scopes = auth
            .as_ref()
            .map(|a| a.default_scopes.clone())
            .unwrap_or_default();
        let mut tools: Vec<ToolModel> = spec
            .tools
            .iter()
            .map(|t| tool(t, &default_scopes))
            .collect();
        let types = name_types(&mut tools);
        Model {
            name: spec.name.clone(),
            crate_name: format!("{}-mcp", spec.name),
            lib_name: format!("{}_mcp", spec.name.replace('-', "_")),
            version: spec.version.clone(),
            title: spec.title.clone().unwrap_or_else(|| title_from(&spec.name)),
            description: spec.description.clone(),
            instructions: spec.instructions.clone(),
            resource: format!("{public_url}{endpoint}"),
            public_url,
            endpoint,
            public_url_is_loopback: loopback,
            bind,
            allowed_origins: spec.server.allowed_origins.clone(),
            hosted_client_origins: match &spec.server.hosted_client_origins {
                None | Some(spec::HostedClientOrigins::Default(true)) => None,
                Some(spec::HostedClientOrigins::Default(false)) => Some(Vec::new()),
                Some(spec::HostedClientOrigins::Only(list)) => Some(list.clone()),
            },
            protocol_versions,
            auth,
            tools,
            types,
            allow: {
                let mut allow = spec.allow.clone();
                allow.sort();
                allow.dedup();
                allow
            },
        }
    }
}

/// Names `tools.rs` defines or imports besides the tool types, and the prelude's types, so
/// no tool type can shadow them.
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    "Tools",
    "Dispatch",
    "Handlers",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ToolHandler",
    "BoxFuture",
    "Template",
    "Deserialize",
    "Serialize",
    "DeserializeOwned",
    "Value",
    "Map",
    "BTreeMap",
    "String",
    "Vec",
    "Option",
    "Box",
    "Result",
];

/// Names every tool's types (in spec order, so names never depend on anything else) and its
/// template field.
fn name_types(tools: &mut [ToolModel]) -> TypeSpace {
    let mut space = TypeSpace::new(RESERVED_TYPE_NAMES);
    for t in tools {
        match t.handler {
            Handler::Rust => {
                t.input_type = Some(space.root_struct(
                    &t.input,
                    &format!("{}Input", t.type_name),
                    vec![
                        format!("Arguments of `{}`.", t.name),
                        String::new(),
                        format!("Handled by [`Tools::{}`].", t.ident),
                    ],
                ));
                t.output_type = t.output.as_ref().map(|schema| {
                    space.root_struct(
                        schema,
                        &format!("{}Output", t.type_name),
                        vec![
                            format!("Structured result of `{}`.", t.name),
                            String::new(),
                            format!("Returned by [`Tools::{}`].", t.ident),
                        ],
                    )
                });
            }
            Handler::Template => {
                t.template_field = Some(format!("{}_template", t.ident.trim_end_matches('_')));
            }
        }
    }
    space
}

fn ttl(s: Option<&str>, default: u64) -> u64 {
    s.and_then(parse_duration).unwrap_or(default)
}

fn tool(t: &spec::Tool, default_scopes: &[String]) -> ToolModel {
    let title = t.title.clone().unwrap_or_else(|| title_from(&t.name));
    let a = t.annotations.clone().unwrap_or(spec::Annotations {
        read_only: None,
        destructive: None,
        idempotent: None,
        open_world: None,
    });
    let mut scopes: Vec<String> = match &t.scopes {
        Some(s) => s.iter().map(|s| s.0.clone()).collect(),
        None => default_scopes.to_vec(),
    };
    scopes.dedup();
    ToolModel {
        ident: naming::snake(&t.name),
        type_name: naming::pascal(&t.name),
        input_type: None,
        output_type: None,
        template_field: None,
        name: t.name.clone(),
        description: t.description.clone(),
        scopes,
        annotations: AnnotationsModel {
            read_only: a.read_only.unwrap_or(false),
            destructive: a.destructive.unwrap_or(true),
            idempotent: a.idempotent.unwrap_or(false),
            open_world: a.open_world.unwrap_or(true),
        },
        title,
        input: t.input.clone(),
        output: t.output.clone(),
        handler: t.handler.unwrap_or(Handler::Rust),
        template: t.template.clone(),
    }
}
