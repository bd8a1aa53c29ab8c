//! The authorization endpoint: request validation, the consent page (password or automatic),
//! and the redirect back with `code`, `state` and `iss`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use url::Url;

use super::crypto::{constant_time_eq, is_s256_challenge, random_id, random_token, secret_hash};
use super::error::OAuthError;
use super::limit::Refused;
use super::redirect::redirect_matches;
use super::scope;
use super::{CODE_TTL, Consent, Inner, now};
use crate::store::{ClientRecord, CodeRecord, Person};

/// Parses `application/x-www-form-urlencoded` parameters; a repeated parameter is an error
/// (RFC 6749 §3.1) and is named.
pub(crate) fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(format!("parameter {k:?} is repeated"));
        }
    }
    Ok(out)
}

/// A validated authorization request.
pub(crate) struct AuthRequest {
    pub client: ClientRecord,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub resource: String,
}

impl AuthRequest {
    /// The request as `/authorize` parameters (empty values left out): what a page or an
    /// upstream round trip carries so that [`approve_params`] can validate it again.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let all = [
            ("response_type", "code".to_owned()),
            ("client_id", self.client.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("state", self.state.clone().unwrap_or_default()),
            ("code_challenge", self.code_challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("scope", scope::join(&self.scopes)),
            ("resource", self.resource.clone()),
        ];
        all.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }
}

/// Why a request is refused: before the redirect URI is trusted the error is shown to the
/// user agent; after, it goes back to the client (RFC 6749 §4.1.2.1) if the redirect URI may
/// receive errors before consent (loopback or a known client, see
/// [`RedirectPolicy::redirects_errors`](super::redirect::RedirectPolicy::redirects_errors)),
/// and is otherwise shown as a page, so `/authorize` does not redirect anywhere without a
/// user's action (RFC 9700 §4.11.2).
enum Refusal {
    Direct(OAuthError),
    Page {
        error: &'static str,
        description: String,
        client_id: String,
    },
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
        client_id: String,
    },
}

fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    // The redirect URI was validated at registration, so it parses; a failure here would mean
    // a corrupt store, answered without redirecting.
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return OAuthError::invalid_request("the registered redirect uri is invalid")
            .into_response();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refuse(inner: &Inner, headers: &HeaderMap, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Direct(e) => {
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "authorize_refused",
                error = e.error,
                reason = ?e.description,
            );
            if accepts_html(headers) {
                let advice = match e.error {
                    "invalid_client" => UNKNOWN_CLIENT_ADVICE,
                    "temporarily_unavailable" => UNAVAILABLE_ADVICE,
                    _ => DEFAULT_ADVICE,
                };
                let html = error_page(e.error, &e.description, advice);
                page(inner, e.status, html, None)
            } else {
                e.into_response()
            }
        }
        Refusal::Page {
            error,
            description,
            client_id,
        } => {
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "authorize_refused",
                client_id = ?super::clip(&client_id),
                error,
                reason = ?super::clip(&description),
                shown = "page",
            );
            page(
                inner,
                StatusCode::BAD_REQUEST,
                error_page(error, &description, DEFAULT_ADVICE),
                None,
            )
        }
        Refusal::Redirect {
            redirect_uri,
            state,
            error,
            description,
            client_id,
        } => {
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "authorize_refused",
                client_id = ?super::clip(&client_id),
                error,
                reason = ?super::clip(&description),
            );
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = &state {
                pairs.push(("state", s));
            }
            pairs.push(("iss", &inner.urls.issuer));
            redirect_to(&redirect_uri, &pairs)
        }
    }
}

