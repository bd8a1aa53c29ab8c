//! Dynamic client registration (RFC 7591): lenient about what clients send, strict about what
//! it answers (201, integer timestamps, no null or empty members, a secret only for clients
//! that asked for secret-based authentication).
//!
//! Text a client sends is shown to people (the consent page) and written to logs, so metadata
//! holding control or bidirectional characters is refused with 400 `invalid_client_metadata`
//! naming the field (see [`forbidden_char`]); it is not stripped, since a stripped name is not
//! the one the client chose and may read differently.
//!
//! Open registration is bounded: a rate limit per source address (see [`super::limit`]), at
//! most [`MAX_REDIRECT_URIS`] redirect URIs and [`MAX_CLIENT_METADATA_BYTES`] of stored
//! metadata per client, at most [`MAX_UNUSED_CLIENTS`] clients waiting for their first grant,
//! and clients that never complete a grant are purged after [`super::UNUSED_CLIENT_TTL`].

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use super::crypto::{random_id, random_token, secret_hash};
use super::error::OAuthError;
use super::limit::source_ip;
use super::{Inner, UNUSED_CLIENT_TTL, now};
use crate::store::ClientRecord;

/// Most redirect URIs one client may register. Real clients send one to four (Cursor three,
/// VS Code four); the cap keeps one registration from carrying thousands.
pub const MAX_REDIRECT_URIS: usize = 20;

/// Most bytes of metadata kept per client: the stored record as JSON (name, redirect URIs,
/// contacts and the other echoed fields). Real registrations take well under 1 KiB (Claude's
/// with one redirect URI about 400 bytes, Cursor's three and VS Code's four under 700), so
/// 4 KiB leaves room to spare while bounding what an unused client costs.
pub const MAX_CLIENT_METADATA_BYTES: usize = 4 * 1024;

/// Most registered clients waiting for their first grant, across all replicas: past it,
/// registration answers 503 until some complete a grant or expire (after
/// [`super::UNUSED_CLIENT_TTL`]). Clients that completed a grant are never counted. With
/// [`MAX_CLIENT_METADATA_BYTES`], this bounds what open registration can store to 40 MiB.
pub const MAX_UNUSED_CLIENTS: u64 = 10_000;

pub(crate) const AUTH_METHODS: &[&str] = &["none", "client_secret_post", "client_secret_basic"];
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];

/// Optional string metadata echoed back when present and non-empty (RFC 7591 §2).
const ECHOED: &[&str] = &[
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "application_type",
];

/// The first character of `text` a client may not put in its metadata: a control character
/// (C0, DEL, C1; tab and line breaks included, since every field is one line) or a Unicode
/// bidirectional control (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069; Unicode
/// Standard Annex #9). Either would let a client make its name display as something else next
/// to the redirect host on the consent page, or write escape sequences into a terminal.
pub(crate) fn forbidden_char(text: &str) -> Option<char> {
    text.chars().find(|&c| mcpgen_rules::is_unsafe_char(c))
}

/// Refuses `value` of the metadata field `field` when it holds a [`forbidden_char`]: the
/// registration fails with 400 `invalid_client_metadata` naming the field (RFC 7591 §3.2.2)
/// rather than keeping an altered value the client did not send.
fn plain_text(field: &str, value: &str) -> Result<(), OAuthError> {
    match forbidden_char(value) {
        None => Ok(()),
        Some(c) => Err(invalid_metadata(format!(
            "{field} holds the character U+{:04X}; client metadata must not hold control or bidirectional characters",
            c as u32
        ))),
    }
}

fn invalid_metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        description,
    )
}

