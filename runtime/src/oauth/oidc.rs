//! `login: oidc`: the authorization server signs people in at an upstream OpenID Connect
//! provider (Google, Entra ID, Okta, Keycloak, ...) before the consent page.
//!
//! The flow, with OpenID Connect Core 1.0 §3.1 (authorization code flow) and RFC 7636 (PKCE):
//!
//! 1. `GET /authorize` from an MCP client, validated as usual. Nobody is signed in, so the
//!    server answers 302 to the provider's authorization endpoint with a fresh `state`,
//!    `nonce` and S256 PKCE challenge, and sets a *flow cookie*: the MCP authorization
//!    request, the nonce and the PKCE verifier, signed with a key derived from the
//!    deployment's server key (HMAC-SHA-256), `HttpOnly`, `SameSite=Lax`, `Secure` on https,
//!    at most [`FLOW_TTL`] old, and named after `state` (several sign-ins in one browser do not
//!    overwrite each other). Nothing is kept on the server, so the callback works on any
//!    replica.
//! 2. The provider sends the browser to [`CALLBACK_PATH`] with `code` and `state`. A callback
//!    whose `state` has no valid flow cookie in the browser is refused (login CSRF, RFC 6749
//!    §10.12): nobody can make a browser finish a sign-in it did not start.
//! 3. The code is exchanged at the provider's token endpoint (client secret, PKCE verifier),
//!    and the ID token is validated by the `openidconnect` crate: signature against the
//!    provider's JWKS, `iss`, `aud`, `nonce`, `exp` and `iat` (OpenID Connect Core §3.1.3.7).
//! 4. The spec's admission rule ([`OidcAllow`]) decides; an admitted person becomes a
//!    [`Person`] (subject = the ID token's `sub`, as the provider sends it, not prefixed with
//!    the issuer: a server has exactly one provider), is signed in to the authorization server
//!    (its sign-in cookie, see [`super::session`]), and is sent back to `/authorize`, which
//!    approves at once when that person approved the client for these scopes before
//!    (remembered consent), and otherwise shows the consent page; the approval issues the code
//!    for that person. `prompt=login` (and "sign in as someone else") goes to the provider
//!    again.
//!
//! Refusals are a page for the person and an audit log line (`decision="oidc_refused"`)
//! with the reason; provider and token values are never logged.
//!
//! Discovery is lazy and cached: the first sign-in fetches the provider's discovery document
//! and JWKS (and the server tries once in the background at start-up, logging a warning if
//! the provider cannot be reached), so a provider that is down at start-up does not stop the
//! server; sign-ins fail with a page until it answers. The documents are kept
//! [`PROVIDER_TTL`]; a failed fetch is retried at most every [`RETRY_AFTER_FAILURE`]. An ID
//! token signed by a key the cached JWKS lacks triggers one early refetch (key rotation).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenClaims, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse as _,
};
use ring::hmac;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, OnceCell};
use tokio_rustls::rustls;

use super::crypto::constant_time_eq;
use super::login::OidcAllow;
pub use super::login::{
    OIDC_CLIENT_ID_ENV, OIDC_CLIENT_SECRET_ENV, OIDC_ISSUER_ENV, OidcConfig, OidcConfigError,
};
use super::{Inner, clip, now};
use crate::auth::Person;

/// The path of the redirect URI to register at the provider, under the public URL (with
/// `public_url: https://mcp.example.com` the redirect URI is
/// `https://mcp.example.com/oauth/callback`).
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// How long a person has to sign in at the provider: the flow cookie's lifetime, 10 minutes.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// How many sign-ins one browser may have under way at once (one flow cookie each); starting
/// another deletes the oldest.
pub const MAX_PENDING_SIGN_INS: usize = 4;
/// The largest cookie the server sets, name and attributes included (browsers keep 4096
/// bytes per cookie); an authorization request that would need more is refused with a page.
pub const MAX_COOKIE_BYTES: usize = 4000;
/// How long one request to the provider (discovery, JWKS, token) may take.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response read from the provider (discovery document, JWKS, token response).
pub const MAX_PROVIDER_RESPONSE_BYTES: usize = 512 * 1024;
/// How long the discovery document and JWKS are used before they are fetched again.
pub const PROVIDER_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, sign-ins fail at once for this long instead of each asking the
/// provider again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Every claim of the ID token beyond the standard ones, for [`OidcAllow::claim`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims(HashMap<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    openidconnect::EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type ProviderTokenResponse = StandardTokenResponse<IdFields, CoreTokenType>;
type ProviderClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    ProviderTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery found: the client for the provider and the scopes to ask for.
struct Provider {
    client: ProviderClient,
    /// `openid email profile`, and the claim rule's name when the provider lists a scope of
    /// that name (Okta's and oidc-provider's `groups`), since such claims are sent only when
    /// asked for.
    scopes: Vec<Scope>,
}

