//! The application layer a generated `main.rs` calls: the spec's constants ([`App`]), the
//! merged OAuth + MCP router built from them and a [`Config`] ([`Server`]), and [`run`], the
//! whole process (command line, logs, runtime, store, listen, graceful shutdown).
//!
//! ```no_run
//! use std::time::Duration;
//! use mcpgen_runtime::app::{self, App, AuthSpec, Login};
//! # fn demo(info: mcpgen_runtime::tools::ServerInfo,
//! #         tools: Vec<mcpgen_runtime::tools::ToolDef>,
//! #         handler: impl mcpgen_runtime::tools::ToolHandler) -> std::process::ExitCode {
//! let app = App {
//!     name: "medtainer-mcp",
//!     info,
//!     tools,
//!     public_url: "https://medtainer.example.com".into(),
//!     endpoint: "/mcp".into(),
//!     bind: "0.0.0.0:8080".into(),
//!     allowed_origins: vec!["https://app.example.com".into()],
//!     hosted_client_origins: None,
//!     protocol_versions: vec![],
//!     auth: Some(AuthSpec {
//!         issuer: None,
//!         scopes: vec![("claudeai".into(), "Use MedTainer from Claude".into())],
//!         default_scopes: vec!["claudeai".into()],
//!         login: Login::Password,
//!         oidc: None,
//!         access_ttl: Duration::from_secs(3600),
//!         refresh_ttl: Duration::from_secs(30 * 24 * 3600),
//!         refresh_reuse_grace: Duration::from_secs(120),
//!         dynamic_registration: true,
//!         client_id_metadata_documents: false,
//!         extra_redirect_uris: vec![],
//!     }),
//! };
//! app::run(app, handler)
//! # }
//! ```

use std::future::Future;
use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use mcpgen_rules::base_url;
use tokio::net::TcpListener;
use url::Url;

use crate::config::{CliAuth, CliSpec, Command, Config, LogFormat, StartError};
use crate::oauth::{OAuth, OAuthConfig};

use crate::mcp::ProtocolVersion;
use crate::metrics::Metrics;
/// Re-exported so a generated `main.rs` names everything [`App`] needs from this module.
pub use crate::oauth::{AuthSpec, Consent, Login, OidcAllow, OidcClaim, OidcSpec};
use crate::server::{self, McpServer};
use crate::tools::{ServerInfo, ToolDef, ToolHandler};

/// The static description of a server, filled in from the spec by the generated `main.rs`.
#[derive(Debug, Clone)]
pub struct App {
    /// The crate and binary name (`medtainer-mcp`): the program name in `--help` and errors,
    /// and the default store file (`sqlite:<name>.sqlite3`).
    pub name: &'static str,
    /// Who the server is (`serverInfo`); `info.version` is what `--version` prints.
    pub info: ServerInfo,
    /// Every tool, as `tools/list` shows it.
    pub tools: Vec<ToolDef>,
    /// The spec's public URL (an origin, optionally with a path), without a trailing slash.
    /// `--public-url` replaces it, and with it every URL derived from it.
    pub public_url: String,
    /// The MCP endpoint's path (`/mcp`); the resource is `public_url + endpoint`.
    pub endpoint: String,
    /// The default listen address (`host:port`); `--bind` replaces it. Independent of
    /// `--public-url`: behind a proxy or in a container the two differ.
    pub bind: String,
    /// Browser origins allowed to call the MCP endpoint beyond the public URL's own origin
    /// (and, on loopback, loopback origins).
    pub allowed_origins: Vec<String>,
    /// The hosted clients' web origins allowed when the public URL is not loopback (the spec's
    /// `server.hosted_client_origins`): `None` is the runtime's list,
    /// [`HOSTED_CLIENT_ORIGINS`](crate::mcp::HOSTED_CLIENT_ORIGINS); `Some` replaces it (empty:
    /// none). Ignored on loopback servers, which hosted clients cannot reach.
    pub hosted_client_origins: Option<Vec<String>>,
    /// The protocol versions served (the spec's `server.protocol_versions`); empty: all.
    pub protocol_versions: Vec<ProtocolVersion>,
    /// The OAuth settings; `None` is `auth: none`, only accepted with a loopback public URL.
    pub auth: Option<AuthSpec>,
}

impl<'a> From<&'a App> for CliSpec<'a> {
    fn from(app: &'a App) -> Self {
        CliSpec {
            name: app.name,
            about: app.info.title.as_deref().unwrap_or(&app.info.name),
            version: &app.info.version,
            bind: &app.bind,
            public_url: &app.public_url,
            auth: app.auth.as_ref().map(|a| CliAuth {
                issuer: a.issuer.as_deref(),
                login: a.login,
                oidc: a.oidc.as_ref(),
            }),
        }
    }
}

