//! The generated crate's non-Rust files, from the minijinja templates in `generator/templates/`.

use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;

use super::{Options, RuntimeDep};
use crate::model::Model;
use crate::spec::Handler;

const CARGO_TOML: &str = include_str!("../../templates/Cargo.toml.j2");
const README: &str = include_str!("../../templates/README.md.j2");
const DOCKERFILE: &str = include_str!("../../templates/Dockerfile.j2");
const GITIGNORE: &str = include_str!("../../templates/gitignore.j2");
const DOCKERIGNORE: &str = include_str!("../../templates/dockerignore.j2");
const COMPOSE: &str = include_str!("../../templates/compose.yaml.j2");

/// Renders one embedded template. Templates are the generator's own, so a failure is a bug in
/// them, caught by the golden tests, never a problem with the user's spec.
fn render(name: &str, source: &str, ctx: minijinja::Value) -> String {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // None of the files is HTML, and a `.yaml` name would otherwise quote every value as JSON.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .expect("the default syntax with trailing newlines kept is valid");
    env.set_syntax(syntax);
    env.add_template(name, source)
        .and_then(|()| env.get_template(name))
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| panic!("template {name}: {e:#}"))
}

/// One cargo feature of `mcpgen-runtime` a generated crate turns on, and why (a comment line
/// in the generated `Cargo.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeFeature {
    pub name: &'static str,
    pub why: &'static str,
}

/// The `mcpgen-runtime` features the spec uses, in the runtime's order; the generated crate
/// depends on the runtime with `default-features = false` and exactly these. The rule:
/// - with auth, `oauth` (the sign-in, consent and error pages), `sqlite`, `redis` and
///   `password`: the store (`--store`) and the login mode (`--login` password or users) are
///   run-time choices, and the generated README, Dockerfile and `compose.yaml` use them (a
///   container of a `login: auto` spec runs with `MCPGEN_LOGIN=password`, replicas share
///   Redis); a server without auth has none of them;
/// - `cimd` with `auth.registration.client_id_metadata_documents: true`;
/// - `templates` when a tool has `handler: template`;
/// - `oidc` when the spec has `auth.oidc` (its login is `oidc`, or `--login oidc` may switch
///   to it at run time);
/// - `otlp` always: traces are switched on at run time (`OTEL_EXPORTER_OTLP_ENDPOINT`).
pub fn runtime_features(model: &Model) -> Vec<RuntimeFeature> {
    let mut out = Vec::new();
    let mut on = |name, why| out.push(RuntimeFeature { name, why });
    if let Some(auth) = &model.auth {
        on("oauth", "auth is on: the sign-in, consent and error pages");
        on(
            "sqlite",
            "auth is on: the SQLite store (--store sqlite:PATH, the default)",
        );
        on(
            "redis",
            "auth is on: the Redis store (--store redis://HOST)",
        );
        if auth.client_id_metadata_documents {
            on(
                "cimd",
                "auth.registration.client_id_metadata_documents: the https client that fetches them",
            );
        }
    }
    if model.tools.iter().any(|t| t.handler == Handler::Template) {
        on("templates", "tools with handler: template");
    }
    if let Some(auth) = &model.auth {
        on(
            "password",
            "auth is on: login password and users (--login, Argon2), hash-password and users add",
        );
        if auth.oidc.is_some() {
            on(
                "oidc",
                "auth.oidc: the OpenID Connect client and its https client (login oidc)",
            );
        }
    }
    on(
        "otlp",
        "traces, exported when OTEL_EXPORTER_OTLP_ENDPOINT is set at run time",
    );
    out
}

pub fn cargo_toml(model: &Model, options: &Options, header: &str) -> String {
    let version = super::GENERATOR_VERSION;
    let features = runtime_features(model);
    let list = features
        .iter()
        .map(|f| format!("\"{}\"", f.name))
        .collect::<Vec<_>>()
        .join(", ");
    let source = match &options.runtime {
        RuntimeDep::Registry => String::new(),
        RuntimeDep::Path(path) => format!("path = \"{path}\", "),
    };
    let runtime_dependency = format!(
        "mcpgen-runtime = {{ {source}version = \"{version}\", default-features = false, \
         features = [{list}] }}"
    );
    render(
        "Cargo.toml",
        CARGO_TOML,
        context! {
            header,
            crate_name => &model.crate_name,
            version => &model.version,
            description => &model.description,
            runtime_dependency,
            features => minijinja::Value::from(minijinja::value::Serde(&features)),
            password => features.iter().any(|f| f.name == "password"),
        },
    )
}

#[derive(Serialize)]
struct AuthView<'a> {
    issuer: &'a str,
    login: &'static str,
    /// Whether the spec has `auth.oidc` (with `login: oidc`, or for `--login oidc`).
    oidc: bool,
    /// The spec's OpenID issuer (`auth.oidc.issuer`).
    oidc_issuer: Option<&'a str>,
    dynamic_registration: bool,
}

#[derive(Serialize)]
struct ToolView<'a> {
    name: &'a str,
    summary: String,
    scopes: String,
    handler: &'static str,
}

pub fn readme(model: &Model, options: &Options, header: &str) -> String {
    let auth = model.auth.as_ref().map(|a| AuthView {
        issuer: &a.issuer,
        login: a.login.as_str(),
        oidc: a.oidc.is_some(),
        oidc_issuer: a.oidc.as_ref().and_then(|o| o.issuer.as_deref()),
        dynamic_registration: a.dynamic_registration,
    });
    let tools: Vec<ToolView> = model
        .tools
        .iter()
        .map(|t| ToolView {
            name: &t.name,
            // One line in a table cell: the first sentence-ish line, pipes escaped.
            summary: t
                .description
                .lines()
                .next()
                .unwrap_or_default()
                .replace('|', "\\|"),
            scopes: if t.scopes.is_empty() {
                "none".into()
            } else {
                t.scopes
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            handler: match t.handler {
                Handler::Rust => "rust",
                Handler::Template => "template",
            },
        })
        .collect();
    render(
        "README.md",
        README,
        context! {
            header,
            title => &model.title,
            description => &model.description,
            spec_path => &options.spec_path,
            resource => &model.resource,
            public_url => &model.public_url,
            endpoint => &model.endpoint,
            bind => &model.bind,
            crate_name => &model.crate_name,
            auth => minijinja::Value::from(minijinja::value::Serde(&auth)),
            tools => minijinja::Value::from(minijinja::value::Serde(&tools)),
            has_rust_tools => model.tools.iter().any(|t| t.handler == Handler::Rust),
            runtime_path => match &options.runtime {
                RuntimeDep::Registry => None,
                RuntimeDep::Path(path) => Some(path.as_str()),
            },
            runtime_version => super::GENERATOR_VERSION,
        },
    )
}

pub fn dockerfile(model: &Model, header: &str) -> String {
    render(
        "Dockerfile",
        DOCKERFILE,
        context! { header, crate_name => &model.crate_name, auth => model.auth.is_some() },
    )
}

pub fn dockerignore(header: &str) -> String {
    render(".dockerignore", DOCKERIGNORE, context! { header })
}

pub fn compose(model: &Model, header: &str) -> String {
    render(
        "compose.yaml",
        COMPOSE,
        context! {
            header,
            crate_name => &model.crate_name,
            auth => model.auth.is_some(),
            login => model.auth.as_ref().map(|a| a.login.as_str()),
        },
    )
}

pub fn gitignore(header: &str) -> String {
    render(".gitignore", GITIGNORE, context! { header })
}
