//! The OAuth 2.1 authorization server and resource-server check of a generated server:
//! discovery documents, `/register`, `/authorize` (with the consent page), `/token`, `/revoke`,
//! and the bearer [`Authenticator`](crate::auth::Authenticator) that guards the MCP endpoint.
//!
//! ```ignore
//! let store = mcpgen_runtime::store::open("sqlite:oauth.db").await?;
//! let mut config = OAuthConfig::new("https://mcp.example.com");
//! config.auth.scopes = vec![("orders.read".into(), "Read orders".into())];
//! config.auth.default_scopes = vec!["orders.read".into()];
//! config.password_hash = std::env::var(PASSWORD_HASH_ENV).ok();
//! let oauth = OAuth::new(config, store)?;
//! let app = oauth.router().merge(mcp_router);   // and give oauth.authenticator() to /mcp
//! ```

mod authorize;
mod bearer;
mod cimd;
mod crypto;
mod error;
pub(crate) use error::clip;
mod limit;
pub mod login;
mod metadata;
#[cfg(feature = "oidc")]
pub mod oidc;
#[cfg(not(feature = "oidc"))]
#[path = "oidc_off.rs"]
pub mod oidc;
pub mod pages;
#[cfg(feature = "password")]
mod password;
#[cfg(not(feature = "password"))]
#[path = "password_off.rs"]
mod password;
mod redirect;
mod register;
pub mod scope;
pub mod session;
mod token;
pub(crate) mod urls;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::auth::Authenticator;
use crate::mcp::guard::{self, OriginPolicy};
use crate::store::Store;

#[cfg(feature = "cimd")]
pub use self::cimd::HttpsFetcher;
pub use self::cimd::{
    CACHE_TTL, FAILED_FETCH_TTL, FETCH_TIMEOUT, FetchFuture, MAX_CACHED_DOCUMENTS,
    MAX_DOCUMENT_BYTES, MAX_FETCHES_IN_FLIGHT, MAX_LOOKUPS_IN_FLIGHT, MAX_STALENESS,
    MetadataFetcher, is_public_ip,
};
pub use self::crypto::secret_hash;
pub use self::limit::{
    MAX_TRACKED_SOURCES, PASSWORD_BURST, PASSWORD_CHECK_QUEUE, PASSWORD_CHECKS_AT_ONCE,
    PASSWORD_GLOBAL_BURST, PASSWORDS_GLOBAL_PER_MINUTE, PASSWORDS_PER_MINUTE, REGISTRATION_BURST,
    REGISTRATIONS_PER_MINUTE, parse_trusted_proxies,
};
pub use self::login::{Consent, Login, OidcAllow, OidcClaim, OidcSpec};
#[cfg(feature = "password")]
pub use self::password::hash_password;
pub use self::password::{is_password_hash, verify_password};
pub use self::redirect::DEFAULT_REDIRECT_ALLOWLIST;
pub use self::register::{MAX_CLIENT_METADATA_BYTES, MAX_REDIRECT_URIS, MAX_UNUSED_CLIENTS};
pub use self::session::{OPERATOR_SUBJECT, SESSION_TTL};
pub use mcpgen_rules::is_loopback_url;

/// The environment variable a generated server reads the consent password hash from (format:
/// see [`hash_password`]).
pub const PASSWORD_HASH_ENV: &str = "MCPGEN_PASSWORD_HASH";

/// How long an authorization code lives (OAuth 2.1 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL: Duration = Duration::from_secs(600);

/// How long a registered client is kept if it never completes a grant (no authorization code
/// redeemed): open registration would otherwise keep every client anyone ever registered.
/// A client that redeems a code is kept for good. Clients re-register when told their id is
/// unknown (401 `invalid_client`), so removing an unused one costs an honest client nothing.
pub const UNUSED_CLIENT_TTL: Duration = Duration::from_secs(24 * 3600);