async fn validate(inner: &Inner, p: &HashMap<String, String>) -> Result<AuthRequest, Refusal> {
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return Err(Refusal::Direct(OAuthError::invalid_request(
            "client_id is required",
        )));
    };
    let client = match inner.find_client(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Refusal::Direct(OAuthError::invalid_client(
                "unknown client_id; register the client again",
            )));
        }
        Err(e) => return Err(Refusal::Direct(e)),
    };
    let redirect_uri = match get("redirect_uri") {
        Some(r)
            if client
                .redirect_uris
                .iter()
                .any(|reg| redirect_matches(reg, r)) =>
        {
            r.to_owned()
        }
        Some(_) => {
            return Err(Refusal::Direct(OAuthError::invalid_request(
                "redirect_uri does not match a registered redirect uri",
            )));
        }
        // OAuth 2.1 §4.1.1: optional only when exactly one URI is registered.
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(Refusal::Direct(OAuthError::invalid_request(
                "redirect_uri is required",
            )));
        }
    };
    let state = p.get("state").cloned().filter(|s| !s.is_empty());
    let redirects_errors = inner.redirects.redirects_errors(&redirect_uri);
    let back = |error: &'static str, description: &str| {
        if redirects_errors {
            Refusal::Redirect {
                redirect_uri: redirect_uri.clone(),
                state: state.clone(),
                error,
                description: description.to_owned(),
                client_id: client.client_id.clone(),
            }
        } else {
            Refusal::Page {
                error,
                description: description.to_owned(),
                client_id: client.client_id.clone(),
            }
        }
    };

    match get("response_type") {
        Some("code") => {}
        None => return Err(back("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(back(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(back(
            "unauthorized_client",
            "the client is not registered for authorization_code",
        ));
    }
    let Some(code_challenge) = get("code_challenge") else {
        return Err(back(
            "invalid_request",
            "pkce is required: send code_challenge with code_challenge_method=S256",
        ));
    };
    // A missing method means `plain` (RFC 7636 §4.3), which OAuth 2.1 clients must not use.
    if get("code_challenge_method") != Some("S256") {
        return Err(back(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if !is_s256_challenge(code_challenge) {
        return Err(back(
            "invalid_request",
            "code_challenge must be 43 base64url characters",
        ));
    }
    let resource = match get("resource") {
        None => inner.urls.resource.clone(),
        Some(r) if inner.urls.matches_resource(r) => inner.urls.resource.clone(),
        Some(_) => {
            return Err(back(
                "invalid_target",
                "resource is not this server; use the mcp endpoint url",
            ));
        }
    };
    let scopes = inner.scopes.grant(p.get("scope").map(String::as_str));
    Ok(AuthRequest {
        code_challenge: code_challenge.to_owned(),
        client,
        redirect_uri,
        state,
        scopes,
        resource,
    })
}

/// Validates the authorization request `params` again (the client, its redirect URI, PKCE,
/// scopes and resource, exactly as `/authorize` does) and, when it still holds, issues the
/// code for `person`, as [`approve`] does. For a sign-in that finishes on another request than
/// the one that started it (an upstream OpenID provider's callback): carry
/// [`AuthRequest::params`] through the round trip and pass them here. A request that no longer
/// validates is refused as `/authorize` refuses it (page, redirect or JSON by `headers`).
#[allow(
    dead_code,
    reason = "for the OpenID sign-in, which finishes on its callback"
)]
pub(crate) async fn approve_params(
    inner: &Inner,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    person: Person,
) -> Response {
    match validate(inner, params).await {
        Ok(req) => approve(inner, req, person).await,
        Err(r) => refuse(inner, headers, r),
    }
}

/// Issues an authorization code for `req`, approved by `person` (who the tokens will belong
/// to), and redirects back to the client with `code`, `state` and `iss` (RFC 9207). Call it
/// only once the person has signed in and approved; it checks nothing more.
pub(crate) async fn approve(inner: &Inner, req: AuthRequest, person: Person) -> Response {
    let code = random_token();
    let issued_at = now();
    let record = CodeRecord {
        client_id: req.client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge,
        resource: req.resource,
        scopes: req.scopes,
        family: random_id(),
        issued_at,
        expires_at: issued_at + CODE_TTL.as_secs(),
        person,
    };
    if let Err(e) = inner.store.put_code(&secret_hash(&code), &record).await {
        tracing::error!(target: "mcpgen::oauth", error = ?e, "cannot store authorization code");
        return OAuthError::server_error().into_response();
    }
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "authorize_approved",
        client_id = ?record.client_id,
        subject = ?record.person.subject,
        redirect_host = redirect_host(&record.redirect_uri),
        scope = ?scope::join(&record.scopes),
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &inner.urls.issuer));
    redirect_to(&req.redirect_uri, &pairs)
}

/// [`AuthRequest::params`] as a query string.
fn request_query(req: &AuthRequest) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.params() {
        q.append_pair(k, &v);
    }
    q.finish()
}

