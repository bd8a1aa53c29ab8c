//! What hosted and browser-based clients meet on a generated server: the hosted clients'
//! origins on public servers (and the spec's narrowing of them), the `/mcp/` form of the
//! endpoint with its own metadata, and a loopback server's OAuth routes refusing foreign
//! hosts, origins and cross-site navigations.

mod app_common;

use app_common::*;
use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use mcpgen_runtime::app::{App, Server};
use mcpgen_runtime::oauth::hash_password;
use serde_json::{Value, json};

const LOCAL: &str = "http://127.0.0.1:8000";
const LOCAL_HOST: &str = "127.0.0.1:8000";
const CALLBACK: &str = "http://127.0.0.1:5555/callback";
const PUBLIC_HOST: &str = "medtainer.example.com";

fn ping() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})
}

/// The production app as deployed: https public URL, password consent.
async fn public(app: &App) -> Router {
    let h = hash_password("a long and random enough password");
    let config = config_for(app, &["--store", "memory"], &[("MCPGEN_PASSWORD_HASH", &h)]);
    Server::build(app, &config, Handler::new())
        .await
        .expect("builds")
        .router()
}

/// The production app made local with automatic consent.
async fn local(app: &App) -> Router {
    let config = config_for(
        app,
        &[
            "--public-url",
            LOCAL,
            "--consent",
            "auto",
            "--store",
            "memory",
        ],
        &[],
    );
    Server::build(app, &config, Handler::new())
        .await
        .expect("builds")
        .router()
}

/// The app with no `allowed_origins`: what a spec that says nothing about browsers gets.
fn plain_app() -> App {
    let mut a = app();
    a.allowed_origins = vec![];
    a
}

async fn post_mcp(router: &Router, host: &str, path: &str, origin: Option<&str>) -> Reply {
    let mut req = Request::post(path)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "*/*")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    send(
        router,
        req.body(Body::from(ping().to_string())).expect("request"),
    )
    .await
}

#[tokio::test]
async fn hosted_clients_browser_origins_get_401_on_a_public_server() {
    let router = public(&plain_app()).await;
    for origin in [
        "https://claude.ai",
        "https://claude.com",
        "https://chatgpt.com",
    ] {
        let r = post_mcp(&router, PUBLIC_HOST, "/mcp", Some(origin)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{origin}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), origin);
        assert!(
            r.header("www-authenticate").contains("resource_metadata="),
            "{origin}"
        );
    }
    // The server's own origin, too.
    let r = post_mcp(
        &router,
        PUBLIC_HOST,
        "/mcp",
        Some("https://medtainer.example.com"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Anything else: 403 that names the origin and the spec key, readable by the browser.
    let r = post_mcp(&router, PUBLIC_HOST, "/mcp", Some("https://app.example")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "https://app.example"
    );
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("https://app.example") && message.contains("server.allowed_origins"),
        "{message}"
    );
}

