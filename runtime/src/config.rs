//! The run-time configuration of a generated server: its command line and `MCPGEN_*`
//! environment merged over the spec's values, checked before anything starts.
//!
//! Precedence is flag, then environment variable, then the spec. An environment variable set
//! to the empty string counts as unset (compose files and CI templates leave them empty).
//! The environment is passed in rather than read here, so the whole of this is testable
//! without touching the process environment.

use std::ffi::OsString;
use std::net::SocketAddr;

use clap::{CommandFactory as _, FromArgMatches as _};
use mcpgen_rules::BaseUrlError;
use mcpgen_rules::base_url::without_trailing_slash;
use url::Url;

use crate::oauth::oidc::{OidcConfig, OidcConfigError};
use crate::oauth::{Login, PASSWORD_HASH_ENV, is_password_hash};
use crate::server::Limits;

/// `--bind`.
pub const BIND_ENV: &str = "MCPGEN_BIND";
/// `--public-url`.
pub const PUBLIC_URL_ENV: &str = "MCPGEN_PUBLIC_URL";
/// `--issuer`.
pub const ISSUER_ENV: &str = "MCPGEN_ISSUER";
/// `--store`.
pub const STORE_ENV: &str = "MCPGEN_STORE";
/// `--login`.
pub const LOGIN_ENV: &str = "MCPGEN_LOGIN";
/// The former name of [`LOGIN_ENV`], still read when that one is unset.
pub const CONSENT_ENV: &str = "MCPGEN_CONSENT";
/// `--log-format`.
pub const LOG_FORMAT_ENV: &str = "MCPGEN_LOG_FORMAT";
/// `--trusted-proxies`.
pub const TRUSTED_PROXIES_ENV: &str = "MCPGEN_TRUSTED_PROXIES";
/// `--head-timeout`.
pub const HEAD_TIMEOUT_ENV: &str = "MCPGEN_HEAD_TIMEOUT";
/// `--body-timeout`.
pub const BODY_TIMEOUT_ENV: &str = "MCPGEN_BODY_TIMEOUT";
/// `--idle-timeout`.
pub const IDLE_TIMEOUT_ENV: &str = "MCPGEN_IDLE_TIMEOUT";
/// `--max-connections`.
pub const MAX_CONNECTIONS_ENV: &str = "MCPGEN_MAX_CONNECTIONS";
/// `--metrics-bind`.
pub const METRICS_BIND_ENV: &str = "MCPGEN_METRICS_BIND";

/// What the command line takes from the spec: the program's name, what `--help` and
/// `--version` print, and the defaults the flags fall back to. `&App` converts into it, so
/// this module needs nothing from the app module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliSpec<'a> {
    /// The crate and binary name (`medtainer-mcp`): the program name in `--help` and errors,
    /// and the default store file (`sqlite:<name>.sqlite3`).
    pub name: &'a str,
    /// What the server is, for `--help` (the spec's title, else its name).
    pub about: &'a str,
    /// What `--version` prints.
    pub version: &'a str,
    /// The spec's listen address (`host:port`), the default of `--bind`.
    pub bind: &'a str,
    /// The spec's public URL, the default of `--public-url`.
    pub public_url: &'a str,
    /// The spec's auth choices; `None` is `auth: none`.
    pub auth: Option<CliAuth<'a>>,
}

/// The spec's auth choices the command line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CliAuth<'a> {
    /// The spec's issuer; `None`, or a URL equal to the public URL, means "the public URL".
    pub issuer: Option<&'a str>,
    /// The spec's login mode, the default of `--login`.
    pub login: Login,
    /// The spec's `auth.oidc`, resolved with the environment when the login is `oidc`.
    pub oidc: Option<&'a crate::oauth::OidcSpec>,
}