/// One server, built and ready to listen: the merged router and the URLs it answers for.
pub struct Server {
    router: Router,
    config: Config,
    resource: String,
    issuer: Option<String>,
    metrics: Metrics,
    metrics_listener: Option<TcpListener>,
    traces: Option<crate::traces::Traces>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("resource", &self.resource)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the store, builds the OAuth server (when auth is on) and the MCP endpoint, and
    /// merges their routers. Everything that can be wrong with the configuration fails here,
    /// before a socket is opened.
    pub async fn build(
        app: &App,
        config: &Config,
        handler: impl ToolHandler,
    ) -> Result<Self, StartError> {
        let public = Url::parse(&config.public_url).map_err(|source| StartError::PublicUrl {
            url: config.public_url.clone(),
            source,
        })?;
        let base_path = base_url::base_path(&public).to_owned();
        let endpoint = app.endpoint.trim().trim_end_matches('/');
        if !app.endpoint.trim().starts_with('/') {
            return Err(StartError::EndpointPath {
                endpoint: app.endpoint.clone(),
            });
        }
        let mcp_path = match format!("{base_path}{endpoint}") {
            p if p.is_empty() => "/".to_owned(),
            p => p,
        };

        // Routes that would collide with the MCP endpoint; axum panics on overlapping routes,
        // so refuse them with a message instead.
        let mut taken = vec!["/healthz".to_owned(), "/readyz".to_owned()];
        if app.auth.is_some() {
            for p in ["/register", "/token", "/revoke", "/authorize"] {
                taken.push(format!("{base_path}{p}"));
            }
        }
        if let Some(t) = taken
            .iter()
            .find(|t| mcp_path == **t || mcp_path.starts_with(&format!("{t}/")))
        {
            return Err(StartError::EndpointCollides {
                path: mcp_path,
                taken: t.clone(),
            });
        }

        let origin = base_url::origin(&public);
        let mut origins = app.allowed_origins.clone();
        if !origins.iter().any(|o| o.eq_ignore_ascii_case(&origin)) {
            origins.push(origin);
        }
        let loopback = config.is_loopback();
        let metrics = if config.metrics_bind.is_some() {
            Metrics::enabled()
        } else {
            Metrics::default()
        };

        let traces = match &config.traces {
            None => None,
            Some(t) => Some(crate::traces::Traces::start(t).map_err(StartError::TracesStart)?),
        };

        let mut mcp = McpServer::new(app.info.clone(), app.tools.clone(), handler)
            .metrics(metrics.clone())
            .endpoint(mcp_path)
            .allowed_origins(origins.clone())
            .protocol_versions(app.protocol_versions.iter().copied())
            .loopback(loopback);
        if let Some(hosted) = &app.hosted_client_origins {
            mcp = mcp.hosted_client_origins(hosted.iter().cloned());
        }
        if let Some(t) = &traces {
            mcp = mcp.traces(t);
        }
        if loopback && let Some(host) = public.host_str() {
            mcp = mcp.allowed_hosts([host.to_owned()]);
        }

        let (oauth, resource, issuer, store) = match &app.auth {
            None => {
                let resource = format!("{}{endpoint}", config.public_url);
                (None, resource, None, None)
            }
            Some(auth) => {
                let store = crate::store::open(&config.store).await.map_err(|source| {
                    StartError::OpenStore {
                        store: config.store_display(),
                        source,
                    }
                })?;
                let oc = OAuthConfig {
                    // `Config::parse` resolved the spec's issuer against `--public-url` and
                    // `--issuer`; the result is `config.issuer`.
                    auth: AuthSpec {
                        issuer: None,
                        ..auth.clone()
                    },
                    public_url: config.public_url.clone(),
                    endpoint: app.endpoint.clone(),
                    issuer: config.issuer.clone(),
                    login: config.login,
                    password_hash: config.password_hash.clone(),
                    allowed_origins: origins,
                    trusted_proxies: config.trusted_proxies.clone(),
                    metrics: metrics.clone(),
                    oidc: config.oidc.as_deref().cloned(),
                    title: Some(
                        app.info
                            .title
                            .clone()
                            .unwrap_or_else(|| app.info.name.clone()),
                    ),
                    destructive_scopes: destructive_scopes(&app.tools),
                };
                let oauth = OAuth::new(oc, store.clone()).map_err(StartError::OAuth)?;
                let resource = oauth.resource().to_owned();
                let issuer = oauth.issuer().to_owned();
                mcp = mcp.authenticator(oauth.authenticator());
                (Some(oauth), resource, Some(issuer), Some(store))
            }
        };

        let mut router = mcp.try_router().map_err(StartError::ServerDescription)?;
        if let Some(oauth) = oauth {
            router = router.merge(oauth.router());
        }
        router = router.route("/readyz", axum::routing::get(move || readyz(store.clone())));
        Ok(Self {
            router,
            config: config.clone(),
            resource,
            issuer,
            metrics,
            metrics_listener: None,
            traces,
        })
    }

