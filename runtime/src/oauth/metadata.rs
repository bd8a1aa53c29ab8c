//! Discovery documents: protected resource metadata (RFC 9728) and authorization server
//! metadata (RFC 8414, also under the OpenID configuration names clients probe), built once
//! at start-up so every path serves byte-identical JSON.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use http::{HeaderValue, header};
use serde_json::{Value, json};

use super::error::not_found;
use super::scope::ScopePolicy;
use super::urls::Urls;
use super::{Inner, OAuthConfig};

/// The serialised documents.
#[derive(Debug, Clone)]
pub(crate) struct Documents {
    pub protected_resource: Bytes,
    /// The same document for the `/mcp/` form of the endpoint: `resource` ends in `/` (see
    /// [`Urls::slash_resource`]). Empty when the endpoint is the origin itself.
    pub protected_resource_slash: Bytes,
    pub authorization_server: Bytes,
}

/// Drops null, empty-string and empty-array members, recursively: a document must never
/// carry them (an empty scope string started the incident this runtime exists to prevent).
fn prune(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(prune)
                .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                .collect(),
        ),
        other => other,
    }
}

fn to_bytes(v: Value) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(&prune(v)).unwrap_or_default())
}

impl Documents {
    pub fn new(config: &OAuthConfig, urls: &Urls, scopes: &ScopePolicy) -> Self {
        // `offline_access` is left out here on purpose (2026-07-28 §Refresh Tokens): clients
        // build their request from this list, and ask for refresh via the AS metadata.
        let prm = |resource: &str| {
            json!({
                "resource": resource,
                "authorization_servers": [urls.issuer],
                "scopes_supported": scopes.resource_scopes,
                "bearer_methods_supported": ["header"],
            })
        };
        let protected_resource = prm(&urls.resource);
        let protected_resource_slash = urls
            .slash_resource()
            .map(|r| to_bytes(prm(&r)))
            .unwrap_or_default();
        let auth_methods = ["none", "client_secret_post", "client_secret_basic"];
        let mut authorization_server = json!({
            "issuer": urls.issuer,
            "authorization_endpoint": urls.endpoint_url("/authorize"),
            "token_endpoint": urls.endpoint_url("/token"),
            "revocation_endpoint": urls.endpoint_url("/revoke"),
            "scopes_supported": scopes.all(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "code_challenge_methods_supported": ["S256"],
            // Every authorization response, errors included, carries `iss` (RFC 9207).
            "authorization_response_iss_parameter_supported": true,
        });
        if let Value::Object(m) = &mut authorization_server {
            if config.auth.dynamic_registration {
                m.insert(
                    "registration_endpoint".into(),
                    Value::String(urls.endpoint_url("/register")),
                );
            }
            if config.auth.client_id_metadata_documents {
                m.insert(
                    "client_id_metadata_document_supported".into(),
                    Value::Bool(true),
                );
            }
        }
        Self {
            protected_resource: to_bytes(protected_resource),
            protected_resource_slash,
            authorization_server: to_bytes(authorization_server),
        }
    }
}

fn json_response(body: Bytes) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Short caching: a moved --public-url shows within minutes.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn protected_resource(State(inner): State<Arc<Inner>>) -> Response {
    json_response(inner.metadata.protected_resource.clone())
}

async fn protected_resource_slash(State(inner): State<Arc<Inner>>) -> Response {
    json_response(inner.metadata.protected_resource_slash.clone())
}

async fn authorization_server(State(inner): State<Arc<Inner>>) -> Response {
    json_response(inner.metadata.authorization_server.clone())
}

/// The discovery routes. The protected resource metadata is served at the root and
/// path-inserted (RFC 9728 §3.1), for `/mcp` and, with its own `resource`, for `/mcp/`; the AS metadata at every place a client derives from the
/// issuer (RFC 8414 §3.1 path insertion, OpenID path appending) and, for clients that derive
/// it from the MCP URL instead (Claude Code, ChatGPT), the same names with the endpoint path.
pub(crate) fn routes(urls: &Urls) -> Router<Arc<Inner>> {
    let resource_path = urls.resource_path();
    let mut prm_paths = vec![
        "/.well-known/oauth-protected-resource".to_owned(),
        format!("/.well-known/oauth-protected-resource{resource_path}"),
    ];
    let mut as_paths = Vec::new();
    for suffix in ["", urls.issuer_path.as_str(), resource_path.as_str()] {
        as_paths.push(format!("/.well-known/oauth-authorization-server{suffix}"));
        as_paths.push(format!("/.well-known/openid-configuration{suffix}"));
        as_paths.push(format!("{suffix}/.well-known/openid-configuration"));
        as_paths.push(format!("{suffix}/.well-known/oauth-authorization-server"));
    }
    prm_paths.push(format!(
        "{resource_path}/.well-known/oauth-protected-resource"
    ));
    let mut router = Router::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in prm_paths {
        if seen.insert(p.clone()) {
            router = router.route(&p, get(protected_resource));
        }
    }
    // The `/mcp/` form's own document, path-inserted from that URL (RFC 9728 §3.1).
    if urls.slash_resource().is_some() {
        let p = format!("/.well-known/oauth-protected-resource{resource_path}/");
        if seen.insert(p.clone()) {
            router = router.route(&p, get(protected_resource_slash));
        }
    }
    for p in as_paths {
        if seen.insert(p.clone()) {
            router = router.route(&p, get(authorization_server));
        }
    }
    // JSON 404s under every `.well-known` prefix we serve from.
    let mut prefixes = std::collections::BTreeSet::new();
    prefixes.insert("/.well-known".to_owned());
    prefixes.insert(format!("{resource_path}/.well-known"));
    prefixes.insert(format!("{}/.well-known", urls.issuer_path));
    for prefix in prefixes {
        router = router.route(&format!("{prefix}/{{*rest}}"), any(not_found));
    }
    router
}