/// [`Provider`] and when it was fetched; kept [`PROVIDER_TTL`].
struct Discovered {
    provider: Arc<Provider>,
    fetched: Instant,
}

enum Cache {
    Empty,
    Ready(Discovered),
    Failed(Instant, String),
}

/// The OpenID side of one server.
pub(crate) struct Oidc {
    config: OidcConfig,
    redirect_uri: RedirectUrl,
    keys: OnceCell<Keys>,
    cache: Mutex<Cache>,
}

/// The cookie keys, derived from the deployment's server key on first use.
struct Keys {
    flow: [u8; 32],
}

/// A key for one purpose derived from the deployment key, so a cookie signed for one use
/// cannot be replayed as another: HMAC-SHA-256(server key, purpose).
fn derive_key(server_key: &[u8; 32], purpose: &str) -> [u8; 32] {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, server_key),
        purpose.as_bytes(),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The MAC input of a sealed cookie: `<name>=<body>`.
fn sealed_input(name: &str, body: &str) -> Vec<u8> {
    [name.as_bytes(), b"=", body.as_bytes()].concat()
}

/// `<payload>.<mac>`, both base64url; the MAC covers the cookie name too.
fn seal(key: &[u8; 32], name: &str, payload: &impl Serialize) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap_or_default());
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = URL_SAFE_NO_PAD.encode(hmac::sign(&key, &sealed_input(name, &body)));
    format!("{body}.{tag}")
}

/// The payload of a value made by [`seal`], when the MAC checks out.
fn open<T: for<'de> Deserialize<'de>>(key: &[u8; 32], name: &str, value: &str) -> Option<T> {
    if value.len() > MAX_COOKIE_BYTES {
        return None;
    }
    let (body, tag) = value.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&key, &sealed_input(name, body), &tag).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
}

/// The flow cookie's content.
#[derive(Serialize, Deserialize)]
struct Flow {
    /// `state` sent to the provider.
    s: String,
    /// `nonce` sent to the provider.
    n: String,
    /// The PKCE verifier.
    v: String,
    /// The MCP client's `/authorize` query, replayed after sign-in.
    q: String,
    /// Expiry, Unix seconds.
    e: u64,
}

/// Why a sign-in is refused: `reason` goes to the audit log, `shown` to the person.
struct Refused {
    reason: String,
    shown: String,
}

impl Refused {
    fn new(reason: impl Into<String>, shown: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            shown: shown.into(),
        }
    }
}

const RETRY: &str = "Go back to the application and connect again.";

impl Oidc {
    /// The OpenID side for `config`; `callback_url` is the absolute redirect URI,
    /// `server_key` the deployment's 32-byte key.
    pub(crate) fn new(config: OidcConfig, callback_url: &str) -> Result<Self, String> {
        let redirect_uri = RedirectUrl::new(callback_url.to_owned())
            .map_err(|e| format!("oidc redirect uri {callback_url:?} is not a url: {e}"))?;
        Ok(Self {
            config,
            redirect_uri,
            keys: OnceCell::new(),
            cache: Mutex::new(Cache::Empty),
        })
    }

    /// The cookie keys: derived from the store's server key, shared by every replica.
    async fn keys(&self, inner: &Inner) -> Result<&Keys, String> {
        self.keys
            .get_or_try_init(|| async {
                let server_key = server_key(inner).await?;
                Ok(Keys {
                    flow: derive_key(&server_key, "mcpgen oidc flow cookie v1"),
                })
            })
            .await
    }

