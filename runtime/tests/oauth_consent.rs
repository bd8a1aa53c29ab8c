//! The sign-in and consent pages and remembered consent: the signed sign-in cookie, `prompt`
//! (OpenID Connect Core 1.0 §3.1.2.1), and what the pages show and how they are built.

mod oauth_common;

use std::sync::Arc;

use http::StatusCode;
use mcpgen_runtime::oauth::pages::{
    ClientView, ConsentPage, HiddenField, PersonView, ScopeView, SignInView,
};
use mcpgen_runtime::oauth::{Login, OAuthConfig, SESSION_TTL, hash_password};
use mcpgen_runtime::store::{MemoryStore, Store};
use oauth_common::*;
use serde_json::json;

const PASSWORD: &str = "s3cret pass";
const RESOURCE: &str = "https://mcp.example.com/mcp";

fn password_config(public_url: &str) -> OAuthConfig {
    let mut c = config(public_url);
    c.auth.login = Login::Password;
    c.password_hash = Some(hash_password(PASSWORD));
    c.title = Some("Order Desk".into());
    c.destructive_scopes = vec!["orders.write".into()];
    c
}

fn password_server() -> Server {
    server_with(password_config("https://mcp.example.com"))
}

/// The cookie pairs (`name=value`) a response sets, by name.
fn set_cookies(r: &Reply) -> Vec<(String, String)> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .map(|v| {
            let pair = v.split(';').next().unwrap();
            let name = pair.split_once('=').unwrap().0.to_owned();
            (name, v)
        })
        .collect()
}

/// The full `Set-Cookie` line of the sign-in cookie.
fn session_set_cookie(r: &Reply) -> Option<String> {
    set_cookies(r)
        .into_iter()
        .find(|(n, _)| n.ends_with("mcpgen_session"))
        .map(|(_, v)| v)
}

/// `name=value` of a `Set-Cookie` line.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The fields of the consent form for `client_id` and `scope`.
fn fields(client_id: &str, scope: &str, csrf: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", CLAUDE_CALLBACK.into()),
        ("state", "xyz-state".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
        ("scope", scope.into()),
        ("csrf", csrf.into()),
    ]
}

/// `GET /authorize` with a cookie header; a parameter in `extra` replaces the default one.
async fn authorize_with(
    s: &Server,
    client_id: &str,
    extra: &[(&str, &str)],
    cookie: &str,
) -> Reply {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CLAUDE_CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "xyz-state"),
    ];
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend_from_slice(extra);
    let req = http::Request::get(format!("/authorize?{}", form(&pairs)))
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    send(&s.router, req).await
}

