//! Shared fixtures of the OAuth tests: servers on a memory store and helpers that drive the
//! router in-process (no sockets).
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use mcpgen_runtime::oauth::{Login, OAuth, OAuthConfig};
use mcpgen_runtime::store::{MemoryStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use url::Url;

/// RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub const LOCAL: &str = "http://127.0.0.1:8000";
pub const CLAUDE_CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

/// RFC 6749 §3.3 `scope`: tokens separated by single spaces.
pub fn is_scope_value(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ').all(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        })
}

pub fn config(public_url: &str) -> OAuthConfig {
    let mut c = OAuthConfig::new(public_url);
    c.auth.scopes = vec![
        ("claudeai".into(), "Use the server from Claude".into()),
        ("orders.read".into(), "Read orders".into()),
        ("orders.write".into(), "Change orders".into()),
    ];
    c.auth.default_scopes = vec!["claudeai".into()];
    c.auth.login = Login::Auto;
    c
}

pub struct Server {
    pub oauth: OAuth,
    pub router: Router,
    pub store: Arc<dyn Store>,
}

pub fn server_with(config: OAuthConfig) -> Server {
    server_on(config, Arc::new(MemoryStore::new()))
}

pub fn server_on(config: OAuthConfig, store: Arc<dyn Store>) -> Server {
    let oauth = OAuth::new(config, Arc::clone(&store)).expect("valid config");
    Server {
        router: oauth.router(),
        oauth,
        store,
    }
}

/// A loopback server with automatic consent.
pub fn local() -> Server {
    server_with(config(LOCAL))
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not json ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The query parameters of the `Location` header, in order.
    pub fn location_params(&self) -> Vec<(String, String)> {
        let loc = Url::parse(self.header("location")).expect("absolute location");
        loc.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn location_param(&self, name: &str) -> Option<String> {
        let all: Vec<String> = self
            .location_params()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        assert!(all.len() <= 1, "{name} appears {} times", all.len());
        all.into_iter().next()
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    send(
        router,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

pub async fn post_json(router: &Router, uri: &str, body: &Value) -> Reply {
    send(
        router,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub async fn post_form(
    router: &Router,
    uri: &str,
    pairs: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(router, req.body(Body::from(form(pairs))).expect("request")).await
}

/// Registers a client and returns the response body (asserting 201).
pub async fn register(router: &Router, body: Value) -> Value {
    let r = post_json(router, "/register", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

pub fn claude_body(method: &str) -> Value {
    json!({
        "client_name": "Claude",
        "redirect_uris": [CLAUDE_CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "scope": "claudeai"
    })
}

/// `GET /authorize` with PKCE (the appendix B challenge) and the given extra parameters.
pub async fn authorize(
    router: &Router,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "xyz-state"),
    ];
    pairs.extend_from_slice(extra);
    get(router, &format!("/authorize?{}", form(&pairs))).await
}

/// Runs authorize (automatic consent) and returns the code.
pub async fn code_for(
    router: &Router,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let r = authorize(router, client_id, redirect_uri, extra).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    r.location_param("code").expect("code in the redirect")
}

/// Exchanges a code for tokens as a public client.
pub async fn exchange(router: &Router, client_id: &str, redirect_uri: &str, code: &str) -> Reply {
    post_form(
        router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
            ("resource", &format!("{LOCAL}/mcp")),
        ],
        &[],
    )
    .await
}

/// Registers a public Claude client and runs the whole flow; returns (client_id, token body).
pub async fn tokens(router: &Router, scope: Option<&str>) -> (String, Value) {
    let client = register(router, claude_body("none")).await;
    let id = client["client_id"].as_str().expect("client_id").to_owned();
    let extra: Vec<(&str, &str)> = scope.map(|s| vec![("scope", s)]).unwrap_or_default();
    let code = code_for(router, &id, CLAUDE_CALLBACK, &extra).await;
    let r = exchange(router, &id, CLAUDE_CALLBACK, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    (id, r.json())
}

/// Asserts a JSON value has no null, empty-string or empty-array member anywhere.
pub fn assert_no_empty_members(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("null at {path}"),
        Value::String(s) => assert!(!s.is_empty(), "empty string at {path}"),
        Value::Array(a) => {
            assert!(!a.is_empty(), "empty array at {path}");
            for (i, x) in a.iter().enumerate() {
                assert_no_empty_members(x, &format!("{path}/{i}"));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                assert_no_empty_members(x, &format!("{path}/{k}"));
            }
        }
        _ => {}
    }
}