/// A configuration the server cannot start with, or a command line it cannot parse. The
/// message is for people: one short lowercase line naming the value and the fix (clap's usage
/// errors keep clap's own layout). The process exits with code 2.
///
/// `from` fields name where a value came from (`--bind`, `MCPGEN_BIND`, `the spec's bind`)
/// and `value` fields the value as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The command line does not parse; `message` is clap's, without its `error: ` prefix.
    #[error("{message}")]
    Usage {
        message: String,
        #[source]
        source: clap::Error,
    },
    /// `--bind` is not `host:port`.
    #[error("{from} {value:?} is not host:port: use e.g. 0.0.0.0:8080 or 127.0.0.1:8080")]
    Bind { from: String, value: String },
    /// `--public-url` or `--issuer` (`flag`) is not a base URL; `why` says how.
    #[error("{from} {value:?} {why}: set {flag} to a url like https://mcp.example.com")]
    BaseUrl {
        from: String,
        value: String,
        flag: String,
        why: &'static str,
        /// Set when the value does not parse as a URL at all.
        #[source]
        source: Option<url::ParseError>,
    },
    /// `--public-url` or `--issuer` uses http on a host that is not loopback.
    #[error("{from} {value:?} uses http on a host that is not loopback: use https")]
    HttpNotLoopback { from: String, value: String },
    /// `--store` is not a store URL; `shown` is the URL without its password.
    #[error("{from} {shown:?} {why}: {fix}")]
    StoreUrl {
        from: String,
        shown: String,
        why: &'static str,
        fix: &'static str,
    },
    /// A choice (`what`: the flag and its value, or the spec's setting) needs a part of the
    /// runtime this build was compiled without; `feature` is the mcpgen-runtime cargo feature
    /// that adds it.
    #[error(
        "{what} needs the mcpgen-runtime feature \"{feature}\", which this build was compiled \
         without: regenerate the crate with mcpgen, or add \"{feature}\" to the features of \
         mcpgen-runtime in Cargo.toml"
    )]
    NotCompiled { what: String, feature: &'static str },
    /// `--trusted-proxies` has an `entry` that is neither an IP address nor a CIDR block.
    #[error(
        "{from} entry {entry:?} is not an ip address or cidr block: use e.g. \
         10.0.0.0/8,192.0.2.7"
    )]
    TrustedProxy { from: String, entry: String },
    /// `--head-timeout`, `--body-timeout` or `--idle-timeout` is not a whole number of seconds
    /// from 1 to 86400.
    #[error(
        "{from} {value:?} is not a timeout in seconds: use a whole number from 1 to 86400, e.g. 30"
    )]
    Timeout { from: String, value: String },
    /// `--max-connections` is not a positive whole number.
    #[error("{from} {value:?} is not a number of connections: use e.g. 1000")]
    MaxConnections { from: String, value: String },
    /// `--log-format` is neither `text` nor `json`.
    #[error("{from} {value:?} is not a log format: use text or json")]
    LogFormat { from: String, value: String },
    /// `auth: none` with a public URL that is not loopback.
    #[error(
        "{from} {value:?} is not loopback, and this server has no auth (auth: none): \
         use an http://127.0.0.1 or http://localhost url"
    )]
    NoAuthNotLoopback { from: String, value: String },
    /// `auth: none` with a bind address that is not loopback; `port` is the bind's port, for
    /// the suggested fix.
    #[error(
        "{from} {value:?} listens beyond loopback, and this server has no auth (auth: none): \
         use --bind 127.0.0.1:{port}"
    )]
    NoAuthBind {
        from: String,
        value: String,
        port: String,
    },
    /// An auth flag (`--login`, `--issuer`) on a server with `auth: none`.
    #[error("{from} is set, but this server has no auth (auth: none): unset it")]
    NoAuthFlag { from: String },
    /// `--login` is not a login mode.
    #[error("{from} {value:?} is not a login mode: use password, users, oidc or auto")]
    LoginMode { from: String, value: String },
    /// Login `auto` with a public URL that is not loopback; `how` names where `auto` came
    /// from.
    #[error(
        "{how} needs a loopback public url, and {public_url} is not: use --login password, \
         users or oidc"
    )]
    AutoConsentNotLoopback { how: String, public_url: String },
    /// Login `auto` with a bind address that is not loopback; `how` names where `auto` came
    /// from and `port` is the bind's port, for the suggested fix.
    #[error(
        "{how} approves every request, and {from} {value:?} listens beyond loopback: use --bind \
         127.0.0.1:{port} or --login password"
    )]
    AutoConsentBind {
        how: String,
        from: String,
        value: String,
        port: String,
    },
    /// Login `password` without a password hash; `name` is the program name.
    #[error(
        "login password needs {env}: create it with `{name} hash-password`",
        env = PASSWORD_HASH_ENV
    )]
    NoPasswordHash { name: String },
    /// `login: oidc` without its issuer, client id or secret, or without an allow rule.
    #[error(transparent)]
    Oidc(#[from] crate::oauth::oidc::OidcConfigError),
    /// The password hash is not an argon2 PHC string; `name` is the program name.
    #[error(
        "{env} is not an argon2 password hash ($argon2id$...): create it with `{name} hash-password`",
        env = PASSWORD_HASH_ENV
    )]
    BadPasswordHash { name: String },
    /// The effective public URL does not parse.
    #[error("public url {url:?} is not an url")]
    PublicUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    /// The spec's endpoint is not a path.
    #[error("endpoint {endpoint:?} must be a path such as /mcp")]
    EndpointPath { endpoint: String },
    /// The endpoint's path is one the server already serves (`taken`).
    #[error("endpoint {path} collides with {taken}: choose another endpoint path")]
    EndpointCollides { path: String, taken: String },
    /// The store does not open; `store` is its URL without a password.
    #[error("cannot open store {store}: {}: check --store", .source.detail())]
    OpenStore {
        store: String,
        #[source]
        source: crate::store::StoreError,
    },
    /// The OAuth configuration is refused.
    #[error("{0}")]
    OAuth(#[from] crate::oauth::ConfigError),
    /// The tools or the server description are refused.
    #[error("invalid server description: {0}")]
    ServerDescription(#[source] crate::mcp::BuildError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {bind}: {}: choose another with --bind", listen_why(.source))]
    Listen {
        bind: String,
        #[source]
        source: std::io::Error,
    },
    /// The metrics address (`--metrics-bind`) cannot be bound.
    #[error(
        "cannot serve metrics on {bind}: {}: choose another with --metrics-bind",
        listen_why(.source)
    )]
    MetricsListen {
        bind: String,
        #[source]
        source: std::io::Error,
    },
    /// An `OTEL_*` trace variable has a value the server cannot use.
    #[error("{0}")]
    Traces(#[from] crate::traces::TracesConfigError),
    /// The OTLP trace exporter cannot be built.
    #[error("cannot set up OTLP trace export: {0}")]
    TracesStart(String),
    /// `RUST_LOG` is not a log filter.
    #[error("RUST_LOG {filter:?} is not a log filter ({source}): use e.g. info or mcpgen=debug")]
    LogFilter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The async runtime does not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The tool handlers' set-up (`run_setup`) failed; the setup's error, as text (it is only
    /// known to be `Display`).
    #[error("cannot set up the tool handlers: {0}")]
    Setup(String),
    /// `hash-password` cannot read stdin.
    #[error("cannot read a password from stdin: {0}")]
    ReadPassword(#[source] std::io::Error),
    /// `hash-password` read an empty line; `name` is the program name.
    #[error(
        "no password on stdin: pipe one in, e.g. `printf %s \"$PASSWORD\" | {name} \
         hash-password`"
    )]
    NoPassword { name: String },
    /// An administrative command (`command`) on the `memory` store, which lives inside one
    /// server process and is gone when it ends; `from` names where the store came from.
    #[error(
        "{command} acts on a shared store, and {from} is memory (inside each server process): \
         use --store sqlite:PATH or --store redis://HOST, as the servers do"
    )]
    AdminOnMemory { command: String, from: String },
}

