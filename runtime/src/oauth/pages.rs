//! The pages a person sees at `/authorize`: sign-in, consent and error. They are rendered from
//! minijinja templates (`runtime/templates/*.html`, embedded at build time, HTML
//! auto-escaping on) from the view models below, and share one layout and one small
//! stylesheet. The stylesheet is inline and allowed by its SHA-256 hash in the page's
//! Content-Security-Policy ([`content_security_policy`]), so the policy needs neither
//! `unsafe-inline` nor any external asset. Text a client chose (its name, its redirect
//! host) is wrapped in `<bdi>` so right-to-left text in it cannot reorder the sentence around
//! it (HTML §4.5.23).
//!
//! The view models are public so the pages can be rendered and checked without a server
//! (tests, screenshots); the authorization endpoint fills them.

use std::sync::LazyLock;

use base64::Engine as _;
#[cfg(feature = "oauth")]
use minijinja::value::Serde;
#[cfg(feature = "oauth")]
use minijinja::{Environment, Value, context};
use serde::Serialize;
use sha2::{Digest, Sha256};

const STYLESHEET: &str = include_str!("../../templates/pages.css");
#[cfg(feature = "oauth")]
const TEMPLATES: [(&str, &str); 3] = [
    ("layout.html", include_str!("../../templates/layout.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// The templates, parsed once. `.html` names turn HTML auto-escaping on.
#[cfg(feature = "oauth")]
static ENV: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
});

/// The value of the pages' `Content-Security-Policy` header: nothing may load or run except
/// the one inline stylesheet, named by its hash (CSP Level 3 §8.4 hash-source); no framing,
/// no `<base>`. `form-action` is left unset on purpose: browsers apply it to the redirect
/// that follows a form post too, and the approval redirects to the client's own URI.
pub fn content_security_policy() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLESHEET));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'"
        )
    });
    &CSP
}

/// The application asking for access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientView {
    /// The client's `client_name`, or a stand-in when it sent none.
    pub name: String,
    /// The name was chosen by the client itself at dynamic registration (RFC 7591) and
    /// nothing vouches for it: the page says so next to it.
    pub self_declared: bool,
    /// For a client whose id is a metadata document URL: the host serving it, which does
    /// vouch for the name.
    pub domain: Option<String>,
}

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeView {
    /// The scope token.
    pub name: String,
    /// The spec's description of it (empty when it has none).
    pub description: String,
    /// Some tool that may destroy or change data (`destructiveHint` true, `readOnlyHint`
    /// false) requires this scope: the page marks it.
    pub destructive: bool,
}

/// Who is signed in at the authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonView {
    /// The stable identifier of the person (`sub`).
    pub subject: String,
    /// A display name, when known; the subject is shown otherwise.
    pub name: Option<String>,
    /// An email address, when known.
    pub email: Option<String>,
}

/// How a person who is not signed in signs in on the page; decided by the server's login
/// mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SignInView {
    /// One shared server password.
    Password,
    /// A username and a password of an account kept by the server.
    Users {
        /// Refills the username field after a failed attempt.
        username: Option<String>,
    },
    /// A button that sends the person to an upstream OpenID provider.
    Upstream {
        /// The provider's name on the button.
        provider: String,
        /// Where the button leads (the provider's authorization request).
        href: String,
    },
}

/// A hidden form field carried from the authorization request to its approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HiddenField {
    /// The parameter's name (`client_id`, `state`, `csrf`, ...).
    pub name: String,
    /// Its value, as received (the template escapes it).
    pub value: String,
}

/// The sign-in and consent page: a person who is not signed in signs in and approves in one
/// step ([`ConsentPage::sign_in`] is `Some`); one who is signed in approves or denies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentPage {
    /// The server's title.
    pub server: String,
    /// The application asking.
    pub client: ClientView,
    /// The host the authorization code will be sent to (the redirect URI's host, or its
    /// scheme for a private-use URI scheme).
    pub redirect_host: String,
    /// The scopes the code will carry, in the server's order.
    pub scopes: Vec<ScopeView>,
    /// Who is signed in; `None` when the person must sign in on this page.
    pub signed_in: Option<PersonView>,
    /// The same request with `prompt=login`: the "sign in as someone else" link.
    pub switch_href: String,
    /// The sign-in fields, when nobody is signed in (or `prompt=login` asked to sign in
    /// again).
    pub sign_in: Option<SignInView>,
    /// Where the form posts (the authorization endpoint).
    pub action: String,
    /// The authorization request's parameters and the CSRF token.
    pub hidden: Vec<HiddenField>,
    /// Why the last submission failed, shown in the `role="alert"` region.
    pub error: Option<String>,
}

/// The error page: an authorization request that cannot go on and is not sent back to the
/// client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorPage {
    /// The server's title.
    pub server: String,
    /// The page's heading ("Authorization failed").
    pub heading: String,
    /// What went wrong, for a person; shown in the `role="alert"` region.
    pub message: String,
    /// The OAuth error code, when there is one.
    pub error: Option<String>,
    /// What the person can do about it.
    pub advice: String,
}

/// A page that cannot be rendered: a bug, answered with a bare page rather than a panic.
const BARE_PAGE: &str = "<!doctype html><title>Error</title><p>This page cannot be shown.</p>";

/// Without minijinja (the cargo feature `oauth`) start-up refuses a spec with auth, so no
/// page is ever asked for.
#[cfg(not(feature = "oauth"))]
fn render(_name: &str, _view: &impl Serialize) -> String {
    BARE_PAGE.to_owned()
}

#[cfg(feature = "oauth")]
fn render(name: &str, view: &impl Serialize) -> String {
    let rendered = match &*ENV {
        Ok(env) => env.get_template(name).and_then(|t| {
            t.render(context! {
                stylesheet => Value::from_safe_string(STYLESHEET.to_owned()),
                ..Value::from(Serde(view))
            })
        }),
        // Template errors are not `Clone`; the cached parse failure is copied as text.
        Err(e) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            e.to_string(),
        )),
    };
    match rendered {
        Ok(html) => html,
        Err(e) => {
            // The templates are part of the binary and rendered by the tests; this is a bug,
            // answered with a bare page rather than a panic.
            tracing::error!(target: "mcpgen::oauth", template = name, error = %e, "page template failed");
            BARE_PAGE.to_owned()
        }
    }
}

impl ConsentPage {
    /// The page's HTML.
    pub fn render(&self) -> String {
        render("consent.html", self)
    }
}

impl ErrorPage {
    /// The page's HTML.
    pub fn render(&self) -> String {
        render("error.html", self)
    }
}

#[cfg(all(test, feature = "oauth"))]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_the_policy_hashes_the_stylesheet() {
        assert!(ENV.is_ok(), "{:?}", ENV.as_ref().err());
        let html = ErrorPage {
            server: "S".into(),
            heading: "H".into(),
            message: "m".into(),
            error: None,
            advice: "a".into(),
        }
        .render();
        let style = html
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(css, _)| css)
            .unwrap();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        assert!(content_security_policy().contains(&format!("'sha256-{hash}'")));
        assert!(!content_security_policy().contains("unsafe-inline"));
    }
}
