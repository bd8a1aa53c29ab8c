//! Who may talk to the server at all: the `Origin` allowlist (browsers, DNS rebinding) and the
//! `Host` check for loopback servers. The MCP endpoint applies it to every request; the OAuth
//! routes of a loopback server apply the same policy (see [`guard`]).
//!
//! Why the policy differs between loopback and public servers: Origin checks exist to stop a
//! web page from reaching a listener through the visitor's browser, by DNS rebinding or plain
//! cross-origin requests (2025-11-25 transport, "Security Warning"). That threat is real for a
//! server on loopback or a private address, which the page could not reach otherwise, and it
//! is why loopback servers accept loopback origins only and check `Host`. A public https
//! server is reachable by anyone anyway, and its only credential is a bearer token that a
//! browser never attaches on its own; there the Origin check decides which browser-based
//! clients may call, and hosted clients do send their web origin: claude.ai's and ChatGPT's
//! connectors send `Origin: https://claude.ai` (or `claude.com`, `chatgpt.com`) on
//! `POST /mcp`, and a strict list answers them 403 before the 401 that starts OAuth
//! (SocketDev/socket-mcp PR#214, koala73/worldmonitor PR#4808, actionhero/keryx PR#499). So a
//! public server allows [`HOSTED_CLIENT_ORIGINS`] by default, which the spec's
//! `server.hosted_client_origins` can narrow or turn off.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use serde_json::json;

use mcpgen_rules::{is_loopback_host, is_loopback_url};

/// The web origins of hosted MCP clients that call a server from their own backend or from
/// the browser with their origin in `Origin`: Claude (claude.ai, claude.com) and ChatGPT.
/// Allowed by default on servers whose public URL is not loopback.
pub const HOSTED_CLIENT_ORIGINS: &[&str] = &[
    "https://claude.ai",
    "https://claude.com",
    "https://chatgpt.com",
];

/// The spec key that adds a browser origin.
const ALLOW_KEY: &str = "server.allowed_origins";
/// The spec key that narrows the hosted-client origins.
const HOSTED_KEY: &str = "server.hosted_client_origins";

/// Which `Origin` and `Host` values the server accepts.
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginPolicy {
    /// Exact origins, lowercased, without a trailing slash; `*` allows any. Holds the
    /// configured origins and, on public servers, the hosted-client origins.
    allowed: Vec<String>,
    /// Extra `Host` names (lowercased, without port) a loopback server accepts, e.g. the
    /// public host when a proxy forwards to it.
    hosts: Vec<String>,
    /// Loopback origins are allowed and the `Host` must be loopback (or in `hosts`).
    loopback: bool,
}

/// A request the policy refuses: 403 with a message for people naming the value and the fix.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    /// `"origin"` or `"host"`.
    pub what: &'static str,
    /// The refused value, as sent (lossily decoded).
    pub value: String,
    pub message: String,
    /// The request's `Origin`, echoed in `Access-Control-Allow-Origin` so a browser lets the
    /// page (and the developer console) read why. Public servers only: a loopback server
    /// tells a foreign page nothing, not even that it exists.
    pub cors: Option<HeaderValue>,
}

fn normal(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginPolicy {
    /// `allowed` are exact origins; `hosted` the hosted-client origins, only used when the
    /// server is not `loopback`.
    pub fn new(
        allowed: Vec<String>,
        hosted: Vec<String>,
        hosts: Vec<String>,
        loopback: bool,
    ) -> Self {
        let mut all: Vec<String> = allowed.iter().map(|o| normal(o)).collect();
        if !loopback {
            all.extend(hosted.iter().map(|o| normal(o)));
        }
        Self {
            allowed: all,
            hosts: hosts
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            loopback,
        }
    }

    /// Whether a present `Origin` header value is allowed.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let normal = normal(origin);
        if self.allowed.iter().any(|a| a == "*" || *a == normal) {
            return true;
        }
        self.loopback && is_loopback_url(origin.trim())
    }

    /// Whether the `Host` header is acceptable. Only loopback servers check it: they are the
    /// ones a DNS-rebinding page can reach.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        if !self.loopback {
            return true;
        }
        // HTTP/1.0 requests may lack Host; a browser always sends one.
        let Some(host) = host else { return true };
        let Some(name) = host_name(host) else {
            return false;
        };
        is_loopback_host(&name) || self.hosts.contains(&name)
    }

    /// Checks `Host`, then `Origin`. `Ok` carries the `Origin` to echo in CORS headers (none
    /// when the request has no `Origin`: hosted clients calling from their backend, CLIs).
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, Refused> {
        let origin = headers.get(header::ORIGIN);
        let host = headers.get(header::HOST);
        let host_text = host.map(|h| h.to_str().unwrap_or("\u{0}"));
        if !self.host_allowed(host_text) {
            let value = host.map(lossy).unwrap_or_default();
            return Err(Refused {
                what: "host",
                message: format!(
                    "host {value:?} not allowed: this server's public url is loopback, so it \
                     answers loopback host names only (against DNS rebinding); connect to it as \
                     localhost or 127.0.0.1, or set --public-url to the url clients use"
                ),
                value,
                cors: None,
            });
        }
        let Some(origin) = origin else {
            return Ok(None);
        };
        if origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            return Ok(Some(origin.clone()));
        }
        let value = lossy(origin);
        let message = if self.loopback {
            format!(
                "origin {value:?} not allowed: this server's public url is loopback, so it \
                 accepts loopback origins only (against DNS rebinding); add the origin to \
                 {ALLOW_KEY} in the spec to allow it"
            )
        } else if HOSTED_CLIENT_ORIGINS.iter().any(|h| *h == normal(&value)) {
            format!(
                "origin {value:?} not allowed: it is a hosted client's origin that \
                 {HOSTED_KEY} leaves out; list it there (or in {ALLOW_KEY}) in the spec"
            )
        } else {
            format!("origin {value:?} not allowed: add it to {ALLOW_KEY} in the spec")
        };
        Err(Refused {
            what: "origin",
            value,
            message,
            cors: (!self.loopback).then(|| origin.clone()),
        })
    }
}

