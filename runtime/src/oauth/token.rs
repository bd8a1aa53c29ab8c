//! The token endpoint (authorization_code with PKCE, refresh_token with rotation and reuse
//! detection), revocation (RFC 7009), and client authentication for both.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use super::authorize::parse_params;
use super::crypto::{
    constant_time_eq, is_code_verifier, pkce_s256_matches, random_token, secret_hash,
};
use super::error::OAuthError;
use super::{Inner, Login, now, scope};
use crate::store::{
    ClientRecord, NewToken, Person, Redemption, RotateRequest, Rotation, TokenKind, TokenRecord,
    TokenState,
};

/// Client credentials as presented: HTTP Basic, form fields, or a bare `client_id`.
struct Presented {
    client_id: Option<String>,
    secret: Option<String>,
    basic: bool,
}

fn percent_decode(s: &str) -> String {
    // RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn presented(headers: &HeaderMap, p: &HashMap<String, String>) -> Result<Presented, OAuthError> {
    let form_id = p.get("client_id").filter(|v| !v.is_empty()).cloned();
    let form_secret = p.get("client_secret").filter(|v| !v.is_empty()).cloned();
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Ok(Presented {
            client_id: form_id,
            secret: form_secret,
            basic: false,
        });
    };
    let bad = || {
        let mut e = OAuthError::invalid_client("malformed basic authorization header");
        e.basic_challenge = true;
        e
    };
    let auth = auth.to_str().map_err(|_| bad())?;
    let Some((scheme, value)) = auth.trim().split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(value.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let (id, secret) = (percent_decode(id), percent_decode(secret));
    if form_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not basic and client_secret together",
        ));
    }
    if form_id.as_deref().is_some_and(|f| f != id) {
        return Err(OAuthError::invalid_request(
            "client_id differs from the basic credentials",
        ));
    }
    Ok(Presented {
        client_id: Some(id),
        secret: Some(secret),
        basic: true,
    })
}

/// Authenticates the client the way it registered (RFC 6749 §2.3, RFC 7591
/// `token_endpoint_auth_method`): `none` needs only its id, `client_secret_post` the secret in
/// the form, `client_secret_basic` the secret in HTTP Basic. An unknown client is 401, so
/// clients that lost their registration register again.
async fn authenticate(
    inner: &Inner,
    creds: &Presented,
    fallback_id: Option<&str>,
) -> Result<ClientRecord, OAuthError> {
    let fail = |why: &str| {
        let mut e = OAuthError::invalid_client(why);
        e.basic_challenge = creds.basic;
        e
    };
    let Some(id) = creds.client_id.as_deref().or(fallback_id) else {
        return Err(fail("client authentication is required"));
    };
    let Some(client) = inner.find_client(id).await? else {
        return Err(fail("unknown client_id; register the client again"));
    };
    let ok = match client.token_endpoint_auth_method.as_str() {
        "none" => true,
        method => {
            let transport_ok = if method == "client_secret_basic" {
                creds.basic
            } else {
                !creds.basic
            };
            let secret_ok = match (&client.secret_hash, &creds.secret) {
                (Some(stored), Some(given)) => {
                    constant_time_eq(secret_hash(given).as_bytes(), stored.as_bytes())
                }
                _ => false,
            };
            transport_ok && secret_ok
        }
    };
    if !ok {
        return Err(fail("client authentication failed"));
    }
    Ok(client)
}

