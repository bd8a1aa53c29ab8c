//! Scope grammar (RFC 6749 §3.3) and normalisation, from [`mcpgen_rules::scope`]: the one
//! place scope strings are parsed and joined, so no document, challenge or token response can
//! carry an empty or padded scope; and the server's scope policy.

/// The scope every AS metadata document lists beside the spec's scopes, for refresh tokens.
pub const OFFLINE_ACCESS: &str = "offline_access";

pub use mcpgen_rules::scope::{is_scope_token, join, parse};

/// The scopes a server knows and the ones it grants by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScopePolicy {
    /// The spec's scopes, in spec order.
    pub resource_scopes: Vec<String>,
    pub default_scopes: Vec<String>,
}

impl ScopePolicy {
    /// Every scope the AS can grant: the spec's scopes, then `offline_access`.
    pub fn all(&self) -> Vec<String> {
        let mut all = self.resource_scopes.clone();
        all.push(OFFLINE_ACCESS.to_owned());
        all
    }

    /// What an authorization request gets: known tokens of the request (unknown ones such as
    /// `claudeai` on a server without it, or `openid`, are dropped rather than refused, as real
    /// clients send them), plus the default scopes when no resource scope remains (`scope`
    /// absent, empty, only unknown tokens, or only `offline_access`). Returned in the
    /// server's scope order, so equal grants always serialise alike.
    pub fn grant(&self, requested: Option<&str>) -> Vec<String> {
        let requested = requested.map(parse).unwrap_or_default();
        let mut granted: Vec<String> = self
            .resource_scopes
            .iter()
            .filter(|s| requested.contains(s))
            .cloned()
            .collect();
        if granted.is_empty() {
            granted = self
                .resource_scopes
                .iter()
                .filter(|s| self.default_scopes.contains(s))
                .cloned()
                .collect();
        }
        if requested.iter().any(|s| s == OFFLINE_ACCESS) {
            granted.push(OFFLINE_ACCESS.to_owned());
        }
        granted
    }

    /// A refresh request may narrow the original grant (RFC 6749 §6): tokens outside it are
    /// dropped; when nothing remains, the original grant is kept.
    pub fn narrow(&self, original: &[String], requested: Option<&str>) -> Vec<String> {
        let Some(requested) = requested else {
            return original.to_vec();
        };
        let requested = parse(requested);
        let narrowed: Vec<String> = original
            .iter()
            .filter(|s| requested.contains(s))
            .cloned()
            .collect();
        if narrowed.is_empty() {
            original.to_vec()
        } else {
            narrowed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ScopePolicy {
        ScopePolicy {
            resource_scopes: vec!["claudeai".into(), "orders.read".into()],
            default_scopes: vec!["claudeai".into()],
        }
    }

    #[test]
    fn grammar() {
        assert!(is_scope_token("orders.read"));
        assert!(is_scope_token("a!#[]~"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("é"));
    }

    #[test]
    fn parse_drops_empty_tokens() {
        assert_eq!(parse("claudeai "), vec!["claudeai"]);
        assert_eq!(parse(" offline_access"), vec!["offline_access"]);
        assert_eq!(parse("a  b\ta a"), vec!["a", "b"]);
        assert!(parse("   ").is_empty());
    }

    #[test]
    fn grant_rules() {
        let p = policy();
        assert_eq!(p.grant(Some("claudeai ")), vec!["claudeai"]);
        assert_eq!(p.grant(None), vec!["claudeai"]);
        assert_eq!(p.grant(Some("openid profile")), vec!["claudeai"]);
        assert_eq!(
            p.grant(Some(" offline_access")),
            vec!["claudeai", "offline_access"]
        );
        assert_eq!(
            p.grant(Some("orders.read claudeai")),
            vec!["claudeai", "orders.read"]
        );
        assert_eq!(
            join(&p.grant(Some("orders.read  offline_access"))),
            "orders.read offline_access"
        );
    }

    #[test]
    fn narrow_rules() {
        let p = policy();
        let orig = vec!["claudeai".to_owned(), "orders.read".to_owned()];
        assert_eq!(p.narrow(&orig, Some("orders.read")), vec!["orders.read"]);
        assert_eq!(p.narrow(&orig, Some("admin")), orig);
        assert_eq!(p.narrow(&orig, None), orig);
    }
}