/// Why a listen address cannot be bound, in a few lowercase words.
fn listen_why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string().to_lowercase(),
    }
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What the command line asks for.
// Built once per process and matched at once: boxing the configuration would only add a
// pointer for callers to follow.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server with this configuration.
    Serve(Config),
    /// `hash-password`: read a password from stdin, print its hash.
    HashPassword,
    /// `healthcheck`: `GET /healthz` on the address this configuration listens on, and exit 0
    /// on 200, 1 otherwise (a container's `HEALTHCHECK`, with no HTTP client in the image).
    Healthcheck(Config),
    /// `clients ...`, `grants ...` or `tokens revoke ...`: act on the configured store.
    Admin(crate::admin::Admin),
    /// `users ...`: manage the accounts of `login: users` in the configured store.
    Users(UsersCommand),
    /// `--help` or `--version`: print this text to stdout and exit 0.
    Print(String),
}

/// The effective, checked configuration of one server process.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen (`host:port`; port 0 picks a free one).
    pub bind: String,
    /// The effective public URL: http(s), no trailing slash, no query.
    pub public_url: String,
    /// An issuer that differs from the public URL; `None` means "the public URL", so it
    /// moves with `--public-url`.
    pub issuer: Option<String>,
    /// The store URL: `memory`, `sqlite:PATH` or `redis://...` (may carry a password: never
    /// log it whole, see [`Config::store_display`]).
    pub store: String,
    /// The effective login mode; `None` when the server has no auth.
    pub login: Option<Login>,
    /// The shared password's hash (from [`PASSWORD_HASH_ENV`]); only set with
    /// [`Login::Password`].
    pub password_hash: Option<String>,
    pub log_format: LogFormat,
    /// Reverse proxies (CIDR blocks) whose `X-Forwarded-For`/`Forwarded` name the client for
    /// the per-address limits; empty: those headers are ignored. See
    /// [`OAuthConfig::trusted_proxies`](crate::oauth::OAuthConfig::trusted_proxies).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Connection timeouts and cap (`--head-timeout`, `--body-timeout`, `--idle-timeout`,
    /// `--max-connections`).
    pub limits: Limits,
    /// Where to serve Prometheus metrics (`host:port`, `--metrics-bind`); `None`: no
    /// metrics listener, nothing recorded.
    pub metrics_bind: Option<String>,
    /// Where and how spans are exported over OTLP (the `OTEL_*` variables, see
    /// [`traces`](crate::traces)); `None`: no exporter, nothing sent.
    pub traces: Option<crate::traces::TracesConfig>,
    /// `login: oidc` resolved with [`OIDC_ISSUER_ENV`](crate::oauth::oidc::OIDC_ISSUER_ENV),
    /// [`OIDC_CLIENT_ID_ENV`](crate::oauth::oidc::OIDC_CLIENT_ID_ENV) and
    /// [`OIDC_CLIENT_SECRET_ENV`](crate::oauth::oidc::OIDC_CLIENT_SECRET_ENV); `None`
    /// otherwise. See [`OAuthConfig::oidc`](crate::oauth::OAuthConfig::oidc).
    pub oidc: Option<Box<crate::oauth::oidc::OidcConfig>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("issuer", &self.issuer)
            .field("store", &self.store_display())
            .field("login", &self.login)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<set>"),
            )
            .field("log_format", &self.log_format)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limits", &self.limits)
            .field("metrics_bind", &self.metrics_bind)
            .field("traces", &self.traces)
            .field("oidc", &self.oidc)
            .finish()
    }
}

impl Config {
    /// The store URL without credentials, for logs: a Redis URL can carry a password.
    pub fn store_display(&self) -> String {
        redact_store(&self.store)
    }