    /// The provider's client, from the cache or discovery. `refresh` refetches a cache older
    /// than a minute (a key the JWKS lacks).
    async fn client(&self, refresh: bool) -> Result<Arc<Provider>, String> {
        let mut cache = self.cache.lock().await;
        match &*cache {
            Cache::Ready(d)
                if d.fetched.elapsed() < PROVIDER_TTL
                    && !(refresh && d.fetched.elapsed() > Duration::from_secs(60)) =>
            {
                return Ok(Arc::clone(&d.provider));
            }
            Cache::Failed(at, why) if at.elapsed() < RETRY_AFTER_FAILURE => {
                return Err(why.clone());
            }
            _ => {}
        }
        match self.discover().await {
            Ok(provider) => {
                let provider = Arc::new(provider);
                *cache = Cache::Ready(Discovered {
                    provider: Arc::clone(&provider),
                    fetched: Instant::now(),
                });
                Ok(provider)
            }
            Err(why) => {
                tracing::warn!(
                    target: "mcpgen::oauth",
                    issuer = ?self.config.issuer,
                    error = ?why,
                    "oidc provider discovery failed"
                );
                // A usable older copy beats none while the provider is down.
                if let Cache::Ready(d) = &*cache {
                    return Ok(Arc::clone(&d.provider));
                }
                *cache = Cache::Failed(Instant::now(), why.clone());
                Err(why)
            }
        }
    }