/// The default refresh reuse grace ([`AuthSpec::refresh_reuse_grace`]): 120 s. After a
/// refresh token is first exchanged, presenting it again within this window (while none of
/// the tokens it was exchanged for has been used) is answered with fresh tokens, and every
/// answer stays valid until one of them is used (see [`crate::store::Store`]). Hosted clients
/// (claude.ai, Claude Code, Codex) send several refreshes at once after a 401 and retry them
/// in bursts reported to last 30 to 80 s; 120 s covers that with room for a slow network. A
/// longer window only lengthens how long a leaked, already-used token can still mint tokens
/// (that use is caught as reuse as soon as both sides refresh again).
pub const REFRESH_REUSE_GRACE: Duration = Duration::from_secs(120);

/// The longest refresh reuse grace a server accepts: 10 minutes, the longest an
/// authorization code may live (OAuth 2.1 §4.1.2); past that, a replayed token would go
/// unnoticed for longer than any client retries.
pub const MAX_REFRESH_REUSE_GRACE: Duration = Duration::from_secs(600);

/// The spec's `auth:` section, resolved: everything about the OAuth server that the spec
/// decides. The generated `main.rs` writes every field out; [`AuthSpec::default`] holds the
/// runtime's defaults for code that builds one by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSpec {
    /// The issuer; `None`, or a URL equal to the public URL, means "the public URL" (it then
    /// moves with `--public-url`). A different URL stays unless `--issuer` is given
    /// ([`OAuthConfig::issuer`]).
    pub issuer: Option<String>,
    /// (name, description) of every scope, in spec order. Names must match RFC 6749's
    /// scope-token grammar; `offline_access` is added by the server and must not be listed.
    pub scopes: Vec<(String, String)>,
    /// Granted when a request names none of `scopes`; also a tool's default. Must be
    /// non-empty and among `scopes`.
    pub default_scopes: Vec<String>,
    /// How people sign in (the spec's `auth.login`); `--login` replaces it
    /// ([`OAuthConfig::login`]).
    pub login: Login,
    /// The settings of [`Login::Oidc`] (the spec's `auth.oidc`); required when it is the
    /// effective login, ignored otherwise.
    pub oidc: Option<OidcSpec>,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
    /// How long after a refresh token's first use presenting it again mints sibling tokens
    /// instead of revoking the grant; whole seconds, at most [`MAX_REFRESH_REUSE_GRACE`], zero
    /// for none. Default [`REFRESH_REUSE_GRACE`].
    pub refresh_reuse_grace: Duration,
    /// Serve `/register` (RFC 7591 dynamic client registration).
    pub dynamic_registration: bool,
    /// Accept https URLs as `client_id` and fetch their metadata documents.
    pub client_id_metadata_documents: bool,
    /// Redirect URIs accepted beyond the built-in policy (exact; a trailing `*` makes a
    /// prefix). See [`DEFAULT_REDIRECT_ALLOWLIST`].
    pub extra_redirect_uris: Vec<String>,
}

impl Default for AuthSpec {
    /// The spec format's defaults: issuer = public URL, password login, tokens 1 h / 30 d,
    /// refresh reuse grace [`REFRESH_REUSE_GRACE`], dynamic registration on, metadata
    /// documents off, no extra redirect URIs, and no scopes (which [`OAuth::new`] refuses:
    /// set at least one).
    fn default() -> Self {
        Self {
            issuer: None,
            scopes: Vec::new(),
            default_scopes: Vec::new(),
            login: Login::Password,
            oidc: None,
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: REFRESH_REUSE_GRACE,
            dynamic_registration: true,
            client_id_metadata_documents: false,
            extra_redirect_uris: Vec::new(),
        }
    }
}