fn token_response(
    access: &str,
    expires_in: u64,
    refresh: Option<&str>,
    scopes: &[String],
) -> Response {
    let mut m = Map::new();
    m.insert("access_token".into(), access.into());
    // Capital B: some clients compare case-sensitively.
    m.insert("token_type".into(), "Bearer".into());
    m.insert("expires_in".into(), expires_in.into());
    if let Some(r) = refresh {
        m.insert("refresh_token".into(), r.into());
    }
    // Always present and normalised (RFC 6749 §5.1 requires it when it differs from the
    // request, and a padded echo of the request is what broke Claude).
    m.insert("scope".into(), scope::join(scopes).into());
    let mut res = Json(Value::Object(m)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// Until when a family revoked now must be remembered (unix seconds): until every token the
/// grant issued so far has expired, access tokens included, whichever kind lives longer.
fn revoked_until(inner: &Inner) -> u64 {
    let longest = inner
        .config
        .auth
        .refresh_ttl
        .max(inner.config.auth.access_ttl);
    now() + longest.as_secs()
}

/// Records when the client was last issued tokens (for `clients list`): once per token
/// response, never per bearer check. The tokens are issued either way.
async fn note_client_used(inner: &Inner, client_id: &str) {
    if let Err(e) = inner.store.client_used(client_id, now()).await {
        inner.config.metrics.store_error();
        tracing::warn!(target: "mcpgen::oauth", error = ?e, "cannot record the client's last use");
    }
}

fn store_error(inner: &Inner, e: impl std::fmt::Display) -> OAuthError {
    inner.config.metrics.store_error();
    tracing::error!(target: "mcpgen::oauth", error = ?e.to_string(), "store failure at the token endpoint");
    OAuthError::server_error()
}

/// How far (seconds) the clock of the machine running `users add` may be ahead of the
/// replica's without its new user's first code being refused by [`check_account`].
const ACCOUNT_CLOCK_SKEW: u64 = 60;

/// With `login: users`, whether `person` still has the account a code or refresh token issued
/// at `issued_at` (Unix seconds) was approved by: the user exists and was created no later
/// (give or take [`ACCOUNT_CLOCK_SKEW`]).
/// `users remove` revokes a person's grants, but a code issued while it ran (the sign-in
/// checked the password just before the account went) escapes that revocation; and a name
/// removed and added again is another person, whom the old person's codes and tokens must
/// not reach. On refusal the grant is revoked and the refusal logged with its subject.
async fn check_account(
    inner: &Inner,
    person: &Person,
    family: &str,
    issued_at: u64,
    client_id: &str,
) -> Result<(), OAuthError> {
    if inner.config.login() != Login::Users {
        return Ok(());
    }
    let user = inner
        .store
        .get_user(&person.subject)
        .await
        .map_err(|e| store_error(inner, e))?;
    // `users add` may run on another machine than the replica that issued the code: a clock
    // ahead by up to a minute must not refuse someone who signs in right after being added.
    if user.is_some_and(|u| u.created_at <= issued_at.saturating_add(ACCOUNT_CLOCK_SKEW)) {
        return Ok(());
    }
    inner
        .store
        .revoke_family(family, revoked_until(inner))
        .await
        .map_err(|e| store_error(inner, e))?;
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "account_gone",
        client_id = ?client_id,
        subject = ?person.subject,
        "the user the grant belongs to was removed; the grant is revoked",
    );
    Err(OAuthError::invalid_grant(
        "the user who approved this grant no longer exists; sign in again",
    )
    .about(&person.subject))
}

struct Issued {
    access: String,
    refresh: Option<String>,
    tokens: Vec<NewToken>,
    expires_in: u64,
}

fn mint(
    inner: &Inner,
    client: &ClientRecord,
    family: &str,
    access_scopes: &[String],
    refresh_scopes: &[String],
    resource: &str,
    person: &Person,
) -> Issued {
    let issued_at = now();
    let expires_in = inner.config.auth.access_ttl.as_secs();
    let access = random_token();
    let mut tokens = vec![NewToken {
        hash: secret_hash(&access),
        record: TokenRecord {
            kind: TokenKind::Access,
            client_id: client.client_id.clone(),
            scopes: access_scopes.to_vec(),
            resource: resource.to_owned(),
            family: family.to_owned(),
            issued_at,
            expires_at: issued_at + expires_in,
            person: person.clone(),
        },
    }];
    // Refresh tokens go to clients registered for the refresh_token grant.
    let refresh = client
        .grant_types
        .iter()
        .any(|g| g == "refresh_token")
        .then(random_token);
    if let Some(r) = &refresh {
        tokens.push(NewToken {
            hash: secret_hash(r),
            record: TokenRecord {
                kind: TokenKind::Refresh,
                client_id: client.client_id.clone(),
                scopes: refresh_scopes.to_vec(),
                resource: resource.to_owned(),
                family: family.to_owned(),
                issued_at,
                expires_at: issued_at + inner.config.auth.refresh_ttl.as_secs(),
                person: person.clone(),
            },
        });
    }
    Issued {
        access,
        refresh,
        tokens,
        expires_in,
    }
}

fn check_resource(
    inner: &Inner,
    p: &HashMap<String, String>,
    bound: &str,
) -> Result<(), OAuthError> {
    match p.get("resource").filter(|r| !r.is_empty()) {
        Some(r) if !inner.urls.matches_resource(r) || bound != inner.urls.resource => {
            Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "resource is not this server; use the mcp endpoint url",
            ))
        }
        _ => Ok(()),
    }
}