#[tokio::test]
async fn the_spec_narrows_the_hosted_client_origins() {
    let mut a = plain_app();
    a.hosted_client_origins = Some(vec!["https://claude.ai".into()]);
    let router = public(&a).await;
    let r = post_mcp(&router, PUBLIC_HOST, "/mcp", Some("https://claude.ai")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = post_mcp(&router, PUBLIC_HOST, "/mcp", Some("https://chatgpt.com")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("https://chatgpt.com") && message.contains("server.hosted_client_origins"),
        "{message}"
    );
    // `false` in the spec: none at all, but the configured origins still pass.
    let mut a = app();
    a.hosted_client_origins = Some(vec![]);
    let router = public(&a).await;
    let r = post_mcp(&router, PUBLIC_HOST, "/mcp", Some("https://chatgpt.com")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_mcp(&router, PUBLIC_HOST, "/mcp", Some("https://claude.ai")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_loopback_server_refuses_hosted_origins() {
    let router = local(&plain_app()).await;
    let r = post_mcp(&router, LOCAL_HOST, "/mcp", Some("https://claude.ai")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("access-control-allow-origin"), "");
    let r = post_mcp(&router, LOCAL_HOST, "/mcp", Some("http://localhost:6274")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn register(router: &Router, redirect_uri: &str) -> String {
    let r = send(
        router,
        Request::post("/register")
            .header(header::HOST, LOCAL_HOST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({
                    "client_name": "test client",
                    "redirect_uris": [redirect_uri],
                    "token_endpoint_auth_method": "none"
                })
                .to_string(),
            ))
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["client_id"].as_str().expect("id").to_owned()
}

fn authorize_uri(client_id: &str, redirect_uri: &str, resource: &str) -> String {
    format!(
        "/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "s-1"),
            ("resource", resource),
        ])
    )
}

/// Register, authorize (automatic consent) and redeem, asking for `resource`.
async fn token_for(router: &Router, resource: &str) -> String {
    let client_id = register(router, CALLBACK).await;
    let r = get(
        router,
        LOCAL_HOST,
        &authorize_uri(&client_id, CALLBACK, resource),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    let location = url::Url::parse(r.header("location")).expect("location");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let r = send(
        router,
        Request::post("/token")
            .header(header::HOST, LOCAL_HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", &client_id),
                ("code_verifier", VERIFIER),
                ("resource", resource),
            ])))
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["access_token"].as_str().expect("token").to_owned()
}

/// The `resource_metadata` URL of a 401 challenge.
fn resource_metadata(challenge: &str) -> String {
    let start = challenge
        .find("resource_metadata=\"")
        .map(|i| i + "resource_metadata=\"".len())
        .unwrap_or_else(|| panic!("no resource_metadata in {challenge}"));
    let rest = &challenge[start..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

#[tokio::test]
async fn both_endpoint_forms_have_metadata_naming_exactly_them() {
    for (router, host, base) in [
        (local(&app()).await, LOCAL_HOST, LOCAL.to_owned()),
        (
            public(&app()).await,
            PUBLIC_HOST,
            format!("https://{PUBLIC_HOST}"),
        ),
    ] {
        for path in ["/mcp", "/mcp/"] {
            // 1. The unauthenticated request: 401 pointing at a metadata document...
            let r = post_mcp(&router, host, path, None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
            let prm_url = resource_metadata(r.header("www-authenticate"));
            assert_eq!(
                prm_url,
                format!("{base}/.well-known/oauth-protected-resource{path}")
            );
            // 2. ...that is served, and 3. names exactly the URL the user typed (RFC 9728 §3.3).
            let prm_path = prm_url.strip_prefix(&base).expect("same origin");
            let r = get(&router, host, prm_path).await;
            assert_eq!(r.status, StatusCode::OK, "{prm_path}");
            let doc = r.json();
            assert_eq!(doc["resource"], format!("{base}{path}"));
            assert_eq!(doc["authorization_servers"], json!([base.clone()]));
        }
    }
}

#[tokio::test]
async fn a_token_for_either_form_works_on_both() {
    let router = local(&app()).await;
    for resource in [format!("{LOCAL}/mcp/"), format!("{LOCAL}/mcp")] {
        let token = token_for(&router, &resource).await;
        for path in ["/mcp", "/mcp/"] {
            let r = rpc(&router, LOCAL_HOST, path, Some(&token), ping()).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{resource} on {path}: {}",
                r.text()
            );
            assert_eq!(r.json()["result"], json!({}));
        }
    }
}

#[tokio::test]
async fn step_up_on_the_slash_form_points_at_its_metadata() {
    let router = local(&app()).await;
    // The default scope does not cover `echo` (orders.read).
    let token = token_for(&router, &format!("{LOCAL}/mcp/")).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "hi"}}});
    let r = rpc(&router, LOCAL_HOST, "/mcp/", Some(&token), call).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(
        resource_metadata(r.header("www-authenticate")),
        format!("{LOCAL}/.well-known/oauth-protected-resource/mcp/")
    );
}

fn oauth_request(method: &str, uri: &str, host: &str, origin: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, host);
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    let body = match uri {
        "/register" => {
            json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"}).to_string()
        }
        _ => form(&[("grant_type", "authorization_code"), ("code", "x")]),
    };
    let ct = if uri == "/register" {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    req.header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn loopback_oauth_routes_refuse_foreign_hosts_and_origins() {
    let router = local(&app()).await;
    let client_id = register(&router, CALLBACK).await;
    let authorize = authorize_uri(&client_id, CALLBACK, &format!("{LOCAL}/mcp"));
    let routes: Vec<(&str, &str)> = vec![
        ("POST", "/register"),
        ("POST", "/token"),
        ("POST", "/revoke"),
        ("GET", authorize.as_str()),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/oauth-protected-resource/mcp"),
        ("GET", "/.well-known/openid-configuration"),
    ];
    for (method, uri) in &routes {
        // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
        let r = send(
            &router,
            oauth_request(method, uri, "evil.example:8000", None),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {uri}: {}",
            r.text()
        );
        assert_eq!(r.header("location"), "", "{uri}");
        // A foreign page calling cross-origin: refused, and no CORS grant at all.
        let r = send(
            &router,
            oauth_request(method, uri, LOCAL_HOST, Some("https://evil.example")),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(r.header("access-control-allow-origin"), "", "{uri}");
        // Its preflight too.
        let r = send(
            &router,
            Request::builder()
                .method("OPTIONS")
                .uri(*uri)
                .header(header::HOST, LOCAL_HOST)
                .header(header::ORIGIN, "https://evil.example")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "OPTIONS {uri}");
        assert_eq!(r.header("access-control-allow-origin"), "", "{uri}");
    }
    // The MCP Inspector (a page on localhost) is a loopback origin: allowed, and its origin is
    // echoed rather than `*`.
    let r = send(
        &router,
        oauth_request(
            "POST",
            "/register",
            LOCAL_HOST,
            Some("http://localhost:6274"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        "http://localhost:6274"
    );
    let r = send(
        &router,
        Request::builder()
            .method("OPTIONS")
            .uri("/token")
            .header(header::HOST, LOCAL_HOST)
            .header(header::ORIGIN, "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "http://localhost:6274"
    );
}

#[tokio::test]
async fn public_oauth_routes_stay_open_to_browser_clients() {
    let router = public(&app()).await;
    let r = send(
        &router,
        oauth_request(
            "POST",
            "/register",
            PUBLIC_HOST,
            Some("https://inspector.example"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn automatic_consent_refuses_cross_site_navigations() {
    let router = local(&app()).await;
    let web_callback = "https://app.example/callback";
    let web_client = register(&router, web_callback).await;
    let local_client = register(&router, CALLBACK).await;
    let resource = format!("{LOCAL}/mcp");
    let navigate = |uri: String, site: Option<&'static str>| {
        let mut req = Request::get(uri).header(header::HOST, LOCAL_HOST);
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.body(Body::empty()).expect("request")
    };
    // A foreign page sends the browser to approve a client whose code goes to the web.
    let r = send(
        &router,
        navigate(
            authorize_uri(&web_client, web_callback, &resource),
            Some("cross-site"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("location"), "", "refused without a redirect");
    assert!(r.header("content-type").starts_with("text/html"));
    assert!(r.text().contains("Authorization refused"), "{}", r.text());
    // The same request typed or opened by an app (`none`), same-site, or with no header.
    for site in [None, Some("none"), Some("same-origin"), Some("same-site")] {
        let r = send(
            &router,
            navigate(authorize_uri(&web_client, web_callback, &resource), site),
        )
        .await;
        assert_eq!(r.status, StatusCode::FOUND, "{site:?}");
    }
    // A cross-site navigation whose code goes to this machine: the MCP Inspector's case.
    let r = send(
        &router,
        navigate(
            authorize_uri(&local_client, CALLBACK, &resource),
            Some("cross-site"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.header("location").starts_with(CALLBACK));
    // The form-encoded POST of automatic consent is held to the same rule.
    let body = authorize_uri(&web_client, web_callback, &resource)
        .trim_start_matches("/authorize?")
        .to_owned();
    let r = send(
        &router,
        Request::post("/authorize")
            .header(header::HOST, LOCAL_HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "cross-site")
            .body(Body::from(body))
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// The consent page of a generated server names it by its title and marks the scopes of the
/// tools that may change or destroy data (`destructiveHint` true, not read-only), learnt from
/// the tool catalog.
#[tokio::test]
async fn the_consent_page_names_the_server_and_marks_destructive_tools_scopes() {
    let mut a = app();
    let echo = a.tools.iter_mut().find(|t| t.name == "echo").unwrap();
    echo.annotations.read_only = false;
    echo.annotations.destructive = true;
    let router = public(&a).await;
    let callback = "https://claude.ai/api/mcp/auth_callback";
    let r = send(
        &router,
        Request::post("/register")
            .header(header::HOST, PUBLIC_HOST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"client_name": "Claude", "redirect_uris": [callback], "token_endpoint_auth_method": "none"})
                    .to_string(),
            ))
            .expect("request"),
    )
    .await;
    let client_id = r.json()["client_id"].as_str().unwrap().to_owned();
    let uri = format!(
        "/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", callback),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "claudeai orders.read"),
        ])
    );
    let r = get(&router, PUBLIC_HOST, &uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("<title>Sign in · MedTainer</title>"),
        "{html}"
    );
    let items: Vec<&str> = html.split("<li>").skip(1).collect();
    let marked = |scope: &str| {
        items
            .iter()
            .find(|li| li.contains(&format!("<code>{scope}</code>")))
            .unwrap_or_else(|| panic!("{scope} in {html}"))
            .contains("can change or delete data")
    };
    assert!(marked("orders.read"));
    assert!(!marked("claudeai"));
}
