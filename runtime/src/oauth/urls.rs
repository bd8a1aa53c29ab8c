//! Every URL derived from the public URL and the issuer, the route paths they imply, and the
//! resource (RFC 8707) comparison, so discovery, the challenge and audience checks agree.

use mcpgen_rules::BaseUrlError;
use mcpgen_rules::base_url::{self, origin, without_trailing_slash};
use mcpgen_rules::is_loopback_host;
use url::Url;

/// Parses a configured base URL by [`mcpgen_rules::parse_base_url`]: http(s), a host, no
/// query or fragment, no credentials, https unless loopback.
pub(crate) fn parse_base(what: &str, raw: &str) -> Result<Url, String> {
    mcpgen_rules::parse_base_url(raw.trim()).map_err(|e| match e {
        BaseUrlError::NotUrl(e) => format!("{what} {raw:?} is not a url: {e}"),
        BaseUrlError::NotHttp => format!("{what} {raw:?} must be an http(s) url with a host"),
        BaseUrlError::QueryOrFragment => {
            format!("{what} {raw:?} must not have a query or fragment")
        }
        BaseUrlError::Credentials => format!("{what} must not carry credentials"),
        BaseUrlError::InsecureHttp => {
            format!("{what} {raw:?} must use https (http only on loopback hosts)")
        }
    })
}

/// The URLs and paths of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Urls {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// The public URL's path without a trailing slash (`""` for a bare origin).
    pub base_path: String,
    /// The MCP endpoint path (`/mcp`).
    pub endpoint: String,
    /// The canonical MCP URL: public URL + endpoint, no trailing slash.
    pub resource: String,
    /// The issuer, byte for byte as configured (minus a trailing slash).
    pub issuer: String,
    /// The issuer's path (`""` when the issuer is an origin).
    pub issuer_path: String,
    pub public_is_loopback: bool,
}