fn lossy(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

impl Refused {
    /// The refusal as HTTP: 403, `body` as JSON, and the CORS headers of the request's origin
    /// (on the preflight too, so the browser's console shows the status instead of a bare
    /// CORS failure).
    pub fn response(&self, body: Vec<u8>) -> Response {
        tracing::info!(
            target: "mcpgen::guard",
            decision = "refused",
            what = self.what,
            value = ?crate::oauth::clip(&self.value),
        );
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::FORBIDDEN;
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(origin) = &self.cors {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        r
    }

    /// The refusal as an OAuth error response (RFC 6749 §5.2 shape), for the OAuth routes.
    pub fn oauth_response(&self) -> Response {
        let body = json!({
            "error": "invalid_request",
            "error_description": self.message,
        });
        self.response(serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// Middleware for the OAuth routes of a loopback server: the same Host and Origin policy as
/// the MCP endpoint, preflights included, so a foreign page can neither register nor redeem
/// codes through the visitor's browser, and a rebound host name reaches nothing.
pub(crate) async fn guard(
    State(policy): State<Arc<OriginPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    match policy.check(req.headers()) {
        Ok(_) => next.run(req).await,
        Err(refused) => refused.oauth_response(),
    }
}

/// The lowercased host name of a `Host` value (`name[:port]`, `[v6][:port]`).
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return Some(format!("[{}]", inner.to_ascii_lowercase()));
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return None,
        None => host,
    };
    if name.is_empty() {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosted() -> Vec<String> {
        HOSTED_CLIENT_ORIGINS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn host_forms() {
        let p = OriginPolicy::new(vec![], vec![], vec!["mcp.example.com".into()], true);
        for ok in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:80",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
            "LOCALHOST:1",
            "mcp.example.com",
        ] {
            assert!(p.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:3000",
            "localhost.evil.com",
            "[::2]:80",
            "10.0.0.1",
            "localhost:abc",
            ":80",
            "[::1]x",
        ] {
            assert!(!p.host_allowed(Some(bad)), "{bad}");
        }
        let remote = OriginPolicy::new(vec![], vec![], vec![], false);
        assert!(remote.host_allowed(Some("evil.example.com")));
    }

    #[test]
    fn origins() {
        let p = OriginPolicy::new(vec!["https://Claude.ai/".into()], vec![], vec![], false);
        assert!(p.origin_allowed("https://claude.ai"));
        assert!(!p.origin_allowed("http://localhost:6274"));
        assert!(!p.origin_allowed("null"));
        let l = OriginPolicy::new(vec![], hosted(), vec![], true);
        assert!(l.origin_allowed("http://localhost:6274"));
        assert!(l.origin_allowed("http://127.0.0.1"));
        assert!(l.origin_allowed("http://[::1]:3000"));
        assert!(!l.origin_allowed("http://evil.example.com"));
        assert!(!l.origin_allowed("file://localhost/x"));
        // Loopback servers ignore the hosted-client origins.
        assert!(!l.origin_allowed("https://claude.ai"));
        let public = OriginPolicy::new(vec![], hosted(), vec![], false);
        for o in HOSTED_CLIENT_ORIGINS {
            assert!(public.origin_allowed(o), "{o}");
        }
        assert!(!public.origin_allowed("https://evil.example"));
    }

    #[test]
    fn refusals_name_the_value_and_the_fix() {
        let narrowed = OriginPolicy::new(vec![], vec![], vec![], false);
        let mut h = HeaderMap::new();
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://chatgpt.com"),
        );
        let e = narrowed.check(&h).unwrap_err();
        assert!(
            e.message.contains("\"https://chatgpt.com\""),
            "{}",
            e.message
        );
        assert!(e.message.contains(HOSTED_KEY), "{}", e.message);
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        let e = narrowed.check(&h).unwrap_err();
        assert!(e.message.contains(ALLOW_KEY), "{}", e.message);
        let local = OriginPolicy::new(vec![], vec![], vec![], true);
        h.insert(header::HOST, HeaderValue::from_static("evil.example"));
        let e = local.check(&h).unwrap_err();
        assert_eq!(e.what, "host");
    }
}