async fn authorization_code(
    inner: &Inner,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Result<Response, OAuthError> {
    let creds = presented(headers, p)?;
    let client = authenticate(inner, &creds, None).await?;
    let code = p
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let record = match inner
        .store
        .redeem_code(&secret_hash(code))
        .await
        .map_err(|e| store_error(inner, e))?
    {
        Redemption::Fresh(r) => r,
        Redemption::Replayed(r) => {
            // OAuth 2.1 §4.1.2: a code used twice means it leaked; whatever it issued goes.
            inner
                .store
                .revoke_family(&r.family, revoked_until(inner))
                .await
                .map_err(|e| store_error(inner, e))?;
            inner.config.metrics.refused("token", "code_replayed");
            tracing::warn!(
                target: "mcpgen::oauth",
                decision = "code_replayed",
                client_id = ?r.client_id,
                subject = ?r.person.subject,
                "authorization code replayed; its tokens are revoked",
            );
            return Err(OAuthError::invalid_grant("authorization code already used"));
        }
        Redemption::Unknown => {
            return Err(OAuthError::invalid_grant(
                "unknown or expired authorization code",
            ));
        }
    };
    // Whose grant the checks below refuse, for their log line.
    let who = &record.person.subject;
    if record.expires_at <= now() {
        return Err(OAuthError::invalid_grant("authorization code expired").about(who));
    }
    if record.client_id != client.client_id {
        return Err(
            OAuthError::invalid_grant("authorization code was issued to another client").about(who),
        );
    }
    match p.get("redirect_uri") {
        Some(r) if *r == record.redirect_uri => {}
        // Optional only if it was optional at /authorize (one registered URI, none sent).
        None if client.redirect_uris.len() == 1
            && client.redirect_uris[0] == record.redirect_uri => {}
        _ => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request",
            )
            .about(who));
        }
    }
    let verifier = p.get("code_verifier").map(String::as_str).unwrap_or("");
    if !is_code_verifier(verifier) {
        return Err(OAuthError::invalid_grant("code_verifier is missing or malformed").about(who));
    }
    if !pkce_s256_matches(verifier, &record.code_challenge) {
        return Err(
            OAuthError::invalid_grant("code_verifier does not match the code_challenge").about(who),
        );
    }
    check_resource(inner, p, &record.resource).map_err(|e| e.about(who))?;
    check_account(
        inner,
        &record.person,
        &record.family,
        record.issued_at,
        &client.client_id,
    )
    .await?;
    let issued = mint(
        inner,
        &client,
        &record.family,
        &record.scopes,
        &record.scopes,
        &record.resource,
        &record.person,
    );
    inner
        .store
        .put_tokens(&issued.tokens)
        .await
        .map_err(|e| store_error(inner, e))?;
    // The client completed a grant: it is kept past UNUSED_CLIENT_TTL. The tokens are issued
    // either way; should this fail, the client is purged later and registers again.
    if let Err(e) = inner.store.client_granted(&client.client_id).await {
        inner.config.metrics.store_error();
        tracing::warn!(target: "mcpgen::oauth", error = ?e, "cannot record the client's grant");
    }
    inner.config.metrics.tokens_issued("authorization_code");
    note_client_used(inner, &client.client_id).await;
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "token_issued",
        grant = "authorization_code",
        client_id = ?client.client_id,
        subject = ?record.person.subject,
        scope = ?scope::join(&record.scopes),
        refresh = issued.refresh.is_some(),
    );
    Ok(token_response(
        &issued.access,
        issued.expires_in,
        issued.refresh.as_deref(),
        &record.scopes,
    ))
}