impl Urls {
    pub fn new(public_url: &str, endpoint: &str, issuer: Option<&str>) -> Result<Self, String> {
        let public = parse_base("public url", public_url)?;
        let issuer_url = match issuer {
            Some(i) => parse_base("issuer", i)?,
            None => public.clone(),
        };
        let origin = origin(&public);
        let base_path = base_url::base_path(&public).to_owned();
        let endpoint = endpoint.trim();
        if !endpoint.starts_with('/')
            || endpoint.contains(['?', '#', ' '])
            || endpoint.contains("/.well-known")
        {
            return Err(format!("endpoint {endpoint:?} must be a path such as /mcp"));
        }
        let endpoint = endpoint.trim_end_matches('/');
        let endpoint = if endpoint.is_empty() { "/" } else { endpoint }.to_owned();
        let resource = format!("{}{}", without_trailing_slash(&public), endpoint)
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            origin,
            base_path,
            resource,
            issuer: without_trailing_slash(&issuer_url),
            issuer_path: base_url::base_path(&issuer_url).to_owned(),
            public_is_loopback: public.host_str().is_some_and(is_loopback_host),
            endpoint,
        })
    }

    /// The resource's path (base path + endpoint), as inserted into well-known URLs.
    pub fn resource_path(&self) -> String {
        let p = format!("{}{}", self.base_path, self.endpoint);
        p.trim_end_matches('/').to_owned()
    }

    /// An AS endpoint on the public URL (`/authorize`, `/token`, ...).
    pub fn endpoint_url(&self, path: &str) -> String {
        format!("{}{}{}", self.origin, self.base_path, path)
    }

    /// The route path of an AS endpoint.
    pub fn route(&self, path: &str) -> String {
        format!("{}{}", self.base_path, path)
    }

    /// The path-inserted protected resource metadata URL, absolute (the 401 challenge's
    /// `resource_metadata`).
    pub fn prm_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource{}",
            self.origin,
            self.resource_path()
        )
    }

    /// Whether `path` (a request's path) is the MCP endpoint with a trailing slash (`/mcp/`).
    /// That form is served too, as its own resource (see [`Urls::slash_resource`]).
    pub fn is_slash_form(&self, path: &str) -> bool {
        let resource_path = self.resource_path();
        !resource_path.is_empty() && path.strip_suffix('/') == Some(resource_path.as_str())
    }

    /// The MCP URL with a trailing slash (`https://host/mcp/`), the resource of the `/mcp/`
    /// form; `None` when the endpoint is the origin itself, whose one path is `/`.
    ///
    /// `/mcp/` is served directly, not redirected (a redirect drops `Authorization` in some
    /// clients, and answering 404 sends clients into the old HTTP+SSE transport detection).
    /// VS Code and Gemini CLI compare the metadata's `resource` with the URL the user typed,
    /// exactly (RFC 9728 §3.3), so that form gets its own metadata document whose `resource`
    /// ends in `/`. Tokens are bound to the canonical resource either way, so a token
    /// obtained through either form works on both.
    pub fn slash_resource(&self) -> Option<String> {
        (!self.resource_path().is_empty()).then(|| format!("{}/", self.resource))
    }

    /// The protected resource metadata URL for a request to `path`: the path-inserted form of
    /// the URL the client used (`/.well-known/oauth-protected-resource/mcp/` for `/mcp/`).
    pub fn prm_url_for(&self, path: &str) -> String {
        if self.is_slash_form(path) {
            format!("{}/", self.prm_url())
        } else {
            self.prm_url()
        }
    }

    /// Normalises a `resource` parameter and says whether it names this server: the canonical
    /// URL, with a trailing slash, the public URL or the bare origin (forms Claude, Claude Code
    /// and VS Code send). Scheme and host compare case-insensitively and default ports are
    /// ignored (the `url` crate normalises both); a fragment never matches (RFC 8707 §2).
    pub fn matches_resource(&self, raw: &str) -> bool {
        let Ok(u) = Url::parse(raw.trim()) else {
            return false;
        };
        if u.fragment().is_some() || u.query().is_some() || !u.username().is_empty() {
            return false;
        }
        if origin(&u) != self.origin {
            return false;
        }
        let path = base_url::base_path(&u);
        path.is_empty() || path == self.base_path || path == self.resource_path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_urls() {
        let u = Urls::new("https://Example.com/", "/mcp", None).unwrap();
        assert_eq!(u.resource, "https://example.com/mcp");
        assert_eq!(u.issuer, "https://example.com");
        assert_eq!(
            u.prm_url(),
            "https://example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(u.endpoint_url("/token"), "https://example.com/token");
        assert!(!u.public_is_loopback);
    }

    #[test]
    fn slash_form() {
        let u = Urls::new("https://example.com/api", "/mcp", None).unwrap();
        assert!(u.is_slash_form("/api/mcp/"));
        assert!(!u.is_slash_form("/api/mcp"));
        assert_eq!(
            u.slash_resource().as_deref(),
            Some("https://example.com/api/mcp/")
        );
        assert_eq!(
            u.prm_url_for("/api/mcp/"),
            "https://example.com/.well-known/oauth-protected-resource/api/mcp/"
        );
        let root = Urls::new("https://example.com", "/", None).unwrap();
        assert!(!root.is_slash_form("/"));
        assert_eq!(root.slash_resource(), None);
    }

    #[test]
    fn resource_forms() {
        let u = Urls::new("https://example.com", "/mcp", None).unwrap();
        for ok in [
            "https://example.com/mcp",
            "https://example.com/mcp/",
            "https://example.com",
            "https://example.com/",
            "HTTPS://EXAMPLE.COM:443/mcp",
        ] {
            assert!(u.matches_resource(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/mcp",
            "http://example.com/mcp",
            "https://example.com/other",
            "https://example.com/mcp#x",
            "https://example.com:8443/mcp",
            "mcp",
        ] {
            assert!(!u.matches_resource(bad), "{bad}");
        }
    }

    #[test]
    fn plain_http_needs_loopback() {
        assert!(Urls::new("http://evil.com", "/mcp", None).is_err());
        assert!(
            Urls::new("http://127.0.0.1:8000", "/mcp", None).is_ok_and(|u| u.public_is_loopback)
        );
    }
}
