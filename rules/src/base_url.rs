//! Base URLs: a server's public URL and its OAuth issuer. Every URL a server publishes (the
//! resource, the metadata documents, the endpoints) is derived from them, so they must be
//! plain: `http` or `https`, a host, no query, fragment or credentials, and `https` unless
//! the host is loopback (OAuth 2.1 §1.5; RFC 8414 §2 for the issuer).

use std::fmt;

use url::Url;

use crate::loopback::is_loopback_host;

/// Why a URL is not a base URL. [`fmt::Display`] gives a short lowercase reason, such as
/// "has a query or fragment", to follow the value in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseUrlError {
    /// The text is not an absolute URL; the parser's reason.
    NotUrl(url::ParseError),
    /// The scheme is neither `http` nor `https`, or there is no host.
    NotHttp,
    /// The URL has a query or a fragment.
    QueryOrFragment,
    /// The URL carries a user name or a password.
    Credentials,
    /// Plain `http` on a host that is not loopback.
    InsecureHttp,
}

impl fmt::Display for BaseUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUrl(e) => write!(f, "is not a url: {e}"),
            Self::NotHttp => f.write_str("is not an http(s) url with a host"),
            Self::QueryOrFragment => f.write_str("has a query or fragment"),
            Self::Credentials => f.write_str("carries credentials"),
            Self::InsecureHttp => f.write_str("uses http on a host that is not loopback"),
        }
    }
}

impl std::error::Error for BaseUrlError {}

/// Checks a parsed URL against the base-URL rules, in this order: scheme and host, query or
/// fragment, credentials, `https` unless loopback. A path is allowed (a server may live
/// under one); a trailing slash is not significant (see [`without_trailing_slash`]).
pub fn check_base_url(u: &Url) -> Result<(), BaseUrlError> {
    let host = match u.host_str() {
        Some(host) if matches!(u.scheme(), "http" | "https") => host,
        _ => return Err(BaseUrlError::NotHttp),
    };
    if u.query().is_some() || u.fragment().is_some() {
        return Err(BaseUrlError::QueryOrFragment);
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(BaseUrlError::Credentials);
    }
    if u.scheme() == "http" && !is_loopback_host(host) {
        return Err(BaseUrlError::InsecureHttp);
    }
    Ok(())
}

/// Parses `raw` (as given: callers trim it if they accept padding) and checks it with
/// [`check_base_url`].
pub fn parse_base_url(raw: &str) -> Result<Url, BaseUrlError> {
    let u = Url::parse(raw).map_err(BaseUrlError::NotUrl)?;
    check_base_url(&u)?;
    Ok(u)
}

/// The URL as every derived URL is built from it and as metadata documents carry it:
/// normalised by the parser (lowercase scheme and host, default port dropped), without a
/// trailing slash (`https://host/` is `https://host`, `https://host/base/` is
/// `https://host/base`).
pub fn without_trailing_slash(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_owned()
}

/// The URL's path without a trailing slash: `""` for a bare origin, `/base` for
/// `https://host/base/`. Route paths are this plus `/token`, `/mcp`, ...
pub fn base_path(u: &Url) -> &str {
    u.path().trim_end_matches('/')
}

/// The URL's origin (RFC 6454) as a browser sends it in `Origin`: `scheme://host[:port]`,
/// lowercase, without the default port or a slash.
pub fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str) -> BaseUrlError {
        parse_base_url(raw).expect_err(raw)
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        for raw in [
            "https://mcp.example.com",
            "https://mcp.example.com/",
            "https://mcp.example.com/base/",
            "http://127.0.0.1:8000",
            "http://localhost:9000/mcp",
            "http://[::1]:1",
        ] {
            assert!(parse_base_url(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn refuses_each_problem_by_name() {
        assert!(matches!(err("mcp.example.com"), BaseUrlError::NotUrl(_)));
        assert_eq!(err("ftp://mcp.example.com"), BaseUrlError::NotHttp);
        assert_eq!(
            err("https://mcp.example.com/?a=1"),
            BaseUrlError::QueryOrFragment
        );
        assert_eq!(
            err("https://mcp.example.com/#top"),
            BaseUrlError::QueryOrFragment
        );
        assert_eq!(
            err("https://user@mcp.example.com"),
            BaseUrlError::Credentials
        );
        assert_eq!(
            err("https://:pw@mcp.example.com"),
            BaseUrlError::Credentials
        );
        assert_eq!(err("http://mcp.example.com"), BaseUrlError::InsecureHttp);
        assert_eq!(
            err("http://localhost.example.com"),
            BaseUrlError::InsecureHttp
        );
        // The order is the documented one: a query is named before plain http.
        assert_eq!(
            err("http://mcp.example.com/?a"),
            BaseUrlError::QueryOrFragment
        );
    }

    #[test]
    fn other_schemes_and_hostless_urls_are_not_http() {
        for raw in [
            "data:text/plain,hi",
            "file:///etc/passwd",
            "mailto:a@example.com",
        ] {
            assert_eq!(err(raw), BaseUrlError::NotHttp, "{raw}");
        }
    }

    #[test]
    fn derived_forms() {
        let u = Url::parse("HTTPS://MCP.Example.com:443/Base/").unwrap();
        assert_eq!(without_trailing_slash(&u), "https://mcp.example.com/Base");
        assert_eq!(base_path(&u), "/Base");
        assert_eq!(origin(&u), "https://mcp.example.com");
        let u = Url::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(without_trailing_slash(&u), "http://127.0.0.1:8000");
        assert_eq!(base_path(&u), "");
        assert_eq!(origin(&u), "http://127.0.0.1:8000");
    }

    #[test]
    fn reasons_read_after_the_value() {
        assert_eq!(
            BaseUrlError::InsecureHttp.to_string(),
            "uses http on a host that is not loopback"
        );
        assert_eq!(BaseUrlError::Credentials.to_string(), "carries credentials");
    }
}