/// Shows the page for `scope`, then posts it with `extra` fields (password, action) and the
/// cookies `cookie` plus the page's CSRF cookie.
async fn submit(
    s: &Server,
    client_id: &str,
    scope: &str,
    cookie: &str,
    extra: &[(&'static str, &str)],
) -> Reply {
    let page = authorize_with(
        s,
        client_id,
        &[("scope", scope), ("prompt", "consent")],
        cookie,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf_cookie = set_cookies(&page)
        .into_iter()
        .find(|(n, _)| n.ends_with("mcpgen_csrf"))
        .map(|(_, v)| pair(&v))
        .expect("csrf cookie");
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_owned();
    let mut f = fields(client_id, scope, &csrf);
    for (k, v) in extra {
        f.push((k, (*v).to_owned()));
    }
    let borrowed: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cookies = if cookie.is_empty() {
        csrf_cookie
    } else {
        format!("{cookie}; {csrf_cookie}")
    };
    post_form(&s.router, "/authorize", &borrowed, &[("cookie", &cookies)]).await
}

/// Signs in with the password and approves `scope`; returns the sign-in cookie pair.
async fn sign_in_and_approve(s: &Server, client_id: &str, scope: &str) -> String {
    let r = submit(
        s,
        client_id,
        scope,
        "",
        &[("password", PASSWORD), ("action", "approve")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert!(r.location_param("code").is_some());
    pair(&session_set_cookie(&r).expect("a sign-in cookie with the approval"))
}

async fn client(s: &Server, name: &str) -> String {
    let v = register(
        &s.router,
        json!({"client_name": name, "redirect_uris": [CLAUDE_CALLBACK], "token_endpoint_auth_method": "none"}),
    )
    .await;
    v["client_id"].as_str().unwrap().to_owned()
}

fn is_sign_in_page(r: &Reply) -> bool {
    r.status == StatusCode::OK && r.text().contains("type=\"password\"")
}

fn is_consent_page_signed_in(r: &Reply) -> bool {
    let html = r.text();
    r.status == StatusCode::OK
        && !html.contains("type=\"password\"")
        && html.contains("Signed in as")
}

/// A person who approved a client for some scopes gets a code at once when the client asks
/// again for those scopes or fewer; a wider request, or another client, shows the consent
/// page (signed in: no password asked).
#[tokio::test]
async fn approved_clients_are_not_asked_again_for_the_same_or_fewer_scopes() {
    let s = password_server();
    let id = client(&s, "Claude").await;
    let cookie = sign_in_and_approve(&s, &id, "orders.read orders.write").await;

    for scope in ["orders.read orders.write", "orders.read", "orders.write"] {
        let r = authorize_with(&s, &id, &[("scope", scope)], &cookie).await;
        assert_eq!(r.status, StatusCode::FOUND, "{scope}: {}", r.text());
        assert_eq!(r.location_param("state").as_deref(), Some("xyz-state"));
        let code = r.location_param("code").expect("code");
        // The code is an ordinary one: it redeems, for the scopes asked.
        let t = post_form(
            &s.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CLAUDE_CALLBACK),
                ("client_id", &id),
                ("code_verifier", VERIFIER),
                ("resource", RESOURCE),
            ],
            &[],
        )
        .await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.text());
        assert_eq!(t.json()["scope"], scope);
    }
    // Everything else is still checked: a redirect URI that is not registered, no PKCE.
    let r = authorize_with(
        &s,
        &id,
        &[
            ("scope", "orders.read"),
            ("redirect_uri", "https://evil.example/cb"),
        ],
        &cookie,
    )
    .await;
    assert!(r.location_param_or_none("code").is_none(), "{}", r.text());
    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("code_challenge_method", "plain")],
        &cookie,
    )
    .await;
    assert!(r.location_param_or_none("code").is_none());

    // More scopes than approved: the page, signed in.
    let r = authorize_with(&s, &id, &[("scope", "orders.read claudeai")], &cookie).await;
    assert!(is_consent_page_signed_in(&r), "{}", r.text());
    // Another client: the page, signed in.
    let other = client(&s, "Other").await;
    let r = authorize_with(&s, &other, &[("scope", "orders.read")], &cookie).await;
    assert!(is_consent_page_signed_in(&r), "{}", r.text());
    // Approving it on that page needs no password, and remembers both clients.
    let r = submit(&s, &other, "orders.read", &cookie, &[("action", "approve")]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert!(r.location_param("code").is_some());
    let both = pair(&session_set_cookie(&r).unwrap());
    for c in [&id, &other] {
        let r = authorize_with(&s, c, &[("scope", "orders.read")], &both).await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    }
    // Without the cookie: the sign-in page.
    let r = authorize_with(&s, &id, &[("scope", "orders.read")], "").await;
    assert!(is_sign_in_page(&r), "{}", r.text());
}

/// The cookie is signed with the store's key: another replica on the same store accepts it.
#[tokio::test]
async fn replicas_on_one_store_share_the_sign_in() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let config = password_config("https://mcp.example.com");
    let a = server_on(config.clone(), Arc::clone(&store));
    let b = server_on(config, Arc::clone(&store));
    let id = client(&a, "Claude").await;
    let cookie = sign_in_and_approve(&a, &id, "orders.read").await;
    let r = authorize_with(&b, &id, &[("scope", "orders.read")], &cookie).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
}

