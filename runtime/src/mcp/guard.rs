//! Who may talk to the endpoint at all: the `Origin` allowlist (DNS rebinding, browsers) and
//! the `Host` check for loopback servers.

use std::net::{IpAddr, Ipv6Addr};

/// Which `Origin` and `Host` values the endpoint accepts.
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginPolicy {
    /// Exact origins, lowercased, without a trailing slash; `*` allows any.
    allowed: Vec<String>,
    /// Extra `Host` names (lowercased, without port) a loopback server accepts, e.g. the
    /// public host when a proxy forwards to it.
    hosts: Vec<String>,
    /// Loopback origins are allowed and the `Host` must be loopback (or in `hosts`).
    loopback: bool,
}

impl OriginPolicy {
    pub fn new(allowed: Vec<String>, hosts: Vec<String>, loopback: bool) -> Self {
        Self {
            allowed: allowed
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            hosts: hosts
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            loopback,
        }
    }

    /// Whether a present `Origin` header value is allowed.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim();
        let normal = origin.trim_end_matches('/');
        if self
            .allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(normal))
        {
            return true;
        }
        self.loopback && is_loopback_origin(origin)
    }

    /// Whether the `Host` header is acceptable. Only loopback servers check it: they are the
    /// ones a DNS-rebinding page can reach.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        if !self.loopback {
            return true;
        }
        // HTTP/1.0 requests may lack Host; a browser always sends one.
        let Some(host) = host else { return true };
        let Some(name) = host_name(host) else {
            return false;
        };
        is_loopback_name(&name) || self.hosts.contains(&name)
    }
}

/// The lowercased host name of a `Host` value (`name[:port]`, `[v6][:port]`).
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return Some(format!("[{}]", inner.to_ascii_lowercase()));
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return None,
        None => host,
    };
    if name.is_empty() {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_loopback_origin(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        let p = OriginPolicy::new(vec![], vec!["mcp.example.com".into()], true);
        for ok in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:80",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
            "LOCALHOST:1",
            "mcp.example.com",
        ] {
            assert!(p.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:3000",
            "localhost.evil.com",
            "[::2]:80",
            "10.0.0.1",
            "localhost:abc",
            ":80",
            "[::1]x",
        ] {
            assert!(!p.host_allowed(Some(bad)), "{bad}");
        }
        let remote = OriginPolicy::new(vec![], vec![], false);
        assert!(remote.host_allowed(Some("evil.example.com")));
    }

    #[test]
    fn origins() {
        let p = OriginPolicy::new(vec!["https://Claude.ai/".into()], vec![], false);
        assert!(p.origin_allowed("https://claude.ai"));
        assert!(!p.origin_allowed("http://localhost:6274"));
        assert!(!p.origin_allowed("null"));
        let l = OriginPolicy::new(vec![], vec![], true);
        assert!(l.origin_allowed("http://localhost:6274"));
        assert!(l.origin_allowed("http://127.0.0.1"));
        assert!(l.origin_allowed("http://[::1]:3000"));
        assert!(!l.origin_allowed("http://evil.example.com"));
        assert!(!l.origin_allowed("file://localhost/x"));
    }
}
