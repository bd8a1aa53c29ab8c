//! Loopback: the hosts only the local machine reaches. A server on one may use plain http,
//! run without auth and approve consent automatically; a redirect URI on one may use any
//! port (RFC 8252 §7.3).

use std::net::{IpAddr, Ipv6Addr};

use url::Url;

/// Whether `host` is loopback: `localhost` (any case), 127.0.0.0/8 or `[::1]`. Takes a host
/// as [`Url::host_str`] prints it or as a `Host` header names it without its port: IPv6 in
/// brackets. A name that merely starts or ends with `localhost` is not loopback.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| ip.is_loopback()),
        None => host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
    }
}

/// Whether `url` is an `http` or `https` URL on a loopback host ([`is_loopback_host`]).
/// Anything that does not parse, or has another scheme, is not.
pub fn is_loopback_url(url: &str) -> bool {
    Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(is_loopback_host)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "localhost.evil.com",
            "evil-localhost",
            "[127.0.0.1]",
            "[::1",
            "[::2]",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn loopback_urls() {
        for url in [
            "http://localhost",
            "http://127.0.0.1:8000/mcp",
            "https://[::1]:9000",
            "http://LocalHost:1",
            "http://127.000.000.001",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://example.com",
            "ftp://localhost/",
            "http://localhost.example.com",
            "not a url",
            "localhost:8000",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