    /// Whether the effective public URL is loopback (`localhost`, 127.0.0.0/8, `[::1]`).
    pub fn is_loopback(&self) -> bool {
        crate::oauth::is_loopback_url(&self.public_url)
    }

    /// Parses `args` (the program name first, as in [`std::env::args_os`]) and the `MCPGEN_*`
    /// variables `env` returns, over `app`'s spec values (an `&App`, or its [`CliSpec`]).
    pub fn parse<'a, I, T, E>(
        app: impl Into<CliSpec<'a>>,
        args: I,
        env: E,
    ) -> Result<Command, StartError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
        E: Fn(&str) -> Option<String>,
    {
        let app = &app.into();
        let matches = match cli_command(app).try_get_matches_from(args) {
            Ok(m) => m,
            Err(e) => return clap_outcome(e),
        };
        let cli = Cli::from_arg_matches(&matches).map_err(usage_error)?;
        match cli.command {
            Some(Sub::HashPassword) => return Ok(Command::HashPassword),
            Some(Sub::Clients(c)) => return admin(app, cli.store, c.into(), &env),
            Some(Sub::Grants(c)) => return admin(app, cli.store, c.into(), &env),
            Some(Sub::Tokens(c)) => return admin(app, cli.store, c.into(), &env),
            Some(Sub::Healthcheck) => {
                return Self::resolve(app, cli, &env).map(Command::Healthcheck);
            }
            Some(Sub::Users(sub)) => {
                let store =
                    pick_value(cli.store, "--store", STORE_ENV, &env).unwrap_or_else(|| {
                        Given::spec(&format!("sqlite:{}.sqlite3", app.name), "default")
                    });
                check_store(&store)?;
                check_store_compiled(&store)?;
                if let UsersSub::Add { .. } | UsersSub::Passwd { .. } = &sub
                    && !cfg!(feature = "password")
                {
                    let what = match &sub {
                        UsersSub::Add { .. } => "users add",
                        _ => "users passwd",
                    };
                    return Err(StartError::NotCompiled {
                        what: what.to_owned(),
                        feature: "password",
                    });
                }
                let name = match &sub {
                    UsersSub::Add { .. } => "users add",
                    UsersSub::List { .. } => "users list",
                    UsersSub::Remove { .. } => "users remove",
                    UsersSub::Passwd { .. } => "users passwd",
                };
                // A user added to the memory store is gone when the command exits.
                if matches!(store.value.trim(), "memory" | "memory:") {
                    return Err(StartError::AdminOnMemory {
                        command: name.to_owned(),
                        from: store.from,
                    });
                }
                let action = match sub {
                    UsersSub::Add { name, email, .. } => UsersAction::Add { name, email },
                    UsersSub::List { json } => UsersAction::List { json },
                    UsersSub::Remove { name } => UsersAction::Remove { name },
                    UsersSub::Passwd { name, .. } => UsersAction::Passwd { name },
                };
                return Ok(Command::Users(UsersCommand {
                    store: store.value,
                    action,
                }));
            }
            None => {}
        }
        Self::resolve(app, cli, &env).map(Command::Serve)
    }

    fn resolve(
        app: &CliSpec<'_>,
        cli: Cli,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, StartError> {
        let pick = |flag: Option<String>, name: &'static str, var: &'static str| {
            pick_value(flag, name, var, env)
        };

        let bind_flag = pick(cli.bind, "--bind", BIND_ENV);
        if let Some(g) = &bind_flag {
            check_bind(g)?;
        }

        let spec_public = normalize_url(app.public_url);
        let public_flag = pick(cli.public_url, "--public-url", PUBLIC_URL_ENV);
        let public_moved = public_flag.is_some();
        let public =
            public_flag.unwrap_or_else(|| Given::spec(app.public_url, "the spec's public_url"));
        let public_url = check_base_url(&public, "--public-url")?;
        let loopback = crate::oauth::is_loopback_url(&public_url);

        // Only `--public-url` moved to loopback (a production spec run locally): listen on
        // loopback too, on the spec's port, rather than on every interface.
        let bind = match bind_flag {
            Some(g) => g,
            None if public_moved && loopback && !is_loopback_bind(app.bind) => {
                let port = app.bind.rsplit_once(':').map_or("8080", |(_, p)| p);
                let host = if public_url.contains("://[::1]") {
                    "[::1]"
                } else {
                    "127.0.0.1"
                };
                Given::spec(
                    &format!("{host}:{port}"),
                    "the bind (loopback, as the public url is)",
                )
            }
            None => Given::spec(app.bind, "the spec's bind"),
        };
        check_bind(&bind)?;

        let store = pick(cli.store, "--store", STORE_ENV)
            .unwrap_or_else(|| Given::spec(&format!("sqlite:{}.sqlite3", app.name), "default"));
        check_store(&store)?;

        let log_format = match pick(cli.log_format, "--log-format", LOG_FORMAT_ENV) {
            None => LogFormat::Text,
            Some(g) => match g.value.trim() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(StartError::LogFormat {
                        from: g.from,
                        value: g.value,
                    });
                }
            },
        };

        let trusted_proxies = match pick(
            cli.trusted_proxies,
            "--trusted-proxies",
            TRUSTED_PROXIES_ENV,
        ) {
            None => Vec::new(),
            Some(g) => crate::oauth::parse_trusted_proxies(&g.value).map_err(|entry| {
                StartError::TrustedProxy {
                    from: g.from.clone(),
                    entry,
                }
            })?,
        };

        let limits = Limits {
            head_timeout: seconds(pick(cli.head_timeout, "--head-timeout", HEAD_TIMEOUT_ENV))?
                .unwrap_or(crate::server::DEFAULT_HEAD_TIMEOUT),
            body_timeout: seconds(pick(cli.body_timeout, "--body-timeout", BODY_TIMEOUT_ENV))?
                .unwrap_or(crate::server::DEFAULT_BODY_TIMEOUT),
            idle_timeout: seconds(pick(cli.idle_timeout, "--idle-timeout", IDLE_TIMEOUT_ENV))?
                .unwrap_or(crate::server::DEFAULT_IDLE_TIMEOUT),
            max_connections: match pick(
                cli.max_connections,
                "--max-connections",
                MAX_CONNECTIONS_ENV,
            ) {
                None => None,
                Some(g) => Some(
                    g.value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| StartError::MaxConnections {
                            from: g.from.clone(),
                            value: g.value.clone(),
                        })?,
                ),
            },
        };

        let metrics_bind = match pick(cli.metrics_bind, "--metrics-bind", METRICS_BIND_ENV) {
            None => None,
            Some(g) => {
                check_bind(&g)?;
                Some(g.value.trim().to_owned())
            }
        };

        let traces = crate::traces::TracesConfig::from_env(app.name, env)?;

        let login_flag =
            pick(cli.login, "--login", LOGIN_ENV).or_else(|| pick(None, "--login", CONSENT_ENV));
        let issuer_flag = pick(cli.issuer, "--issuer", ISSUER_ENV);

        let Some(auth) = &app.auth else {
            // `auth: none` is only safe where nobody else can reach the server.
            if !loopback {
                return Err(StartError::NoAuthNotLoopback {
                    from: public.from,
                    value: public.value,
                });
            }
            if let Some(g) = login_flag.as_ref().or(issuer_flag.as_ref()) {
                return Err(StartError::NoAuthFlag {
                    from: g.from.clone(),
                });
            }
            if !is_loopback_bind(&bind.value) {
                return Err(StartError::NoAuthBind {
                    port: bind_port(&bind.value).to_owned(),
                    from: bind.from,
                    value: bind.value,
                });
            }
            return Ok(Self {
                bind: bind.value,
                public_url,
                issuer: None,
                store: store.value,
                login: None,
                password_hash: None,
                log_format,
                trusted_proxies,
                limits,
                metrics_bind,
                traces,
                oidc: None,
            });
        };
        check_store_compiled(&store)?;
        if !cfg!(feature = "oauth") {
            return Err(StartError::NotCompiled {
                what: "auth (the spec's auth section)".to_owned(),
                feature: "oauth",
            });
        }

        // An issuer equal to the spec's public URL is derived from it and moves with
        // `--public-url`; a different one is the spec's choice and stays unless overridden.
        let issuer = match issuer_flag {
            Some(g) => Some(check_base_url(&g, "--issuer")?),
            None => match auth.issuer {
                Some(i) if normalize_url(i) != spec_public => {
                    let g = Given::spec(i, "the spec's issuer");
                    Some(check_base_url(&g, "--issuer")?)
                }
                _ => None,
            },
        };
        // Written the way the metadata documents carry it, so "equal" means byte-identical.
        let issuer = issuer.filter(|i| *i != public_url);

        let login = match &login_flag {
            None => auth.login,
            Some(g) => Login::parse(&g.value).ok_or_else(|| StartError::LoginMode {
                from: g.from.clone(),
                value: g.value.clone(),
            })?,
        };
        let auto_from = || {
            login_flag
                .as_ref()
                .map_or("login auto (from the spec)".to_owned(), |g| {
                    format!("{} auto", g.from)
                })
        };
        if login == Login::Auto && !loopback {
            let how = auto_from();
            return Err(StartError::AutoConsentNotLoopback { how, public_url });
        }
        if login == Login::Auto && !is_loopback_bind(&bind.value) {
            let how = auto_from();
            return Err(StartError::AutoConsentBind {
                how,
                port: bind_port(&bind.value).to_owned(),
                from: bind.from,
                value: bind.value,
            });
        }
        check_login_compiled(login, login_flag.as_ref(), auth.oidc.is_some())?;
        let password_hash = match login {
            Login::Auto | Login::Users | Login::Oidc => None,
            Login::Password => {
                let Some(hash) = env(PASSWORD_HASH_ENV).filter(|h| !h.trim().is_empty()) else {
                    return Err(StartError::NoPasswordHash {
                        name: app.name.to_owned(),
                    });
                };
                if !is_password_hash(&hash) {
                    return Err(StartError::BadPasswordHash {
                        name: app.name.to_owned(),
                    });
                }
                Some(hash.trim().to_owned())
            }
        };

        let oidc = match login {
            Login::Oidc => {
                let spec = auth.oidc.ok_or(OidcConfigError::NoSpec)?;
                Some(Box::new(OidcConfig::resolve(spec, env)?))
            }
            _ => None,
        };

        Ok(Self {
            bind: bind.value,
            public_url,
            issuer,
            store: store.value,
            login: Some(login),
            password_hash,
            log_format,
            trusted_proxies,
            limits,
            metrics_bind,
            traces,
            oidc,
        })
    }
}