/// `prompt=consent` shows the consent page although the client was approved; `prompt=login`
/// asks for the password although someone is signed in.
#[tokio::test]
async fn prompt_consent_and_login_force_the_page() {
    let s = password_server();
    let id = client(&s, "Claude").await;
    let cookie = sign_in_and_approve(&s, &id, "orders.read").await;

    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("prompt", "consent")],
        &cookie,
    )
    .await;
    assert!(is_consent_page_signed_in(&r), "{}", r.text());
    // The "sign in as someone else" link is the same request with prompt=login.
    let html = r.text();
    let link = html
        .split("href=\"")
        .skip(1)
        .map(|rest| unescape(rest.split('"').next().unwrap()))
        .find(|h| h.contains("prompt=login"))
        .expect("a sign in as someone else link");
    assert!(html.contains("Sign in as someone else"));
    let r = get_with_cookie(&s, &link, &cookie).await;
    assert!(is_sign_in_page(&r), "{}", r.text());
    assert!(!r.text().contains("Signed in as"));

    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("prompt", "login")],
        &cookie,
    )
    .await;
    assert!(is_sign_in_page(&r), "{}", r.text());
    // Posting that page without the password is refused even with the cookie.
    let r = submit_prompt(
        &s,
        &id,
        "orders.read",
        &cookie,
        "login",
        &[("action", "approve")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let r = submit_prompt(
        &s,
        &id,
        "orders.read",
        &cookie,
        "login",
        &[("action", "approve"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    // Signing in again as the same person keeps what they approved.
    let again = pair(&session_set_cookie(&r).unwrap());
    let r = authorize_with(&s, &id, &[("scope", "orders.read")], &again).await;
    assert_eq!(r.status, StatusCode::FOUND);
}

async fn get_with_cookie(s: &Server, uri: &str, cookie: &str) -> Reply {
    let req = http::Request::get(uri)
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    send(&s.router, req).await
}

/// Like [`submit`], for a page shown with `prompt`.
async fn submit_prompt(
    s: &Server,
    client_id: &str,
    scope: &str,
    cookie: &str,
    prompt: &str,
    extra: &[(&'static str, &str)],
) -> Reply {
    let mut with_prompt = vec![("prompt", prompt)];
    with_prompt.extend_from_slice(extra);
    submit(s, client_id, scope, cookie, &with_prompt).await
}

/// `prompt=none` never shows a page: a code when remembered, else `login_required` (nobody
/// signed in) or `consent_required` (signed in, not approved), sent back to the client.
#[tokio::test]
async fn prompt_none_answers_without_a_page() {
    let s = password_server();
    let id = client(&s, "Claude").await;
    let r = authorize_with(&s, &id, &[("scope", "orders.read"), ("prompt", "none")], "").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert_eq!(r.location_param("error").as_deref(), Some("login_required"));
    assert_eq!(r.location_param("state").as_deref(), Some("xyz-state"));

    let cookie = sign_in_and_approve(&s, &id, "orders.read").await;
    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("prompt", "none")],
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.location_param("code").is_some(),
        "{}",
        r.header("location")
    );
    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.write"), ("prompt", "none")],
        &cookie,
    )
    .await;
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("consent_required")
    );
    assert!(r.location_param("code").is_none());
    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("prompt", "none login")],
        &cookie,
    )
    .await;
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("invalid_request")
    );
}

/// A cookie that was altered, signed for another server (another store key) or before the
/// password changed, or that is far too long, is ignored: the sign-in page, no error.
#[tokio::test]
async fn tampered_or_foreign_cookies_are_ignored() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let s = server_on(
        password_config("https://mcp.example.com"),
        Arc::clone(&store),
    );
    let id = client(&s, "Claude").await;
    let cookie = sign_in_and_approve(&s, &id, "orders.read").await;
    let (name, value) = cookie.split_once('=').unwrap();
    let (body, tag) = value.split_once('.').unwrap();

    // A flipped character in the body, in the tag, a body with its own old tag.
    let mut flipped = body.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let forged_tag = format!(
        "{}{}",
        &tag[..tag.len() - 2],
        if tag.ends_with("AA") { "BB" } else { "AA" }
    );
    let long = format!("{name}={}.{tag}", "A".repeat(64 * 1024));
    for bad in [
        format!("{name}={flipped}.{tag}"),
        format!("{name}={body}.{forged_tag}"),
        format!("{name}={body}"),
        format!("{name}=garbage"),
        long,
    ] {
        let r = authorize_with(&s, &id, &[("scope", "orders.read")], &bad).await;
        assert!(is_sign_in_page(&r), "{bad}: {}", r.text());
    }
    // The same cookie, another server (its own store and key).
    let other = password_server();
    let other_id = client(&other, "Claude").await;
    let moved = cookie.clone();
    let r = authorize_with(&other, &other_id, &[("scope", "orders.read")], &moved).await;
    assert!(is_sign_in_page(&r), "{}", r.text());
    // The same store after the password changed: everybody signs in again.
    let mut changed = password_config("https://mcp.example.com");
    changed.password_hash = Some(hash_password("a new password"));
    let s2 = server_on(changed, store);
    let r = authorize_with(&s2, &id, &[("scope", "orders.read")], &cookie).await;
    assert!(is_sign_in_page(&r), "{}", r.text());
    // And the cookie is still good where it was issued.
    let r = authorize_with(&s, &id, &[("scope", "orders.read")], &cookie).await;
    assert_eq!(r.status, StatusCode::FOUND);
}

