//! Redirect URI policy: which URIs a client may register (RFC 7591 / RFC 8252) and how a
//! request's `redirect_uri` is matched against them.
//!
//! Registration accepts:
//! - any `https` URI with a host and no fragment. The MCP authorization spec allows "localhost
//!   or HTTPS" redirect URIs, and the hosted clients (claude.ai, claude.com, ChatGPT's
//!   per-connector `https://chatgpt.com/connector/oauth/<id>`, vscode.dev) are all https, so
//!   an https allowlist would only break clients nobody listed. The consent page shows the
//!   redirect host, which is the protection the spec asks for.
//! - `http` on a loopback host (`localhost`, 127.0.0.0/8, `[::1]`), any port;
//! - private-use schemes that are reverse domain names (`com.example.app:/cb`, RFC 8252 §7.1);
//! - the allowlist: [`DEFAULT_REDIRECT_ALLOWLIST`] (which holds `cursor://...`, a scheme
//!   that is not a reverse domain name) plus the configured extras. An entry ending in `*` is a
//!   prefix.
//!
//! Anything else (`http` elsewhere, `javascript:`, `data:`, `file:`, fragments) is refused,
//! naming the URI and the reason.
//!
//! Every accepted URI round-trips: it is an absolute URI that the `url` crate serialises back
//! to exactly the same string, with no user information, no fragment and no control
//! characters. The policy checks the parsed form while the store keeps (and the code is later
//! sent to) the string, so the two must be the same thing: without this, `https://host/cb\r\n`
//! or `https:///cb` would be checked as one URL and used as another (OAuth 2.1 §2.3.1 asks for
//! exact string comparison, which only means something for strings in normal form).

use url::Url;

use mcpgen_rules::{is_loopback_host, is_loopback_url};

/// The redirect URIs of the clients mcpgen knows, accepted without configuration.
pub const DEFAULT_REDIRECT_ALLOWLIST: &[&str] = &[
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
    "https://chatgpt.com/connector/oauth/*",
    "https://chatgpt.com/connector_platform_oauth_redirect",
    "https://vscode.dev/redirect",
    "https://insiders.vscode.dev/redirect",
    "cursor://anysphere.cursor-mcp/oauth/callback",
];

/// Schemes that must never be redirect targets, even when they look like reverse domains.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedirectPolicy {
    allow: Vec<String>,
}

impl RedirectPolicy {
    pub fn new(extra: &[String]) -> Self {
        let mut allow: Vec<String> = DEFAULT_REDIRECT_ALLOWLIST
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        allow.extend(
            extra
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        );
        Self { allow }
    }

    fn allowlisted(&self, uri: &str) -> bool {
        self.allow.iter().any(|a| match a.strip_suffix('*') {
            Some(prefix) => {
                uri.starts_with(prefix) && uri.len() > prefix.len() && same_authority(prefix, uri)
            }
            None => a == uri,
        })
    }

    /// Whether an authorization error found before consent may be redirected to `uri` (RFC
    /// 6749 §4.1.2.1): only for loopback URIs and the allowlist (the known clients, which rely
    /// on getting the error back). Anyone can register any https URI, so redirecting errors to
    /// every registered URI would make `/authorize` an open redirector that needs no user
    /// action (RFC 9700 §4.11.2); other errors are shown as a page instead.
    pub fn redirects_errors(&self, uri: &str) -> bool {
        self.allowlisted(uri) || is_loopback_url(uri)
    }

    /// Whether a client may register `uri`; `Err` says why not, for people.
    pub fn check(&self, uri: &str) -> Result<(), String> {
        if uri.chars().any(char::is_control) {
            return Err("a redirect uri must not contain control characters".into());
        }
        let u = Url::parse(uri).map_err(|_| "not an absolute uri".to_owned())?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err("a redirect uri must not contain user information (user:password@)".into());
        }
        if u.fragment().is_some() {
            return Err("a redirect uri must not contain a fragment".into());
        }
        if u.as_str() != uri {
            return Err(format!(
                "it is not in normal form (it parses as {:?}); register the exact uri the server redirects to",
                u.as_str()
            ));
        }
        let scheme = u.scheme();
        if FORBIDDEN_SCHEMES.contains(&scheme) {
            return Err(format!("the {scheme}: scheme is never allowed"));
        }
        if self.allowlisted(uri) {
            return Ok(());
        }
        match scheme {
            "https" if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            "https" => Err("https redirect uri has no host".into()),
            "http" if u.host_str().is_some_and(is_loopback_host) => Ok(()),
            "http" => Err(
                "http is only allowed on loopback hosts (localhost, 127.0.0.1, [::1]); use https"
                    .into(),
            ),
            s if s.contains('.') => Ok(()),
            s => Err(format!(
                "the {s}: scheme is not allowed: private-use schemes must be reverse domain names (RFC 8252 §7.1) or be added to the server's redirect allowlist"
            )),
        }
    }
}

/// Whether `uri` has the scheme, host and port of the allowlist `prefix`: an entry written
/// without a path (`https://partner.example*`) must not also allow
/// `https://partner.example.evil.net/`.
fn same_authority(prefix: &str, uri: &str) -> bool {
    match (Url::parse(prefix), Url::parse(uri)) {
        (Ok(p), Ok(u)) => {
            p.scheme() == u.scheme() && p.host_str() == u.host_str() && p.port() == u.port()
        }
        _ => false,
    }
}