/// What the OAuth half starts with: the spec's [`AuthSpec`] plus what the command line and
/// environment decide (see [`crate::config::Config`]).
#[derive(Clone)]
pub struct OAuthConfig {
    /// The spec's auth settings.
    pub auth: AuthSpec,
    /// The canonical public origin (`https://mcp.example.com`); every URL is derived from it.
    pub public_url: String,
    /// The MCP endpoint path (`/mcp`); the resource is `public_url + endpoint`.
    pub endpoint: String,
    /// The issuer, overriding `auth.issuer` (`--issuer`); see [`OAuthConfig::issuer`].
    pub issuer: Option<String>,
    /// The login mode, overriding `auth.login` (`--login`); see [`OAuthConfig::login`].
    pub login: Option<Login>,
    /// The shared password's hash, usually from [`PASSWORD_HASH_ENV`]; required with
    /// [`Login::Password`].
    pub password_hash: Option<String>,
    /// Browser origins the OAuth routes of a loopback server accept besides loopback origins
    /// (the spec's `server.allowed_origins`). On a loopback server the OAuth routes apply the
    /// MCP endpoint's Host and Origin policy; on a public one they accept any origin.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies whose forwarded headers name the client (`--trusted-proxies`): when a
    /// request's socket peer is in one of these networks, the per-source limits (registration,
    /// consent password) count the right-most untrusted address of `X-Forwarded-For` (or
    /// `Forwarded`) instead. Empty (the default): forwarded headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where codes, tokens, refreshes, reuse, refusals, registrations and store errors are
    /// counted (default: off); see [`crate::metrics`].
    pub metrics: crate::metrics::Metrics,
    /// `login: oidc` resolved with the environment ([`oidc::OidcConfig::resolve`]): people
    /// sign in at this OpenID provider before the consent page, which then asks for no
    /// password. Required when the effective login is [`Login::Oidc`], ignored otherwise.
    pub oidc: Option<oidc::OidcConfig>,
    /// The server's title, shown on the sign-in, consent and error pages; `None`: the public
    /// host.
    pub title: Option<String>,
    /// Scopes required by a tool that may change or destroy data (`destructiveHint` true and
    /// `readOnlyHint` false): the consent page marks them.
    pub destructive_scopes: Vec<String>,
}

impl OAuthConfig {
    /// A configuration with the spec defaults of [`AuthSpec::default`], endpoint `/mcp`, no
    /// overrides, no password hash and no extra origins.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self::with_auth(public_url, AuthSpec::default())
    }

    /// A configuration for `auth`, with endpoint `/mcp`, no overrides, no password hash and
    /// no extra origins.
    pub fn with_auth(public_url: impl Into<String>, auth: AuthSpec) -> Self {
        Self {
            auth,
            public_url: public_url.into(),
            endpoint: "/mcp".into(),
            issuer: None,
            login: None,
            password_hash: None,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics: crate::metrics::Metrics::default(),
            oidc: None,
            title: None,
            destructive_scopes: Vec::new(),
        }
    }

    /// The effective login mode: the override, else the spec's.
    pub fn login(&self) -> Login {
        self.login.unwrap_or(self.auth.login)
    }

    /// The effective issuer: the override, else the spec's; `None` means the public URL.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref().or(self.auth.issuer.as_deref())
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("auth", &self.auth)
            .field("public_url", &self.public_url)
            .field("endpoint", &self.endpoint)
            .field("issuer", &self.issuer)
            .field("login", &self.login)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<set>"),
            )
            .field("allowed_origins", &self.allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics", &self.metrics)
            .field("oidc", &self.oidc)
            .field("title", &self.title)
            .field("destructive_scopes", &self.destructive_scopes)
            .finish()
    }
}

