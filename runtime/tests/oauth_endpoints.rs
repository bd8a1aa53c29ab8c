//! In-process tests of the OAuth half: discovery at every path, registration bodies of real
//! clients, authorize, token (PKCE, replay, rotation), revoke and the bearer check.

mod oauth_common;
mod redis_common;

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use mcpgen_runtime::auth::{Person, Principal};
use mcpgen_runtime::oauth::{
    Login, MAX_CLIENT_METADATA_BYTES, MAX_REDIRECT_URIS, MAX_UNUSED_CLIENTS, OAuth, OAuthConfig,
    REGISTRATION_BURST, UNUSED_CLIENT_TTL, hash_password, secret_hash,
};
use mcpgen_runtime::store::{
    ClientRecord, MemoryStore, NewToken, Store, TokenKind, TokenRecord, TokenState,
};
use oauth_common::*;
use serde_json::{Value, json};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// discovery

const PRM_PATHS: &[&str] = &[
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
];

const AS_PATHS: &[&str] = &[
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-authorization-server/mcp",
    "/.well-known/openid-configuration",
    "/.well-known/openid-configuration/mcp",
    "/mcp/.well-known/openid-configuration",
];

#[tokio::test]
async fn protected_resource_metadata_at_both_paths() {
    let s = server_with({
        let mut c = config("https://mcp.example.com");
        c.auth.login = Login::Password;
        c.password_hash = Some(hash_password("pw"));
        c
    });
    let mut bodies = Vec::new();
    for path in PRM_PATHS {
        let r = get(&s.router, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.header("content-type").starts_with("application/json"),
            "{path}"
        );
        let v = r.json();
        assert_no_empty_members(&v, path);
        assert_eq!(v["resource"], "https://mcp.example.com/mcp");
        assert_eq!(
            v["authorization_servers"],
            json!(["https://mcp.example.com"])
        );
        assert_eq!(
            v["scopes_supported"],
            json!(["claudeai", "orders.read", "orders.write"])
        );
        assert_eq!(v["bearer_methods_supported"], json!(["header"]));
        bodies.push(r.body);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn authorization_server_metadata_identical_everywhere() {
    let s = local();
    let prm = get(&s.router, "/.well-known/oauth-protected-resource/mcp")
        .await
        .json();
    let mut first: Option<bytes::Bytes> = None;
    for path in AS_PATHS {
        let r = get(&s.router, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.header("content-type").starts_with("application/json"));
        let v = r.json();
        assert_no_empty_members(&v, path);
        assert_eq!(v["issuer"], prm["authorization_servers"][0], "{path}");
        assert_eq!(v["issuer"], LOCAL);
        assert_eq!(v["authorization_endpoint"], format!("{LOCAL}/authorize"));
        assert_eq!(v["token_endpoint"], format!("{LOCAL}/token"));
        assert_eq!(v["registration_endpoint"], format!("{LOCAL}/register"));
        assert_eq!(v["revocation_endpoint"], format!("{LOCAL}/revoke"));
        assert_eq!(v["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(v["response_types_supported"], json!(["code"]));
        assert_eq!(
            v["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            v["token_endpoint_auth_methods_supported"],
            json!(["none", "client_secret_post", "client_secret_basic"])
        );
        assert_eq!(
            v["scopes_supported"],
            json!(["claudeai", "orders.read", "orders.write", "offline_access"])
        );
        assert_eq!(v["authorization_response_iss_parameter_supported"], true);
        assert!(v.get("client_id_metadata_document_supported").is_none());
        if let Some(f) = &first {
            assert_eq!(f, &r.body, "{path} differs");
        }
        first = Some(r.body);
    }
}

#[tokio::test]
async fn discovery_is_cors_enabled() {
    // A public server: browser-based clients anywhere may call discovery and the token
    // endpoint. (A loopback server accepts loopback origins only: see app_browsers.rs.)
    let mut c = config("https://mcp.example.com");
    c.auth.login = Login::Password;
    c.password_hash = Some(hash_password("pw"));
    let s = server_with(c);
    let r = send(
        &s.router,
        Request::get("/.well-known/oauth-authorization-server")
            .header("origin", "https://inspector.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), "*");
    let pre = send(
        &s.router,
        Request::options("/token")
            .header("origin", "https://inspector.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(pre.status.is_success(), "{}", pre.status);
    assert_eq!(pre.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn unknown_oauth_paths_are_json_404() {
    let s = local();
    for path in [
        "/.well-known/nothing-here",
        "/.well-known/oauth-protected-resource/other",
        "/.well-known/oauth-authorization-server/other/deeper",
        "/mcp/.well-known/other",
        "/token/extra",
        "/register/abc",
    ] {
        let r = get(&s.router, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.header("content-type").starts_with("application/json"),
            "{path}"
        );
        assert_eq!(r.json()["error"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn public_url_moves_every_url() {
    let mut c = config("http://localhost:9999");
    c.endpoint = "/mcp".into();
    let s = server_with(c);
    let v = get(&s.router, "/.well-known/oauth-authorization-server")
        .await
        .json();
    for (k, x) in v.as_object().unwrap() {
        if let Some(s) = x.as_str()
            && s.starts_with("http")
        {
            assert!(s.starts_with("http://localhost:9999"), "{k}: {s}");
        }
    }
    assert_eq!(s.oauth.issuer(), "http://localhost:9999");
    assert_eq!(s.oauth.resource(), "http://localhost:9999/mcp");
}

#[tokio::test]
async fn metadata_documents_are_advertised_when_enabled() {
    let mut c = config(LOCAL);
    c.auth.client_id_metadata_documents = true;
    let s = server_with(c);
    let v = get(&s.router, "/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(v["client_id_metadata_document_supported"], true);
}

/// The command line's `--issuer` and `--consent` replace the spec's values; without them the
/// spec's apply.
#[test]
fn start_up_overrides_replace_the_spec_settings() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut c = config("https://mcp.example.com");
    c.auth.issuer = Some("https://auth.example.com".into());
    c.auth.login = Login::Auto;
    // Auto consent is refused on a public url: the override must win for this to start.
    c.login = Some(Login::Password);
    c.password_hash = Some(hash_password("pw"));
    let spec_issuer = OAuth::new(c.clone(), Arc::clone(&store)).expect("password consent");
    assert_eq!(spec_issuer.issuer(), "https://auth.example.com");

    c.issuer = Some("https://auth.staging.example.net/".into());
    let overridden = OAuth::new(c.clone(), Arc::clone(&store)).expect("valid");
    assert_eq!(overridden.issuer(), "https://auth.staging.example.net");

    c.login = None;
    let e = OAuth::new(c, store).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("loopback"), "{e}");
}

#[test]
fn bad_configurations_are_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let try_new = |c: OAuthConfig| {
        OAuth::new(c, Arc::clone(&store))
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };

    let mut c = config("https://mcp.example.com");
    c.auth.login = Login::Auto;
    assert!(try_new(c).contains("loopback"));

    let mut c = config(LOCAL);
    c.auth.scopes.push(("".into(), "empty".into()));
    assert!(try_new(c).contains("not a valid scope"));

    let mut c = config(LOCAL);
    c.auth.scopes.push(("a b".into(), "space".into()));
    assert!(try_new(c).contains("not a valid scope"));

    let mut c = config(LOCAL);
    c.auth.login = Login::Password;
    assert!(try_new(c).contains("MCPGEN_PASSWORD_HASH"));

    let mut c = config(LOCAL);
    c.auth.default_scopes = vec!["nope".into()];
    assert!(try_new(c).contains("default scope"));

    let c = config("http://example.com");
    assert!(try_new(c).contains("https"));

    let mut c = config(LOCAL);
    c.auth.refresh_reuse_grace = Duration::from_secs(601);
    assert!(try_new(c).contains("refresh reuse grace of 601s"));
}

// ---------------------------------------------------------------------------------------------
// registration

#[tokio::test]
async fn claude_registration_with_client_secret_post() {
    let s = local();
    let v = register(&s.router, claude_body("client_secret_post")).await;
    assert_no_empty_members(&v, "");
    assert!(v["client_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["client_secret"].as_str().is_some_and(|s| s.len() >= 32));
    assert_eq!(v["client_secret_expires_at"], 0);
    assert!(v["client_id_issued_at"].is_u64());
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(v["redirect_uris"], json!([CLAUDE_CALLBACK]));
    assert_eq!(
        v["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(v["response_types"], json!(["code"]));
    assert_eq!(v["client_name"], "Claude");
}

#[tokio::test]
async fn claude_registration_with_none_has_no_secret() {
    let s = local();
    let r = post_json(&s.router, "/register", &claude_body("none")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("cache-control"), "no-store");
    let v = r.json();
    assert_no_empty_members(&v, "");
    assert_eq!(v["token_endpoint_auth_method"], "none");
    assert!(v.get("client_secret").is_none());
    assert!(v.get("client_secret_expires_at").is_none());
    assert!(v.get("client_uri").is_none());
}

#[tokio::test]
async fn cursor_registration_with_three_uris() {
    let s = local();
    let uris = json!([
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback"
    ]);
    let v = register(
        &s.router,
        json!({
            "client_name": "Cursor",
            "redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "client_uri": "",
            "logo_uri": null
        }),
    )
    .await;
    assert_no_empty_members(&v, "");
    assert_eq!(v["redirect_uris"], uris);
    // Authorize to the custom scheme: a plain 302 to cursor://.
    let id = v["client_id"].as_str().unwrap();
    let r = authorize(
        &s.router,
        id,
        "cursor://anysphere.cursor-mcp/oauth/callback",
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.header("location")
            .starts_with("cursor://anysphere.cursor-mcp/oauth/callback?code=")
    );
}

#[tokio::test]
async fn vscode_registration_with_four_uris_and_random_port() {
    let s = local();
    let v = register(
        &s.router,
        json!({
            "client_name": "Visual Studio Code",
            "redirect_uris": [
                "https://insiders.vscode.dev/redirect",
                "https://vscode.dev/redirect",
                "http://127.0.0.1/",
                "http://127.0.0.1:33418/"
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "software_id": "vscode",
            "unknown_field": {"nested": true}
        }),
    )
    .await;
    assert_no_empty_members(&v, "");
    assert_eq!(v["software_id"], "vscode");
    assert!(v.get("unknown_field").is_none());
    let id = v["client_id"].as_str().unwrap().to_owned();
    // VS Code falls back to a random port when 33418 is busy.
    let code = code_for(&s.router, &id, "http://127.0.0.1:51234/", &[]).await;
    let r = exchange(&s.router, &id, "http://127.0.0.1:51234/", &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn registration_is_lenient_about_names_and_metadata() {
    let s = local();
    let v = register(
        &s.router,
        json!({
            "client_name": "Claude Code (my-server)",
            "redirect_uris": ["http://localhost:6274/callback"],
            "token_endpoint_auth_method": "none",
            "scope": "claudeai openid",
            "application_type": "native",
            "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"]
        }),
    )
    .await;
    assert_eq!(v["client_name"], "Claude Code (my-server)");
    assert_eq!(v["application_type"], "native");
    assert_eq!(v["grant_types"], json!(["authorization_code"]));
}

#[tokio::test]
async fn registration_defaults_to_client_secret_basic() {
    let s = local();
    let v = register(
        &s.router,
        json!({"redirect_uris": ["https://app.example.com/cb"]}),
    )
    .await;
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_basic");
    assert!(v["client_secret"].is_string());
    assert!(v.get("client_name").is_none());
}

#[tokio::test]
async fn refused_redirect_uri_is_named_with_the_reason() {
    let s = local();
    for (uri, why) in [
        ("http://evil.example/cb", "loopback"),
        ("javascript:alert(1)", "never allowed"),
        ("https://app.example/cb#frag", "fragment"),
        ("weird://callback", "reverse domain"),
    ] {
        let r = post_json(
            &s.router,
            "/register",
            &json!({"redirect_uris": [CLAUDE_CALLBACK, uri], "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        let v = r.json();
        assert_eq!(v["error"], "invalid_redirect_uri");
        let d = v["error_description"].as_str().unwrap();
        assert!(d.contains(uri), "{d}");
        assert!(d.contains(why), "{d}");
    }
}

#[tokio::test]
async fn bad_registration_bodies() {
    let s = local();
    let r = post_json(&s.router, "/register", &json!({"client_name": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_redirect_uri");
    let r = post_json(
        &s.router,
        "/register",
        &json!({"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "private_key_jwt"}),
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_client_metadata");
    let r = send(
        &s.router,
        Request::post("/register")
            .header("content-type", "application/json")
            .body(Body::from("not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn thirty_registrations_a_minute_are_not_limited() {
    let s = local();
    for _ in 0..30 {
        register(&s.router, claude_body("none")).await;
    }
}

/// `POST /register` as if from `addr` (what `server::serve` attaches to every request).
async fn register_from(router: &axum::Router, addr: &str, body: &Value) -> Reply {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let mut req = Request::post("/register")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    send(router, req).await
}

#[tokio::test]
async fn registrations_are_limited_per_source_address() {
    let s = local();
    let body = claude_body("none");
    // An honest client's 30 a minute pass.
    for _ in 0..30 {
        let r = register_from(&s.router, "198.51.100.1:40000", &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // A flood gets the burst, then 429 with Retry-After.
    let mut created = 0;
    let mut limited = None;
    for i in 0..200 {
        let r = register_from(&s.router, &format!("203.0.113.7:{}", 1000 + i), &body).await;
        match r.status {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => limited = Some(r),
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    assert!(
        (REGISTRATION_BURST as usize..REGISTRATION_BURST as usize + 3).contains(&created),
        "{created} of 200 registrations from one address were accepted"
    );
    let r = limited.expect("the flood was limited");
    let retry: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!(retry >= 1);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    assert_eq!(r.header("cache-control"), "no-store");
    // Other addresses are not affected.
    let r = register_from(&s.router, "203.0.113.8:1000", &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

/// Sends one HTTP/1.1 request over TCP; returns the status code.
async fn raw_status(addr: std::net::SocketAddr, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line")
}

#[tokio::test]
async fn served_requests_are_limited_by_their_peer_address() {
    let s = local();
    let body = claude_body("none");
    // In-process requests carry no address: they share one bucket, now empty.
    let mut last = StatusCode::CREATED;
    for _ in 0..=REGISTRATION_BURST {
        last = post_json(&s.router, "/register", &body).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Served, the same router sees the peer address, which has its own bucket.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(mcpgen_runtime::server::serve(
        s.router.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let json = body.to_string();
    let request = format!(
        "POST /register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    assert_eq!(raw_status(addr, &request).await, 201);
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}

#[tokio::test]
async fn redirect_uri_count_and_metadata_size_are_capped() {
    let s = local();
    // Short, so 2000 of them fit in the 64 KiB body limit.
    let uris = |n: usize| -> Vec<String> { (0..n).map(|i| format!("http://[::1]/{i}")).collect() };
    let v = register(
        &s.router,
        json!({"redirect_uris": uris(MAX_REDIRECT_URIS), "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(
        v["redirect_uris"].as_array().unwrap().len(),
        MAX_REDIRECT_URIS
    );
    for n in [MAX_REDIRECT_URIS + 1, 2000] {
        let r = post_json(
            &s.router,
            "/register",
            &json!({"redirect_uris": uris(n), "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{n}");
        assert_eq!(r.json()["error"], "invalid_redirect_uri");
        let d = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(d.contains(&MAX_REDIRECT_URIS.to_string()), "{d}");
    }
    // Metadata beyond the cap: long contacts (each allowed, together too much).
    let contacts: Vec<String> = (0..40)
        .map(|i| format!("{i}-{}@example.com", "x".repeat(500)))
        .collect();
    let r = post_json(
        &s.router,
        "/register",
        &json!({"redirect_uris": [CLAUDE_CALLBACK], "contacts": contacts, "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_client_metadata");
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains(&MAX_CLIENT_METADATA_BYTES.to_string()), "{d}");
}

/// Real registrations take well under 1 KiB; one of about 5 KiB is refused, while the
/// largest real shape (VS Code's four redirect URIs, a name, a software id) still fits.
#[tokio::test]
async fn client_metadata_is_capped_at_4_kib() {
    let s = local();
    let contacts: Vec<String> = (0..8)
        .map(|i| format!("{i}-{}@example.com", "x".repeat(600)))
        .collect();
    let r = post_json(
        &s.router,
        "/register",
        &json!({"redirect_uris": [CLAUDE_CALLBACK], "contacts": contacts, "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_client_metadata");
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains("4096"), "{d}");
    let r = post_json(
        &s.router,
        "/register",
        &json!({
            "client_name": "Visual Studio Code - Insiders",
            "redirect_uris": [
                "https://insiders.vscode.dev/redirect",
                "https://vscode.dev/redirect",
                "http://127.0.0.1/",
                "http://127.0.0.1:33418/"
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_post",
            "software_id": "vscode",
            "client_uri": "https://code.visualstudio.com/"
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

fn waiting_client(i: usize) -> ClientRecord {
    ClientRecord {
        client_id: format!("waiting-{i}"),
        secret_hash: None,
        token_endpoint_auth_method: "none".into(),
        redirect_uris: vec![CLAUDE_CALLBACK.into()],
        grant_types: vec!["authorization_code".into()],
        client_name: None,
        client_id_issued_at: 0,
        metadata: Default::default(),
    }
}

/// Past `MAX_UNUSED_CLIENTS` clients that never completed a grant, registration answers 503
/// with `Retry-After`; a client completing a grant frees its place.
#[tokio::test]
async fn registration_pauses_when_too_many_clients_never_signed_in() {
    let s = local();
    let later = u64::MAX / 2;
    for i in 0..MAX_UNUSED_CLIENTS as usize {
        s.store
            .put_client(&waiting_client(i), Some(later))
            .await
            .unwrap();
    }
    let body = claude_body("none");
    let r = post_json(&s.router, "/register", &body).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains(&MAX_UNUSED_CLIENTS.to_string()), "{d}");
    assert!(!r.header("retry-after").is_empty());
    // A granted client is not counted.
    s.store.client_granted("waiting-0").await.unwrap();
    let r = post_json(&s.router, "/register", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = post_json(&s.router, "/register", &body).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
}

#[tokio::test]
async fn redirect_uris_that_do_not_round_trip_are_refused() {
    let s = local();
    for (uri, shown) in [
        ("https://host/cb\r\nX: y", "\\r\\n"),
        ("https://host/cb\0", "\\0"),
        ("https:///cb", "https:///cb"),
        ("https://user:pass@host/cb", "user:pass@host"),
        ("https://HOST/cb", "https://HOST/cb"),
    ] {
        let r = post_json(
            &s.router,
            "/register",
            &json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri:?}: {}", r.text());
        assert_eq!(r.json()["error"], "invalid_redirect_uri", "{uri:?}");
        let d = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(d.contains(shown), "{uri:?}: {d}");
    }
}

#[tokio::test]
async fn the_code_is_sent_to_the_registered_string() {
    let s = local();
    let registered = [
        "https://app.example.com/cb",
        "https://app.example.com/cb?tenant=a%20b",
        "http://127.0.0.1:33418/callback",
        "com.example.app:/oauth2redirect",
        "cursor://anysphere.cursor-mcp/oauth/callback",
    ];
    let v = register(
        &s.router,
        json!({"redirect_uris": registered, "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(v["redirect_uris"], json!(registered));
    let id = v["client_id"].as_str().unwrap().to_owned();
    for uri in registered {
        let r = authorize(&s.router, &id, uri, &[]).await;
        assert_eq!(r.status, StatusCode::FOUND, "{uri}");
        let location = r.header("location");
        let rest = location
            .strip_prefix(uri)
            .unwrap_or_else(|| panic!("{location} does not start with {uri}"));
        let sep = if uri.contains('?') { '&' } else { '?' };
        assert!(rest.starts_with(&format!("{sep}code=")), "{location}");
        let code = r.location_param("code").unwrap();
        let t = exchange(&s.router, &id, uri, &code).await;
        assert_eq!(t.status, StatusCode::OK, "{uri}: {}", t.text());
    }
}

#[tokio::test]
async fn unused_clients_expire_and_granted_ones_stay() {
    let s = local();
    let unused = claude_client(&s).await;
    let (granted, _) = tokens(&s.router, None).await;
    // Started an authorization but never redeemed the code: still unused.
    let started = claude_client(&s).await;
    let _ = code_for(&s.router, &started, CLAUDE_CALLBACK, &[]).await;
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + UNUSED_CLIENT_TTL.as_secs()
        + 1;
    s.store.purge_expired(later).await.unwrap();
    assert_eq!(s.store.get_client(&unused).await.unwrap(), None);
    assert_eq!(s.store.get_client(&started).await.unwrap(), None);
    let r = authorize(&s.router, &unused, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(s.store.get_client(&granted).await.unwrap().is_some());
    let _ = code_for(&s.router, &granted, CLAUDE_CALLBACK, &[]).await;
}

// ---------------------------------------------------------------------------------------------
// authorize

async fn claude_client(s: &Server) -> String {
    register(&s.router, claude_body("none")).await["client_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn auto_consent_redirects_with_one_code_state_and_iss() {
    let s = local();
    let id = claude_client(&s).await;
    let r = authorize(
        &s.router,
        &id,
        CLAUDE_CALLBACK,
        &[("resource", &format!("{LOCAL}/mcp"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.header("location").starts_with(CLAUDE_CALLBACK));
    let params = r.location_params();
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["code", "state", "iss"]);
    assert_eq!(r.location_param("state").unwrap(), "xyz-state");
    assert_eq!(r.location_param("iss").unwrap(), LOCAL);
    assert!(r.location_param("code").unwrap().len() >= 43);
}

async fn granted_scope(s: &Server, id: &str, extra: &[(&str, &str)]) -> String {
    let code = code_for(&s.router, id, CLAUDE_CALLBACK, extra).await;
    let r = exchange(&s.router, id, CLAUDE_CALLBACK, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let scope = r.json()["scope"].as_str().expect("scope").to_owned();
    assert!(is_scope_value(&scope), "{scope:?}");
    scope
}

#[tokio::test]
async fn scope_parameter_forms() {
    let s = local();
    let id = claude_client(&s).await;
    // `scope=claudeai+` (the incident), a leading `+`, none, unknown only, mixed.
    let q = |raw: &str| {
        format!(
            "/authorize?response_type=code&client_id={id}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&{raw}",
            url::form_urlencoded::byte_serialize(CLAUDE_CALLBACK.as_bytes()).collect::<String>()
        )
    };
    for (raw, expected) in [
        ("scope=claudeai+", "claudeai"),
        ("scope=+offline_access", "claudeai offline_access"),
        ("state=s", "claudeai"),
        ("scope=openid+email+profile", "claudeai"),
        ("scope=orders.read++claudeai+", "claudeai orders.read"),
        ("scope=", "claudeai"),
    ] {
        let r = get(&s.router, &q(raw)).await;
        assert_eq!(r.status, StatusCode::FOUND, "{raw}");
        let code = r.location_param("code").unwrap();
        let t = exchange(&s.router, &id, CLAUDE_CALLBACK, &code).await;
        assert_eq!(t.status, StatusCode::OK, "{raw}");
        let scope = t.json()["scope"].as_str().unwrap().to_owned();
        assert!(is_scope_value(&scope), "{raw}: {scope:?}");
        assert_eq!(scope, expected, "{raw}");
    }
    assert_eq!(
        granted_scope(&s, &id, &[("scope", "orders.write offline_access")]).await,
        "orders.write offline_access"
    );
}

#[tokio::test]
async fn resource_forms() {
    let s = local();
    let id = claude_client(&s).await;
    for resource in [
        format!("{LOCAL}/mcp"),
        format!("{LOCAL}/mcp/"),
        LOCAL.to_owned(),
        format!("{LOCAL}/"),
    ] {
        let r = authorize(&s.router, &id, CLAUDE_CALLBACK, &[("resource", &resource)]).await;
        assert_eq!(r.status, StatusCode::FOUND, "{resource}");
        assert!(r.location_param("code").is_some(), "{resource}");
    }
    for foreign in [
        "https://evil.example/mcp",
        "http://127.0.0.1:8001/mcp",
        "http://localhost:8000/mcp",
    ] {
        let r = authorize(&s.router, &id, CLAUDE_CALLBACK, &[("resource", foreign)]).await;
        assert_eq!(r.status, StatusCode::FOUND, "{foreign}");
        assert_eq!(r.location_param("error").as_deref(), Some("invalid_target"));
        assert_eq!(r.location_param("state").as_deref(), Some("xyz-state"));
        assert_eq!(r.location_param("iss").as_deref(), Some(LOCAL));
        assert!(r.location_param("code").is_none());
    }
}

#[tokio::test]
async fn pkce_is_required_and_s256_only() {
    let s = local();
    let id = claude_client(&s).await;
    let cb = url::form_urlencoded::byte_serialize(CLAUDE_CALLBACK.as_bytes()).collect::<String>();
    for (query, why) in [
        (
            format!("code_challenge={VERIFIER}&code_challenge_method=plain"),
            "plain",
        ),
        (format!("code_challenge={CHALLENGE}"), "method missing"),
        ("code_challenge_method=S256".to_owned(), "challenge missing"),
        (
            "code_challenge=short&code_challenge_method=S256".to_owned(),
            "malformed",
        ),
    ] {
        let r = get(
            &s.router,
            &format!(
                "/authorize?response_type=code&client_id={id}&redirect_uri={cb}&state=st&{query}"
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FOUND, "{why}");
        assert_eq!(
            r.location_param("error").as_deref(),
            Some("invalid_request"),
            "{why}"
        );
        assert_eq!(r.location_param("state").as_deref(), Some("st"));
        assert!(r.location_param("code").is_none(), "{why}");
    }
    let r = get(
        &s.router,
        &format!("/authorize?response_type=token&client_id={id}&redirect_uri={cb}&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    )
    .await;
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("unsupported_response_type")
    );
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_except_loopback_ports() {
    let s = local();
    let id = claude_client(&s).await;
    for bad in [
        "https://claude.ai/api/mcp/auth_callback/",
        "https://claude.ai/api/mcp/auth_callback?x=1",
        "https://evil.example/cb",
    ] {
        let r = authorize(&s.router, &id, bad, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.header("location").is_empty(), "never redirect to {bad}");
        assert_eq!(r.json()["error"], "invalid_request");
    }
    let v = register(
        &s.router,
        json!({"redirect_uris": ["http://localhost/callback"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let lid = v["client_id"].as_str().unwrap();
    let r = authorize(&s.router, lid, "http://localhost:43123/callback", &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.header("location")
            .starts_with("http://localhost:43123/callback?code=")
    );
    let r = authorize(&s.router, lid, "http://localhost:43123/other", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn errors_before_consent_are_a_page_unless_the_redirect_is_trusted() {
    let s = local();
    let other = "https://app.example.com/cb";
    let loopback = "http://127.0.0.1:33418/callback";
    let v = register(
        &s.router,
        json!({"redirect_uris": [other, loopback, CLAUDE_CALLBACK], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let id = v["client_id"].as_str().unwrap().to_owned();
    let bad: [(&[(&str, &str)], &str); 4] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (
            &[("resource", "https://evil.example/mcp")],
            "invalid_target",
        ),
    ];
    let script = "<script>alert(1)</script>";
    for (params, error) in bad {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", script),
        ];
        for (k, v) in params {
            pairs.retain(|(pk, _)| pk != k);
            pairs.push((k, v));
        }
        // Any https URI can be registered: no redirect there, a page instead.
        let mut p = pairs.clone();
        p.push(("redirect_uri", other));
        let r = get(&s.router, &format!("/authorize?{}", form(&p))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{params:?}");
        assert!(r.header("location").is_empty(), "{params:?} redirected");
        assert!(
            r.header("content-type").starts_with("text/html"),
            "{params:?}"
        );
        assert!(
            r.header("content-security-policy")
                .contains("default-src 'none'")
        );
        let html = r.text();
        assert!(html.contains(error), "{params:?}: {html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("app.example.com"), "{html}");
        // Loopback and the known clients still get the RFC 6749 §4.1.2.1 redirect.
        for trusted in [loopback, "http://127.0.0.1:50000/callback", CLAUDE_CALLBACK] {
            let mut p = pairs.clone();
            p.push(("redirect_uri", trusted));
            let r = get(&s.router, &format!("/authorize?{}", form(&p))).await;
            assert_eq!(r.status, StatusCode::FOUND, "{params:?} {trusted}");
            assert_eq!(r.location_param("error").as_deref(), Some(error));
            assert_eq!(r.location_param("state").as_deref(), Some(script));
            assert!(r.location_param("code").is_none());
        }
    }
}

#[tokio::test]
async fn unknown_client_at_authorize_is_401_without_redirect() {
    let s = local();
    let r = authorize(&s.router, "no-such-client", CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(r.header("location").is_empty());
}

/// Errors `/authorize` cannot redirect are shown to a browser as a page in the consent page's
/// style, saying what went wrong and what to do; other callers keep the JSON body.
#[tokio::test]
async fn authorize_errors_without_redirect_are_a_page_for_browsers() {
    let s = local();
    let id = register(&s.router, claude_body("none")).await["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let get_with = |uri: String, accept: &'static str| {
        let router = s.router.clone();
        async move {
            let req = http::Request::get(uri)
                .header("accept", accept)
                .body(axum::body::Body::empty())
                .unwrap();
            send(&router, req).await
        }
    };
    let query = |client_id: &str, redirect_uri: &str, extra: &str| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        format!("/authorize?{q}{extra}")
    };
    let cases = [
        (
            query("no-such-client", CLAUDE_CALLBACK, ""),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Remove this server from the application and add it again",
        ),
        (
            query(&id, "https://evil.example/cb", ""),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri does not match a registered redirect uri",
        ),
        (
            query(&id, CLAUDE_CALLBACK, "&%3Cscript%3E=1&%3Cscript%3E=2"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "parameter &quot;&lt;script&gt;&quot; is repeated",
        ),
    ];
    for (uri, status, error, says) in cases {
        let r = get_with(uri.clone(), browser).await;
        assert_eq!(r.status, status, "{uri}");
        assert!(r.header("content-type").starts_with("text/html"), "{uri}");
        assert!(r.header("location").is_empty());
        assert!(
            r.header("content-security-policy")
                .starts_with("default-src 'none'")
        );
        assert_eq!(r.header("cache-control"), "no-store");
        let html = r.text();
        assert!(html.contains("<h1>Authorization failed</h1>"), "{html}");
        assert!(html.contains(&format!("<code>{error}</code>")), "{html}");
        assert!(html.contains(says), "{says} in {html}");
        assert!(!html.contains("<script>"), "{html}");

        // An API client (or one that refuses html) gets JSON.
        for accept in ["application/json", "text/html;q=0, application/json"] {
            let r = get_with(uri.clone(), accept).await;
            assert_eq!(r.status, status);
            assert_eq!(r.json()["error"], error, "{uri} with {accept}");
        }
    }
}

fn password_server() -> Server {
    let mut c = config("https://mcp.example.com");
    c.auth.login = Login::Password;
    c.password_hash = Some(hash_password("s3cret pass"));
    server_with(c)
}

#[tokio::test]
async fn password_consent_page_and_approval() {
    let s = password_server();
    let id = claude_client(&s).await;
    let r = authorize(&s.router, &id, CLAUDE_CALLBACK, &[("scope", "orders.read")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("text/html"));
    assert!(
        r.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(r.header("x-frame-options"), "DENY");
    let html = r.text();
    assert!(html.contains("Claude"));
    assert!(html.contains("claude.ai"));
    assert!(html.contains("orders.read"));
    assert!(html.contains("Read orders"));
    let cookie = r.header("set-cookie").split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-mcpgen_csrf="));
    assert!(r.header("set-cookie").contains("Secure"));
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    assert!(html.contains(&csrf));

    let fields = |password: &'static str, csrf: String, action: &'static str| {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", id.clone()),
            ("redirect_uri", CLAUDE_CALLBACK.to_owned()),
            ("state", "xyz-state".to_owned()),
            ("code_challenge", CHALLENGE.to_owned()),
            ("code_challenge_method", "S256".to_owned()),
            ("scope", "orders.read".to_owned()),
            ("resource", "https://mcp.example.com/mcp".to_owned()),
            ("csrf", csrf),
            ("password", password.to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let post = |pairs: Vec<(&'static str, String)>, cookie: String| {
        let router = s.router.clone();
        async move {
            let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&router, "/authorize", &borrowed, &[("cookie", &cookie)]).await
        }
    };

    // Wrong CSRF token: refused, no redirect.
    let r = post(
        fields("s3cret pass", "forged".into(), "approve"),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.header("location").is_empty());
    // Wrong password: the page again.
    let r = post(fields("wrong", csrf.clone(), "approve"), cookie.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("Wrong password"));
    // Deny: access_denied back to the client.
    let r = post(fields("", csrf.clone(), "deny"), cookie.clone()).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location_param("error").as_deref(), Some("access_denied"));
    assert_eq!(
        r.location_param("iss").as_deref(),
        Some("https://mcp.example.com")
    );
    // Right password: the code.
    let r = post(
        fields("s3cret pass", csrf.clone(), "approve"),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location_param("state").as_deref(), Some("xyz-state"));
    let code = r.location_param("code").expect("a code");

    // The shared password stands for one operator: the tokens, refreshed ones too, belong to
    // that subject, and the bearer check hands it to the MCP endpoint.
    let t = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", &id),
            ("code_verifier", VERIFIER),
        ],
        &[],
    )
    .await
    .json();
    let auth = s.oauth.authenticator();
    let caller = async |access: &str| {
        auth.authenticate(&parts(Some(&format!("Bearer {access}"))))
            .await
            .expect("valid")
            .person
    };
    assert_eq!(
        caller(t["access_token"].as_str().unwrap()).await,
        Some(Person::operator())
    );
    let refreshed = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &id),
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(
        caller(refreshed["access_token"].as_str().expect("refreshed")).await,
        Some(Person::operator())
    );
}

#[tokio::test]
async fn wrong_consent_passwords_are_throttled() {
    // The throttle counts per clock minute: keep clear of a minute boundary.
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - into_minute)).await;
    }
    let s = password_server();
    let id = claude_client(&s).await;
    let r = authorize(&s.router, &id, CLAUDE_CALLBACK, &[("scope", "orders.read")]).await;
    let cookie = r.header("set-cookie").split(';').next().unwrap().to_owned();
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let attempt = |password: &'static str| {
        let (router, id, csrf, cookie) =
            (s.router.clone(), id.clone(), csrf.clone(), cookie.clone());
        async move {
            let fields = [
                ("response_type", "code"),
                ("client_id", id.as_str()),
                ("redirect_uri", CLAUDE_CALLBACK),
                ("state", "s"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("scope", "orders.read"),
                ("resource", "https://mcp.example.com/mcp"),
                ("csrf", csrf.as_str()),
                ("password", password),
                ("action", "approve"),
            ];
            post_form(&router, "/authorize", &fields, &[("cookie", &cookie)]).await
        }
    };
    for _ in 0..mcpgen_runtime::oauth::PASSWORD_BURST {
        assert_eq!(attempt("guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // Past the limit even the right password waits: attempts are counted, not only failures.
    let r = attempt("s3cret pass").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().contains("Wait a minute"));
    assert!(!r.header("retry-after").is_empty());
    assert!(r.header("location").is_empty());
}

/// The throttle holds for guesses sent at once: each is counted before its (slow, 19 MiB)
/// Argon2 check starts, so a burst of concurrent wrong passwords neither gets more than
/// the limit (10) checked nor runs hundreds of hashes at once.
#[tokio::test]
async fn concurrent_wrong_passwords_are_throttled_too() {
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - into_minute)).await;
    }
    let s = password_server();
    let id = claude_client(&s).await;
    let r = authorize(&s.router, &id, CLAUDE_CALLBACK, &[("scope", "orders.read")]).await;
    let cookie = r.header("set-cookie").split(';').next().unwrap().to_owned();
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (router, id, csrf, cookie) =
            (s.router.clone(), id.clone(), csrf.clone(), cookie.clone());
        guesses.spawn(async move {
            let password = format!("guess {i}");
            let fields = [
                ("response_type", "code"),
                ("client_id", id.as_str()),
                ("redirect_uri", CLAUDE_CALLBACK),
                ("state", "s"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("scope", "orders.read"),
                ("resource", "https://mcp.example.com/mcp"),
                ("csrf", csrf.as_str()),
                ("password", password.as_str()),
                ("action", "approve"),
            ];
            post_form(&router, "/authorize", &fields, &[("cookie", &cookie)])
                .await
                .status
        });
    }
    let statuses = guesses.join_all().await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + throttled, 16, "{statuses:?}");
    assert!(
        checked <= 10,
        "{checked} of 16 concurrent guesses were checked"
    );
}

#[tokio::test]
async fn consent_page_escapes_client_names() {
    let s = password_server();
    let v = register(
        &s.router,
        json!({"client_name": "<script>alert(1)</script>", "redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let r = authorize(
        &s.router,
        v["client_id"].as_str().unwrap(),
        CLAUDE_CALLBACK,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text().contains("<script>"));
    assert!(r.text().contains("&lt;script&gt;"));
}

#[tokio::test]
async fn registration_refuses_control_and_bidi_characters_naming_the_field() {
    let s = local();
    for (field, value) in [
        ("client_name", json!("Invoice \u{202E}fdp.exe")),
        ("client_name", json!("Name \u{1b}[2J\u{1b}[H")),
        ("client_name", json!("two\nlines")),
        ("client_name", json!("isolate \u{2066}x\u{2069}")),
        ("client_uri", json!("https://app.example/\u{200F}")),
        ("logo_uri", json!("https://app.example/logo\u{7}.png")),
        ("software_id", json!("id\u{9b}31m")),
        ("contacts", json!(["ops@app.example\u{0}"])),
    ] {
        let mut body =
            json!({"redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none"});
        body[field] = value.clone();
        let r = post_json(&s.router, "/register", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {value}");
        let v = r.json();
        assert_eq!(v["error"], "invalid_client_metadata", "{field}: {value}");
        let d = v["error_description"].as_str().unwrap();
        assert!(d.starts_with(field), "{d}");
        // The description is plain text: it names the character, it does not repeat it.
        assert!(!d.chars().any(char::is_control), "{d:?}");
    }
    let r = post_json(
        &s.router,
        "/register",
        &json!({"redirect_uris": ["http://127.0.0.1:3000/cb\u{202E}"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    // Redirect URIs must round-trip unchanged, which no control character does.
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_redirect_uri");
    // Right-to-left letters are text, not controls: accepted as sent.
    let v = register(
        &s.router,
        json!({"client_name": "לקוח (מבחן)", "redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(v["client_name"], "לקוח (מבחן)");
}

#[tokio::test]
async fn consent_page_isolates_client_supplied_text() {
    let s = password_server();
    let v = register(
        &s.router,
        json!({"client_name": "לקוח", "redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let r = authorize(
        &s.router,
        v["client_id"].as_str().unwrap(),
        CLAUDE_CALLBACK,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.text();
    let host = url::Url::parse(CLAUDE_CALLBACK).unwrap();
    let host = host.host_str().unwrap();
    // The name, wherever it appears, and the redirect host are each isolated, so
    // right-to-left text in the name cannot reorder the host around it.
    assert!(page.contains("<bdi>לקוח</bdi>"), "{page}");
    assert_eq!(
        page.matches("לקוח").count(),
        page.matches("<bdi>לקוח</bdi>").count(),
        "{page}"
    );
    assert!(page.contains(&format!("<bdi>{host}</bdi>")), "{page}");
}

// ---------------------------------------------------------------------------------------------
// token

#[tokio::test]
async fn token_response_shape() {
    let s = local();
    let id = claude_client(&s).await;
    let code = code_for(&s.router, &id, CLAUDE_CALLBACK, &[("scope", "claudeai ")]).await;
    let r = exchange(&s.router, &id, CLAUDE_CALLBACK, &code).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("application/json"));
    assert_eq!(r.header("cache-control"), "no-store");
    let v = r.json();
    assert_no_empty_members(&v, "");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert!(v["expires_in"].is_u64());
    assert_eq!(v["scope"], "claudeai");
    assert!(v["access_token"].as_str().unwrap().len() >= 43);
    assert!(v["refresh_token"].is_string());
    // Stored only as hashes.
    let access = v["access_token"].as_str().unwrap();
    assert!(s.store.get_token(access).await.unwrap().is_none());
    assert!(
        s.store
            .get_token(&secret_hash(access))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn pkce_verifier_must_match() {
    let s = local();
    let id = claude_client(&s).await;
    let code = code_for(&s.router, &id, CLAUDE_CALLBACK, &[]).await;
    let r = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", &id),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            ),
        ],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(r.header("cache-control"), "no-store");
}

#[tokio::test]
async fn code_is_bound_to_client_and_redirect() {
    let s = local();
    let id = claude_client(&s).await;
    let other = claude_client(&s).await;
    let code = code_for(&s.router, &id, CLAUDE_CALLBACK, &[]).await;
    let r = exchange(&s.router, &other, CLAUDE_CALLBACK, &code).await;
    assert_eq!(r.json()["error"], "invalid_grant");
    let code = code_for(&s.router, &id, CLAUDE_CALLBACK, &[]).await;
    let r = exchange(
        &s.router,
        &id,
        "https://claude.com/api/mcp/auth_callback",
        &code,
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn code_replay_is_refused_and_revokes_issued_tokens() {
    let s = local();
    let id = claude_client(&s).await;
    let code = code_for(&s.router, &id, CLAUDE_CALLBACK, &[]).await;
    let first = exchange(&s.router, &id, CLAUDE_CALLBACK, &code).await;
    assert_eq!(first.status, StatusCode::OK);
    let tokens = first.json();
    let auth = s.oauth.authenticator();
    let bearer = tokens["access_token"].as_str().unwrap();
    assert!(
        auth.authenticate(&parts(Some(&format!("Bearer {bearer}"))))
            .await
            .is_ok()
    );

    let replay = exchange(&s.router, &id, CLAUDE_CALLBACK, &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    // What the code issued is gone: access and refresh token.
    let res = auth
        .authenticate(&parts(Some(&format!("Bearer {bearer}"))))
        .await
        .unwrap_err();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let r = refresh(&s, &id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.json()["error"], "invalid_grant");
}

async fn refresh(s: &Server, client_id: &str, token: &str) -> Reply {
    post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client_id),
        ],
        &[],
    )
    .await
}

#[tokio::test]
async fn refresh_rotation_and_reuse_detection() {
    let s = local();
    let (id, t0) = tokens(&s.router, Some("claudeai orders.read offline_access")).await;
    let r0 = t0["refresh_token"].as_str().unwrap().to_owned();

    let one = refresh(&s, &id, &r0).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    assert_eq!(one.header("cache-control"), "no-store");
    let t1 = one.json();
    let r1 = t1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r0, "rotated");
    assert_eq!(t1["scope"], "claudeai orders.read offline_access");
    assert_eq!(t1["token_type"], "Bearer");

    // Within the grace, the previous token is answered again (a lost response, or refreshes
    // sent at once): r1 stays live beside the new r1b, as the client may have kept either.
    let again = refresh(&s, &id, &r0).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let r1b = again.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1b, r1);

    // r1b is used first: its sibling r1 is dead, and presenting r1 is a reuse that revokes the
    // whole grant, r1b's successor included.
    let two = refresh(&s, &id, &r1b).await;
    assert_eq!(two.status, StatusCode::OK, "{}", two.text());
    let t2 = two.json();
    let reuse = refresh(&s, &id, &r1).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.json()["error"], "invalid_grant");
    let dead = refresh(&s, &id, t2["refresh_token"].as_str().unwrap()).await;
    assert_eq!(dead.json()["error"], "invalid_grant");
    let auth = s.oauth.authenticator();
    let a2 = t2["access_token"].as_str().unwrap();
    assert!(
        auth.authenticate(&parts(Some(&format!("Bearer {a2}"))))
            .await
            .is_err()
    );
    // The parent, too, is dead once a child was used.
    let parent = refresh(&s, &id, &r0).await;
    assert_eq!(parent.json()["error"], "invalid_grant");
}

/// `refresh_reuse_grace` is the server's: with none, presenting a refresh token a second time
/// is a reuse at once and revokes what the first use issued.
#[tokio::test]
async fn refresh_reuse_grace_is_configurable() {
    let mut c = config(LOCAL);
    c.auth.refresh_reuse_grace = Duration::ZERO;
    let s = server_with(c);
    let (id, t0) = tokens(&s.router, Some("claudeai offline_access")).await;
    let r0 = t0["refresh_token"].as_str().unwrap();
    let one = refresh(&s, &id, r0).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    let again = refresh(&s, &id, r0).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());
    assert_eq!(again.json()["error"], "invalid_grant");
    let r1 = one.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&s, &id, &r1).await.json()["error"], "invalid_grant");
}

/// A revoked grant stays revoked as long as any of its tokens lives: the family revocation
/// written on a refresh token's reuse, and on `/revoke` of a refresh token, must be kept until
/// the grant's longest-lived token expires. With access tokens that outlive refresh tokens (the
/// runtime accepts `access_ttl` over `refresh_ttl`), both were kept for `refresh_ttl` only: the
/// purge then dropped the revocation and the grant's access tokens were live again.
#[tokio::test]
async fn revoked_grants_stay_revoked_while_their_access_tokens_live() {
    let mut c = config(LOCAL);
    c.auth.access_ttl = Duration::from_secs(7200);
    c.auth.refresh_ttl = Duration::from_secs(3600);
    let s = server_with(c);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let access_state = async |access: &str| {
        s.store
            .get_token(&secret_hash(access))
            .await
            .unwrap()
            .map(|t| t.state)
    };

    // Reuse: the parent presented after its child was used.
    let (id, t0) = tokens(&s.router, Some("claudeai offline_access")).await;
    let r0 = t0["refresh_token"].as_str().unwrap();
    let one = refresh(&s, &id, r0).await.json();
    let r1 = one["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&s, &id, r1).await.status, StatusCode::OK);
    assert_eq!(refresh(&s, &id, r0).await.json()["error"], "invalid_grant");
    let reused = one["access_token"].as_str().unwrap().to_owned();
    assert_eq!(access_state(&reused).await, Some(TokenState::Revoked));

    // `/revoke` of a refresh token (RFC 7009 §2.1: its access tokens go too).
    let (id, t) = tokens(&s.router, Some("claudeai offline_access")).await;
    let r = post_form(
        &s.router,
        "/revoke",
        &[
            ("token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &id),
        ],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let revoked = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(access_state(&revoked).await, Some(TokenState::Revoked));

    // Past the refresh tokens' lifetime, inside the access tokens': a purge runs.
    s.store.purge_expired(now() + 3600 + 60).await.unwrap();
    assert_eq!(
        access_state(&reused).await,
        Some(TokenState::Revoked),
        "reuse"
    );
    assert_eq!(
        access_state(&revoked).await,
        Some(TokenState::Revoked),
        "revoke"
    );
}

/// Deletes a SQLite file (and its WAL files) when dropped.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Whatever keeps a test store alive (a file, a `redis-server`).
type Guard = Box<dyn std::any::Any>;

/// The stores to run the HTTP-level races on: memory, a SQLite file, and Redis (skipped
/// outside CI when no `redis-server` is installed). The guard keeps Redis and the file alive.
async fn every_store() -> Vec<(&'static str, Arc<dyn Store>, Guard)> {
    let mut stores: Vec<(&'static str, Arc<dyn Store>, Guard)> = Vec::new();
    stores.push(("memory", Arc::new(MemoryStore::new()), Box::new(())));
    let path = std::env::temp_dir().join(format!(
        "mcpgen-oauth-{}-{}.sqlite3",
        std::process::id(),
        secret_hash(&format!("{:?}", std::time::SystemTime::now()))
    ));
    let url = format!("sqlite:{}", path.display());
    stores.push((
        "sqlite",
        mcpgen_runtime::store::open(&url).await.unwrap(),
        Box::new(RemoveOnDrop(path)),
    ));
    match redis_common::redis_url().await {
        Some((url, child)) => stores.push((
            "redis",
            mcpgen_runtime::store::open(&url).await.unwrap(),
            Box::new(child),
        )),
        None => assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Redis: set MCPGEN_TEST_REDIS_URL or install redis-server"
        ),
    }
    stores
}

/// Hosted clients refresh in parallel after a 401 and keep whichever answer arrives last:
/// 50 refreshes with one refresh token, sent at once, are all 200, and every access and
/// refresh token they carry is live. The refresh tokens are siblings: the client uses the
/// one that arrived last, and presenting any other afterwards is a reuse that revokes the
/// grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_refreshes_all_return_live_tokens() {
    for (name, store, _guard) in every_store().await {
        let s = Arc::new(server_on(config(LOCAL), store));
        let (id, t0) = tokens(&s.router, Some("claudeai orders.read offline_access")).await;
        let r0 = t0["refresh_token"].as_str().unwrap().to_owned();
        let arrived = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (s, id, r0, arrived) =
                (Arc::clone(&s), id.clone(), r0.clone(), Arc::clone(&arrived));
            tasks.push(tokio::spawn(async move {
                let r = refresh(&s, &id, &r0).await;
                assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text());
                let t = r.json();
                let pair = |k: &str| t[k].as_str().unwrap().to_owned();
                arrived
                    .lock()
                    .unwrap()
                    .push((pair("access_token"), pair("refresh_token")));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let arrived = arrived.lock().unwrap().clone();
        assert_eq!(arrived.len(), 50);
        let auth = s.oauth.authenticator();
        let bearer = |a: &str| parts(Some(&format!("Bearer {a}")));
        for (access, refresh_token) in &arrived {
            assert!(auth.authenticate(&bearer(access)).await.is_ok(), "{name}");
            let stored = s
                .store
                .get_token(&secret_hash(refresh_token))
                .await
                .unwrap();
            assert_eq!(
                stored.map(|t| t.state),
                Some(TokenState::Active),
                "{name}: a refresh token handed out in a 200 is dead"
            );
        }

        // The client keeps the last answer and refreshes with it later.
        let (_, last) = arrived.last().unwrap();
        let next = refresh(&s, &id, last).await;
        assert_eq!(next.status, StatusCode::OK, "{name}: {}", next.text());
        let next = next.json();
        let next_access = next["access_token"].as_str().unwrap();
        assert!(auth.authenticate(&bearer(next_access)).await.is_ok());

        // Any other answer's refresh token is now a reuse: the grant is revoked.
        let (_, other) = &arrived[0];
        let reuse = refresh(&s, &id, other).await;
        assert_eq!(reuse.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(reuse.json()["error"], "invalid_grant");
        assert!(auth.authenticate(&bearer(next_access)).await.is_err());
        for (access, _) in &arrived {
            assert!(auth.authenticate(&bearer(access)).await.is_err(), "{name}");
        }
        let dead = refresh(&s, &id, next["refresh_token"].as_str().unwrap()).await;
        assert_eq!(dead.json()["error"], "invalid_grant", "{name}");
    }
}

#[tokio::test]
async fn refresh_may_narrow_scope_and_omit_client_id() {
    let s = local();
    let (_id, t0) = tokens(&s.router, Some("claudeai orders.read")).await;
    let r = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t0["refresh_token"].as_str().unwrap()),
            ("scope", "orders.read "),
        ],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["scope"], "orders.read");
}

#[tokio::test]
async fn client_authentication_methods() {
    let s = local();
    // client_secret_post
    let post_client = register(&s.router, claude_body("client_secret_post")).await;
    let pid = post_client["client_id"].as_str().unwrap();
    let psecret = post_client["client_secret"].as_str().unwrap();
    let code = code_for(&s.router, pid, CLAUDE_CALLBACK, &[]).await;
    let base = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", CLAUDE_CALLBACK.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
        ]
    };
    let as_pairs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let call = |pairs: Vec<(&'static str, String)>, headers: Vec<(&'static str, String)>| {
        let router = s.router.clone();
        async move {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&router, "/token", &p, &h).await
        }
    };
    // Missing secret: 401 invalid_client (the code is not consumed by a failed client auth).
    let mut p = as_pairs(&base(&code));
    p.push(("client_id", pid.to_owned()));
    let r = call(p.clone(), vec![]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    // Wrong secret.
    let mut wrong = p.clone();
    wrong.push(("client_secret", "nope".to_owned()));
    let r = call(wrong, vec![]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Registered for post, sent as basic: refused.
    let basic = base64_basic(pid, psecret);
    let r = call(base(&code), vec![("authorization", basic)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").starts_with("Basic"));
    // Right.
    let mut right = p.clone();
    right.push(("client_secret", psecret.to_owned()));
    let r = call(right, vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // client_secret_basic
    let basic_client = register(&s.router, claude_body("client_secret_basic")).await;
    let bid = basic_client["client_id"].as_str().unwrap();
    let bsecret = basic_client["client_secret"].as_str().unwrap();
    let code = code_for(&s.router, bid, CLAUDE_CALLBACK, &[]).await;
    let mut in_form = base(&code);
    in_form.push(("client_id", bid.to_owned()));
    in_form.push(("client_secret", bsecret.to_owned()));
    let r = call(in_form, vec![]).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "basic client using post"
    );
    let r = call(
        base(&code),
        vec![("authorization", base64_basic(bid, bsecret))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Unknown client: 401.
    let mut unknown = base("whatever");
    unknown.push(("client_id", "no-such-client".to_owned()));
    let r = call(unknown, vec![]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

#[tokio::test]
async fn token_errors_are_rfc6749_json() {
    let s = local();
    for (pairs, status, error) in [
        (vec![], StatusCode::BAD_REQUEST, "invalid_request"),
        (
            vec![("grant_type", "password")],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "x"),
                ("code", "y"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "nope")],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
    ] {
        let r = post_form(&s.router, "/token", &pairs, &[]).await;
        assert_eq!(r.status, status, "{pairs:?}");
        assert_eq!(r.json()["error"], error, "{pairs:?}");
        assert!(r.json()["error_description"].is_string());
        assert_eq!(r.header("cache-control"), "no-store");
    }
    let r = send(
        &s.router,
        Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=a&grant_type=b"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_request");
}

#[tokio::test]
async fn three_hundred_token_requests_a_minute_are_not_limited() {
    let s = local();
    let (id, t) = tokens(&s.router, None).await;
    let mut refresh_token = t["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..300 {
        let r = refresh(&s, &id, &refresh_token).await;
        assert_eq!(r.status, StatusCode::OK);
        refresh_token = r.json()["refresh_token"].as_str().unwrap().to_owned();
    }
}

#[tokio::test]
async fn token_resource_must_match() {
    let s = local();
    let id = claude_client(&s).await;
    let code = code_for(&s.router, &id, CLAUDE_CALLBACK, &[]).await;
    let r = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", &id),
            ("code_verifier", VERIFIER),
            ("resource", "https://evil.example/mcp"),
        ],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_target");
}

// ---------------------------------------------------------------------------------------------
// revoke

#[tokio::test]
async fn revoke_access_and_refresh_tokens() {
    let s = local();
    let auth = s.oauth.authenticator();
    let (id, t) = tokens(&s.router, None).await;
    let access = t["access_token"].as_str().unwrap();
    let r = post_form(
        &s.router,
        "/revoke",
        &[("token", access), ("client_id", &id)],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        auth.authenticate(&parts(Some(&format!("Bearer {access}"))))
            .await
            .is_err()
    );
    // The refresh token still works after revoking only the access token.
    let r = refresh(&s, &id, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let t2 = r.json();
    // Revoking the refresh token ends the grant, its access tokens included.
    let r = post_form(
        &s.router,
        "/revoke",
        &[
            ("token", t2["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let a2 = t2["access_token"].as_str().unwrap();
    assert!(
        auth.authenticate(&parts(Some(&format!("Bearer {a2}"))))
            .await
            .is_err()
    );
    let r = refresh(&s, &id, t2["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.json()["error"], "invalid_grant");
    // Unknown tokens are answered 200 (RFC 7009 §2.2).
    let r = post_form(
        &s.router,
        "/revoke",
        &[("token", "unknown"), ("client_id", &id)],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // An unknown client is not.
    let r = post_form(
        &s.router,
        "/revoke",
        &[("token", "unknown"), ("client_id", "nobody")],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoking_another_clients_token_does_nothing() {
    let s = local();
    let (_, t) = tokens(&s.router, None).await;
    let other = claude_client(&s).await;
    let access = t["access_token"].as_str().unwrap();
    let r = post_form(
        &s.router,
        "/revoke",
        &[("token", access), ("client_id", &other)],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let auth = s.oauth.authenticator();
    assert!(
        auth.authenticate(&parts(Some(&format!("Bearer {access}"))))
            .await
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// bearer check

fn parts(authorization: Option<&str>) -> http::request::Parts {
    let mut b = Request::post("/mcp");
    if let Some(a) = authorization {
        b = b.header("authorization", a);
    }
    b.body(()).unwrap().into_parts().0
}

fn challenge(res: &axum::response::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn missing_token_gets_401_without_error() {
    let s = password_server();
    let auth = s.oauth.authenticator();
    for p in [parts(None), parts(Some("Basic abc")), {
        // A token in the query string is never read.
        Request::post("/mcp?access_token=abc")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }] {
        let res = auth.authenticate(&p).await.unwrap_err();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenge(&res),
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"claudeai\""
        );
    }
}

#[tokio::test]
async fn bad_tokens_get_invalid_token() {
    let s = local();
    let auth = s.oauth.authenticator();
    for header in ["Bearer nope", "Bearer ", "bearer    "] {
        let res = auth.authenticate(&parts(Some(header))).await.unwrap_err();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{header}");
        let c = challenge(&res);
        assert!(c.starts_with("Bearer error=\"invalid_token\""), "{c}");
        assert!(
            c.contains(&format!(
                "resource_metadata=\"{LOCAL}/.well-known/oauth-protected-resource/mcp\""
            )),
            "{c}"
        );
        assert!(c.contains("scope=\"claudeai\""), "{c}");
    }
    // A refresh token is not an access token.
    let (_, t) = tokens(&s.router, None).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let res = auth
        .authenticate(&parts(Some(&format!("Bearer {rt}"))))
        .await
        .unwrap_err();
    assert!(challenge(&res).contains("invalid_token"));
}

async fn planted(store: &Arc<dyn Store>, resource: &str, expires_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = format!("planted-{resource}-{expires_in}");
    store
        .put_tokens(&[NewToken {
            hash: secret_hash(&token),
            record: TokenRecord {
                kind: TokenKind::Access,
                client_id: "c".into(),
                scopes: vec!["claudeai".into()],
                resource: resource.into(),
                family: "f".into(),
                issued_at: now - 10,
                expires_at: now.saturating_add_signed(expires_in),
                person: mcpgen_runtime::store::Person::new("planted"),
            },
        }])
        .await
        .unwrap();
    token
}

#[tokio::test]
async fn expired_and_foreign_tokens_are_refused() {
    let s = local();
    let auth = s.oauth.authenticator();
    let good = planted(&s.store, &format!("{LOCAL}/mcp"), 60).await;
    let p = auth
        .authenticate(&parts(Some(&format!("Bearer {good}"))))
        .await
        .expect("valid token");
    assert_eq!(p.client_id.as_deref(), Some("c"));
    assert!(p.scopes.contains("claudeai"));

    let expired = planted(&s.store, &format!("{LOCAL}/mcp"), -1).await;
    let res = auth
        .authenticate(&parts(Some(&format!("Bearer {expired}"))))
        .await
        .unwrap_err();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("error=\"invalid_token\""));

    let foreign = planted(&s.store, "https://other.example/mcp", 60).await;
    let res = auth
        .authenticate(&parts(Some(&format!("Bearer {foreign}"))))
        .await
        .unwrap_err();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn zero_access_ttl_tokens_expire_at_once() {
    let mut c = config(LOCAL);
    c.auth.access_ttl = Duration::ZERO;
    let s = server_with(c);
    let (_, t) = tokens(&s.router, None).await;
    assert_eq!(t["expires_in"], 0);
    let a = t["access_token"].as_str().unwrap();
    let res = s
        .oauth
        .authenticator()
        .authenticate(&parts(Some(&format!("Bearer {a}"))))
        .await
        .unwrap_err();
    assert!(challenge(&res).contains("invalid_token"));
}

#[tokio::test]
async fn insufficient_scope_is_403_naming_every_required_scope() {
    let s = local();
    let auth = s.oauth.authenticator();
    let (_, t) = tokens(&s.router, Some("claudeai orders.read")).await;
    let a = t["access_token"].as_str().unwrap();
    let principal: Principal = auth
        .authenticate(&parts(Some(&format!("Bearer {a}"))))
        .await
        .expect("valid");
    assert!(auth.authorize_tool(&principal, &["orders.read"]).is_ok());
    assert!(auth.authorize_tool(&principal, &[]).is_ok());
    let res = auth
        .authorize_tool(&principal, &["orders.read", "orders.write"])
        .unwrap_err();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let c = challenge(&res);
    assert!(c.starts_with("Bearer error=\"insufficient_scope\""), "{c}");
    assert!(
        c.contains("scope=\"orders.read orders.write claudeai\""),
        "the needed scopes, then those already granted: {c}"
    );
    assert!(
        c.contains(&format!(
            "resource_metadata=\"{LOCAL}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{c}"
    );
}

#[tokio::test]
async fn full_flow_through_merged_router() {
    // The router merges with another router that has its own fallback.
    let s = local();
    let app = axum::Router::new()
        .route("/mcp", axum::routing::post(|| async { "mcp" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "plain") })
        .merge(s.router.clone());
    let r = get(&app, "/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&app, "/.well-known/unknown").await;
    assert_eq!(r.json()["error"], "not_found");
    let r = get(&app, "/elsewhere").await;
    assert_eq!(r.text(), "plain");
    let _: Value = tokens(&app, None).await.1;
}