/// An administrative command: only the store is read (flag, environment, default), so it
/// runs with whatever else the servers' environment holds or lacks.
fn admin<'a>(
    app: &CliSpec<'a>,
    store: Option<String>,
    command: crate::admin::AdminCommand,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, StartError> {
    let store = pick_value(store, "--store", STORE_ENV, env)
        .unwrap_or_else(|| Given::spec(&format!("sqlite:{}.sqlite3", app.name), "default"));
    check_store(&store)?;
    check_store_compiled(&store)?;
    // The default is a SQLite file: memory only ever comes from the flag or the variable.
    if matches!(store.value.trim(), "memory" | "memory:") {
        return Err(StartError::AdminOnMemory {
            command: command.name().to_owned(),
            from: store.from,
        });
    }
    Ok(Command::Admin(crate::admin::Admin {
        store: store.value,
        command,
    }))
}

/// A value and where it came from, so an error can name the flag or variable to change.
struct Given {
    value: String,
    from: String,
}

impl Given {
    fn spec(value: &str, from: &str) -> Self {
        Self {
            value: value.to_owned(),
            from: from.to_owned(),
        }
    }
}

fn pick_value(
    flag: Option<String>,
    name: &str,
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Given> {
    if let Some(value) = flag {
        return Some(Given {
            value,
            from: name.to_owned(),
        });
    }
    env(var).filter(|v| !v.is_empty()).map(|value| Given {
        value,
        from: var.to_owned(),
    })
}

/// Whether every address `bind` (`host:port`) listens on is loopback: a loopback IP, or the
/// name `localhost`. Any other name could resolve beyond loopback.
fn is_loopback_bind(bind: &str) -> bool {
    let bind = bind.trim();
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return addr.ip().is_loopback();
    }
    bind.rsplit_once(':')
        .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

/// The port of a `host:port` bind, for a suggested fix.
fn bind_port(bind: &str) -> &str {
    bind.trim().rsplit_once(':').map_or("8080", |(_, p)| p)
}

/// A whole number of seconds, 1 to 86400 (a day).
fn seconds(g: Option<Given>) -> Result<Option<std::time::Duration>, StartError> {
    let Some(g) = g else { return Ok(None) };
    let v = g.value.trim();
    let v = v.strip_suffix('s').unwrap_or(v);
    match v.parse::<u64>() {
        Ok(n @ 1..=86_400) => Ok(Some(std::time::Duration::from_secs(n))),
        _ => Err(StartError::Timeout {
            from: g.from,
            value: g.value,
        }),
    }
}

/// `host:port`, where host is an IP address or a name and port a number (0 = any free port).
fn check_bind(g: &Given) -> Result<(), StartError> {
    let v = g.value.trim();
    if v.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let ok = v.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok()
            && !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(StartError::Bind {
            from: g.from.clone(),
            value: g.value.clone(),
        })
    }
}

