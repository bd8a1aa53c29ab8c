//! Assembles the axum app a generated server runs: the MCP endpoint (at its path with and
//! without a trailing slash), `/healthz`, and `serve()` with TCP_NODELAY and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};

use crate::auth::{Authenticator, NoAuth};
use crate::mcp::catalog::{Catalog, CatalogOptions};
use crate::mcp::endpoint::DEFAULT_MAX_RESPONSE;
use crate::mcp::endpoint::{self, Endpoint};
use crate::mcp::guard::{HOSTED_CLIENT_ORIGINS, OriginPolicy};
use crate::mcp::{BuildError, ProtocolVersion, Versions};
use crate::tools::{
    BoxFuture, ServerInfo, ToolContext, ToolDef, ToolError, ToolHandler, ToolResult,
};

/// Default largest request body: 4 MiB.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// Builds the router of an MCP server from its description and its tool handler.
///
/// ```no_run
/// # use mcpgen_runtime::{server::McpServer, tools::*};
/// # fn demo(info: ServerInfo, tools: Vec<ToolDef>, handler: impl ToolHandler) {
/// let app = McpServer::new(info, tools, handler)
///     .endpoint("/mcp")
///     .loopback(true)
///     .router();
/// # }
/// ```
pub struct McpServer {
    info: ServerInfo,
    tools: Vec<ToolDef>,
    handler: Arc<dyn ToolHandler>,
    endpoint: String,
    allowed_origins: Vec<String>,
    hosted_client_origins: Vec<String>,
    allowed_hosts: Vec<String>,
    loopback: bool,
    auth: Arc<dyn Authenticator>,
    max_body: usize,
    max_response: usize,
    page_size: usize,
    cache_ttl: Duration,
    healthz: bool,
    versions: Versions,
}

impl McpServer {
    /// A server at `/mcp` with no authentication ([`NoAuth`]), browser origins limited to the
    /// hosted clients' ([`HOSTED_CLIENT_ORIGINS`]), a 4 MiB body limit, a 4 MiB batch
    /// response limit, one `tools/list` page of up to 100 tools and a 5 minute cache TTL.
    pub fn new(info: ServerInfo, tools: Vec<ToolDef>, handler: impl ToolHandler) -> Self {
        Self {
            info,
            tools,
            handler: Arc::new(handler),
            endpoint: "/mcp".into(),
            allowed_origins: Vec::new(),
            hosted_client_origins: HOSTED_CLIENT_ORIGINS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            allowed_hosts: Vec::new(),
            loopback: false,
            auth: Arc::new(NoAuth),
            max_body: DEFAULT_MAX_BODY,
            max_response: DEFAULT_MAX_RESPONSE,
            page_size: 100,
            cache_ttl: Duration::from_secs(300),
            healthz: true,
            versions: Versions::ALL,
        }
    }

    /// The endpoint path (default `/mcp`). The path with a trailing slash is served too,
    /// directly: a redirect would drop the Authorization header in some clients.
    pub fn endpoint(mut self, path: impl Into<String>) -> Self {
        self.endpoint = path.into();
        self
    }

    /// Browser origins allowed to call the endpoint (exact, e.g. `https://claude.ai`; `*` for
    /// any). A request without `Origin` is always allowed; one with another origin gets 403.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// The hosted clients' web origins allowed on a server that is not loopback (default
    /// [`HOSTED_CLIENT_ORIGINS`]; none listed: none). Hosted connectors send them in `Origin`
    /// even from their backend; see [`crate::mcp`]'s guard for why public servers allow them.
    pub fn hosted_client_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosted_client_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// A server bound to loopback: loopback origins are allowed (the hosted clients' are not:
    /// they cannot reach it), and the `Host` header must be loopback (or one of
    /// [`allowed_hosts`](Self::allowed_hosts)) against DNS rebinding.
    pub fn loopback(mut self, loopback: bool) -> Self {
        self.loopback = loopback;
        self
    }

    /// Extra `Host` names (without port) a loopback server accepts, e.g. the public host of a
    /// proxy in front of it.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// What guards the endpoint (default [`NoAuth`]).
    pub fn authenticator(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = auth;
        self
    }

    /// Largest request body in bytes; larger ones get 413.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Largest response to a 2025-03-26 batch in bytes (default
    /// [`DEFAULT_MAX_RESPONSE`]); a batch whose responses grow past it is answered with one
    /// JSON-RPC error (-32600, HTTP 400) instead.
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// Tools per `tools/list` page (at least 1).
    pub fn page_size(mut self, tools: usize) -> Self {
        self.page_size = tools.max(1);
        self
    }

    /// `ttlMs` of cacheable 2026-07-28 results (`server/discover`, `tools/list`).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Whether the router answers `GET /healthz` with 200 `ok` (default true).
    pub fn healthz(mut self, on: bool) -> Self {
        self.healthz = on;
        self
    }

    /// Serves only these protocol versions (none listed: all). `initialize` then negotiates
    /// among them, and requests for any other version get 400.
    pub fn protocol_versions(
        mut self,
        versions: impl IntoIterator<Item = ProtocolVersion>,
    ) -> Self {
        self.versions = Versions::new(versions);
        self
    }

    /// The router, or why the description cannot be served (a duplicate tool name, a schema
    /// that does not compile).
    pub fn try_router(self) -> Result<Router, BuildError> {
        let opts = CatalogOptions {
            page_size: self.page_size,
            ttl_ms: u64::try_from(self.cache_ttl.as_millis()).unwrap_or(u64::MAX),
            versions: self.versions,
        };
        let catalog = Catalog::build(&self.info, self.tools, &opts)?;
        let path = normalize_path(&self.endpoint)?;
        let state = Arc::new(Endpoint {
            catalog,
            handler: self.handler,
            auth: self.auth,
            origins: OriginPolicy::new(
                self.allowed_origins,
                self.hosted_client_origins,
                self.allowed_hosts,
                self.loopback,
            ),
            max_body: self.max_body,
            max_response: self.max_response,
            versions: self.versions,
        });
        let mut router = Router::new().route(&path, any(endpoint::handle));
        if path != "/" {
            router = router.route(&format!("{path}/"), any(endpoint::handle));
        }
        let mut router = router.with_state(state);
        if self.healthz {
            router = router.route("/healthz", get(|| async { "ok" }));
        }
        Ok(router)
    }

    /// The router. Merge other routers (the OAuth endpoints) into it with [`Router::merge`].
    ///
    /// # Panics
    ///
    /// When [`try_router`](Self::try_router) fails: generated servers were validated by
    /// `mcpgen`, so this is a bug in hand-written descriptions.
    pub fn router(self) -> Router {
        match self.try_router() {
            Ok(r) => r,
            Err(e) => panic!("invalid mcp server description: {e}"),
        }
    }
}

fn normalize_path(path: &str) -> Result<String, BuildError> {
    if !path.starts_with('/') {
        return Err(BuildError(format!(
            "endpoint path must start with '/': {path}"
        )));
    }
    let trimmed = path.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    })
}

impl<T: ToolHandler + ?Sized> ToolHandler for Arc<T> {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: serde_json::Value,
        ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        (**self).call(tool, args, ctx)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes in-flight requests.
/// Accepted sockets get TCP_NODELAY: without it a small SSE event can wait 40 ms for a
/// delayed ACK. Requests carry the peer address (`ConnectInfo<SocketAddr>`), which the
/// registration rate limit keys on.
pub async fn serve<F>(
    app: Router,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM: what container runtimes send.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
