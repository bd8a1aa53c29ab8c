//! The cargo features of the runtime: a setting that needs a part this build was compiled
//! without (the OAuth pages, a store back end, Argon2, the OpenID side, the client ID metadata
//! document client) fails at start-up with an error naming the feature and the fix, never
//! later and never with a panic; so do the `users` and administrative commands.
//!
//! Each test holds in every feature combination: with the feature the setting is accepted,
//! without it refused. CI runs this file with all features (the workspace run) and with none
//! (`cargo test -p mcpgen-runtime --no-default-features --test features`).

use std::time::Duration;

use mcpgen_runtime::app::{App, AuthSpec, OidcAllow, OidcSpec, Server, run_with};
use mcpgen_runtime::config::{Command, Config};
use mcpgen_runtime::oauth::Login;
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
            login: Login::Auto,
            oidc: None,
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

fn parse_any(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Result<Command, String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let argv = std::iter::once(app.name).chain(args.iter().copied());
    Config::parse(app, argv, env).map_err(|e| e.to_string())
}

fn parse(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Result<Config, String> {
    match parse_any(app, args, vars)? {
        Command::Serve(c) => Ok(c),
        other => panic!("expected a serve configuration, got {other:?}"),
    }
}

/// The features a spec with auth needs before anything else: the pages.
const OAUTH: (&str, bool) = ("oauth", cfg!(feature = "oauth"));

/// Asserts `result` is accepted when every feature of `needs` is compiled in, else refused
/// with a message naming the first missing one (in the order start-up checks them) and how
/// to get it.
fn accepted_iff<T: std::fmt::Debug>(result: Result<T, String>, needs: &[(&str, bool)]) {
    let missing = needs.iter().find(|(_, on)| !on).map(|(f, _)| *f);
    match (result, missing) {
        (Ok(_), None) => {}
        (Err(e), Some(feature)) => {
            assert!(e.contains(&format!("feature \"{feature}\"")), "{e}");
            assert!(e.contains("regenerate the crate with mcpgen"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        (other, missing) => panic!("missing feature: {missing:?}, got {other:?}"),
    }
}

#[test]
fn a_store_back_end_the_build_lacks_is_refused_at_start_up() {
    let app = app(false);
    let redis = parse(&app, &["--store", "redis://:secret@127.0.0.1:6379/0"], &[]);
    if let Err(e) = &redis {
        assert!(!e.contains("secret"), "the store password shows: {e}");
    }
    accepted_iff(redis, &[("redis", cfg!(feature = "redis")), OAUTH]);
    // The default store is sqlite:<name>.sqlite3.
    let sqlite = ("sqlite", cfg!(feature = "sqlite"));
    accepted_iff(parse(&app, &[], &[]), &[sqlite, OAUTH]);
    accepted_iff(
        parse(&app, &[], &[("MCPGEN_STORE", "sqlite:/tmp/x.db")]),
        &[sqlite, OAUTH],
    );
    // Memory needs no store feature.
    accepted_iff(parse(&app, &["--store", "memory"], &[]), &[OAUTH]);
}

#[test]
fn a_spec_with_auth_needs_the_pages() {
    accepted_iff(parse(&app(false), &["--store", "memory"], &[]), &[OAUTH]);
}

#[test]
fn a_server_without_auth_needs_no_store_feature() {
    let mut app = app(false);
    app.auth = None;
    assert!(parse(&app, &[], &[]).is_ok());
}

const PASSWORD: (&str, bool) = ("password", cfg!(feature = "password"));

#[test]
fn login_password_and_users_without_argon2_are_refused_at_start_up() {
    let app = app(false);
    let r = parse(
        &app,
        &["--login", "password", "--store", "memory"],
        &[("MCPGEN_PASSWORD_HASH", HASH)],
    );
    accepted_iff(r, &[OAUTH, PASSWORD]);
    // The older name of the variable still picks the login mode.
    let r = parse(
        &app,
        &["--store", "memory"],
        &[
            ("MCPGEN_CONSENT", "password"),
            ("MCPGEN_PASSWORD_HASH", HASH),
        ],
    );
    accepted_iff(r, &[OAUTH, PASSWORD]);
    let r = parse(&app, &["--login", "users", "--store", "memory"], &[]);
    accepted_iff(r, &[OAUTH, PASSWORD]);
}

/// The provider's credentials, which `login: oidc` reads from the environment.
const OIDC_ENV: [(&str, &str); 3] = [
    ("MCPGEN_OIDC_ISSUER", "https://accounts.example.com"),
    ("MCPGEN_OIDC_CLIENT_ID", "id"),
    ("MCPGEN_OIDC_CLIENT_SECRET", "secret"),
];

#[test]
fn login_oidc_without_the_openid_side_is_refused_at_start_up() {
    let mut app = app(false);
    let auth = app.auth.as_mut().unwrap();
    auth.login = Login::Oidc;
    auth.oidc = Some(OidcSpec {
        issuer: None,
        allow: OidcAllow {
            domains: vec!["example.com".into()],
            ..OidcAllow::default()
        },
    });
    let oidc = ("oidc", cfg!(feature = "oidc"));
    accepted_iff(
        parse(&app, &["--store", "memory"], &OIDC_ENV),
        &[OAUTH, oidc],
    );
    // `--login oidc` on a spec with other login but an `auth.oidc` section.
    app.auth.as_mut().unwrap().login = Login::Auto;
    let r = parse(&app, &["--login", "oidc", "--store", "memory"], &OIDC_ENV);
    accepted_iff(r, &[OAUTH, oidc]);
}

#[test]
fn login_oidc_on_a_spec_without_its_section_names_the_section_in_every_build() {
    if !cfg!(feature = "oauth") {
        return;
    }
    let app = app(false);
    let e = parse(&app, &["--login", "oidc", "--store", "memory"], &OIDC_ENV).unwrap_err();
    assert!(e.contains("auth.oidc"), "{e}");
    assert!(!e.contains("feature"), "{e}");
}

#[tokio::test]
async fn client_id_metadata_documents_without_the_https_client_are_refused_at_start_up() {
    let app = app(true);
    let config = match parse(&app, &["--store", "memory"], &[]) {
        Ok(c) => c,
        Err(e) => return accepted_iff(Err::<(), _>(e), &[OAUTH]),
    };
    let built = Server::build(&app, &config, NoTools)
        .await
        .map_err(|e| e.to_string());
    accepted_iff(built, &[("cimd", cfg!(feature = "cimd"))]);
}

#[test]
fn users_and_admin_commands_name_the_missing_store_or_argon2() {
    let app = app(false);
    let dir = std::env::temp_dir().join(format!("mcpgen-features-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = format!("sqlite:{}", dir.join("s.sqlite3").display());
    let sqlite = ("sqlite", cfg!(feature = "sqlite"));
    for args in [
        &["users", "list"][..],
        &["users", "remove", "ada"],
        &["clients", "list"],
        &["grants", "list"],
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--store", &store]);
        accepted_iff(parse_any(&app, &argv, &[]), &[sqlite]);
    }
    let redis = ("redis", cfg!(feature = "redis"));
    let r = parse_any(
        &app,
        &["users", "list", "--store", "redis://127.0.0.1:1"],
        &[],
    );
    accepted_iff(r, &[redis]);
    let r = parse_any(
        &app,
        &["clients", "list", "--store", "redis://127.0.0.1:1"],
        &[],
    );
    accepted_iff(r, &[redis]);
    for sub in ["add", "passwd"] {
        let r = parse_any(
            &app,
            &["users", sub, "ada", "--password-stdin", "--store", &store],
            &[],
        );
        accepted_iff(r, &[sqlite, PASSWORD]);
    }
    // The process path answers exit code 2 (never a panic) when the store is missing (not
    // compiled in, or a SQLite file that does not exist yet, which `users list` does not
    // create), and runs the command when it is there.
    let users_list = || {
        run_with(
            app.clone(),
            NoTools,
            ["features-mcp", "users", "list", "--store", &store].map(str::to_owned),
            |_| None,
        )
    };
    assert_eq!(users_list(), std::process::ExitCode::from(2));
    std::fs::File::create(dir.join("s.sqlite3")).unwrap();
    let want = if cfg!(feature = "sqlite") { 0 } else { 2 };
    assert_eq!(users_list(), std::process::ExitCode::from(want));
    let _ = std::fs::remove_dir_all(&dir);
}