/// A public URL or issuer: http(s) with a host, no query, fragment or credentials, http only
/// on loopback. Returned without a trailing slash, as every derived URL is built from it.
fn check_base_url(g: &Given, flag: &str) -> Result<String, StartError> {
    let bad_because = |why: &'static str, source: Option<url::ParseError>| StartError::BaseUrl {
        from: g.from.clone(),
        value: g.value.clone(),
        flag: flag.to_owned(),
        why,
        source,
    };
    let bad = |why: &'static str| bad_because(why, None);
    let u = mcpgen_rules::parse_base_url(g.value.trim()).map_err(|e| match e {
        BaseUrlError::NotUrl(e) => bad_because("is not a url", Some(e)),
        BaseUrlError::NotHttp => bad("is not an http(s) url with a host"),
        BaseUrlError::QueryOrFragment => bad("has a query or fragment"),
        BaseUrlError::Credentials => bad("carries credentials"),
        BaseUrlError::InsecureHttp => StartError::HttpNotLoopback {
            from: g.from.clone(),
            value: g.value.clone(),
        },
    })?;
    Ok(without_trailing_slash(&u))
}

/// A URL as compared for "the issuer equals the public URL": parsed (lowercase host, default
/// port dropped), without a trailing slash; the raw text when it does not parse.
fn normalize_url(raw: &str) -> String {
    Url::parse(raw.trim()).map_or_else(
        |_| raw.trim().trim_end_matches('/').to_owned(),
        |u| without_trailing_slash(&u),
    )
}