fn redirect_host(uri: &str) -> String {
    Url::parse(uri)
        .ok()
        .map(|u| match u.host_str() {
            Some(h) => h.to_owned(),
            None => format!("{}:", u.scheme()),
        })
        .unwrap_or_default()
}

const CSRF_COOKIE_SECURE: &str = "__Host-mcpgen_csrf";
const CSRF_COOKIE_PLAIN: &str = "mcpgen_csrf";

fn csrf_cookie_name(inner: &Inner) -> &'static str {
    // `__Host-` needs Secure, which plain-http loopback servers cannot set reliably.
    if inner.urls.origin.starts_with("https://") {
        CSRF_COOKIE_SECURE
    } else {
        CSRF_COOKIE_PLAIN
    }
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

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The consent page. Client-supplied text (its name, its redirect host) is isolated in `<bdi>`
/// so right-to-left text in it cannot reorder the sentence around it (HTML §4.5.23).
fn consent_page(
    inner: &Inner,
    req: &AuthRequest,
    csrf: &str,
    error: Option<&str>,
    person: Option<&Person>,
) -> String {
    let name = req
        .client
        .client_name
        .as_deref()
        .unwrap_or("An unnamed application");
    let host = redirect_host(&req.redirect_uri);
    let descriptions: HashMap<&str, &str> = inner
        .config
        .auth
        .scopes
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    let mut scopes = String::new();
    for s in &req.scopes {
        let d = match s.as_str() {
            scope::OFFLINE_ACCESS => "Stay signed in (refresh tokens)",
            other => descriptions.get(other).copied().unwrap_or(""),
        };
        scopes.push_str(&format!(
            "<li><code>{}</code> {}</li>",
            escape(s),
            escape(d)
        ));
    }
    let mut hidden = req.params();
    hidden.push(("csrf", csrf.to_owned()));
    let mut fields = String::new();
    for (k, v) in hidden {
        if !v.is_empty() {
            fields.push_str(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(&v)
            ));
        }
    }
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let sign_in = match person {
        Some(p) => format!(
            "<p>Signed in as <strong><bdi>{}</bdi></strong>.</p>",
            escape(
                p.email
                    .as_deref()
                    .or(p.name.as_deref())
                    .unwrap_or(&p.subject)
            )
        ),
        None => "<p><label>Server password <input type=\"password\" name=\"password\" \
autocomplete=\"current-password\" autofocus></label></p>"
            .to_owned(),
    };
    format!(
        "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">
<title>Authorize {name}</title>
<style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
.error{{color:#b00}}code{{background:#eee;padding:0 .2em}}button{{font-size:1rem;margin-right:.5rem}}</style>
</head><body>
<h1>Authorize <bdi>{name}</bdi></h1>
<p><strong><bdi>{name}</bdi></strong> wants to use <strong>{resource}</strong> on your behalf and will be sent back to <strong><bdi>{host}</bdi></strong>.</p>
<p>It asks for:</p><ul>{scopes}</ul>
{error}
<form method=\"post\" action=\"{action}\">{fields}
{sign_in}
<p><button type=\"submit\" name=\"action\" value=\"approve\">Approve</button>
<button type=\"submit\" name=\"action\" value=\"deny\">Deny</button></p>
</form></body></html>
",
        name = escape(name),
        resource = escape(&inner.urls.resource),
        host = escape(&host),
        action = escape(&inner.urls.route("/authorize")),
    )
}

/// What the error page tells the user to do when nothing more specific applies.
const DEFAULT_ADVICE: &str = "Close this page and try connecting again; if it keeps failing, \
tell the application's developers.";
/// The advice for an unknown `client_id`.
const UNKNOWN_CLIENT_ADVICE: &str = "This server does not know the application, or its \
registration has expired. Remove this server from the application and add it again, so the \
application registers anew.";
/// The advice when the store cannot be reached.
const UNAVAILABLE_ADVICE: &str = "The server cannot reach its storage right now. Wait a minute \
and try again; if it keeps failing, tell the server's operator.";

/// Whether the request's `Accept` lists `text/html` (without `q=0`): a browser navigation,
/// which gets an error page instead of JSON.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut params = range.split(';').map(str::trim);
            params
                .next()
                .is_some_and(|m| m.eq_ignore_ascii_case("text/html"))
                && !params.any(|p| {
                    p.split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("q") && v.trim().parse() == Ok(0.0)
                    })
                })
        })
}