    /// The merged router (OAuth, MCP endpoint, `/healthz`), for in-process use.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The canonical MCP URL (the audience of every token).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The issuer as the metadata documents carry it; `None` without auth.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The configuration the server was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The server's metrics (off unless `--metrics-bind` is set).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Binds the metrics address (`--metrics-bind`) when one is configured, for
    /// [`serve`](Self::serve) to answer `GET /metrics` on; returns the bound address.
    pub async fn listen_metrics(&mut self) -> Result<Option<std::net::SocketAddr>, StartError> {
        let Some(bind) = &self.config.metrics_bind else {
            return Ok(None);
        };
        let listener =
            TcpListener::bind(bind.as_str())
                .await
                .map_err(|source| StartError::MetricsListen {
                    bind: bind.clone(),
                    source,
                })?;
        let addr = listener.local_addr().ok();
        self.metrics_listener = Some(listener);
        Ok(addr)
    }

    /// Binds the configured address.
    pub async fn listen(&self) -> Result<TcpListener, StartError> {
        let bind = &self.config.bind;
        TcpListener::bind(bind.as_str())
            .await
            .map_err(|source| StartError::Listen {
                bind: bind.clone(),
                source,
            })
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish;
    /// also serves `GET /metrics` on the listener [`listen_metrics`](Self::listen_metrics)
    /// bound, if any, until then. Logs one line with where it listens and the URLs clients
    /// use. With OTLP traces on, sends the last spans before it returns (waiting at most
    /// [`SHUTDOWN_TIMEOUT`](crate::traces::SHUTDOWN_TIMEOUT)).
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let addr = listener
            .local_addr()
            .map_or_else(|_| self.config.bind.clone(), |a| a.to_string());
        tracing::info!(
            target: "mcpgen::app",
            %addr,
            public_url = %self.config.public_url,
            resource = %self.resource,
            issuer = %self.issuer.as_deref().unwrap_or("none"),
            store = %self.config.store_display(),
            login = %self.config.login.map_or("none", Login::as_str),
            "listening"
        );
        if let Some(t) = &self.config.traces {
            tracing::info!(
                target: "mcpgen::app",
                endpoint = %t.endpoint_display(),
                service = ?t.service_name,
                "exporting traces over OTLP/HTTP"
            );
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        let metrics_server = self.metrics_listener.map(|l| {
            let mut stop = stop_rx.clone();
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            tracing::info!(
                target: "mcpgen::app",
                addr = %l.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string()),
                "serving metrics at /metrics"
            );
            tokio::spawn(server::serve_with(
                metrics_router(self.metrics.clone()),
                l,
                self.config.limits,
                stopped,
            ))
        });
        let served = server::serve_observed(
            self.router,
            listener,
            self.config.limits,
            self.metrics,
            shutdown,
        )
        .await;
        if let Some(m) = metrics_server {
            // It stops with the main listener; a failure there is not the server's.
            let _ = m.await;
        }
        if let Some(t) = self.traces {
            // Bounded (`traces::SHUTDOWN_TIMEOUT`); blocking, so off the async workers, which
            // carry the last export.
            let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
        }
        served
    }
}

/// How long `/readyz` waits for the store to answer a ping: 2 s.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /readyz`: 200 `ready` when the store answers a ping within [`READY_TIMEOUT`] (always,
/// without a store), else 503 with `Retry-After`. `/healthz` stays liveness: it answers
/// whatever the store does, so an orchestrator restarts a process only when it is stuck, and
/// takes it out of rotation while its store is away.
async fn readyz(
    store: Option<std::sync::Arc<dyn crate::store::Store>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let Some(store) = store else {
        return "ready".into_response();
    };
    match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.detail(),
                _ => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
            };
            tracing::warn!(target: "mcpgen::app", why = %why, "not ready: the store does not answer");
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                [(http::header::RETRY_AFTER, "5")],
                "not ready: the store does not answer\n",
            )
                .into_response()
        }
    }
}