    async fn discover(&self) -> Result<Provider, String> {
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| format!("issuer is not a url: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &send)
            .await
            .map_err(|e| format!("discovery: {}", error_chain(&e)))?;
        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            Some(methods)
                if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        };
        let mut scopes: Vec<Scope> = ["email", "profile"]
            .into_iter()
            .map(|s| Scope::new(s.to_owned()))
            .collect();
        if let Some(rule) = &self.config.allow.claim {
            let scope = Scope::new(rule.name.clone());
            if metadata
                .scopes_supported()
                .is_some_and(|s| s.contains(&scope))
                && !scopes.contains(&scope)
            {
                scopes.push(scope);
            }
        }
        let client = ProviderClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect_uri.clone())
        .set_auth_type(auth_type);
        Ok(Provider { client, scopes })
    }

    /// Fetches the provider's documents once, in the background, so a misconfiguration shows
    /// in the log at start-up rather than at the first sign-in.
    pub(crate) fn warm_up(self: &Arc<Self>) {
        let this = Arc::clone(self);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if this.client(false).await.is_ok() {
                    tracing::info!(
                        target: "mcpgen::oauth",
                        issuer = ?this.config.issuer,
                        "oidc provider discovered"
                    );
                }
            });
        }
    }

    /// Sends the browser to the provider for the validated MCP authorization request whose
    /// query is `query`.
    /// `login`: the request asked to sign in again (`prompt=login`, "sign in as someone
    /// else"), so the provider is asked for `prompt=login` too (OpenID Connect Core
    /// §3.1.2.1), rather than signing the same account in silently.
    pub(crate) async fn begin(
        &self,
        inner: &Inner,
        headers: &HeaderMap,
        query: &str,
        login: bool,
    ) -> Response {
        let provider = match self.client(false).await {
            Ok(p) => p,
            Err(why) => {
                return refusal(
                    inner,
                    StatusCode::BAD_GATEWAY,
                    Refused::new(
                        format!("provider unavailable: {why}"),
                        "the sign-in provider cannot be reached",
                    ),
                    "Wait a minute and try again; if it keeps failing, tell the server's operator.",
                );
            }
        };
        let keys = match self.keys(inner).await {
            Ok(k) => k,
            Err(why) => {
                return refusal(
                    inner,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Refused::new(
                        format!("no server key: {why}"),
                        "the server cannot sign you in right now",
                    ),
                    "Wait a minute and try again; if it keeps failing, tell the server's operator.",
                );
            }
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_scopes(provider.scopes.iter().cloned());
        if login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.url();
        let flow = Flow {
            s: state.secret().clone(),
            n: nonce.secret().clone(),
            v: verifier.secret().clone(),
            q: query.to_owned(),
            e: now() + FLOW_TTL.as_secs(),
        };
        let name = flow_cookie_name(inner, state.secret());
        let cookie = set_cookie(inner, &name, &seal(&keys.flow, &name, &flow), FLOW_TTL);
        if cookie.len() > MAX_COOKIE_BYTES {
            return refusal(
                inner,
                StatusCode::BAD_REQUEST,
                Refused::new(
                    "authorization request too large for the sign-in cookie",
                    "the application's authorization request is too large",
                ),
                "Tell the application's developers.",
            );
        }
        let mut res = StatusCode::FOUND.into_response();
        let h = res.headers_mut();
        if let (Ok(loc), Ok(c)) = (
            HeaderValue::from_str(url.as_str()),
            HeaderValue::from_str(&cookie),
        ) {
            h.insert(header::LOCATION, loc);
            h.insert(header::SET_COOKIE, c);
        }
        for stale in self.stale_flows(inner, keys, headers) {
            if let Ok(v) = HeaderValue::from_str(&clear_cookie(inner, &stale)) {
                h.append(header::SET_COOKIE, v);
            }
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// The flow cookies the browser sent beyond the newest [`MAX_PENDING_SIGN_INS`] − 1 (and
    /// any that do not verify), to be deleted as a new one is set: a client that starts
    /// sign-ins in a loop cannot grow the browser's `Cookie` header past what the server reads.
    fn stale_flows(&self, inner: &Inner, keys: &Keys, headers: &HeaderMap) -> Vec<String> {
        let prefix = flow_cookie_prefix(inner);
        let mut pending: Vec<(u64, String)> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| {
                let expiry = open::<Flow>(&keys.flow, k, v).map_or(0, |f| f.e);
                (expiry, k.to_owned())
            })
            .collect();
        pending.sort_unstable_by(|a, b| b.cmp(a));
        pending
            .into_iter()
            .enumerate()
            .filter(|(i, (expiry, _))| *i + 1 >= MAX_PENDING_SIGN_INS || *expiry <= now())
            .map(|(_, (_, name))| name)
            .collect()
    }

    async fn complete(
        &self,
        inner: &Inner,
        params: &HashMap<String, String>,
        headers: &HeaderMap,
    ) -> Result<(Person, Flow), Refused> {
        let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let state = get("state").ok_or_else(|| {
            Refused::new(
                "callback without state",
                "the sign-in response is incomplete",
            )
        })?;
        let keys = self.keys(inner).await.map_err(|why| {
            Refused::new(
                format!("no server key: {why}"),
                "the server cannot sign you in right now",
            )
        })?;
        let name = flow_cookie_name(inner, state);
        let flow: Flow = cookie(headers, &name)
            .and_then(|v| open(&keys.flow, &name, v))
            .ok_or_else(|| {
                Refused::new(
                    "no sign-in cookie for this state (expired, another browser, or login csrf)",
                    "this sign-in was not started in this browser, or it took longer than 10 minutes",
                )
            })?;
        if flow.e <= now() || !constant_time_eq(flow.s.as_bytes(), state.as_bytes()) {
            return Err(Refused::new(
                "sign-in cookie expired or for another state",
                "this sign-in took longer than 10 minutes",
            ));
        }
        if let Some(error) = get("error") {
            let description = get("error_description").unwrap_or("");
            return Err(Refused::new(
                format!(
                    "the provider answered {:?}: {:?}",
                    clip(error),
                    clip(description)
                ),
                format!("the sign-in provider refused: {}", clip(error)),
            ));
        }
        let code = get("code").ok_or_else(|| {
            Refused::new(
                "callback without code",
                "the sign-in response is incomplete",
            )
        })?;
        // RFC 9207: a provider that names itself must name the configured one.
        if let Some(iss) = get("iss")
            && iss.trim_end_matches('/') != self.config.issuer.trim_end_matches('/')
        {
            return Err(Refused::new(
                format!("callback iss {:?} is not the configured issuer", clip(iss)),
                "the sign-in response came from another provider",
            ));
        }
        let provider = self.client(false).await.map_err(|why| {
            Refused::new(
                format!("provider unavailable: {why}"),
                "the sign-in provider cannot be reached",
            )
        })?;
        let tokens = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| {
                Refused::new(
                    format!("no token endpoint: {e}"),
                    "the sign-in provider is misconfigured",
                )
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.v.clone()))
            .request_async(&send)
            .await
            .map_err(|e| {
                Refused::new(
                    format!("token request failed: {}", error_chain(&e)),
                    "the sign-in provider did not accept the sign-in",
                )
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            Refused::new(
                "the token response has no id_token",
                "the sign-in provider sent no identity",
            )
        })?;
        let nonce = Nonce::new(flow.n.clone());
        let claims = match id_token.claims(&provider.client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps the provider rotated its keys: fetch the JWKS again, once.
                let fresh = self.client(true).await.map_err(|why| {
                    Refused::new(
                        format!("provider unavailable: {why}"),
                        "the sign-in provider cannot be reached",
                    )
                })?;
                id_token
                    .claims(&fresh.client.id_token_verifier(), &nonce)
                    .map_err(invalid_id_token)?
                    .clone()
            }
            Err(e) => return Err(invalid_id_token(e)),
        };
        let person = admit(&self.config.allow, &claims)?;
        Ok((person, flow))
    }
}