fn invalid_redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_redirect_uri", description)
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str())
                .map(str::to_owned)
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// Turns a request body into a client record and its one-time secret.
fn parse(inner: &Inner, body: &[u8]) -> Result<(ClientRecord, Option<String>), OAuthError> {
    let req: Value = serde_json::from_slice(body)
        .map_err(|_| invalid_metadata("the registration body must be a json object"))?;
    let Value::Object(req) = req else {
        return Err(invalid_metadata(
            "the registration body must be a json object",
        ));
    };

    let redirect_uris = match req.get("redirect_uris") {
        Some(Value::Array(a)) if a.len() > MAX_REDIRECT_URIS => {
            return Err(invalid_redirect(format!(
                "{} redirect_uris sent; at most {MAX_REDIRECT_URIS} may be registered",
                a.len()
            )));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut out = Vec::new();
            for v in a {
                let Some(uri) = v.as_str() else {
                    return Err(invalid_redirect("redirect_uris must be strings"));
                };
                if let Err(why) = inner.redirects.check(uri) {
                    return Err(invalid_redirect(format!(
                        "redirect_uri {uri:?} refused: {why}"
                    )));
                }
                if !out.iter().any(|u| u == uri) {
                    out.push(uri.to_owned());
                }
            }
            out
        }
        _ => return Err(invalid_redirect("redirect_uris must be a non-empty array")),
    };

    // RFC 7591 §2: the default is client_secret_basic.
    let method = match req.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => "client_secret_basic".to_owned(),
        Some(Value::String(m)) if AUTH_METHODS.contains(&m.as_str()) => m.clone(),
        Some(other) => {
            return Err(invalid_metadata(format!(
                "token_endpoint_auth_method {other} is not supported; use none, client_secret_post or client_secret_basic"
            )));
        }
    };

    // Unknown grant types are dropped rather than refused, like unknown metadata; a client
    // that asks for neither supported grant still gets authorization_code, the only flow.
    let mut grant_types: Vec<String> = strings(req.get("grant_types"))
        .unwrap_or_default()
        .into_iter()
        .filter(|g| GRANT_TYPES.contains(&g.as_str()))
        .collect();
    grant_types.dedup();
    if !grant_types.iter().any(|g| g == "authorization_code") {
        grant_types.insert(0, "authorization_code".into());
    }
    if let Some(rt) = strings(req.get("response_types"))
        && !rt.is_empty()
        && !rt.iter().any(|r| r == "code")
    {
        return Err(invalid_metadata("response_types must include code"));
    }

    // Any printable client_name is fine (Claude Code sends parentheses); over-long names are
    // cut so the consent page stays readable.
    let client_name = req
        .get("client_name")
        .and_then(Value::as_str)
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .filter(|n| !n.is_empty());
    if let Some(name) = &client_name {
        plain_text("client_name", name)?;
    }

    let mut metadata = Map::new();
    for key in ECHOED {
        if let Some(Value::String(s)) = req.get(*key)
            && !s.trim().is_empty()
        {
            plain_text(key, s)?;
            metadata.insert((*key).to_owned(), Value::String(s.clone()));
        }
    }
    if let Some(contacts) = strings(req.get("contacts")) {
        let contacts: Vec<Value> = contacts
            .into_iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| plain_text("contacts", &c).map(|()| Value::String(c)))
            .collect::<Result<_, _>>()?;
        if !contacts.is_empty() {
            metadata.insert("contacts".into(), Value::Array(contacts));
        }
    }

    let secret = (method != "none").then(random_token);
    let record = ClientRecord {
        client_id: random_id(),
        secret_hash: secret.as_deref().map(secret_hash),
        token_endpoint_auth_method: method,
        redirect_uris,
        grant_types,
        client_name,
        client_id_issued_at: now(),
        metadata,
    };
    let size = serde_json::to_vec(&record).map_or(usize::MAX, |v| v.len());
    if size > MAX_CLIENT_METADATA_BYTES {
        return Err(invalid_metadata(format!(
            "the client metadata takes {size} bytes; at most {MAX_CLIENT_METADATA_BYTES} are kept: shorten contacts, uris or names"
        )));
    }
    Ok((record, secret))
}

/// The registration response body (RFC 7591 §3.2.1).
fn response_body(client: &ClientRecord, secret: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("client_id".into(), client.client_id.clone().into());
    m.insert(
        "client_id_issued_at".into(),
        client.client_id_issued_at.into(),
    );
    if let Some(secret) = secret {
        m.insert("client_secret".into(), secret.into());
        // 0: the secret does not expire.
        m.insert("client_secret_expires_at".into(), 0.into());
    }
    m.insert("redirect_uris".into(), client.redirect_uris.clone().into());
    m.insert("grant_types".into(), client.grant_types.clone().into());
    m.insert("response_types".into(), vec!["code"].into());
    m.insert(
        "token_endpoint_auth_method".into(),
        client.token_endpoint_auth_method.clone().into(),
    );
    if let Some(name) = &client.client_name {
        m.insert("client_name".into(), name.clone().into());
    }
    for (k, v) in &client.metadata {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

/// How long a client refused for [`MAX_UNUSED_CLIENTS`] is told to wait.
const FULL_RETRY_AFTER: u64 = 600;

/// 429 with `Retry-After` (RFC 6585 §4) for a source over the registration limit.
fn too_many(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut res = OAuthError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        format!("too many registrations from this address; retry in {secs} seconds"),
    )
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

pub(crate) async fn register(
    State(inner): State<Arc<Inner>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    inner.maybe_purge();
    let source = source_ip(&parts, &inner.config.trusted_proxies);
    if let Err(wait) = inner.registrations.take(source, Instant::now()) {
        inner.config.metrics.refused("register", "rate_limited");
        tracing::info!(
            target: "mcpgen::oauth",
            decision = "register_limited",
            source = ?source,
            retry_after = wait.as_secs(),
        );
        return too_many(wait);
    }
    let (client, secret) = match parse(&inner, &body) {
        Ok(parsed) => parsed,
        Err(e) => {
            inner.config.metrics.refused("register", e.error);
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "register_refused",
                error = e.error,
                reason = ?e.description,
            );
            return e.into_response();
        }
    };
    let expires_at = client
        .client_id_issued_at
        .saturating_add(UNUSED_CLIENT_TTL.as_secs());
    match inner
        .store
        .put_unused_client(&client, expires_at, now(), MAX_UNUSED_CLIENTS)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            inner
                .config
                .metrics
                .refused("register", "too_many_unused_clients");
            tracing::warn!(
                target: "mcpgen::oauth",
                decision = "register_full",
                source = ?source,
                max_unused_clients = MAX_UNUSED_CLIENTS,
            );
            let mut res = OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                format!(
                    "registration is paused: {MAX_UNUSED_CLIENTS} registered clients have not signed in yet; retry later"
                ),
            )
            .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(FULL_RETRY_AFTER));
            return res;
        }
        Err(e) => {
            inner.config.metrics.store_error();
            tracing::error!(target: "mcpgen::oauth", error = ?e, "cannot store client");
            return OAuthError::server_error().into_response();
        }
    }
    inner.config.metrics.registered();
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "register",
        client_id = ?client.client_id,
        client_name = client.client_name.as_deref().unwrap_or(""),
        auth_method = ?client.token_endpoint_auth_method,
        redirect_uris = ?client.redirect_uris,
    );
    let mut res = (
        StatusCode::CREATED,
        Json(response_body(&client, secret.as_deref())),
    )
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