/// The metrics listener's router: `GET /metrics` in the Prometheus text format.
fn metrics_router(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    )],
                    metrics.render().unwrap_or_default(),
                )
            }
        }),
    )
}

/// Runs a generated server: parses the command line and environment, sets up logging, and
/// serves until SIGINT or SIGTERM. Start-up errors are one line on stderr and exit code 2; an
/// I/O failure while serving exits 1.
pub fn run(app: App, handler: impl ToolHandler) -> ExitCode {
    // A value that is not UTF-8 becomes replacement characters and then fails its check,
    // naming the variable, rather than silently falling back to the default.
    let env = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
    run_with(app, handler, std::env::args_os(), env)
}

/// [`run`] with the command line (program name first) and the environment given, so the
/// whole process path can be exercised by tests. `env` supplies the `MCPGEN_*` variables and
/// `RUST_LOG`.
pub fn run_with<I, T, E>(app: App, handler: impl ToolHandler, args: I, env: E) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
    E: Fn(&str) -> Option<String>,
{
    // A handler built beforehand is a setup that cannot fail.
    let ready = |_: Config| async move { Ok::<_, std::convert::Infallible>(handler) };
    run_setup_with(app, ready, args, env)
}

/// [`run`] for handlers that are built at start, once the configuration is known: `setup`
/// gets the effective [`Config`] (the environment is the process's own) and runs inside the
/// async runtime, after logging is set up and before the store is opened. Its error ends the
/// process as a start-up error: `error: cannot set up the tool handlers: {error}`, exit code 2.
pub fn run_setup<H, F, Fut, Err>(app: App, setup: F) -> ExitCode
where
    H: ToolHandler,
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<H, Err>>,
    Err: std::fmt::Display,
{
    let env = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
    run_setup_with(app, setup, std::env::args_os(), env)
}

/// [`run_setup`] with the command line (program name first) and the environment given, as
/// [`run_with`] is to [`run`].
pub fn run_setup_with<H, F, Fut, Err, I, T, E>(app: App, setup: F, args: I, env: E) -> ExitCode
where
    H: ToolHandler,
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<H, Err>>,
    Err: std::fmt::Display,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
    E: Fn(&str) -> Option<String>,
{
    let command = match Config::parse(&app, args, &env) {
        Ok(c) => c,
        Err(e) => return start_error(&e),
    };
    match command {
        Command::Print(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::HashPassword => hash_password(app.name),
        Command::Healthcheck(config) => healthcheck(&config.bind),
        Command::Admin(admin) => crate::admin::run(&admin, (&app).into()),
        Command::Users(cmd) => crate::users::run(&app, cmd),
        Command::Serve(config) => {
            if let Err(e) = init_tracing(config.log_format, env("RUST_LOG").as_deref()) {
                return start_error(&e);
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    return start_error(&StartError::Runtime(e));
                }
            };
            let handler = match runtime.block_on(setup(config.clone())) {
                Ok(h) => h,
                Err(e) => {
                    return start_error(&StartError::Setup(e.to_string()));
                }
            };
            serve_on(&runtime, app, config, handler)
        }
    }
}