/// The name of the store's server key the OpenID cookies' keys derive from
/// ([`Store::server_key`](crate::store::Store::server_key)): shared by every replica.
const SERVER_KEY_NAME: &str = "oidc";

async fn server_key(inner: &Inner) -> Result<[u8; 32], String> {
    inner
        .store
        .server_key(SERVER_KEY_NAME)
        .await
        .map_err(|e| e.to_string())
}

fn invalid_id_token(e: openidconnect::ClaimsVerificationError) -> Refused {
    Refused::new(
        format!("invalid id token: {}", error_chain(&e)),
        "the identity the sign-in provider sent cannot be trusted",
    )
}

/// The admission rule over validated claims.
fn admit(
    allow: &OidcAllow,
    claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>,
) -> Result<Person, Refused> {
    let subject = claims.subject().as_str().to_owned();
    // The subjects the other login modes use: a provider account named so would own (in
    // grants, audit lines and the tools' `caller.subject`) what the shared password or the
    // loopback user approved, as `users add` refuses these names too.
    if subject.eq_ignore_ascii_case(Person::OPERATOR) || subject.eq_ignore_ascii_case(Person::LOCAL)
    {
        return Err(Refused::new(
            format!("reserved subject {:?}", clip(&subject)),
            format!("the account {:?} may not use this server", clip(&subject)),
        ));
    }
    let email = claims.email().map(|e| e.as_str().to_owned());
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned())
        .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()));
    // OpenID Connect Core §5.1: an address the provider has not verified says nothing about
    // who the person is. Providers that never send `email_verified` (Entra ID) are trusted as
    // they are; see the README for Entra.
    let verified = claims.email_verified() != Some(false);
    let by_email = verified
        && email.as_deref().is_some_and(|e| {
            allow.emails.iter().any(|a| a.eq_ignore_ascii_case(e))
                || e.rsplit_once('@')
                    .is_some_and(|(_, d)| allow.domains.iter().any(|a| a.eq_ignore_ascii_case(d)))
        });
    let by_claim = allow.claim.as_ref().is_some_and(|rule| {
        claims
            .additional_claims()
            .0
            .get(&rule.name)
            .is_some_and(|v| claim_has(v, &rule.value))
    });
    if by_email || by_claim {
        // An address the provider says it has not verified is the person's say-so: it is
        // not passed on to the tools as `caller.email` (admitted by the claim rule).
        return Ok(Person {
            subject,
            name,
            email: email.filter(|_| verified),
        });
    }
    let who = email.clone().unwrap_or_else(|| subject.clone());
    let reason = if email.is_some() && !verified {
        "email not verified by the provider"
    } else {
        "not admitted by the allow rule"
    };
    Err(Refused::new(
        format!(
            "{reason}: subject {:?}, email {:?}",
            clip(&subject),
            clip(email.as_deref().unwrap_or(""))
        ),
        format!("{} may not use this server", clip(&who)),
    ))
}

