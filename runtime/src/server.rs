//! Assembles the axum app a generated server runs: the MCP endpoint (at its path with and
//! without a trailing slash), `/healthz`, and `serve()`: hyper with TCP_NODELAY, connection
//! timeouts and a connection cap ([`Limits`]), `Host` checks, and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};

use crate::auth::{Authenticator, NoAuth};
use crate::mcp::catalog::{Catalog, CatalogOptions};
use crate::mcp::endpoint::DEFAULT_MAX_RESPONSE;
use crate::mcp::endpoint::Endpoint;
use crate::mcp::guard::{HOSTED_CLIENT_ORIGINS, OriginPolicy};
use crate::mcp::http;
use crate::mcp::{BuildError, ProtocolVersion, Versions};
use crate::metrics::Metrics;
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
    metrics: Metrics,
    traces: Option<crate::traces::Tracing>,
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
            metrics: Metrics::default(),
            traces: None,
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

    /// Where the endpoint counts requests by method, tool and outcome (default: off). Give
    /// the same [`Metrics`] to [`serve_observed`] and the OAuth server.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where the endpoint's spans go (default: nowhere); see [`crate::traces`].
    pub fn traces(mut self, traces: &crate::traces::Traces) -> Self {
        self.traces = Some(traces.tracing());
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
            metrics: self.metrics,
            traces: self.traces,
            route: path.clone(),
        });
        let mut router = Router::new().route(&path, any(http::handle));
        if path != "/" {
            router = router.route(&format!("{path}/"), any(http::handle));
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
        return Err(BuildError::EndpointPath { path: path.into() });
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

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown` completes; see
/// [`serve_with`].
pub async fn serve<F>(
    app: Router,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(app, listener, Limits::default(), shutdown).await
}

/// Default time a request head may take to arrive: 30 s.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a request body may stall between two reads: 30 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time an idle keep-alive connection stays open: 120 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest request head (request line and headers) a connection buffers: 32 KiB, like
/// common proxies' limits; a longer head gets 431. hyper's default (about 400 KiB) let every
/// open connection hold that much: gigabytes at the connection cap.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// File descriptors kept free below the descriptor limit for everything that is not an
/// accepted connection (the store, logs, outgoing metadata fetches): 64.
pub const RESERVED_FDS: u64 = 64;

/// What one client that sends slowly, or not at all, can hold of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection is closed when a request head (request line and headers) has not fully
    /// arrived this long after the connection opened or the head's first byte (slowloris).
    pub head_timeout: Duration,
    /// A request body that delivers nothing for this long is abandoned: the handler reading
    /// it gets an error and the connection is closed.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in flight and nothing received is closed
    /// after this long.
    pub idle_timeout: Duration,
    /// Most connections open at once; further clients wait in the listen backlog until one
    /// closes, while the open ones keep being served. `None`: the descriptor limit
    /// (`RLIMIT_NOFILE`) less [`RESERVED_FDS`]. Never more than that.
    pub max_connections: Option<usize>,
}

impl Default for Limits {
    /// 30 s head, 30 s body stall, 120 s idle, connections capped below the descriptor limit.
    fn default() -> Self {
        Self {
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
        }
    }
}

/// Raises the soft limit on open file descriptors (`RLIMIT_NOFILE`) to the hard limit, and
/// returns it: the common soft limit of 1024 is what an idle-socket flood exhausts. `None`
/// when unlimited or unknown (not Unix). [`crate::app::run`] calls it at start.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => limit = getrlimit(Resource::Nofile),
                Err(e) => tracing::debug!(error = %e, "cannot raise the open file limit"),
            }
        }
        limit.current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The soft limit on open file descriptors; `None` when unlimited or unknown.
fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap: `wanted`, at most the descriptor limit less [`RESERVED_FDS`] (at
/// least 1).
fn connection_cap(wanted: Option<usize>, fd_limit: Option<u64>) -> usize {
    let ceiling = fd_limit.map_or(usize::MAX, |l| {
        usize::try_from(l.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX)
    });
    // Unlimited descriptors: a cap still bounds memory.
    let ceiling = ceiling.min(1 << 20);
    wanted.map_or(ceiling, |w| w.clamp(1, ceiling))
}

/// The most connections one source may hold at once: the cap less an eighth of it (at least
/// one slot), so that a single address (an IPv6 /64 counts as one) filling the cap with idle
/// sockets leaves room for everyone else instead of making them wait for a timeout. Behind a
/// reverse proxy every client shares the proxy's address, so a deployment there can use at
/// most this share of `--max-connections`.
fn per_source_share(cap: usize) -> usize {
    cap.saturating_sub((cap / 8).max(1)).max(1)
}

/// Whose connections count together: an IPv4 address, or an IPv6 /64 (one host usually holds
/// a whole /64); an IPv4-mapped IPv6 address counts as its IPv4 address.
fn source_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Open connections per source (see [`source_key`]); an entry goes when its last connection
/// closes, so the map holds at most one entry per open connection.
#[derive(Default)]
struct SourceCounts(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

impl SourceCounts {
    /// Counts one more connection of `key` unless it already holds `share`.
    fn try_add(&self, key: std::net::IpAddr, share: usize) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= share {
            return false;
        }
        *n += 1;
        true
    }

    fn remove(&self, key: std::net::IpAddr) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&key);
            }
        }
    }
}

/// Serves `app` (HTTP/1.1, hyper) on `listener` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish (for at most the longer of the head and body
/// timeouts, then their connections are closed) and closes idle connections.
///
/// Accepted sockets get TCP_NODELAY: without it a small SSE event can wait 40 ms for a delayed
/// ACK. Requests carry the peer address (`ConnectInfo<SocketAddr>`), which the registration
/// rate limit keys on. `limits` bounds what slow or idle clients hold (see [`Limits`]).
/// Requests whose `Host` is missing (HTTP/1.1), repeated, invalid, or differs from an
/// absolute-form target's authority get 400 and the connection is closed (RFC 9112 §3.2,
/// §3.2.2). One source holds at most [`per_source_share`] of the connection cap; a connection
/// past its share is closed as soon as it is accepted.
pub async fn serve_with<F>(
    app: Router,
    listener: tokio::net::TcpListener,
    limits: Limits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_observed(app, listener, limits, Metrics::default(), shutdown).await
}

/// [`serve_with`], counting open connections in `metrics` (`mcpgen_open_connections`).
pub async fn serve_observed<F>(
    app: Router,
    listener: tokio::net::TcpListener,
    limits: Limits,
    metrics: Metrics,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let cap = connection_cap(limits.max_connections, fd_limit());
    if let Some(wanted) = limits.max_connections
        && wanted > cap
    {
        tracing::warn!(
            wanted,
            cap,
            "max connections lowered below the open file limit"
        );
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(cap));
    let share = per_source_share(cap);
    let sources = Arc::new(SourceCounts::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: wait rather than spin.
                tracing::error!(error = %e, "cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let source = source_key(peer.ip());
        if !sources.try_add(source, share) {
            // Closed at once: the slot goes back to everyone else.
            drop(tcp);
            continue;
        }
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let conn = connection::serve(tcp, peer, app.clone(), limits, stop_rx.clone());
        let sources = Arc::clone(&sources);
        let open = metrics.connection();
        tokio::spawn(async move {
            conn.await;
            drop(open);
            sources.remove(source);
            drop(permit);
        });
    }
    drop(listener);
    drop(stop_rx);
    // Every connection holds a receiver: tell them to finish, then wait until all are gone.
    stop_tx.send_replace(());
    stop_tx.closed().await;
    Ok(())
}

/// Errors of one connection that `accept` reports; the listener itself is fine.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

mod connection {
    //! One HTTP/1.1 connection: hyper with the [`Limits`] enforced around it.
    //!
    //! hyper's own header timeout also runs while a keep-alive connection waits for its next
    //! request, so it would cap idle time at the head timeout; this module tracks instead
    //! whether a request is in flight, and since when the connection is idle or a head is
    //! arriving, and drops the connection when that lasts too long.

    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use http::{Request, Response, StatusCode, Version, header};
    use http_body_util::BodyExt as _;
    use hyper::body::Incoming;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::sync::{Notify, watch};
    use tokio::time::Instant;
    use tower::ServiceExt as _;

    use super::Limits;

    /// What the watchdog looks at.
    struct State {
        /// Requests handed to the app whose response body is not finished.
        in_flight: usize,
        /// Requests handed to the app so far.
        served: u64,
        /// When the connection opened or the last response finished.
        idle_since: Instant,
        /// When the first byte after `idle_since` arrived: a request head is on its way.
        head_since: Option<Instant>,
        /// Bytes arrived while a request was in flight (a pipelined next request).
        read_in_flight: bool,
    }

    struct Activity {
        state: Mutex<State>,
        changed: Notify,
    }

    impl Activity {
        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            // The state stays consistent under a panic: every update is one assignment.
            self.state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        fn on_read(&self) {
            let mut s = self.lock();
            if s.in_flight > 0 {
                s.read_in_flight = true;
            } else if s.head_since.is_none() {
                s.head_since = Some(Instant::now());
                drop(s);
                self.changed.notify_one();
            }
        }

        fn start(self: &Arc<Self>) -> InFlight {
            let mut s = self.lock();
            s.in_flight += 1;
            s.served += 1;
            s.head_since = None;
            InFlight(self.clone())
        }

        /// When the connection is to be dropped; `None` while a request is in flight.
        fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
            let s = self.lock();
            if s.in_flight > 0 {
                None
            } else if let Some(t) = s.head_since {
                Some((t + limits.head_timeout, "request head timeout"))
            } else if s.served == 0 {
                Some((s.idle_since + limits.head_timeout, "request head timeout"))
            } else {
                Some((s.idle_since + limits.idle_timeout, "idle timeout"))
            }
        }

        /// Completes when a deadline passes, with its reason.
        async fn expired(&self, limits: &Limits) -> &'static str {
            loop {
                let changed = self.changed.notified();
                let mut changed = std::pin::pin!(changed);
                changed.as_mut().enable();
                match self.deadline(limits) {
                    None => changed.await,
                    Some((at, why)) => {
                        tokio::select! {
                            () = tokio::time::sleep_until(at) => return why,
                            () = changed => {}
                        }
                    }
                }
            }
        }
    }

    /// A request in flight, until its response body is finished or dropped.
    struct InFlight(Arc<Activity>);

    impl Drop for InFlight {
        fn drop(&mut self) {
            let mut s = self.0.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                let now = Instant::now();
                s.idle_since = now;
                s.head_since = std::mem::take(&mut s.read_in_flight).then_some(now);
            }
            drop(s);
            self.0.changed.notify_one();
        }
    }

    /// The socket, telling [`Activity`] when bytes arrive.
    struct Watched {
        tcp: tokio::net::TcpStream,
        activity: Arc<Activity>,
    }

    impl AsyncRead for Watched {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let before = buf.filled().len();
            let r = Pin::new(&mut self.tcp).poll_read(cx, buf);
            if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
                self.activity.on_read();
            }
            r
        }
    }

    impl AsyncWrite for Watched {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.tcp).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.tcp.is_write_vectored()
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.tcp).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.tcp).poll_shutdown(cx)
        }
    }

    /// Serves one connection until the client closes it, a [`Limits`] deadline passes, or
    /// (after `stop` changes) its in-flight requests are done.
    pub(super) async fn serve(
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
        app: Router,
        limits: Limits,
        mut stop: watch::Receiver<()>,
    ) {
        let activity = Arc::new(Activity {
            state: Mutex::new(State {
                in_flight: 0,
                served: 0,
                idle_since: Instant::now(),
                head_since: None,
                read_in_flight: false,
            }),
            changed: Notify::new(),
        });
        let io = hyper_util::rt::TokioIo::new(Watched {
            tcp,
            activity: activity.clone(),
        });
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let app = app.clone();
                let in_flight = activity.start();
                async move {
                    if let Err(why) = check_host(&req) {
                        tracing::debug!(%peer, why, "bad request");
                        return Ok::<_, Infallible>(bad_request(why));
                    }
                    let mut req = req.map(|b| {
                        Body::new(tower_http::timeout::TimeoutBody::new(
                            limits.body_timeout,
                            b,
                        ))
                    });
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let res = match app.oneshot(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    // The request stays in flight until hyper is done with the body.
                    Ok(res.map(|b| {
                        Body::new(b.map_frame(move |f| {
                            let _ = &in_flight;
                            f
                        }))
                    }))
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Timeouts are enforced here (see the module doc), not by hyper's header timer.
        builder.header_read_timeout(None);
        builder.max_buf_size(super::MAX_HEAD_BYTES);
        let conn = builder.serve_connection(io, service);
        let mut conn = std::pin::pin!(conn);
        let mut stopping = false;
        // Once stopping, in-flight requests get the longer of the head and body timeouts to
        // finish: a body trickling in a byte per body timeout must not hold shutdown for ever.
        let drain = tokio::time::sleep(std::time::Duration::ZERO);
        let mut drain = std::pin::pin!(drain);
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection error");
                    }
                    return;
                }
                why = activity.expired(&limits) => {
                    tracing::debug!(%peer, why, "closing connection");
                    return;
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                    drain
                        .as_mut()
                        .reset(Instant::now() + limits.head_timeout.max(limits.body_timeout));
                }
                () = drain.as_mut(), if stopping => {
                    tracing::debug!(%peer, "closing connection: still busy at the end of the drain");
                    return;
                }
            }
        }
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request has exactly one valid `Host`; §3.2.2: an
    /// absolute-form target's authority is the host, so a `Host` naming another is refused
    /// rather than trusted by one check and ignored by another.
    fn check_host<B>(req: &Request<B>) -> Result<(), &'static str> {
        let mut hosts = req.headers().get_all(header::HOST).iter();
        let host = hosts.next();
        if hosts.next().is_some() {
            return Err("more than one host header");
        }
        let Some(host) = host else {
            return if req.version() < Version::HTTP_11 {
                Ok(())
            } else {
                Err("no host header")
            };
        };
        let host: http::uri::Authority = host
            .to_str()
            .ok()
            .and_then(|h| h.parse().ok())
            .filter(|a: &http::uri::Authority| !a.as_str().contains('@'))
            .ok_or("invalid host header")?;
        if let Some(target) = req.uri().authority() {
            let default = match req.uri().scheme_str() {
                Some(s) if s.eq_ignore_ascii_case("https") => 443,
                _ => 80,
            };
            let same = target.host().eq_ignore_ascii_case(host.host())
                && target.port_u16().unwrap_or(default) == host.port_u16().unwrap_or(default);
            if !same {
                return Err("the request target names another host than the host header");
            }
        }
        Ok(())
    }

    fn bad_request(why: &str) -> Response<Body> {
        let mut res = Response::new(Body::from(format!("bad request: {why}\n")));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        res
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM: what container runtimes send. On Unix
/// the handlers are installed by this call, not when the future is first polled, so a signal
/// sent as soon as the server logs that it listens is not lost. Call it within a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut int, mut term) = signals;
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = int => {},
                () = term => {},
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tracing::info!("shutting down");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn one_source_leaves_an_eighth_of_the_cap_to_others() {
        assert_eq!(per_source_share(1), 1);
        assert_eq!(per_source_share(2), 1);
        assert_eq!(per_source_share(16), 14);
        assert_eq!(per_source_share(1000), 875);
    }

    #[test]
    fn sources_are_ipv4_addresses_and_ipv6_64s() {
        let key = |s: &str| source_key(s.parse::<IpAddr>().unwrap());
        assert_eq!(key("192.0.2.7"), key("::ffff:192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn counts_go_when_the_last_connection_closes() {
        let counts = SourceCounts::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(counts.try_add(a, 2));
        assert!(counts.try_add(a, 2));
        assert!(!counts.try_add(a, 2));
        counts.remove(a);
        assert!(counts.try_add(a, 2));
        counts.remove(a);
        counts.remove(a);
        assert!(counts.0.lock().unwrap().is_empty());
    }
}
