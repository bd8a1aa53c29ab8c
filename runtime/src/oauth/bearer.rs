//! The resource-server check: bearer tokens on the MCP endpoint (RFC 6750) and per-tool
//! scopes, with the `WWW-Authenticate` challenges clients use to start or step up OAuth.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::crypto::secret_hash;
use super::{Inner, now, scope};
use crate::auth::{AuthFuture, Authenticator, Principal};
use crate::store::{TokenKind, TokenState};

pub(crate) struct BearerAuth {
    inner: Arc<Inner>,
}

impl BearerAuth {
    pub fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// `Bearer resource_metadata="…", scope="…"` plus, for a bad token, the error. Every value
    /// is a URL or scope tokens, none of which can hold `"` or `\`, so no escaping is needed.
    /// `prm` is the metadata URL of the form the client used ([`Urls::prm_url_for`]): a client
    /// that typed `/mcp/` finds a document whose `resource` is exactly that.
    ///
    /// [`Urls::prm_url_for`]: super::urls::Urls::prm_url_for
    fn challenge(&self, error: Option<(&str, &str)>, scopes: &str, prm: &str) -> HeaderValue {
        let mut v = String::from("Bearer ");
        if let Some((code, description)) = error {
            v.push_str(&format!(
                "error=\"{code}\", error_description=\"{description}\", "
            ));
        }
        v.push_str(&format!("resource_metadata=\"{prm}\", scope=\"{scopes}\""));
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    fn unauthorized(&self, error: Option<(&str, &str)>, prm: &str) -> Response {
        let defaults = scope::join(&self.inner.scopes.default_scopes);
        let mut res = match error {
            // RFC 6750 §3.1: no error code when the request carried no credentials.
            None => StatusCode::UNAUTHORIZED.into_response(),
            Some((code, description)) => (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": code, "error_description": description})),
            )
                .into_response(),
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            self.challenge(error, &defaults, prm),
        );
        res
    }

    /// A refused token; `subject` is whom a stored token belongs to (`None` when the token is
    /// unknown or malformed).
    fn invalid(&self, reason: &'static str, prm: &str, subject: Option<&str>) -> Response {
        match subject {
            Some(subject) => tracing::info!(
                target: "mcpgen::oauth",
                decision = "bearer_refused",
                reason,
                subject = ?subject,
            ),
            None => tracing::info!(target: "mcpgen::oauth", decision = "bearer_refused", reason),
        }
        self.inner.config.metrics.refused("bearer", reason);
        self.unauthorized(Some(("invalid_token", reason)), prm)
    }
}

/// The token from `Authorization: Bearer <token>` (scheme case-insensitive). `None` when the
/// request has no bearer credentials at all; a token in the query string is never read.
fn bearer_token(parts: &http::request::Parts) -> Option<Result<&str, ()>> {
    let value = parts.headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err(()));
    };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    Some(if token.is_empty() { Err(()) } else { Ok(token) })
}

impl Authenticator for BearerAuth {
    fn authenticate<'a>(&'a self, parts: &'a http::request::Parts) -> AuthFuture<'a> {
        Box::pin(async move {
            let prm = self.inner.urls.prm_url_for(parts.uri.path());
            let prm = prm.as_str();
            let token = match bearer_token(parts) {
                None => {
                    tracing::info!(
                        target: "mcpgen::oauth",
                        decision = "bearer_missing",
                    );
                    self.inner.config.metrics.refused("bearer", "no token");
                    return Err(self.unauthorized(None, prm));
                }
                Some(Err(())) => {
                    return Err(self.invalid("malformed authorization header", prm, None));
                }
                Some(Ok(t)) => t,
            };
            let stored = match self.inner.store.get_token(&secret_hash(token)).await {
                Ok(t) => t,
                Err(e) => {
                    self.inner.config.metrics.store_error();
                    tracing::error!(target: "mcpgen::oauth", error = ?e, "store failure checking a bearer token");
                    let mut res = (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(json!({"error": "temporarily_unavailable", "error_description": "the authorization store is unavailable; try again"})),
                    )
                        .into_response();
                    res.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    return Err(res);
                }
            };
            let Some(stored) = stored else {
                return Err(self.invalid("unknown token", prm, None));
            };
            let t = &stored.record;
            let subject = Some(t.person.subject.as_str());
            if t.kind != TokenKind::Access {
                return Err(self.invalid("not an access token", prm, subject));
            }
            if !matches!(stored.state, TokenState::Active) {
                return Err(self.invalid("token revoked", prm, subject));
            }
            if t.expires_at <= now() {
                return Err(self.invalid("token expired", prm, subject));
            }
            // Audience binding (RFC 8707): a token issued for another resource is refused even
            // if it came from this store.
            if t.resource != self.inner.urls.resource {
                return Err(self.invalid("token was issued for another resource", prm, subject));
            }
            tracing::debug!(
                target: "mcpgen::oauth",
                decision = "bearer_accepted",
                client_id = ?t.client_id,
                subject = ?t.person.subject,
            );
            Ok(Principal {
                client_id: Some(t.client_id.clone()),
                person: Some(t.person.clone()),
                scopes: t.scopes.iter().cloned().collect::<BTreeSet<_>>(),
                resource_metadata: Some(prm.to_owned()),
            })
        })
    }

    fn authorize_tool(&self, principal: &Principal, required: &[&str]) -> Result<(), Response> {
        if required.iter().all(|s| principal.scopes.contains(*s)) {
            return Ok(());
        }
        // The challenge names every scope the tool needs, then those the token already holds:
        // a client that unions it with what it has asks for the same grant, and one that
        // replaces its scope with the challenge's (the Python SDK 1.x does) keeps access to
        // the tools it could already call. `offline_access` is never challenged for.
        let needed: Vec<&str> = required
            .iter()
            .copied()
            .chain(principal.scopes.iter().map(String::as_str))
            .filter(|s| scope::is_scope_token(s) && *s != scope::OFFLINE_ACCESS)
            .fold(Vec::new(), |mut acc, s| {
                if !acc.contains(&s) {
                    acc.push(s);
                }
                acc
            });
        let needed = scope::join(&needed);
        tracing::info!(
            target: "mcpgen::oauth",
            decision = "tool_forbidden",
            client_id = ?principal.client_id.as_deref().unwrap_or(""),
            subject = ?principal.person.as_ref().map(|p| p.subject.as_str()).unwrap_or(""),
            required = ?scope::join(required),
            challenge = ?needed,
        );
        self.inner
            .config
            .metrics
            .refused("tool", "insufficient_scope");
        let description = "the token lacks a scope this tool requires";
        let mut res = (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "insufficient_scope", "error_description": description, "scope": needed})),
        )
            .into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            self.challenge(
                Some(("insufficient_scope", description)),
                &needed,
                principal
                    .resource_metadata
                    .as_deref()
                    .unwrap_or(&self.inner.urls.prm_url()),
            ),
        );
        Err(res)
    }
}