/// The sign-in cookie: HttpOnly, SameSite=Lax, Secure with the `__Secure-` prefix on https,
/// its path the authorization endpoint, and it lasts the documented 30 days. On a plain-http
/// loopback server it cannot be Secure.
#[tokio::test]
async fn sign_in_cookie_attributes() {
    let s = password_server();
    let id = client(&s, "Claude").await;
    let r = submit(
        &s,
        &id,
        "orders.read",
        "",
        &[("password", PASSWORD), ("action", "approve")],
    )
    .await;
    let line = session_set_cookie(&r).unwrap();
    let attrs: Vec<&str> = line.split(';').map(str::trim).collect();
    assert!(attrs[0].starts_with("__Secure-mcpgen_session="), "{line}");
    for want in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/authorize"] {
        assert!(attrs.contains(&want), "{want} in {line}");
    }
    assert!(
        attrs.contains(&format!("Max-Age={}", SESSION_TTL.as_secs()).as_str()),
        "{line}"
    );
    assert_eq!(SESSION_TTL.as_secs(), 30 * 24 * 3600);
    assert!(line.len() < 4096);

    let local = server_with(password_config(LOCAL));
    let id = client(&local, "Claude").await;
    let r = submit(
        &local,
        &id,
        "orders.read",
        "",
        &[("password", PASSWORD), ("action", "approve")],
    )
    .await;
    let line = session_set_cookie(&r).unwrap_or_else(|| panic!("{} {:?}", r.status, r.headers));
    assert!(line.starts_with("mcpgen_session="), "{line}");
    assert!(!line.contains("Secure"), "{line}");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    // A denial remembers nothing.
    let r = submit(&local, &id, "orders.read", "", &[("action", "deny")]).await;
    assert_eq!(r.location_param("error").as_deref(), Some("access_denied"));
    assert!(session_set_cookie(&r).is_none());
}

