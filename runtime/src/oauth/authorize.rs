//! The authorization endpoint: request validation, `prompt` (OpenID Connect Core 1.0
//! §3.1.2.1), the sign-in and consent page (password or automatic) with remembered consent
//! (see [`super::session`]), and the redirect back with `code`, `state` and `iss`.

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
use super::login::SignInError;
use super::pages::{
    ClientView, ConsentPage, ErrorPage, HiddenField, PersonView, ScopeView, SignInView,
};
use super::redirect::redirect_matches;
use super::scope;
use super::session::{self, Sealer, Session, SignedIn};
use super::{CODE_TTL, Inner, Login, now};
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
    pub prompt: Prompt,
    /// `prompt` as sent, carried through the form.
    pub prompt_raw: Option<String>,
}

impl AuthRequest {
    /// The request as `/authorize` parameters (empty values left out, `prompt` too): what a
    /// page or an upstream round trip carries so that `/authorize` can validate it
    /// again.
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

/// The `prompt` values this server acts on (OpenID Connect Core 1.0 §3.1.2.1): `none` (answer
/// without showing a page: a code if the person is signed in and approved the client for
/// these scopes before, else `login_required` or `consent_required`), `login` (and
/// `select_account`: sign in again even if signed in) and `consent` (ask even if approved
/// before). Other values are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

impl Prompt {
    /// Parses the space-separated list; `none` with any other value is an error (§3.1.2.1).
    fn parse(raw: Option<&str>) -> Result<Self, &'static str> {
        let mut p = Self::default();
        let mut values = 0;
        for v in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            values += 1;
            match v {
                "none" => p.none = true,
                "login" | "select_account" => p.login = true,
                "consent" => p.consent = true,
                _ => {}
            }
        }
        if p.none && values > 1 {
            return Err("prompt=none cannot be combined with other prompt values");
        }
        Ok(p)
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
    refuse_about(inner, headers, refusal, None)
}

/// [`refuse`], logged as about `subject` when the signed-in person is known.
fn refuse_about(
    inner: &Inner,
    headers: &HeaderMap,
    refusal: Refusal,
    subject: Option<&str>,
) -> Response {
    // Absent from the line when nobody is known (`Option` records nothing for `None`).
    let subject = subject.map(|s| tracing::field::debug(super::clip(s)));
    match refusal {
        Refusal::Direct(e) => {
            inner.config.metrics.refused("authorize", e.error);
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
                let html = error_page(inner, e.error, &e.description, advice);
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
            inner.config.metrics.refused("authorize", error);
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "authorize_refused",
                client_id = ?super::clip(&client_id),
                error,
                reason = ?super::clip(&description),
                subject,
                shown = "page",
            );
            page(
                inner,
                StatusCode::BAD_REQUEST,
                error_page(inner, error, &description, DEFAULT_ADVICE),
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
            inner.config.metrics.refused("authorize", error);
            tracing::info!(
                target: "mcpgen::oauth",
                decision = "authorize_refused",
                client_id = ?super::clip(&client_id),
                error,
                reason = ?super::clip(&description),
                subject,
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
    let prompt_raw = get("prompt").map(str::to_owned);
    let prompt = match Prompt::parse(prompt_raw.as_deref()) {
        Ok(prompt) => prompt,
        Err(why) => return Err(back("invalid_request", why)),
    };
    Ok(AuthRequest {
        code_challenge: code_challenge.to_owned(),
        client,
        redirect_uri,
        state,
        scopes,
        resource,
        prompt,
        prompt_raw,
    })
}

/// An error about a validated request: back to the client when its redirect URI may receive
/// errors before consent, else a page (see [`Refusal`]).
fn refusal(inner: &Inner, req: &AuthRequest, error: &'static str, description: &str) -> Refusal {
    if inner.redirects.redirects_errors(&req.redirect_uri) {
        Refusal::Redirect {
            redirect_uri: req.redirect_uri.clone(),
            state: req.state.clone(),
            error,
            description: description.to_owned(),
            client_id: req.client.client_id.clone(),
        }
    } else {
        Refusal::Page {
            error,
            description: description.to_owned(),
            client_id: req.client.client_id.clone(),
        }
    }
}

/// How a request was approved, for the log: `auto` (automatic consent), `consent` (a person
/// approved on the page) or `remembered` (approved before, see [`super::session`]).
type ApprovedBy = &'static str;

/// Issues an authorization code for `req`, approved by `person` (who the tokens will belong
/// to), and redirects back to the client with `code`, `state` and `iss` (RFC 9207); `cookie`
/// is a sign-in cookie to set with it. Call it only once the person has signed in and
/// approved; it checks nothing more.
pub(crate) async fn approve(
    inner: &Inner,
    req: AuthRequest,
    person: Person,
    by: ApprovedBy,
    cookie: Option<String>,
) -> Response {
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
        inner.config.metrics.store_error();
        tracing::error!(target: "mcpgen::oauth", error = ?e, "cannot store authorization code");
        return OAuthError::server_error().into_response();
    }
    inner.config.metrics.code_issued();
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "authorize_approved",
        client_id = ?record.client_id,
        subject = ?record.person.subject,
        redirect_host = redirect_host(&record.redirect_uri),
        scope = ?scope::join(&record.scopes),
        approved_by = by,
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &inner.urls.issuer));
    let mut res = redirect_to(&req.redirect_uri, &pairs);
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// The `/authorize` query an OpenID sign-in returns to: the request's parameters, and
/// `prompt` without `login` and `select_account` (the person has just signed in; asking again
/// would loop).
fn upstream_query(req: &AuthRequest) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.params() {
        q.append_pair(k, &v);
    }
    let prompt: Vec<&str> = req
        .prompt_raw
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty() && !matches!(*v, "login" | "select_account"))
        .collect();
    if !prompt.is_empty() {
        q.append_pair("prompt", &prompt.join(" "));
    }
    q.finish()
}