/// Whether a request's `redirect_uri` matches a registered one: the same string, or, for an
/// `http` loopback URI, the same string but for the port (RFC 8252 §7.3: native apps pick a
/// free port at run time, VS Code falls back from 33418 to a random one). The requested URI
/// must then be in normal form too, so the code goes to exactly the string compared here.
pub(crate) fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(r), Ok(mut q)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    if r.scheme() != "http"
        || !r.host_str().is_some_and(is_loopback_host)
        || q.as_str() != requested
    {
        return false;
    }
    q.set_port(r.port()).is_ok() && q.as_str() == registered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_policy() {
        let p = RedirectPolicy::new(&["myapp://cb".to_owned()]);
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://chatgpt.com/connector/oauth/abc123",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/",
            "http://localhost:8787/callback",
            "http://[::1]:9/cb",
            "com.example.app:/oauth2redirect",
            "https://example.org/cb",
            "myapp://cb",
        ] {
            assert_eq!(p.check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://example.org/cb",
            "javascript:alert(1)",
            "cursor://other/callback",
            "https://example.org/cb#frag",
            "/relative",
            "data:text/html,x",
        ] {
            assert!(p.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris_must_round_trip() {
        let p = RedirectPolicy::new(&[]);
        for (bad, why) in [
            ("https://host/cb\r\nX: y", "control characters"),
            ("https://host/cb\0", "control characters"),
            ("https://host/\u{85}cb", "control characters"),
            ("https:///cb", "normal form"),
            ("https://user:pass@host/cb", "user information"),
            ("https://user@host/cb", "user information"),
            ("https://Host/cb", "normal form"),
            ("https://host:443/cb", "normal form"),
            ("https://host", "normal form"),
            ("https://host/a/../cb", "normal form"),
            ("https://host/c b", "normal form"),
            ("http://127.0.0.1:33418", "normal form"),
        ] {
            let e = p.check(bad).expect_err(bad);
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(
            p.check("https://host")
                .unwrap_err()
                .contains("\"https://host/\""),
            "the normal form is named"
        );
        for ok in [
            "https://host/cb",
            "https://host/cb?tenant=a&x=%20",
            "http://127.0.0.1:33418/",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(p.check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn errors_redirect_only_to_loopback_and_known_clients() {
        let p = RedirectPolicy::new(&["https://partner.example/cb".to_owned()]);
        for yes in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://chatgpt.com/connector/oauth/abc",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "http://127.0.0.1:5555/cb",
            "http://localhost/cb",
            "http://[::1]:9/",
            "https://partner.example/cb",
        ] {
            assert!(p.redirects_errors(yes), "{yes}");
        }
        for no in [
            "https://evil.example/cb",
            "https://claude.ai/elsewhere",
            "com.example.app:/cb",
        ] {
            assert!(!p.redirects_errors(no), "{no}");
        }
    }

    /// A prefix entry written without a path (`https://partner.example*`) still names one
    /// host: `https://partner.example.evil.net/` must not receive errors before consent (an
    /// open redirector), nor pass registration as plain http.
    #[test]
    fn prefix_entries_keep_their_host() {
        let p = RedirectPolicy::new(&[
            "https://partner.example*".to_owned(),
            "http://intranet.example*".to_owned(),
        ]);
        assert!(p.redirects_errors("https://partner.example/cb"));
        for other in [
            "https://partner.example.evil.net/cb",
            "https://partner.example:8443/cb",
            "https://partner.exampleevil.net/cb",
        ] {
            assert!(!p.redirects_errors(other), "{other}");
        }
        assert_eq!(p.check("http://intranet.example/cb"), Ok(()));
        assert!(p.check("http://intranet.example.evil.net/cb").is_err());
        // The built-in ChatGPT prefix still matches its connectors only.
        assert!(p.redirects_errors("https://chatgpt.com/connector/oauth/abc"));
        assert!(!p.redirects_errors("https://chatgpt.com.evil.net/connector/oauth/abc"));
    }

    #[test]
    fn loopback_port_is_ignored() {
        assert!(redirect_matches(
            "http://127.0.0.1/",
            "http://127.0.0.1:54321/"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:33418/",
            "http://127.0.0.1:40000/"
        ));
        assert!(redirect_matches(
            "http://localhost:8787/callback",
            "http://localhost:1/callback"
        ));
        assert!(!redirect_matches(
            "http://localhost/callback",
            "http://127.0.0.1/callback"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5/other"
        ));
        assert!(!redirect_matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/"
        ));
        assert!(!redirect_matches(
            "https://a.example:443/cb",
            "https://a.example:444/cb"
        ));
        // Only the port may differ, and the request must be in normal form too.
        for other in [
            "http://127.0.0.1:5/a/../cb",
            "http://u@127.0.0.1:5/cb",
            "http://127.0.0.1:5/cb#f",
            "http://127.0.0.1:5/cb?x=1",
            "http://127.0.0.1:5/cb\n",
        ] {
            assert!(!redirect_matches("http://127.0.0.1/cb", other), "{other}");
        }
    }
}