fn claim_has(v: &serde_json::Value, want: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s == want,
        serde_json::Value::Array(items) => items.iter().any(|i| claim_has(i, want)),
        serde_json::Value::Bool(b) => want.parse::<bool>() == Ok(*b),
        serde_json::Value::Number(n) => {
            serde_json::from_str::<serde_json::Number>(want).is_ok_and(|w| w == *n)
        }
        _ => false,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    clip(&out).into_owned()
}

fn secure(inner: &Inner) -> bool {
    inner.urls.origin.starts_with("https://")
}

/// Flow cookies are named this prefix + 16 hex digits of SHA-256(`state`). `__Host-` (on
/// https) keeps a sibling subdomain from setting them.
fn flow_cookie_prefix(inner: &Inner) -> &'static str {
    if secure(inner) {
        "__Host-mcpgen_oidc_"
    } else {
        "mcpgen_oidc_"
    }
}

fn flow_cookie_name(inner: &Inner, state: &str) -> String {
    let id = &super::crypto::secret_hash(state)[..16];
    format!("{}{id}", flow_cookie_prefix(inner))
}

fn set_cookie(inner: &Inner, name: &str, value: &str, ttl: Duration) -> String {
    let secure = if secure(inner) { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        ttl.as_secs()
    )
}

fn clear_cookie(inner: &Inner, name: &str) -> String {
    set_cookie(inner, name, "", Duration::ZERO)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn refusal(inner: &Inner, status: StatusCode, refused: Refused, advice: &str) -> Response {
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "oidc_refused",
        reason = ?refused.reason,
    );
    let html = super::pages::ErrorPage {
        server: super::authorize::server_title(inner),
        heading: "Sign-in refused".to_owned(),
        message: format!("{}.", upper_first(&refused.shown)),
        error: None,
        advice: advice.to_owned(),
    }
    .render();
    super::authorize::page(inner, status, html, None)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `GET /oauth/callback`: the provider's answer.
pub(crate) async fn callback(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(oidc) = inner.oidc.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let params = match super::authorize::parse_params(uri.query().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            return refusal(
                &inner,
                StatusCode::BAD_REQUEST,
                Refused::new(e, "the sign-in response is malformed"),
                RETRY,
            );
        }
    };
    let (person, flow) = match oidc.complete(&inner, &params, &headers).await {
        Ok(done) => done,
        Err(refused) => {
            let mut res = refusal(&inner, StatusCode::FORBIDDEN, refused, RETRY);
            // A state is used once, refused or not: the flow cookie goes, so the same
            // callback URL cannot be tried again.
            if let Some(state) = params.get("state") {
                let name = flow_cookie_name(&inner, state);
                if cookie(&headers, &name).is_some()
                    && let Ok(v) = HeaderValue::from_str(&clear_cookie(&inner, &name))
                {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            return res;
        }
    };
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "oidc_signed_in",
        subject = ?clip(&person.subject),
        email = ?person.email.as_deref().map(clip),
    );
    let Some(sign_in) = super::authorize::sign_in_cookie(&inner, &headers, &person).await else {
        return refusal(
            &inner,
            StatusCode::SERVICE_UNAVAILABLE,
            Refused::new(
                "cannot sign the sign-in cookie (store unreachable)",
                "the server cannot sign you in right now",
            ),
            "Wait a minute and try again; if it keeps failing, tell the server's operator.",
        );
    };
    let flow_name = flow_cookie_name(&inner, &flow.s);
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    let back = format!("{}?{}", inner.urls.route("/authorize"), flow.q);
    for c in [sign_in, clear_cookie(&inner, &flow_name)] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&back) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Msg(String),
}

/// The HTTP client of the OpenID side: HTTP/1.1, one request per connection, no redirects,
/// TLS with the Mozilla roots (plain http only to loopback hosts), [`PROVIDER_TIMEOUT`] for
/// the whole exchange, at most [`MAX_PROVIDER_RESPONSE_BYTES`] of body.
async fn send(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, SendError> {
    tokio::time::timeout(PROVIDER_TIMEOUT, send_inner(req))
        .await
        .map_err(|_| SendError::Msg("the provider did not answer in time".into()))?
}

fn tls_config() -> Option<Arc<rustls::ClientConfig>> {
    static TLS: std::sync::OnceLock<Option<Arc<rustls::ClientConfig>>> = std::sync::OnceLock::new();
    TLS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .ok()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
    })
    .clone()
}