/// The store URL's form only; opening it (and its I/O errors) happens at start.
fn check_store(g: &Given) -> Result<(), StartError> {
    let v = g.value.trim();
    let ok = v == "memory"
        || v == "memory:"
        || v.strip_prefix("sqlite://")
            .or_else(|| v.strip_prefix("sqlite:"))
            .is_some_and(|p| !p.is_empty())
        || v.strip_prefix("redis://")
            .is_some_and(|rest| !rest.is_empty() && Url::parse(v).is_ok());
    if ok {
        return Ok(());
    }
    let shown = redact_store(v);
    let forms = "use memory, sqlite:PATH or redis://HOST[:PORT][/DB]";
    let (why, fix) = if v.starts_with("rediss://") {
        (
            "uses tls, which is not supported",
            "use redis:// on a private network",
        )
    } else if v.starts_with("sqlite:") {
        ("has no path", "use sqlite:PATH")
    } else if v.starts_with("redis://") {
        ("is not a valid redis url", "use redis://HOST[:PORT][/DB]")
    } else {
        ("is not a store", forms)
    };
    Err(StartError::StoreUrl {
        from: g.from.clone(),
        shown,
        why,
        fix,
    })
}

/// The store's back end is compiled into this build (its cargo feature is on): a back end the
/// build lacks fails at start-up, naming the feature, not at the first request. A server with
/// auth, the `users` commands and the administrative commands open a store.
fn check_store_compiled(g: &Given) -> Result<(), StartError> {
    let v = g.value.trim();
    let missing = if v.starts_with("redis://") {
        !cfg!(feature = "redis")
    } else {
        v.starts_with("sqlite:") && !cfg!(feature = "sqlite")
    };
    if !missing {
        return Ok(());
    }
    Err(StartError::NotCompiled {
        what: format!("{} {:?}", g.from, redact_store(v)),
        feature: if v.starts_with("redis://") {
            "redis"
        } else {
            "sqlite"
        },
    })
}

/// The login mode is compiled into this build: `password` and `users` need Argon2 (the
/// feature `password`), `oidc` the OpenID side (the feature `oidc`). `--login oidc` on a spec
/// without `auth.oidc` is left to the check that names the missing spec section.
fn check_login_compiled(
    login: Login,
    flag: Option<&Given>,
    has_oidc_spec: bool,
) -> Result<(), StartError> {
    let feature = match login {
        Login::Password | Login::Users if !cfg!(feature = "password") => "password",
        Login::Oidc if has_oidc_spec && !cfg!(feature = "oidc") => "oidc",
        _ => return Ok(()),
    };
    Err(StartError::NotCompiled {
        what: flag.map_or_else(
            || format!("login {login} (from the spec)"),
            |g| format!("{} {login}", g.from),
        ),
        feature,
    })
}

/// A store URL with any password removed.
pub(crate) fn redact_store(raw: &str) -> String {
    let raw = raw.trim();
    if raw.starts_with("redis://") || raw.starts_with("rediss://") {
        if let Ok(mut u) = Url::parse(raw) {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            return u.to_string();
        }
        // Unparsable: show only the scheme, the rest may hold a secret.
        return raw.split("://").next().unwrap_or("").to_owned() + "://...";
    }
    raw.to_owned()
}

/// The command line, before merging with the environment and the spec. Help texts are set
/// per app in [`cli_command`], so they can show the spec's defaults.
#[derive(clap::Parser, Debug)]
struct Cli {
    #[arg(long, value_name = "HOST:PORT")]
    bind: Option<String>,
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    #[arg(long, value_name = "STORE", global = true)]
    store: Option<String>,
    #[arg(long, value_name = "MODE", visible_alias = "consent")]
    login: Option<String>,
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    #[arg(long, value_name = "CIDR,...")]
    trusted_proxies: Option<String>,
    #[arg(long, value_name = "SECONDS")]
    head_timeout: Option<String>,
    #[arg(long, value_name = "SECONDS")]
    body_timeout: Option<String>,
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<String>,
    #[arg(long, value_name = "N")]
    max_connections: Option<String>,
    #[arg(long, value_name = "HOST:PORT")]
    metrics_bind: Option<String>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Read a password from stdin and print its hash, for MCPGEN_PASSWORD_HASH.
    HashPassword,
    /// Check that the server configured by the same flags and environment answers /healthz;
    /// exit 0 if it does, 1 if not (for a container HEALTHCHECK).
    ///
    /// It GETs /healthz at the listen address (--bind or MCPGEN_BIND; 0.0.0.0 is reached on
    /// 127.0.0.1). Server flags go before the subcommand: `--bind 127.0.0.1:9000 healthcheck`.
    Healthcheck,
    /// List or revoke registered OAuth clients (in the store every replica shares).
    #[command(subcommand)]
    Clients(crate::admin::ClientsCli),
    /// List live grants: the tokens one sign-in issued, with their refreshes.
    #[command(subcommand)]
    Grants(crate::admin::GrantsCli),
    /// Revoke grants: their tokens are refused by the next request on every replica.
    #[command(subcommand)]
    Tokens(crate::admin::TokensCli),
    /// Manage the accounts people sign in with under `login: users`, in the store (--store)
    #[command(subcommand)]
    Users(UsersSub),
}