/// The `Set-Cookie` value signing `person` in (a sign-in elsewhere than the password form: an
/// OpenID provider's callback); the approvals of an earlier sign-in of the same person in
/// `headers` carry over. `None` when the cookie cannot be signed (the store is unreachable).
#[cfg(feature = "oidc")]
pub(crate) async fn sign_in_cookie(
    inner: &Inner,
    headers: &HeaderMap,
    person: &Person,
) -> Option<String> {
    let sealer = sealer(inner).await?;
    let previous = read_session(inner, headers, Some(&sealer)).await;
    let signed_in = SignedIn::from(person.clone());
    let session = Session::signed_in(&inner.urls.issuer, signed_in, now(), previous);
    let value = sealer.seal(&session)?;
    Some(session::set_cookie(
        &value,
        &inner.urls.route("/authorize"),
        session.max_age(now()),
        https(inner),
    ))
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

fn https(inner: &Inner) -> bool {
    inner.urls.origin.starts_with("https://")
}

/// The signer of sign-in cookies: the store's server key, read once, mixed with the login's
/// secret (the password hash), so a new password signs everybody out. `None` (logged) when
/// the store cannot be read: nobody is remembered until it can.
async fn sealer(inner: &Inner) -> Option<Sealer> {
    let key = inner
        .session_key
        .get_or_try_init(|| inner.store.server_key(session::SESSION_KEY_NAME))
        .await;
    match key {
        Ok(key) => {
            // With an OpenID provider, its issuer: moving to another provider signs everybody
            // out.
            // The login mode and what it trusts: a cookie from one mode (or one password, or
            // one provider) means nothing in another, so changing either signs everybody out.
            let context = match (&inner.config.oidc, inner.config.login()) {
                (Some(oidc), Login::Oidc) => format!("oidc\0{}", oidc.issuer),
                (_, Login::Password) => format!(
                    "password\0{}",
                    inner.config.password_hash.as_deref().unwrap_or("")
                ),
                (_, login) => format!("{login:?}"),
            };
            Some(Sealer::new(key, context.as_bytes()))
        }
        Err(e) => {
            tracing::warn!(target: "mcpgen::oauth", error = ?e, "cannot read the session key; sign-ins are not remembered");
            None
        }
    }
}

/// The sign-in cookie's session, if the request carries one that is intact and current.
/// The sign-in cookie's session, if it is valid and still stands for someone who may sign in:
/// with `login: users` the account must still exist and have the password it signed in with
/// (`users remove` and `users passwd` sign the person out everywhere).
async fn read_session(
    inner: &Inner,
    headers: &HeaderMap,
    sealer: Option<&Sealer>,
) -> Option<Session> {
    let value = cookie(headers, session::cookie_name(https(inner)))?;
    let session = sealer?.open(value, &inner.urls.issuer, now())?;
    if inner.config.login() == Login::Users {
        let current = user_credential(inner, &session.person.subject).await;
        if current.is_none() || current != session.person.credential {
            return None;
        }
    }
    Some(session)
}

/// A fingerprint of the user's current password hash (`None`: no such user, or the store
/// failed): a session signed in with an older password no longer matches it.
async fn user_credential(inner: &Inner, name: &str) -> Option<String> {
    match inner.store.get_user(name).await {
        Ok(user) => user.map(|u| session::credential_fingerprint(&u.password_hash)),
        Err(e) => {
            tracing::warn!(target: "mcpgen::oauth", error = ?e, "cannot read the signed-in user");
            None
        }
    }
}

/// The `Set-Cookie` value remembering that `session`'s person approved `req`; `None` when it
/// cannot be signed.
fn remember(
    inner: &Inner,
    sealer: Option<&Sealer>,
    mut session: Session,
    req: &AuthRequest,
) -> Option<String> {
    session.remember(
        &req.client.client_id,
        &redirect_host(&req.redirect_uri),
        &req.scopes,
    );
    let value = sealer?.seal(&session)?;
    Some(session::set_cookie(
        &value,
        &inner.urls.route("/authorize"),
        session.max_age(now()),
        https(inner),
    ))
}

/// The server's title on its pages: the spec's title, else the public host.
pub(crate) fn server_title(inner: &Inner) -> String {
    inner.config.title.clone().unwrap_or_else(|| {
        Url::parse(&inner.urls.origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    })
}

/// The authorization request's parameters, as the form and the "sign in as someone else"
/// link carry them.
fn request_fields(req: &AuthRequest) -> Vec<(&'static str, String)> {
    req.params()
}

/// The sign-in and consent page. `signed_in`: who is signed in (no sign-in fields then).
fn consent_page(
    inner: &Inner,
    req: &AuthRequest,
    csrf: &str,
    signed_in: Option<&SignedIn>,
    error: Option<&str>,
) -> String {
    let document = inner.cimd.is_some() && super::cimd::is_document_url(&req.client.client_id);
    let client = ClientView {
        name: req
            .client
            .client_name
            .clone()
            .unwrap_or_else(|| "An unnamed application".to_owned()),
        self_declared: !document,
        domain: document.then(|| redirect_host(&req.client.client_id)),
    };
    let scopes = req
        .scopes
        .iter()
        .map(|s| ScopeView {
            name: s.clone(),
            description: match s.as_str() {
                scope::OFFLINE_ACCESS => "Stay connected without asking again (refresh tokens)",
                other => inner
                    .config
                    .auth
                    .scopes
                    .iter()
                    .find(|(n, _)| n == other)
                    .map_or("", |(_, d)| d.as_str()),
            }
            .to_owned(),
            destructive: inner.config.destructive_scopes.contains(s),
        })
        .collect();
    let mut fields = request_fields(req);
    let mut switch = fields.clone();
    switch.push(("prompt", "login".to_owned()));
    let switch_href = format!(
        "{}?{}",
        inner.urls.route("/authorize"),
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(switch)
            .finish()
    );
    if let Some(p) = &req.prompt_raw {
        fields.push(("prompt", p.clone()));
    }
    fields.push(("csrf", csrf.to_owned()));
    ConsentPage {
        server: server_title(inner),
        client,
        redirect_host: redirect_host(&req.redirect_uri),
        scopes,
        signed_in: signed_in.map(|p| PersonView {
            subject: p.subject.clone(),
            name: p.name.clone(),
            email: p.email.clone(),
        }),
        switch_href,
        sign_in: signed_in.is_none().then(|| match inner.config.login() {
            Login::Users => SignInView::Users { username: None },
            Login::Password | Login::Oidc | Login::Auto => SignInView::Password,
        }),
        action: inner.urls.route("/authorize"),
        hidden: fields
            .into_iter()
            .map(|(name, value)| HiddenField {
                name: name.to_owned(),
                value,
            })
            .collect(),
        error: error.map(str::to_owned),
    }
    .render()
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
pub(crate) fn error_page(inner: &Inner, error: &str, description: &str, advice: &str) -> String {
    ErrorPage {
        server: server_title(inner),
        heading: "Authorization failed".to_owned(),
        message: format!(
            "The application sent an authorization request this server cannot accept: {description}."
        ),
        error: Some(error.to_owned()),
        advice: advice.to_owned(),
    }
    .render()
}

/// A consent submission that is not approved: logged with its reason, and the page shown again
/// with a fresh CSRF token and a line telling the user why.
fn consent_refused(
    inner: &Inner,
    req: &AuthRequest,
    signed_in: Option<&SignedIn>,
    status: StatusCode,
    reason: &'static str,
    message: &str,
    subject: Option<&str>,
) -> Response {
    inner.config.metrics.refused("consent", reason);
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "consent_refused",
        client_id = ?req.client.client_id,
        subject = ?super::clip(subject.unwrap_or("")),
        reason,
    );
    let csrf = random_token();
    let html = consent_page(inner, req, &csrf, signed_in, Some(message));
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
        HeaderValue::from_static(super::pages::content_security_policy()),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it browsers send `Origin: null` on the form's own POST (Fetch
    // §3.2.5), which the loopback Host/Origin guard refuses. `same-origin` still sends no
    // referrer (and so no request parameters) to any other site, the client's redirect
    // included.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
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

/// A `GET /authorize` that passed validation: approved at once (automatic consent, or a
/// signed-in person who approved this client for these scopes before and `prompt` does not
/// ask again), answered without a page (`prompt=none`), sent to the OpenID provider
/// (`login: oidc` with nobody signed in), or the sign-in and consent page.
async fn show_or_approve(inner: &Inner, headers: &HeaderMap, req: AuthRequest) -> Response {
    if inner.config.login() == Login::Auto {
        return approve(inner, req, Person::local(), "auto", None).await;
    }
    let sealer = sealer(inner).await;
    let session = read_session(inner, headers, sealer.as_ref()).await;
    // Who approved this client, for this redirect host and these scopes, before, if the
    // cookie says so.
    let remembered = session
        .as_ref()
        .filter(|s| {
            s.covers(
                &req.client.client_id,
                &redirect_host(&req.redirect_uri),
                &req.scopes,
            )
        })
        .map(|s| Person::from(s.person.clone()));
    if req.prompt.none {
        // OpenID Connect Core 1.0 §3.1.2.6.
        let error = match (&session, &remembered) {
            (None, _) => Some((
                "login_required",
                "nobody is signed in; retry without prompt=none",
            )),
            (Some(_), None) => Some((
                "consent_required",
                "the client is not approved for these scopes; retry without prompt=none",
            )),
            (Some(_), Some(_)) => None,
        };
        if let Some((error, description)) = error {
            let refused = refusal(inner, &req, error, description);
            let subject = session.as_ref().map(|s| s.person.subject.as_str());
            return refuse_about(inner, headers, refused, subject);
        }
    }
    if let Some(person) = remembered
        && (req.prompt.none || (!req.prompt.login && !req.prompt.consent))
    {
        return approve(inner, req, person, "remembered", None).await;
    }
    if let Some(oidc) = &inner.oidc
        && (session.is_none() || req.prompt.login)
    {
        // `login: oidc`: sign in at the provider first; its callback comes back here.
        return oidc
            .begin(inner, headers, &upstream_query(&req), req.prompt.login)
            .await;
    }
    let signed_in = session.filter(|_| !req.prompt.login).map(|s| s.person);
    // Double-submit cookie: the form's token must equal the cookie set with the page,
    // which another site can neither read nor set. Needs no server-side state, so any
    // replica can answer the POST.
    let csrf = random_token();
    let html = consent_page(inner, &req, &csrf, signed_in.as_ref(), None);
    page(inner, StatusCode::OK, html, Some(&csrf))
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
    if inner.config.login() == Login::Auto {
        if let Some(refused) = cross_site_auto_consent(&inner, headers, &req) {
            return refused;
        }
        return approve(&inner, req, Person::local(), "auto", None).await;
    }
    if req.prompt.none {
        return show_or_approve(&inner, headers, req).await;
    }
    let sealer = sealer(&inner).await;
    let previous = read_session(&inner, headers, sealer.as_ref()).await;
    // Who is signed in, unless the page asked to sign in again.
    let session = previous.clone().filter(|_| !req.prompt.login);
    let signed_in = session.as_ref().map(|s| s.person.clone());
    if let Some(oidc) = &inner.oidc
        && session.is_none()
    {
        // Nobody signed in at the provider (or the sign-in expired while the page was open,
        // or the page asked to sign in again): to the provider.
        return oidc
            .begin(&inner, headers, &upstream_query(&req), req.prompt.login)
            .await;
    }
    let sent = params.get("csrf").map(String::as_str).unwrap_or("");
    let expected = cookie(headers, csrf_cookie_name(&inner)).unwrap_or("");
    if sent.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return consent_refused(
            &inner,
            &req,
            signed_in.as_ref(),
            StatusCode::FORBIDDEN,
            "csrf token missing or stale",
            "This form expired. Please try again.",
            signed_in.as_ref().map(|p| p.subject.as_str()),
        );
    }
    if params.get("action").map(String::as_str) == Some("deny") {
        // Denying withdraws what was approved for this client before, so its next request
        // shows the page again rather than getting a code at once.
        let forgotten = previous.and_then(|mut session| {
            session.forget(&req.client.client_id).then(|| {
                let value = sealer.as_ref()?.seal(&session)?;
                Some(session::set_cookie(
                    &value,
                    &inner.urls.route("/authorize"),
                    session.max_age(now()),
                    https(&inner),
                ))
            })?
        });
        let mut res = refuse_about(
            &inner,
            headers,
            Refusal::Redirect {
                redirect_uri: req.redirect_uri.clone(),
                state: req.state.clone(),
                error: "access_denied",
                description: "the user denied the request".into(),
                client_id: req.client.client_id.clone(),
            },
            signed_in.as_ref().map(|p| p.subject.as_str()),
        );
        if let Some(cookie) = forgotten.and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return res;
    }
    if let Some(session) = session {
        let person = Person::from(session.person.clone());
        let cookie = remember(&inner, sealer.as_ref(), session, &req);
        return approve(&inner, req, person, "consent", cookie).await;
    }
    // Counted before the check, so concurrent guesses cannot race past the limit.
    let source = super::limit::source_ip(&parts, &inner.config.trusted_proxies);
    let password = params.get("password").cloned().unwrap_or_default();
    let users = inner.config.login() == Login::Users;
    // Whom the form claims to be: the user name typed, or the one operator the shared
    // password stands for.
    let claimed = if users {
        params.get("username").map_or("", |n| n.trim())
    } else {
        Person::OPERATOR
    };
    let checked = if users {
        match super::login::check_user(&inner, source, claimed, &password).await {
            Ok(person) => Ok(Some(person)),
            Err(SignInError::Wrong) => Ok(None),
            Err(SignInError::Limited(refused)) => Err(refused),
            Err(SignInError::Store(e)) => {
                tracing::error!(target: "mcpgen::oauth", error = ?e, "store failure checking a user");
                let e = OAuthError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the authorization store is unavailable; try again",
                );
                return refuse(&inner, headers, Refusal::Direct(e));
            }
        }
    } else {
        match (
            inner.password_attempts.take(source, Instant::now()),
            inner.config.password_hash.clone(),
        ) {
            (Err(refused), _) => Err(refused),
            // Argon2 is deliberately slow: it runs off the async workers, a few at a time.
            (Ok(()), Some(hash)) => inner
                .password_attempts
                .verify(hash, password)
                .await
                .map(|ok| ok.then(Person::operator)),
            (Ok(()), None) => Ok(None),
        }
    };
    let (reason, message) = match checked {
        Ok(Some(person)) => {
            let mut signed_in = SignedIn::from(person.clone());
            if users {
                signed_in.credential = user_credential(&inner, &person.subject).await;
            }
            let session = Session::signed_in(&inner.urls.issuer, signed_in, now(), previous);
            let cookie = remember(&inner, sealer.as_ref(), session, &req);
            return approve(&inner, req, person, "consent", cookie).await;
        }
        Ok(None) => {
            let (reason, message) = if users {
                (
                    "wrong user name or password",
                    "Wrong user name or password.",
                )
            } else {
                ("wrong password", "Wrong password.")
            };
            return consent_refused(
                &inner,
                &req,
                None,
                StatusCode::UNAUTHORIZED,
                reason,
                message,
                Some(claimed),
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
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "password_limited",
        source = ?source,
        subject = ?super::clip(claimed),
        reason,
    );
    let mut res = consent_refused(
        &inner,
        &req,
        None,
        StatusCode::TOO_MANY_REQUESTS,
        reason,
        message,
        Some(claimed),
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
    if inner.config.login() != Login::Auto
        || !cross_site
        || mcpgen_rules::is_loopback_url(&req.redirect_uri)
    {
        return None;
    }
    inner
        .config
        .metrics
        .refused("authorize", "cross-site navigation with automatic consent");
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "authorize_refused",
        client_id = ?req.client.client_id,
        reason = "cross-site navigation with automatic consent",
    );
    let html = ErrorPage {
        server: server_title(inner),
        heading: "Authorization refused".to_owned(),
        message: "Another web site sent your browser here. This local server approves requests \
                  without asking (consent: auto), so it only does that for requests that start \
                  on this machine."
            .to_owned(),
        error: None,
        advice: "Start the connection from your MCP client again.".to_owned(),
    }
    .render();
    Some(page(inner, StatusCode::FORBIDDEN, html, None))
}
