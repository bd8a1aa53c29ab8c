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

use url::Url;

use super::urls::is_loopback_host;

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
            Some(prefix) => uri.starts_with(prefix) && uri.len() > prefix.len(),
            None => a == uri,
        })
    }

    /// Whether a client may register `uri`; `Err` says why not, for people.
    pub fn check(&self, uri: &str) -> Result<(), String> {
        let u = Url::parse(uri).map_err(|_| "not an absolute uri".to_owned())?;
        if u.fragment().is_some() {
            return Err("a redirect uri must not contain a fragment".into());
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

/// Whether a request's `redirect_uri` matches a registered one: exactly, or, for `http`
/// loopback URIs, with any port (RFC 8252 §7.3: native apps pick a free port at run time,
/// VS Code falls back from 33418 to a random one).
pub(crate) fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(r), Ok(q)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    r.scheme() == "http"
        && q.scheme() == "http"
        && r.host_str().is_some_and(is_loopback_host)
        && r.host_str() == q.host_str()
        && r.path() == q.path()
        && r.query() == q.query()
        && q.fragment().is_none()
        && r.username() == q.username()
        && q.password().is_none()
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
    }
}
