//! The server's URLs and settings: origins, the endpoint path, bind, redirect URIs, token lifetimes.

use super::*;

impl Checker<'_> {
    /// A public URL or issuer: a base URL ([`mcpgen_rules::check_base_url`]) that is an
    /// origin, without a path.
    pub(super) fn origin_url(&mut self, pointer: &str, raw: &str) {
        let what = display_path(pointer);
        let url = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(e) => {
                // The schema already reported values that are not http(s) at all.
                if raw.starts_with("http://") || raw.starts_with("https://") {
                    self.at_value(pointer, format!("`{raw}` is not a valid URL: {e}"));
                }
                return;
            }
        };
        match check_base_url(&url) {
            Err(BaseUrlError::NotHttp | BaseUrlError::NotUrl(_)) => {}
            Err(BaseUrlError::QueryOrFragment) => {
                self.at_value(
                    pointer,
                    format!("`{what}` must not have a query or fragment"),
                );
                self.help(format!(
                    "write the origin alone, e.g. `{}://{}`",
                    url.scheme(),
                    url.host_str().unwrap_or("host")
                ));
            }
            Err(BaseUrlError::Credentials) => {
                self.at_value(pointer, format!("`{what}` must not carry credentials"));
            }
            Ok(()) | Err(BaseUrlError::InsecureHttp) if url.path() != "/" => {
                self.at_value(
                    pointer,
                    format!("`{what}` must be an origin, without a path"),
                );
                if pointer == "/server/public_url" {
                    self.help(format!(
                        "put the path in `server.endpoint`: clients look for OAuth metadata at the origin root; public_url `{}`",
                        base_url::origin(&url)
                    ));
                } else {
                    self.help(format!(
                        "the authorization server lives at the origin: `{}`",
                        base_url::origin(&url)
                    ));
                }
            }
            Err(BaseUrlError::InsecureHttp) => {
                self.at_value(
                    pointer,
                    format!("`{raw}` uses plain http on a host that is not loopback"),
                );
                self.help(format!(
                    "use `https://{}`: clients refuse OAuth over plain http except on localhost",
                    url.host_str().unwrap_or("host")
                ));
            }
            Ok(()) => {}
        }
    }

    pub(super) fn endpoint(&mut self, endpoint: &str) {
        let p = "/server/endpoint";
        if !endpoint.starts_with('/') {
            return; // the schema's pattern reported it
        }
        if endpoint.contains(['?', '#']) {
            self.at_value(
                p,
                format!("endpoint `{endpoint}` must be a path without a query or fragment"),
            );
        } else if endpoint.len() > 1 && endpoint.ends_with('/') {
            self.at_value(p, format!("endpoint `{endpoint}` ends with `/`"));
            self.help(format!(
                "write `{}`; the server answers the trailing-slash form too",
                endpoint.trim_end_matches('/')
            ));
        } else if endpoint.contains("//")
            || !endpoint
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
        {
            self.at_value(p, format!("endpoint `{endpoint}` is not a plain path"));
            self.help("use letters, digits, `-`, `_`, `.`, `~` and single `/`, e.g. `/mcp`");
        } else if endpoint == "/.well-known"
            || endpoint.starts_with("/.well-known/")
            || RESERVED_PATHS.contains(&endpoint)
        {
            self.at_value(
                p,
                format!("endpoint `{endpoint}` is a path the server already answers"),
            );
            self.help("use another path, e.g. `/mcp`");
        }
    }

    pub(super) fn bind(&mut self, bind: &str) {
        let port = bind.rsplit(':').next().and_then(|p| p.parse::<u32>().ok());
        if port.is_some_and(|p| p > 65535) {
            self.at_value("/server/bind", format!("port in `{bind}` is over 65535"));
        }
    }

    pub(super) fn allowed_origin(&mut self, pointer: &str, raw: &str) {
        let ok = url::Url::parse(raw).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
                && !raw.ends_with('/')
        });
        if ok.is_none() {
            self.at_value(pointer, format!("`{raw}` is not an origin"));
            self.help("an origin is a scheme, a host and an optional port, e.g. `https://app.example.com`");
        }
    }

    pub(super) fn redirect_uri(&mut self, pointer: &str, raw: &str) {
        let url = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(e) => {
                self.at_value(pointer, format!("`{raw}` is not an absolute URI: {e}"));
                return;
            }
        };
        if url.fragment().is_some() {
            self.at_value(pointer, format!("redirect URI `{raw}` has a fragment"));
            self.help("OAuth forbids fragments in redirect URIs (RFC 6749 §3.1.2)");
            return;
        }
        match url.scheme() {
            "https" => {}
            "http" if url.host_str().is_some_and(is_loopback_host) => {}
            "http" => {
                self.at_value(
                    pointer,
                    format!("redirect URI `{raw}` uses plain http on a host that is not loopback"),
                );
                self.help("use https, or a loopback address such as `http://127.0.0.1/callback`");
            }
            scheme if scheme.contains('.') => {} // a private-use scheme (RFC 8252 §7.1)
            scheme => {
                self.at_value(
                    pointer,
                    format!("redirect URI scheme `{scheme}` is not allowed"),
                );
                self.help("native apps use a reverse-domain scheme such as `com.example.app:/callback` (RFC 8252 §7.1)");
            }
        }
    }

    pub(super) fn ttls(&mut self, auth: &serde_json::Map<String, Value>) {
        let ttl = |key: &str| {
            auth.get("tokens")
                .and_then(|t| t.get(key))
                .and_then(Value::as_str)
                .and_then(parse_duration)
        };
        let access = ttl("access_ttl").unwrap_or(3600);
        let refresh = ttl("refresh_ttl").unwrap_or(30 * 86400);
        if access < 60 {
            self.at_value(
                "/auth/tokens/access_ttl",
                "`access_ttl` is shorter than a minute",
            );
            self.help("clients refresh on a schedule; give tokens at least `5m`");
        } else if access >= refresh {
            let at = if auth
                .get("tokens")
                .and_then(|t| t.get("refresh_ttl"))
                .is_some()
            {
                "/auth/tokens/refresh_ttl"
            } else {
                "/auth/tokens/access_ttl"
            };
            self.at_value(at, "`refresh_ttl` must be longer than `access_ttl`");
            self.help("e.g. `access_ttl: 1h` and `refresh_ttl: 30d`");
        }
        if ttl("refresh_reuse_grace").is_some_and(|g| g > spec::MAX_REFRESH_REUSE_GRACE_SECS) {
            self.at_value(
                "/auth/tokens/refresh_reuse_grace",
                "`refresh_reuse_grace` is longer than 10 minutes",
            );
            self.help("clients retry a refresh for up to about 80 s; `2m` covers that, and a longer grace lets a leaked refresh token mint tokens for longer");
        }
    }
}

/// Paths the generated server answers itself; the MCP endpoint cannot take them.
pub(super) const RESERVED_PATHS: &[&str] =
    &["/authorize", "/token", "/register", "/revoke", "/healthz"];

/// `%2F`-style escapes in a URI fragment, decoded (JSON Pointer fragments use them).
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Seconds in a duration such as `90s`, `15m`, `1h`, `30d`.
pub fn parse_duration(s: &str) -> Option<u64> {
    let unit = match s.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return None,
    };
    let n: u64 = s[..s.len() - 1].parse().ok()?;
    if n == 0 || s.starts_with('0') {
        return None;
    }
    n.checked_mul(unit)
}