/// The scopes that gate a tool which may change or destroy data (`destructiveHint` true,
/// `readOnlyHint` false), in first-seen order: the consent page marks them.
fn destructive_scopes(tools: &[ToolDef]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tool in tools {
        if tool.annotations.read_only || !tool.annotations.destructive {
            continue;
        }
        for s in &tool.scopes {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

pub(crate) fn start_error(e: &StartError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// `hash-password` in a build without Argon2 (the cargo feature `password`): an error naming
/// the feature.
#[cfg(not(feature = "password"))]
fn hash_password(_name: &str) -> ExitCode {
    start_error(&StartError::NotCompiled {
        what: "hash-password".to_owned(),
        feature: "password",
    })
}

/// `hash-password`: the first line of stdin (without its line ending) hashed for
/// `MCPGEN_PASSWORD_HASH`. Read from stdin, never from argv, so the password stays out of
/// shell history and `ps`.
#[cfg(feature = "password")]
fn hash_password(name: &str) -> ExitCode {
    let password = match crate::users::read_password_line("password") {
        Ok(p) => p,
        Err(e) => return start_error(&StartError::ReadPassword(e)),
    };
    if password.is_empty() {
        return start_error(&StartError::NoPassword {
            name: name.to_owned(),
        });
    }
    if password.chars().count() < 16 {
        eprintln!(
            "warning: a short password is easy to guess from its hash; use 16 or more random \
             characters"
        );
    }
    let hash = crate::oauth::hash_password(&password);
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{hash}").and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// How long `healthcheck` waits to connect, and then for the answer.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// `healthcheck`: `GET /healthz` on `bind` (an unspecified address, `0.0.0.0` or `[::]`, is
/// reached on the loopback address of its family), with `Host` naming that loopback address
/// so a loopback server's `Host` check lets it through. Exit 0 on a 200, 1 otherwise, with
/// one `error:` line naming the address (Docker's `HEALTHCHECK` contract: 0 healthy,
/// 1 unhealthy).
fn healthcheck(bind: &str) -> ExitCode {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
    let addrs: Vec<std::net::SocketAddr> = match bind.to_socket_addrs() {
        Ok(a) => a
            .map(|mut a| {
                if a.ip().is_unspecified() {
                    a.set_ip(match a.ip() {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    });
                }
                a
            })
            .collect(),
        Err(e) => {
            eprintln!("error: cannot resolve the bind address {bind:?}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut last = format!("the bind address {bind:?} names no address");
    for addr in addrs {
        match healthz_status(addr) {
            Ok(200) => return ExitCode::SUCCESS,
            Ok(status) => last = format!("http://{addr}/healthz answered {status}"),
            Err(e) => last = format!("cannot reach http://{addr}/healthz: {e}"),
        }
    }
    eprintln!("error: {last}");
    ExitCode::FAILURE
}

/// The status code of `GET /healthz` at `addr` (HTTP/1.1, one request, connection closed).
fn healthz_status(addr: std::net::SocketAddr) -> std::io::Result<u16> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, HEALTHCHECK_TIMEOUT)?;
    stream.set_read_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    stream.set_write_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: mcpgen-healthcheck\r\n\
         Connection: close\r\n\r\n"
    )?;
    // The status line is all that is needed: `HTTP/1.1 200 OK`.
    let mut line = String::new();
    std::io::BufReader::new(stream.take(256)).read_line(&mut line)?;
    line.split(' ')
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP status line: {:?}", line.trim_end()),
            )
        })
}

fn serve_on(
    runtime: &tokio::runtime::Runtime,
    app: App,
    config: Config,
    handler: impl ToolHandler,
) -> ExitCode {
    server::raise_fd_limit();
    runtime.block_on(async move {
        let server = match Server::build(&app, &config, handler).await {
            Ok(s) => s,
            Err(e) => return start_error(&e),
        };
        let mut server = server;
        let listener = match server.listen().await {
            Ok(l) => l,
            Err(e) => return start_error(&e),
        };
        if let Err(e) = server.listen_metrics().await {
            return start_error(&e);
        }
        match server.serve(listener, server::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(target: "mcpgen::app", error = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// Installs the global log subscriber: `RUST_LOG` filter (default `info`), text or JSON lines
/// on stderr. A second call (tests) leaves the first subscriber in place.
pub fn init_tracing(format: LogFormat, rust_log: Option<&str>) -> Result<(), StartError> {
    use tracing_subscriber::EnvFilter;
    let filter = match rust_log.map(str::trim).filter(|f| !f.is_empty()) {
        None => EnvFilter::new("info"),
        Some(f) => EnvFilter::try_new(f).map_err(|source| StartError::LogFilter {
            filter: f.to_owned(),
            source,
        })?,
    };
    // Colours only for a person at a terminal: escape codes garble collected log files.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // Err only means a subscriber is already installed.
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(text_fields()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

/// The text format's fields, `name=value` separated by spaces as by default, with every
/// control character (newline, carriage return, ESC, ...) and bidirectional-text control in a
/// value escaped, so that no value (a request's parameter name in an error description, a
/// client's name) can start a line of its own or drive the terminal. The JSON format needs
/// none of this: JSON strings escape control characters.
fn text_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use std::fmt::Write as _;
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let raw = format!("{value:?}");
        let name = field.name();
        // Most values hold nothing to escape: write them as they are.
        if !raw.chars().any(mcpgen_rules::is_unsafe_char) {
            return if name == "message" {
                w.write_str(&raw)
            } else {
                write!(w, "{name}={raw}")
            };
        }
        let mut escaped = String::with_capacity(raw.len() + 8);
        for c in raw.chars() {
            match c {
                '\n' => escaped.push_str("\\n"),
                '\r' => escaped.push_str("\\r"),
                '\t' => escaped.push_str("\\t"),
                c if mcpgen_rules::is_unsafe_char(c) => {
                    let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
                }
                c => escaped.push(c),
            }
        }
        if name == "message" {
            w.write_str(&escaped)
        } else {
            write!(w, "{name}={escaped}")
        }
    })
    .delimited(" ")
}