#[derive(clap::Subcommand, Debug)]
enum UsersSub {
    /// Add a user; the password is the first line of stdin
    Add {
        /// The user name: letters, digits, `.`, `_`, `-`, `@`; their subject in grants
        name: String,
        /// Their email address (templates see it as caller.email)
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Read the password from stdin (the only way: never in argv or the environment)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the users (name, email, created)
    List {
        /// One JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and revoke every grant of theirs at once, on every replica
    Remove {
        /// The user name, as `users list` shows it
        name: String,
    },
    /// Change a user's password (first line of stdin); their grants are kept
    Passwd {
        /// The user name, as `users list` shows it
        name: String,
        /// Read the password from stdin (the only way)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// `users ...` on the configured store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersCommand {
    /// The store URL (`--store`, `MCPGEN_STORE`, else the default SQLite file), as for
    /// serving: run it with the same `--store` as the server.
    pub store: String,
    /// What to do.
    pub action: UsersAction,
}

/// One `users` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsersAction {
    /// `users add NAME [--email E] --password-stdin`.
    Add { name: String, email: Option<String> },
    /// `users list [--json]`.
    List { json: bool },
    /// `users remove NAME`.
    Remove { name: String },
    /// `users passwd NAME --password-stdin`.
    Passwd { name: String },
}

fn cli_command(app: &CliSpec<'_>) -> clap::Command {
    let about = app.about;
    let issuer_default = app
        .auth
        .as_ref()
        .and_then(|a| a.issuer.map(str::to_owned))
        .filter(|i| normalize_url(i) != normalize_url(app.public_url))
        .unwrap_or_else(|| "the public url".into());
    let login_default = app
        .auth
        .as_ref()
        .map_or("none: auth is off", |a| a.login.as_str());
    Cli::command()
        .name(app.name.to_owned())
        .disable_help_subcommand(true)
        .bin_name(app.name.to_owned())
        .version(app.version.to_owned())
        .about(format!("{about}: an MCP server generated by mcpgen"))
        .after_help(format!(
            "Login with a shared password reads its hash from {PASSWORD_HASH_ENV} (create it with \
             `{} hash-password`). Logs go to stderr; RUST_LOG sets the filter (default info).",
            app.name
        ))
        .mut_arg("bind", |a| {
            a.help(format!(
                "Address to listen on [env: {BIND_ENV}] [default: {}]",
                app.bind
            ))
        })
        .mut_arg("public_url", |a| {
            a.help(format!(
                "Public origin clients use; moves the resource, the issuer (when it is the \
                 public url) and every metadata url [env: {PUBLIC_URL_ENV}] [default: {}]",
                app.public_url
            ))
        })
        .mut_arg("issuer", |a| {
            a.help(format!(
                "OAuth issuer [env: {ISSUER_ENV}] [default: {issuer_default}]"
            ))
        })
        .mut_arg("store", |a| {
            a.help(format!(
                "Where OAuth state lives: memory, sqlite:PATH or redis://HOST[:PORT][/DB] \
                 [env: {STORE_ENV}] [default: sqlite:{}.sqlite3]",
                app.name
            ))
        })
        .mut_arg("login", |a| {
            a.help(format!(
                "How people sign in before they approve access: password (one shared \
                 password), users (accounts in the store, see `users`), oidc (the spec's OpenID \
                 provider), or auto (loopback public url only) [env: {LOGIN_ENV}, formerly \
                 {CONSENT_ENV}] [default: {login_default}]"
            ))
        })
        .mut_arg("log_format", |a| {
            a.help(format!(
                "Log format: text or json [env: {LOG_FORMAT_ENV}] [default: text]"
            ))
        })
        .mut_arg("trusted_proxies", |a| {
            a.help(format!(
                "Reverse proxies (comma-separated CIDR blocks or addresses) whose \
                 X-Forwarded-For or Forwarded header names the client for the per-address \
                 limits [env: {TRUSTED_PROXIES_ENV}] [default: none: the headers are ignored]"
            ))
        })
        .mut_arg("head_timeout", |a| {
            a.help(format!(
                "Seconds a request head may take to arrive; slower connections are closed \
                 [env: {HEAD_TIMEOUT_ENV}] [default: 30]"
            ))
        })
        .mut_arg("body_timeout", |a| {
            a.help(format!(
                "Seconds a request body may stall before the request is abandoned \
                 [env: {BODY_TIMEOUT_ENV}] [default: 30]"
            ))
        })
        .mut_arg("idle_timeout", |a| {
            a.help(format!(
                "Seconds an idle keep-alive connection stays open [env: {IDLE_TIMEOUT_ENV}] \
                 [default: 120]"
            ))
        })
        .mut_arg("max_connections", |a| {
            a.help(format!(
                "Most connections open at once; more wait until one closes \
                 [env: {MAX_CONNECTIONS_ENV}] [default: the open file limit less 64]"
            ))
        })
        .mut_arg("metrics_bind", |a| {
            a.help(format!(
                "Serve Prometheus metrics at http://HOST:PORT/metrics, on a listener of its own \
                 (keep it private) [env: {METRICS_BIND_ENV}] [default: off]"
            ))
        })
}

/// `--help` and `--version` come back from clap as errors; they are a successful outcome.
fn clap_outcome(e: clap::Error) -> Result<Command, StartError> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Ok(Command::Print(e.render().to_string()))
        }
        _ => Err(usage_error(e)),
    }
}

/// clap's message without its `error: ` prefix (the caller adds one to every start error).
fn usage_error(e: clap::Error) -> StartError {
    let text = e.render().to_string();
    let text = text.trim_end();
    StartError::Usage {
        message: text.strip_prefix("error: ").unwrap_or(text).to_owned(),
        source: e,
    }
}