/// The page an authorization error is shown on when it is not redirected: the error code, the
/// server's own description (which may quote a parameter name the client sent: escaped) and
/// what the user can do.
pub(crate) fn error_page(error: &str, description: &str, advice: &str) -> String {
    format!(
        "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">
<title>Authorization failed</title>
<style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
code{{background:#eee;padding:0 .2em}}</style>
</head><body>
<h1>Authorization failed</h1>
<p>The application sent an authorization request this server cannot accept: {description}.</p>
<p>Error: <code>{error}</code>. {advice}</p>
</body></html>
",
        error = escape(error),
        description = escape(description),
        advice = escape(advice),
    )
}

/// A consent submission that is not approved: logged with its reason, and the page shown again
/// with a fresh CSRF token and a line telling the user why.
fn consent_refused(
    inner: &Inner,
    req: &AuthRequest,
    status: StatusCode,
    reason: &'static str,
    message: &str,
    subject: Option<&str>,
    signed_in: Option<&Person>,
) -> Response {
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "consent_refused",
        client_id = ?req.client.client_id,
        subject = ?super::clip(subject.unwrap_or("")),
        reason,
    );
    let csrf = random_token();
    let html = consent_page(inner, req, &csrf, Some(message), signed_in);
    page(inner, status, html, Some(&csrf))
}

pub(crate) fn page(
    inner: &Inner,
    status: StatusCode,
    html: String,
    csrf: Option<&str>,
) -> Response {
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(csrf) = csrf {
        let secure = if inner.urls.origin.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}={csrf}; Path=/; HttpOnly; SameSite=Strict; Max-Age=600{secure}",
            csrf_cookie_name(inner)
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.insert(header::SET_COOKIE, v);
        }
    }
    res
}

async fn show_or_approve(inner: &Inner, headers: &HeaderMap, req: AuthRequest) -> Response {
    if let Some(oidc) = &inner.oidc {
        // `login: oidc`: the consent page once the provider has signed the person in.
        return match oidc.signed_in(inner, headers).await {
            Some(person) => {
                let csrf = random_token();
                let html = consent_page(inner, &req, &csrf, None, Some(&person));
                page(inner, StatusCode::OK, html, Some(&csrf))
            }
            None => oidc.begin(inner, headers, &request_query(&req)).await,
        };
    }
    match inner.config.consent() {
        Consent::Auto => approve(inner, req, Person::local()).await,
        Consent::Password => {
            // Double-submit cookie: the form's token must equal the cookie set with the page,
            // which another site can neither read nor set. Needs no server-side state, so any
            // replica can answer the POST.
            let csrf = random_token();
            let html = consent_page(inner, &req, &csrf, None, None);
            page(inner, StatusCode::OK, html, Some(&csrf))
        }
    }
}

/// `GET /authorize`.
pub(crate) async fn authorize_get(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = match parse_params(uri.query().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                &inner,
                &headers,
                Refusal::Direct(OAuthError::invalid_request(e)),
            );
        }
    };
    match validate(&inner, &params).await {
        Ok(req) => {
            if let Some(refused) = cross_site_auto_consent(&inner, &headers, &req) {
                return refused;
            }
            show_or_approve(&inner, &headers, req).await
        }
        Err(r) => refuse(&inner, &headers, r),
    }
}