async fn send_inner(
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, SendError> {
    let err = |m: &str| SendError::Msg(m.to_owned());
    let url = url::Url::parse(&req.uri().to_string()).map_err(|_| err("bad provider url"))?;
    let host = url
        .host_str()
        .ok_or_else(|| err("provider url has no host"))?
        .to_owned();
    let https = match url.scheme() {
        "https" => true,
        "http" if mcpgen_rules::is_loopback_host(&host) => false,
        _ => return Err(err("provider urls must be https (http only on loopback)")),
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|_| err("cannot resolve the provider's host"))?
        .collect();
    let tcp = connect_any(&addrs)
        .await
        .ok_or_else(|| err("cannot connect to the provider"))?;
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let (parts, body) = req.into_parts();
    let mut out = http::Request::builder()
        .method(parts.method)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::USER_AGENT, "mcpgen-runtime");
    for (k, v) in &parts.headers {
        out = out.header(k, v);
    }
    let out = out
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| err("cannot build the provider request"))?;
    let res = if https {
        let tls = tls_config().ok_or_else(|| err("tls is unavailable"))?;
        let name = rustls::pki_types::ServerName::try_from(bare)
            .map_err(|_| err("invalid provider host name"))?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| SendError::Msg(format!("tls handshake with the provider failed: {e}")))?;
        exchange(hyper_util::rt::TokioIo::new(stream), out).await?
    } else {
        exchange(hyper_util::rt::TokioIo::new(tcp), out).await?
    };
    Ok(res)
}

async fn connect_any(addrs: &[SocketAddr]) -> Option<tokio::net::TcpStream> {
    for a in addrs {
        if let Ok(s) = tokio::net::TcpStream::connect(a).await {
            return Some(s);
        }
    }
    None
}