/// A configuration the server cannot start with; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The public url, endpoint path or issuer do not make the server's urls.
    #[error("{0}")]
    Urls(String),
    /// A declared scope is not a scope token.
    #[error("scope {scope:?} is not a valid scope token (RFC 6749 §3.3)")]
    ScopeToken { scope: String },
    /// `offline_access` is declared; the server adds it itself.
    #[error("offline_access is added by the server; do not list it as a scope")]
    OfflineAccessDeclared,
    /// A scope is declared twice.
    #[error("scope {scope:?} is listed twice")]
    DuplicateScope { scope: String },
    /// No scope is declared.
    #[error("at least one scope is required")]
    NoScopes,
    /// `default_scopes` is empty.
    #[error("default_scopes must not be empty")]
    NoDefaultScopes,
    /// A default scope is not declared.
    #[error("default scope {scope:?} is not one of the declared scopes")]
    UnknownDefaultScope { scope: String },
    /// `login: auto` on a server that is not loopback.
    #[error("login auto is only allowed with a loopback public url")]
    AutoConsentNotLoopback,
    /// A setting (`what`) needs a part of the runtime this build was compiled without;
    /// `feature` is the mcpgen-runtime cargo feature that adds it.
    #[error(
        "{what} needs the mcpgen-runtime feature \"{feature}\", which this build was compiled \
         without: regenerate the crate with mcpgen, or add \"{feature}\" to the features of \
         mcpgen-runtime in Cargo.toml"
    )]
    NotCompiled {
        what: &'static str,
        feature: &'static str,
    },
    /// `login: password` without a password hash.
    #[error("login password needs a password hash in {env}", env = PASSWORD_HASH_ENV)]
    MissingPasswordHash,
    /// A login mode this build of the runtime cannot serve yet.
    #[error("login {0} is not supported by this version of mcpgen-runtime")]
    LoginUnsupported(Login),
    /// `login: oidc` without [`AuthSpec::oidc`].
    #[error("login oidc needs auth.oidc in the spec (the provider and who is allowed)")]
    MissingOidc,
    /// `login: oidc` whose allow rules are all empty: nobody could sign in.
    #[error("auth.oidc.allow has no rule: list emails, domains or a claim")]
    EmptyOidcAllow,
    /// The password hash is not an argon2 PHC string.
    #[error("{env} is not an argon2 password hash ($argon2id$...)", env = PASSWORD_HASH_ENV)]
    BadPasswordHash,
    /// Both token lifetimes are zero.
    #[error("token lifetimes must not be zero")]
    ZeroLifetimes,
    /// The refresh reuse grace is over [`MAX_REFRESH_REUSE_GRACE`]; `grace_secs` in seconds.
    #[error(
        "refresh reuse grace of {grace_secs}s is over the maximum of {max}s (10 minutes); 2 minutes covers client retries",
        max = MAX_REFRESH_REUSE_GRACE.as_secs()
    )]
    RefreshReuseGrace { grace_secs: u64 },
    /// `login: oidc` cannot start.
    #[error("{0}")]
    Oidc(String),
    /// `login: oidc` without [`OAuthConfig::oidc`] (the provider's settings resolved with the
    /// environment).
    #[error(
        "login oidc needs the provider's client id and secret: resolve them with OidcConfig::resolve into OAuthConfig::oidc"
    )]
    OidcUnresolved,
}

pub(crate) struct Inner {
    pub config: OAuthConfig,
    pub urls: urls::Urls,
    pub scopes: scope::ScopePolicy,
    pub redirects: redirect::RedirectPolicy,
    pub store: Arc<dyn Store>,
    pub cimd: Option<cimd::Resolver>,
    pub metadata: metadata::Documents,
    last_purge: AtomicU64,
    pub password_attempts: limit::PasswordLimiter,
    pub registrations: limit::RegistrationLimiter,
    pub oidc: Option<Arc<oidc::Oidc>>,
    /// The store's server key that signs sign-in cookies, read once.
    pub session_key: tokio::sync::OnceCell<[u8; 32]>,
}