async fn refresh_token(
    inner: &Inner,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Result<Response, OAuthError> {
    let creds = presented(headers, p)?;
    let raw = p
        .get("refresh_token")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let hash = secret_hash(raw);
    let stored = inner
        .store
        .get_token(&hash)
        .await
        .map_err(|e| store_error(inner, e))?;
    // Public clients may refresh without client_id (anthropics/claude-code#53021): the token
    // names its client.
    let owner = stored.as_ref().map(|t| t.record.client_id.clone());
    let client = authenticate(inner, &creds, owner.as_deref()).await?;
    let Some(stored) = stored else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    let old = &stored.record;
    let who = &old.person.subject;
    if old.kind != TokenKind::Refresh || old.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("unknown refresh token").about(who));
    }
    if matches!(stored.state, TokenState::Revoked) {
        return Err(OAuthError::invalid_grant("refresh token revoked").about(who));
    }
    if old.expires_at <= now() {
        return Err(OAuthError::invalid_grant("refresh token expired").about(who));
    }
    check_resource(inner, p, &old.resource).map_err(|e| e.about(who))?;
    check_account(
        inner,
        &old.person,
        &old.family,
        old.issued_at,
        &client.client_id,
    )
    .await?;
    let access_scopes = inner
        .scopes
        .narrow(&old.scopes, p.get("scope").map(String::as_str));
    let issued = mint(
        inner,
        &client,
        &old.family,
        &access_scopes,
        &old.scopes,
        &old.resource,
        &old.person,
    );
    let req = RotateRequest {
        old_hash: hash,
        new_tokens: issued.tokens.clone(),
        now: now(),
        grace: inner.config.auth.refresh_reuse_grace.as_secs(),
        keep_until: revoked_until(inner),
    };
    match inner
        .store
        .rotate_refresh(&req)
        .await
        .map_err(|e| store_error(inner, e))?
    {
        Rotation::Rotated => {}
        Rotation::Reused(reuse) => {
            // RFC 9700 §4.14.2: either the client kept a token it should have dropped, or the
            // token leaked; the grant is revoked either way, so the user signs in again.
            inner.config.metrics.refresh_reused();
            tracing::warn!(
                target: "mcpgen::oauth",
                decision = "refresh_reused",
                client_id = ?client.client_id,
                subject = ?old.person.subject,
                family = ?old.family,
                reuse = reuse.as_str(),
                "refresh token used again after it was replaced; the whole grant is revoked",
            );
            return Err(OAuthError::invalid_grant("refresh token already used"));
        }
        Rotation::Invalid => {
            return Err(OAuthError::invalid_grant("refresh token is not valid").about(who));
        }
    }
    inner.config.metrics.tokens_issued("refresh_token");
    note_client_used(inner, &client.client_id).await;
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "token_issued",
        grant = "refresh_token",
        client_id = ?client.client_id,
        subject = ?old.person.subject,
        scope = ?scope::join(&access_scopes),
    );
    Ok(token_response(
        &issued.access,
        issued.expires_in,
        issued.refresh.as_deref(),
        &access_scopes,
    ))
}

/// `POST /token`.
pub(crate) async fn token(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner.maybe_purge();
    let result = async {
        let p = parse_params(&body).map_err(OAuthError::invalid_request)?;
        match p.get("grant_type").map(String::as_str) {
            Some("authorization_code") => authorization_code(&inner, &headers, &p).await,
            Some("refresh_token") => refresh_token(&inner, &headers, &p).await,
            None | Some("") => Err(OAuthError::invalid_request("grant_type is required")),
            Some(_) => Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )),
        }
    }
    .await;
    result.unwrap_or_else(|e| {
        inner.config.metrics.refused("token", e.error);
        match &e.subject {
            // Debug: a reason can quote the request (a repeated parameter's name).
            Some(subject) => tracing::info!(
                target: "mcpgen::oauth",
                decision = "token_refused",
                error = e.error,
                reason = ?e.description,
                subject = ?subject,
            ),
            None => tracing::info!(
                target: "mcpgen::oauth",
                decision = "token_refused",
                error = e.error,
                reason = ?e.description,
            ),
        }
        e.into_response()
    })
}

/// `POST /revoke` (RFC 7009): the client authenticates as at `/token`; an unknown token, or
/// one of another client, is answered 200 like a revoked one so nothing leaks. Revoking a
/// refresh token revokes its whole grant (access tokens included, §2.1).
pub(crate) async fn revoke(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let p = parse_params(&body).map_err(OAuthError::invalid_request)?;
        let creds = presented(&headers, &p)?;
        let raw = p
            .get("token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let hash = secret_hash(raw);
        let stored = inner
            .store
            .get_token(&hash)
            .await
            .map_err(|e| store_error(&inner, e))?;
        let owner = stored.as_ref().map(|t| t.record.client_id.clone());
        let client = authenticate(&inner, &creds, owner.as_deref()).await?;
        if let Some(t) = stored.filter(|t| t.record.client_id == client.client_id) {
            match t.record.kind {
                TokenKind::Refresh => {
                    inner
                        .store
                        .revoke_family(&t.record.family, revoked_until(&inner))
                        .await
                        .map_err(|e| store_error(&inner, e))?;
                }
                TokenKind::Access => inner
                    .store
                    .revoke_token(&hash)
                    .await
                    .map_err(|e| store_error(&inner, e))?,
            }
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "revoked",
                client_id = ?client.client_id,
                subject = ?t.record.person.subject,
                kind = t.record.kind.as_str(),
            );
        }
        let mut res = StatusCode::OK.into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok::<_, OAuthError>(res)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
