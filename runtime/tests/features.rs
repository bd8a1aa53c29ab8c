//! The cargo features of the runtime: a setting that needs a part this build was compiled
//! without (a store back end, Argon2, the client ID metadata document client) fails at
//! start-up with an error naming the feature and the fix, never later and never with a panic.
//!
//! Each test holds in every feature combination: with the feature the setting is accepted,
//! without it refused. CI runs this file with all features (the workspace run) and with none
//! (`cargo test -p mcpgen-runtime --no-default-features --test features`).

use std::time::Duration;

use mcpgen_runtime::app::{App, AuthSpec, Server};
use mcpgen_runtime::config::{Command, Config};
use mcpgen_runtime::oauth::Consent;
use mcpgen_runtime::tools::{
    BoxFuture, ServerInfo, ToolContext, ToolError, ToolHandler, ToolResult,
};
use serde_json::Value;

/// An Argon2id hash (RFC 9106 parameters) of "password".
const HASH: &str =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

/// A loopback app with auth and automatic consent, so that only the setting under test can
/// need a feature.
fn app(client_id_metadata_documents: bool) -> App {
    App {
        name: "features-mcp",
        info: ServerInfo {
            name: "features".into(),
            version: "0.1.0".into(),
            ..Default::default()
        },
        tools: vec![],
        public_url: "http://127.0.0.1:8787".into(),
        endpoint: "/mcp".into(),
        bind: "127.0.0.1:8787".into(),
        allowed_origins: vec![],
        hosted_client_origins: None,
        protocol_versions: vec![],
        auth: Some(AuthSpec {
            issuer: None,
            scopes: vec![("notes".into(), "Use the notes".into())],
            default_scopes: vec!["notes".into()],
            consent: Consent::Auto,
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(86400),
            refresh_reuse_grace: Duration::from_secs(0),
            dynamic_registration: true,
            client_id_metadata_documents,
            extra_redirect_uris: vec![],
        }),
    }
}

struct NoTools;

impl ToolHandler for NoTools {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        _args: Value,
        _ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        Box::pin(async move { Err(ToolError::new(format!("no tool {tool}"))) })
    }
}

fn parse(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Result<Config, String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let argv = std::iter::once(app.name).chain(args.iter().copied());
    match Config::parse(app, argv, env) {
        Ok(Command::Serve(c)) => Ok(c),
        Ok(other) => panic!("expected a serve configuration, got {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

/// Asserts `result` is accepted when `feature` is compiled in, else refused with a message
/// naming the feature and how to get it.
fn accepted_iff<T: std::fmt::Debug>(result: Result<T, String>, feature: &str, on: bool) {
    match result {
        Ok(_) if on => {}
        Err(e) if !on => {
            assert!(e.contains(&format!("feature \"{feature}\"")), "{e}");
            assert!(e.contains("regenerate the crate with mcpgen"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        other => panic!("feature {feature} compiled in: {on}, got {other:?}"),
    }
}

#[test]
fn a_store_back_end_the_build_lacks_is_refused_at_start_up() {
    let app = app(false);
    let redis = parse(&app, &["--store", "redis://:secret@127.0.0.1:6379/0"], &[]);
    if let Err(e) = &redis {
        assert!(!e.contains("secret"), "the store password shows: {e}");
    }
    accepted_iff(redis, "redis", cfg!(feature = "redis"));
    // The default store is sqlite:<name>.sqlite3.
    accepted_iff(parse(&app, &[], &[]), "sqlite", cfg!(feature = "sqlite"));
    accepted_iff(
        parse(&app, &[], &[("MCPGEN_STORE", "sqlite:/tmp/x.db")]),
        "sqlite",
        cfg!(feature = "sqlite"),
    );
    // Memory needs nothing.
    assert!(parse(&app, &["--store", "memory"], &[]).is_ok());
}

#[test]
fn a_server_without_auth_needs_no_store_feature() {
    let mut app = app(false);
    app.auth = None;
    assert!(parse(&app, &[], &[]).is_ok());
}

#[test]
fn consent_password_without_argon2_is_refused_at_start_up() {
    let app = app(false);
    let r = parse(
        &app,
        &["--consent", "password", "--store", "memory"],
        &[("MCPGEN_PASSWORD_HASH", HASH)],
    );
    accepted_iff(r, "password", cfg!(feature = "password"));
}

#[tokio::test]
async fn client_id_metadata_documents_without_the_https_client_are_refused_at_start_up() {
    let app = app(true);
    let config = parse(&app, &["--store", "memory"], &[]).unwrap();
    let built = Server::build(&app, &config, NoTools)
        .await
        .map_err(|e| e.to_string());
    accepted_iff(built, "cimd", cfg!(feature = "cimd"));
}