/// The authorization server and resource-server check of one MCP server. Cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl OAuth {
    /// Checks the configuration and builds the server. Metadata documents, when enabled, are
    /// fetched by [`HttpsFetcher`]; see [`OAuth::with_fetcher`].
    pub fn new(config: OAuthConfig, store: Arc<dyn Store>) -> Result<Self, ConfigError> {
        Self::build(config, store, None)
    }

    /// Like [`OAuth::new`], with the fetcher used for client ID metadata documents (tests use
    /// an in-process one).
    pub fn with_fetcher(
        config: OAuthConfig,
        store: Arc<dyn Store>,
        fetcher: Arc<dyn MetadataFetcher>,
    ) -> Result<Self, ConfigError> {
        Self::build(config, store, Some(fetcher))
    }

    fn build(
        config: OAuthConfig,
        store: Arc<dyn Store>,
        fetcher: Option<Arc<dyn MetadataFetcher>>,
    ) -> Result<Self, ConfigError> {
        if !cfg!(feature = "oauth") {
            return Err(ConfigError::NotCompiled {
                what: "auth",
                feature: "oauth",
            });
        }
        let urls = urls::Urls::new(&config.public_url, &config.endpoint, config.issuer())
            .map_err(ConfigError::Urls)?;
        let mut resource_scopes = Vec::new();
        for (name, _) in &config.auth.scopes {
            if !scope::is_scope_token(name) {
                return Err(ConfigError::ScopeToken {
                    scope: name.clone(),
                });
            }
            if name == scope::OFFLINE_ACCESS {
                return Err(ConfigError::OfflineAccessDeclared);
            }
            if resource_scopes.contains(name) {
                return Err(ConfigError::DuplicateScope {
                    scope: name.clone(),
                });
            }
            resource_scopes.push(name.clone());
        }
        if resource_scopes.is_empty() {
            return Err(ConfigError::NoScopes);
        }
        if config.auth.default_scopes.is_empty() {
            return Err(ConfigError::NoDefaultScopes);
        }
        if let Some(s) = config
            .auth
            .default_scopes
            .iter()
            .find(|s| !resource_scopes.contains(s))
        {
            return Err(ConfigError::UnknownDefaultScope { scope: s.clone() });
        }
        match config.login() {
            Login::Auto if !urls.public_is_loopback => {
                return Err(ConfigError::AutoConsentNotLoopback);
            }
            Login::Oidc if !cfg!(feature = "oidc") => {
                return Err(ConfigError::NotCompiled {
                    what: "login oidc",
                    feature: "oidc",
                });
            }
            // The provider signs the person in; the consent page asks for no password.
            Login::Oidc => match (&config.auth.oidc, &config.oidc) {
                (None, _) => return Err(ConfigError::MissingOidc),
                (Some(o), _) if o.allow.is_empty() => return Err(ConfigError::EmptyOidcAllow),
                (Some(_), None) => return Err(ConfigError::OidcUnresolved),
                (Some(_), Some(_)) => {}
            },
            Login::Password if !cfg!(feature = "password") => {
                return Err(ConfigError::NotCompiled {
                    what: "login password",
                    feature: "password",
                });
            }
            Login::Users if !cfg!(feature = "password") => {
                return Err(ConfigError::NotCompiled {
                    what: "login users",
                    feature: "password",
                });
            }
            Login::Password => match &config.password_hash {
                None => {
                    return Err(ConfigError::MissingPasswordHash);
                }
                Some(h) if !is_password_hash(h) => {
                    return Err(ConfigError::BadPasswordHash);
                }
                Some(_) => {}
            },
            Login::Users => {
                login::decoy_hash();
            }
            Login::Auto => {}
        }
        if config.auth.access_ttl.is_zero() && config.auth.refresh_ttl.is_zero() {
            return Err(ConfigError::ZeroLifetimes);
        }
        if config.auth.refresh_reuse_grace > MAX_REFRESH_REUSE_GRACE {
            return Err(ConfigError::RefreshReuseGrace {
                grace_secs: config.auth.refresh_reuse_grace.as_secs(),
            });
        }
        let scopes = scope::ScopePolicy {
            resource_scopes,
            default_scopes: config.auth.default_scopes.clone(),
        };
        let redirects = redirect::RedirectPolicy::new(&config.auth.extra_redirect_uris);
        if config.auth.client_id_metadata_documents && !cfg!(feature = "cimd") {
            return Err(ConfigError::NotCompiled {
                what: "client_id_metadata_documents",
                feature: "cimd",
            });
        }
        let cimd = config.auth.client_id_metadata_documents.then(|| {
            cimd::Resolver::new(
                fetcher.unwrap_or_else(cimd::default_fetcher),
                urls.public_is_loopback,
            )
        });
        let metadata = metadata::Documents::new(&config, &urls, &scopes);
        let oidc = match (&config.oidc, config.login()) {
            (Some(c), Login::Oidc) => Some(Arc::new(
                oidc::Oidc::new(c.clone(), &urls.endpoint_url(oidc::CALLBACK_PATH))
                    .map_err(ConfigError::Oidc)?,
            )),
            _ => None,
        };
        if let Some(o) = &oidc {
            o.warm_up();
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                urls,
                scopes,
                redirects,
                store,
                cimd,
                metadata,
                last_purge: AtomicU64::new(0),
                password_attempts: limit::PasswordLimiter::default(),
                registrations: limit::RegistrationLimiter::default(),
                oidc,
                session_key: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The canonical MCP URL (the audience of every token).
    pub fn resource(&self) -> &str {
        &self.inner.urls.resource
    }

    /// The issuer, exactly as the metadata documents and `iss` carry it.
    pub fn issuer(&self) -> &str {
        &self.inner.urls.issuer
    }

    /// The absolute path-inserted protected resource metadata URL (the challenge's
    /// `resource_metadata`).
    pub fn resource_metadata_url(&self) -> String {
        self.inner.urls.prm_url()
    }

    /// The authenticator to give the MCP endpoint.
    pub fn authenticator(&self) -> Arc<dyn Authenticator> {
        Arc::new(bearer::BearerAuth::new(Arc::clone(&self.inner)))
    }

    /// Every discovery and authorization-server route, to merge with the MCP router. The
    /// router sets no fallback (merging keeps the MCP router's); JSON 404s are routed
    /// explicitly under `/.well-known`, the OAuth paths and `<endpoint>/.well-known`.
    pub fn router(&self) -> Router {
        let inner = Arc::clone(&self.inner);
        let urls = &inner.urls;
        // Browser-based clients (Inspector, web IDEs) call discovery, registration and the
        // token endpoint cross-origin; none of them use cookies, so on a public server `*` is
        // safe: the server is reachable by anyone anyway. A loopback server is not, and with
        // `*` a foreign page could register a client, have the browser fetch a code (consent
        // auto) and redeem it; there the guard below refuses foreign origins and hosts first,
        // and CORS echoes the origins it let through.
        let loopback = urls.public_is_loopback;
        let allow_origin = if loopback {
            AllowOrigin::mirror_request()
        } else {
            AllowOrigin::from(Any)
        };
        let cors = CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("mcp-protocol-version"),
            ])
            .expose_headers([header::WWW_AUTHENTICATE]);

        let mut api = metadata::routes(urls);
        if inner.config.auth.dynamic_registration {
            api = api.route(&urls.route("/register"), post(register::register));
        } else {
            api = api.route(
                &urls.route("/register"),
                axum::routing::any(error::not_found),
            );
        }
        api = api
            .route(&urls.route("/token"), post(token::token))
            .route(&urls.route("/revoke"), post(token::revoke));
        for path in ["/register", "/token", "/revoke", "/authorize"] {
            api = api.route(
                &format!("{}/{{*rest}}", urls.route(path)),
                axum::routing::any(error::not_found),
            );
        }
        let api = api
            .layer(cors)
            .layer(DefaultBodyLimit::max(64 * 1024))
            .with_state(Arc::clone(&inner));

        let pages = Router::new().route(
            &urls.route("/authorize"),
            get(authorize::authorize_get).post(authorize::authorize_post),
        );
        #[cfg(feature = "oidc")]
        let pages = match inner.oidc {
            Some(_) => pages.route(&urls.route(oidc::CALLBACK_PATH), get(oidc::callback)),
            None => pages,
        };
        let pages = pages
            .layer(DefaultBodyLimit::max(64 * 1024))
            .with_state(Arc::clone(&inner));
        let router = api.merge(pages);
        if !loopback {
            return router;
        }
        let mut origins = inner.config.allowed_origins.clone();
        origins.push(urls.origin.clone());
        let policy = Arc::new(OriginPolicy::new(origins, Vec::new(), Vec::new(), true));
        router.layer(axum::middleware::from_fn_with_state(policy, guard::guard))
    }
}

impl Inner {
    /// Deletes expired rows at most once a minute, in the background, piggy-backing on
    /// registration and token traffic so no separate task needs spawning at start-up.
    pub fn maybe_purge(self: &Arc<Self>) {
        let now = now();
        let last = self.last_purge.load(Ordering::Relaxed);
        if now < last.saturating_add(60)
            || self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            match inner.store.purge_expired(now).await {
                Ok(n) if n > 0 => {
                    tracing::debug!(target: "mcpgen::oauth", removed = n, "purged expired rows")
                }
                Ok(_) => {}
                Err(e) => {
                    inner.config.metrics.store_error();
                    tracing::warn!(target: "mcpgen::oauth", error = ?e, "purge failed");
                }
            }
        });
    }
}