/// `POST /authorize`: the consent form (or, with automatic consent, a form-encoded request).
pub(crate) async fn authorize_post(
    State(inner): State<Arc<Inner>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let headers = &parts.headers;
    let params = match parse_params(&body) {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                &inner,
                headers,
                Refusal::Direct(OAuthError::invalid_request(e)),
            );
        }
    };
    let req = match validate(&inner, &params).await {
        Ok(req) => req,
        Err(r) => return refuse(&inner, headers, r),
    };
    if inner.config.consent() == Consent::Auto && inner.oidc.is_none() {
        if let Some(refused) = cross_site_auto_consent(&inner, headers, &req) {
            return refused;
        }
        return approve(&inner, req, Person::local()).await;
    }
    let person = match &inner.oidc {
        Some(oidc) => match oidc.signed_in(&inner, headers).await {
            Some(p) => Some(p),
            // The sign-in expired while the page was open: sign in again.
            None => return oidc.begin(&inner, headers, &request_query(&req)).await,
        },
        None => None,
    };
    let sent = params.get("csrf").map(String::as_str).unwrap_or("");
    let expected = cookie(headers, csrf_cookie_name(&inner)).unwrap_or("");
    if sent.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return consent_refused(
            &inner,
            &req,
            StatusCode::FORBIDDEN,
            "csrf token missing or stale",
            "This form expired. Please try again.",
            person.as_ref().map(|p| p.subject.as_str()),
            person.as_ref(),
        );
    }
    if params.get("action").map(String::as_str) == Some("deny") {
        return refuse(
            &inner,
            headers,
            Refusal::Redirect {
                redirect_uri: req.redirect_uri.clone(),
                state: req.state.clone(),
                error: "access_denied",
                description: "the user denied the request".into(),
                client_id: req.client.client_id.clone(),
            },
        );
    }
    if let Some(person) = person {
        tracing::info!(
            target: "mcpgen::oauth",
            decision = "consent_approved",
            client_id = ?req.client.client_id,
            subject = ?super::clip(&person.subject),
        );
        return approve(&inner, req, person).await;
    }
    // Counted before the check, so concurrent guesses cannot race past the limit.
    let source = super::limit::source_ip(&parts, &inner.config.trusted_proxies);
    let password = params.get("password").cloned().unwrap_or_default();
    let checked = match (
        inner.password_attempts.take(source, Instant::now()),
        inner.config.password_hash.clone(),
    ) {
        (Err(refused), _) => Err(refused),
        // Argon2 is deliberately slow: it runs off the async workers, a few at a time.
        (Ok(()), Some(hash)) => inner.password_attempts.verify(hash, password).await,
        (Ok(()), None) => Ok(false),
    };
    let (reason, message) = match checked {
        Ok(true) => return approve(&inner, req, Person::operator()).await,
        Ok(false) => {
            return consent_refused(
                &inner,
                &req,
                StatusCode::UNAUTHORIZED,
                "wrong password",
                "Wrong password.",
                Some(Person::OPERATOR),
                None,
            );
        }
        Err(Refused::Source(_)) => (
            "too many password attempts from this address",
            "Too many password attempts from your address. Wait a minute and try again.",
        ),
        Err(Refused::Global(_)) => (
            "too many password attempts on this server",
            "Too many password attempts on this server. Wait a minute and try again.",
        ),
        Err(Refused::Busy) => (
            "too many password checks waiting",
            "The server is busy checking passwords. Wait a moment and try again.",
        ),
    };
    tracing::info!(target: "mcpgen::oauth", decision = "password_limited", source = ?source, reason);
    let mut res = consent_refused(
        &inner,
        &req,
        StatusCode::TOO_MANY_REQUESTS,
        reason,
        message,
        Some(Person::OPERATOR),
        None,
    );
    let wait = match checked {
        Err(Refused::Source(w) | Refused::Global(w)) => w.as_secs(),
        _ => 1,
    };
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    res
}

/// Automatic consent approves whatever reaches `/authorize`, so a page on another site could
/// navigate the visitor's browser there and have the code sent to an https redirect URI it
/// registered. A navigation the browser marks `Sec-Fetch-Site: cross-site` is refused with a
/// page (never a redirect, which would carry the refusal to that URI), unless the redirect URI
/// is loopback: the code then goes to software on this machine, which a web page cannot read,
/// and that is how the MCP Inspector works (its page on `http://localhost:6274` is cross-site
/// to a server on `http://127.0.0.1:PORT`, and its callback is on `localhost`). Requests
/// without the header (CLIs, SDK test clients, browsers opened by a native app, which send
/// `none`) and same-site ones pass.
fn cross_site_auto_consent(
    inner: &Inner,
    headers: &HeaderMap,
    req: &AuthRequest,
) -> Option<Response> {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if inner.config.consent() != Consent::Auto
        || !cross_site
        || mcpgen_rules::is_loopback_url(&req.redirect_uri)
    {
        return None;
    }
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "authorize_refused",
        client_id = ?req.client.client_id,
        reason = "cross-site navigation with automatic consent",
    );
    let html = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization refused</title></head><body>
<h1>Authorization refused</h1>
<p>Another web site sent your browser here. This local server approves requests without asking
(consent: auto), so it only does that for requests that start on this machine. Start the
connection from your MCP client again.</p>
</body></html>
";
    Some(page(inner, StatusCode::FORBIDDEN, html.to_owned(), None))
}