/// The page a person trusts: the server's title, the client's name marked self-declared and
/// escaped, the host the code goes to, each scope with its description and the destructive
/// one marked, labelled fields, the error in a `role="alert"` region, one stylesheet allowed
/// by hash, legible on a phone.
#[tokio::test]
async fn consent_page_structure() {
    let s = password_server();
    let id = client(&s, "<script>alert(1)</script>\"Evil").await;
    let r = authorize_with(&s, &id, &[("scope", "orders.read orders.write")], "").await;
    let html = r.text();
    assert!(html.contains("Order Desk"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        unescape(&html).contains("<bdi><script>alert(1)</script>\"Evil</bdi>"),
        "{html}"
    );
    assert!(html.contains("name self-declared"));
    assert!(
        html.contains("<strong class=\"host\"><bdi>claude.ai</bdi></strong>"),
        "{html}"
    );
    assert!(html.contains("Read orders") && html.contains("Change orders"));
    // Only the destructive scope is marked.
    let marked: Vec<&str> = html
        .split("<li>")
        .skip(1)
        .filter(|li| li.contains("can change or delete data"))
        .collect();
    assert_eq!(marked.len(), 1, "{html}");
    assert!(marked[0].contains("orders.write"));
    assert!(html.contains("<label for=\"password\">"));
    assert!(html.contains("id=\"password\""));
    assert!(html.contains("name=\"viewport\" content=\"width=device-width"));
    let csp = r.header("content-security-policy");
    assert!(csp.contains("style-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        !html.contains("style=\""),
        "inline style attributes are not allowed by the CSP"
    );

    // A wrong password: said in the alert region.
    let r = submit(
        &s,
        &id,
        "orders.read",
        "",
        &[("password", "wrong"), ("action", "approve")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let html = r.text();
    let alert = html.split("role=\"alert\">").nth(1).unwrap();
    assert!(alert.starts_with("Wrong password."), "{html}");

    // An error page shares the layout and says the error in the alert region.
    let r = get_with(&s, "/authorize?client_id=nobody&response_type=code").await;
    let html = r.text();
    assert!(html.contains("Order Desk"));
    assert!(
        html.split("role=\"alert\">")
            .nth(1)
            .unwrap()
            .starts_with("The application sent")
    );
    assert!(html.contains("<style>"));
    assert!(
        r.header("content-security-policy")
            .contains("style-src 'sha256-")
    );
}

async fn get_with(s: &Server, uri: &str) -> Reply {
    let req = http::Request::get(uri)
        .header("accept", "text/html")
        .body(axum::body::Body::empty())
        .unwrap();
    send(&s.router, req).await
}

/// The three ways to sign in render from the view model: a password field, username and
/// password fields, or a button to the upstream provider; each field labelled.
#[test]
fn sign_in_variants_render() {
    let page = |sign_in: Option<SignInView>, signed_in: Option<PersonView>| {
        ConsentPage {
            server: "Order Desk".into(),
            client: ClientView {
                name: "Claude".into(),
                self_declared: true,
                domain: None,
            },
            redirect_host: "claude.ai".into(),
            scopes: vec![ScopeView {
                name: "orders.read".into(),
                description: "Read orders".into(),
                destructive: false,
            }],
            signed_in,
            switch_href: "/authorize?a=1&prompt=login".into(),
            sign_in,
            action: "/authorize".into(),
            hidden: vec![HiddenField {
                name: "state".into(),
                value: "\"><x".into(),
            }],
            error: None,
        }
        .render()
    };
    let html = page(Some(SignInView::Password), None);
    assert!(html.contains("<label for=\"password\">Server password</label>"));
    assert!(!html.contains("id=\"username\""));
    assert!(html.contains("value=\"&quot;&gt;&lt;x\""), "{html}");

    let html = page(
        Some(SignInView::Users {
            username: Some("ana\"".into()),
        }),
        None,
    );
    assert!(html.contains("<label for=\"username\">Username</label>"));
    assert!(html.contains("<label for=\"password\">Password</label>"));
    assert!(html.contains("autocomplete=\"username\""));
    assert!(!html.contains("ana\""), "{html}");

    let html = page(
        Some(SignInView::Upstream {
            provider: "Example SSO".into(),
            href: "https://sso.example.com/auth?a=1&b=\"2".into(),
        }),
        None,
    );
    assert!(html.contains("Sign in with <bdi>Example SSO</bdi>"));
    assert!(
        html.contains("href=\"https:&#x2f;&#x2f;sso.example.com&#x2f;auth?a=1&amp;b=&quot;2\""),
        "{html}"
    );
    assert!(!html.contains("type=\"password\""));

    let html = page(
        None,
        Some(PersonView {
            subject: "u-1".into(),
            name: Some("Ana Lima".into()),
            email: Some("ana@example.com".into()),
        }),
    );
    assert!(
        html.contains("Signed in as <strong><bdi>Ana Lima</bdi></strong>"),
        "{html}"
    );
    assert!(html.contains("ana@example.com"));
    assert!(
        unescape(&html).contains("href=\"/authorize?a=1&prompt=login\">Sign in as someone else")
    );
    assert!(!html.contains("type=\"password\""));
}

/// The text of HTML with the escapes minijinja writes undone.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

trait LocationOrNone {
    fn location_param_or_none(&self, name: &str) -> Option<String>;
}

impl LocationOrNone for Reply {
    /// The `Location` parameter, or `None` when the answer does not redirect.
    fn location_param_or_none(&self, name: &str) -> Option<String> {
        if self.header("location").is_empty() {
            return None;
        }
        self.location_param(name)
    }
}

/// Remembered consent is for the host the person saw on the page ("access goes to ..."): a
/// client that registered a second redirect URI (or a metadata document that changed its
/// list) and asks for the code to go to another host shows the consent page again, naming
/// that host, instead of sending the code there at once.
#[tokio::test]
async fn remembered_consent_is_for_the_redirect_host_the_person_approved() {
    let s = password_server();
    let elsewhere = "https://collector.example.net/cb";
    let v = register(
        &s.router,
        json!({"client_name": "Claude", "redirect_uris": [CLAUDE_CALLBACK, elsewhere],
               "token_endpoint_auth_method": "none"}),
    )
    .await;
    let id = v["client_id"].as_str().unwrap().to_owned();
    let cookie = sign_in_and_approve(&s, &id, "orders.read").await;
    // The approved host: a code at once.
    let r = authorize_with(&s, &id, &[("scope", "orders.read")], &cookie).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    // The other host: the page, naming it; no code, also not with prompt=none.
    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("redirect_uri", elsewhere)],
        &cookie,
    )
    .await;
    assert!(is_consent_page_signed_in(&r), "{}", r.text());
    assert!(r.text().contains("collector.example.net"));
    let r = authorize_with(
        &s,
        &id,
        &[
            ("scope", "orders.read"),
            ("redirect_uri", elsewhere),
            ("prompt", "none"),
        ],
        &cookie,
    )
    .await;
    assert!(r.location_param_or_none("code").is_none(), "{}", r.text());
}

/// A person who denies a client they approved before withdraws the approval: the client's
/// next request (without `prompt`) shows the page again instead of getting a code at once.
/// Claude sends `prompt=consent`, so its page is where a person says no.
#[tokio::test]
async fn denying_a_client_forgets_its_remembered_approval() {
    let s = password_server();
    let id = client(&s, "Claude").await;
    let other = client(&s, "Other").await;
    let cookie = sign_in_and_approve(&s, &id, "orders.read").await;
    let r = submit(&s, &other, "orders.read", &cookie, &[("action", "approve")]).await;
    let cookie = pair(&session_set_cookie(&r).expect("both approved"));

    let r = submit(&s, &id, "orders.read", &cookie, &[("action", "deny")]).await;
    assert_eq!(r.location_param("error").as_deref(), Some("access_denied"));
    // The browser keeps its cookie unless the answer replaces it.
    let after = session_set_cookie(&r).map_or(cookie, |c| pair(&c));
    let r = authorize_with(&s, &id, &[("scope", "orders.read")], &after).await;
    assert!(is_consent_page_signed_in(&r), "{}", r.text());
    let r = authorize_with(
        &s,
        &id,
        &[("scope", "orders.read"), ("prompt", "none")],
        &after,
    )
    .await;
    assert!(r.location_param_or_none("code").is_none(), "{}", r.text());
    // Still signed in, and the other client is still approved.
    let r = authorize_with(&s, &other, &[("scope", "orders.read")], &after).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    assert!(r.location_param("code").is_some());
}

/// A `login: users` server on `store` (titled, with a destructive scope, like the others).
fn users_server(store: Arc<dyn Store>) -> Server {
    let mut c = password_config("https://mcp.example.com");
    c.auth.login = Login::Users;
    c.password_hash = None;
    server_on(c, store)
}

fn user_record(name: &str, password: &str) -> mcpgen_runtime::store::UserRecord {
    mcpgen_runtime::store::UserRecord {
        name: name.into(),
        email: None,
        password_hash: hash_password(password),
        created_at: 1_790_000_000,
    }
}

/// Signs `name` in on the form and approves `orders.read`; the sign-in cookie pair.
async fn user_signs_in(s: &Server, client_id: &str, name: &str, password: &str) -> String {
    let r = submit(
        s,
        client_id,
        "orders.read",
        "",
        &[
            ("username", name),
            ("password", password),
            ("action", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    pair(&session_set_cookie(&r).expect("a sign-in cookie"))
}

/// With `login: users` the sign-in cookie stands for the account as it was when the person
/// signed in: an unchanged account's cookie skips the sign-in; after `users passwd`, after
/// `users remove`, and after the name is removed and added again (even with the same
/// password), the same cookie shows the sign-in page, with or without `prompt=none`.
async fn users_cookie_is_bound_to_the_account(store: Arc<dyn Store>) {
    let s = users_server(Arc::clone(&store));
    let id = client(&s, "Claude").await;
    for name in ["ada", "bob", "cy"] {
        assert!(store.add_user(&user_record(name, PASSWORD)).await.unwrap());
    }
    let ada = user_signs_in(&s, &id, "ada", PASSWORD).await;
    let bob = user_signs_in(&s, &id, "bob", PASSWORD).await;
    let cy = user_signs_in(&s, &id, "cy", PASSWORD).await;
    for cookie in [&ada, &bob, &cy] {
        let r = authorize_with(&s, &id, &[("scope", "orders.read")], cookie).await;
        assert_eq!(r.status, StatusCode::FOUND, "unchanged: {}", r.text());
    }

    // ada's password changes, bob is removed, cy is removed and added again.
    let mut changed = store.get_user("ada").await.unwrap().unwrap();
    changed.password_hash = hash_password("a brand new password");
    assert!(store.update_user(&changed).await.unwrap());
    assert!(store.remove_user("bob").await.unwrap());
    assert!(store.remove_user("cy").await.unwrap());
    assert!(store.add_user(&user_record("cy", PASSWORD)).await.unwrap());
    for (who, cookie) in [("passwd", &ada), ("removed", &bob), ("re-added", &cy)] {
        let r = authorize_with(&s, &id, &[("scope", "orders.read")], cookie).await;
        assert!(is_sign_in_page(&r), "{who}: {} {}", r.status, r.text());
        assert!(r.text().contains("name=\"username\""), "{who}");
        let r = authorize_with(
            &s,
            &id,
            &[("scope", "orders.read"), ("prompt", "none")],
            cookie,
        )
        .await;
        assert_eq!(
            r.location_param("error").as_deref(),
            Some("login_required"),
            "{who}"
        );
    }
    // Signing in again with the new password is remembered again.
    let ada = user_signs_in(&s, &id, "ada", "a brand new password").await;
    let r = authorize_with(&s, &id, &[("scope", "orders.read")], &ada).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
}

#[tokio::test]
async fn users_cookie_is_bound_to_the_account_on_memory() {
    users_cookie_is_bound_to_the_account(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn users_cookie_is_bound_to_the_account_on_sqlite() {
    let path = std::env::temp_dir().join(format!(
        "mcpgen-consent-users-{}-{}.db",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let store = mcpgen_runtime::store::SqliteStore::open(path.to_str().unwrap())
        .await
        .unwrap();
    users_cookie_is_bound_to_the_account(Arc::new(store)).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Signs `name` in on the form for `orders.read offline_access`; the code.
async fn user_code(s: &Server, client_id: &str, name: &str) -> String {
    let r = submit(
        s,
        client_id,
        "orders.read offline_access",
        "",
        &[
            ("username", name),
            ("password", PASSWORD),
            ("action", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    r.location_param("code").expect("code")
}

async fn redeem(s: &Server, client_id: &str, code: &str) -> Reply {
    post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ],
        &[],
    )
    .await
}

async fn refresh(s: &Server, client_id: &str, refresh_token: &str) -> Reply {
    post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
        &[],
    )
    .await
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// With `login: users`, a code or refresh token only becomes tokens while the person it was
/// issued to still has their account: a code issued as `users remove` runs (after it revoked
/// their grants: here, the account removed and nothing revoked) is refused at the token
/// endpoint, and so is a refresh token whose grants were not revoked; a name removed and
/// added again (here two minutes later, past the minute allowed for clock skew) is a new
/// account, which the old person's codes and refresh tokens do not reach. A password change keeps both working.
async fn tokens_need_the_account_that_approved_them(store: Arc<dyn Store>) {
    let s = users_server(Arc::clone(&store));
    let registered = register(
        &s.router,
        json!({"client_name": "Claude", "redirect_uris": [CLAUDE_CALLBACK],
               "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    let id = registered["client_id"].as_str().unwrap().to_owned();
    for name in ["ada", "bob", "cy", "dee"] {
        assert!(store.add_user(&user_record(name, PASSWORD)).await.unwrap());
    }
    let ada_code = user_code(&s, &id, "ada").await;
    let bob_code = user_code(&s, &id, "bob").await;
    let cy = redeem(&s, &id, &user_code(&s, &id, "cy").await).await;
    assert_eq!(cy.status, StatusCode::OK, "{}", cy.text());
    let dee = redeem(&s, &id, &user_code(&s, &id, "dee").await).await;
    assert_eq!(dee.status, StatusCode::OK, "{}", dee.text());

    // ada and cy removed (the race: their grants not revoked); bob removed and added again,
    // later; dee's password changes.
    assert!(store.remove_user("ada").await.unwrap());
    assert!(store.remove_user("cy").await.unwrap());
    assert!(store.remove_user("bob").await.unwrap());
    let mut bob = user_record("bob", PASSWORD);
    bob.created_at = now_secs() + 120;
    assert!(store.add_user(&bob).await.unwrap());
    let mut dee_user = store.get_user("dee").await.unwrap().unwrap();
    dee_user.password_hash = hash_password("a brand new password");
    assert!(store.update_user(&dee_user).await.unwrap());

    for (who, code) in [("removed", &ada_code), ("re-added", &bob_code)] {
        let r = redeem(&s, &id, code).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{who}: {}", r.text());
        assert_eq!(r.json()["error"], "invalid_grant", "{who}");
    }
    let r = refresh(&s, &id, cy.json()["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "removed: {}", r.text());
    assert_eq!(r.json()["error"], "invalid_grant");
    // cy added again: the old refresh token (already refused) still does not reach the new
    // account.
    let mut cy_again = user_record("cy", PASSWORD);
    cy_again.created_at = now_secs() + 120;
    assert!(store.add_user(&cy_again).await.unwrap());
    let r = refresh(&s, &id, cy.json()["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "re-added: {}", r.text());

    let r = refresh(&s, &id, dee.json()["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "passwd keeps grants: {}",
        r.text()
    );
}

#[tokio::test]
async fn tokens_need_the_account_that_approved_them_on_memory() {
    tokens_need_the_account_that_approved_them(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn tokens_need_the_account_that_approved_them_on_sqlite() {
    let path = std::env::temp_dir().join(format!(
        "mcpgen-consent-tokens-{}-{}.db",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let store = mcpgen_runtime::store::SqliteStore::open(path.to_str().unwrap())
        .await
        .unwrap();
    tokens_need_the_account_that_approved_them(Arc::new(store)).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// User names are case-insensitive (ASCII; other characters are not allowed in them): `Ada`
/// and `ADA ` sign in as the stored `ada`, and the grant's subject is `ada`, so `tokens revoke
/// --subject ada` and `users remove ada` reach it. `Operator` is not the operator.
#[tokio::test]
async fn user_names_sign_in_whatever_their_case() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let s = users_server(Arc::clone(&store));
    let id = client(&s, "Claude").await;
    assert!(store.add_user(&user_record("ada", PASSWORD)).await.unwrap());
    for typed in ["Ada", "ADA ", "ada"] {
        let r = submit(
            &s,
            &id,
            "orders.read",
            "",
            &[
                ("username", typed),
                ("password", PASSWORD),
                ("action", "approve"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FOUND, "{typed}: {}", r.text());
        let grants_before = store
            .list_grants(&Default::default(), now_secs())
            .await
            .unwrap()
            .len();
        let t = redeem(&s, &id, &r.location_param("code").unwrap()).await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.text());
        let grants = store
            .list_grants(&Default::default(), now_secs())
            .await
            .unwrap();
        assert_eq!(grants.len(), grants_before + 1);
        assert!(grants.iter().all(|g| g.subject == "ada"), "{grants:?}");
    }
    for typed in ["Operator", "LOCAL"] {
        let r = submit(
            &s,
            &id,
            "orders.read",
            "",
            &[
                ("username", typed),
                ("password", PASSWORD),
                ("action", "approve"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{typed}");
    }
}