async fn exchange<IO>(
    io: IO,
    req: http::Request<Full<Bytes>>,
) -> Result<openidconnect::HttpResponse, SendError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let err = |m: &str| SendError::Msg(m.to_owned());
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
        .await
        .map_err(|_| err("http handshake with the provider failed"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let res = sender
        .send_request(req)
        .await
        .map_err(|_| err("the provider did not answer"))?;
    let (parts, body) = res.into_parts();
    let body = Limited::new(body, MAX_PROVIDER_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|_| err("the provider's answer is too large or broken"))?
        .to_bytes()
        .to_vec();
    Ok(http::Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::super::login::OidcSpec;
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn spec() -> OidcSpec {
        OidcSpec {
            issuer: None,
            allow: OidcAllow {
                domains: vec!["example.com".into()],
                ..OidcAllow::default()
            },
        }
    }

    #[test]
    fn credentials_come_from_the_environment_and_are_required() {
        let full = [
            (OIDC_ISSUER_ENV, "https://accounts.google.com"),
            (OIDC_CLIENT_ID_ENV, "id"),
            (OIDC_CLIENT_SECRET_ENV, "s3cret"),
        ];
        let c = OidcConfig::resolve(&spec(), env(&full)).unwrap();
        assert_eq!(c.issuer, "https://accounts.google.com");
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = OidcConfig::resolve(&spec(), env(&full[..2])).unwrap_err();
        assert!(e.to_string().contains(OIDC_CLIENT_SECRET_ENV), "{e}");
        let e = OidcConfig::resolve(&spec(), env(&[full[0], full[2]])).unwrap_err();
        assert!(e.to_string().contains(OIDC_CLIENT_ID_ENV), "{e}");
        let e = OidcConfig::resolve(&spec(), env(&full[1..])).unwrap_err();
        assert_eq!(e, OidcConfigError::MissingIssuer);
        let e = OidcConfig::resolve(
            &spec(),
            env(&[
                (OIDC_ISSUER_ENV, "http://idp.example.com"),
                full[1],
                full[2],
            ]),
        )
        .unwrap_err();
        assert!(matches!(e, OidcConfigError::BadIssuer { .. }), "{e}");
        let e = OidcConfig::resolve(&OidcSpec::default(), env(&full)).unwrap_err();
        assert_eq!(e, OidcConfigError::NoAllowRule);
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_name() {
        let key = [7u8; 32];
        let v = seal(&key, "a", &("x".to_owned(), 1u64));
        assert_eq!(open::<(String, u64)>(&key, "a", &v), Some(("x".into(), 1)));
        assert_eq!(open::<(String, u64)>(&key, "b", &v), None);
        assert_eq!(open::<(String, u64)>(&[8u8; 32], "a", &v), None);
        let (body, tag) = v.split_once('.').unwrap();
        let forged = format!("{}A.{tag}", body);
        assert_eq!(open::<(String, u64)>(&key, "a", &forged), None);
    }

    #[test]
    fn claim_values_match_strings_and_arrays() {
        assert!(claim_has(&serde_json::json!("staff"), "staff"));
        assert!(claim_has(&serde_json::json!(["a", "staff"]), "staff"));
        assert!(claim_has(&serde_json::json!(true), "true"));
        assert!(!claim_has(&serde_json::json!("staffer"), "staff"));
        assert!(!claim_has(&serde_json::json!({"staff": 1}), "staff"));
    }
}

#[cfg(test)]
mod admit_tests {
    use super::*;

    /// Validated claims as a provider would send them: `sub`, the email and whether it is
    /// verified (`None`: not sent), and `extra` claims.
    fn claims(
        sub: &str,
        email: Option<(&str, Option<bool>)>,
        extra: serde_json::Value,
    ) -> IdTokenClaims<OtherClaims, CoreGenderClaim> {
        let mut doc = serde_json::json!({
            "iss": "https://idp.example.com",
            "aud": "id",
            "exp": now() + 300,
            "iat": now(),
            "sub": sub,
        });
        if let Some((email, verified)) = email {
            doc["email"] = email.into();
            if let Some(v) = verified {
                doc["email_verified"] = v.into();
            }
        }
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        serde_json::from_value(doc).expect("claims parse")
    }

    fn staff_or_example_com() -> OidcAllow {
        OidcAllow {
            domains: vec!["example.com".into()],
            claim: Some(super::super::login::OidcClaim {
                name: "groups".into(),
                value: "staff".into(),
            }),
            ..OidcAllow::default()
        }
    }

    #[test]
    fn subjects_of_the_other_login_modes_are_refused() {
        let allow = staff_or_example_com();
        for sub in ["operator", "Operator", "local", "LOCAL"] {
            let c = claims(
                sub,
                Some(("ada@example.com", Some(true))),
                serde_json::json!({}),
            );
            assert!(admit(&allow, &c).is_err(), "sub {sub:?} was admitted");
        }
        let c = claims(
            "1234",
            Some(("ada@example.com", Some(true))),
            serde_json::json!({}),
        );
        assert_eq!(
            admit(&allow, &c).ok().map(|p| p.subject),
            Some("1234".into())
        );
    }

    #[test]
    fn an_unverified_email_is_not_passed_on_when_the_claim_rule_admits() {
        let allow = staff_or_example_com();
        let c = claims(
            "42",
            Some(("ceo@example.com", Some(false))),
            serde_json::json!({"groups": ["staff"]}),
        );
        let person = admit(&allow, &c).ok().expect("admitted by the claim rule");
        assert_eq!(person.subject, "42");
        assert_eq!(
            person.email, None,
            "an unverified address reached the tools"
        );
    }

    #[test]
    fn domains_match_whole_domains_only() {
        let allow = OidcAllow {
            domains: vec!["example.com".into()],
            ..OidcAllow::default()
        };
        for email in [
            "a@evil-example.com",
            "a@example.com.evil.net",
            "a@sub.example.com",
            "a@example.com@evil.net",
            "a@example.com.",
        ] {
            let c = claims("1", Some((email, Some(true))), serde_json::json!({}));
            assert!(admit(&allow, &c).is_err(), "{email} was admitted");
        }
        let c = claims(
            "1",
            Some(("A@EXAMPLE.COM", Some(true))),
            serde_json::json!({}),
        );
        assert!(admit(&allow, &c).is_ok());
    }
}
