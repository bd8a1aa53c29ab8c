//! OAuth scopes (RFC 6749 §3.3): the grammar of a scope token and of a `scope` value, and how
//! a received `scope` is parsed and a list of tokens is joined.
//!
//! ```text
//! scope       = scope-token *( SP scope-token )
//! scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
//! ```

/// The `scope-token` production as a JSON Schema (ECMA-262) `pattern`, for the spec's schema.
/// Accepts exactly the strings [`is_scope_token`] accepts.
pub const SCOPE_TOKEN_PATTERN: &str = r"^[\x21\x23-\x5B\x5D-\x7E]+$";

/// Whether `s` is one RFC 6749 `scope-token`: one or more printable ASCII characters other
/// than space, `"` and `\`.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Whether `s` is a normalised RFC 6749 `scope` value: scope tokens separated by single
/// spaces, with no leading or trailing space. What a server must send; [`parse`] is lenient
/// about what it receives.
pub fn is_scope(s: &str) -> bool {
    s.split(' ').all(is_scope_token)
}

/// Splits a received `scope` on runs of ASCII whitespace, dropping empty tokens and
/// duplicates (order kept). `"claudeai "`, `" offline_access"` and `"a\t b"` all parse
/// cleanly; tokens are not checked against the grammar.
pub fn parse(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in raw.split(|c: char| c.is_ascii_whitespace()) {
        if !token.is_empty() && !out.iter().any(|t| t == token) {
            out.push(token.to_owned());
        }
    }
    out
}

/// Joins scope tokens with single spaces, skipping empty ones. When every token passes
/// [`is_scope_token`] and there is at least one, the result passes [`is_scope`].
pub fn join<S: AsRef<str>>(scopes: &[S]) -> String {
    let mut out = String::new();
    for s in scopes {
        let s = s.as_ref();
        if s.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens() {
        for s in [
            "orders.read",
            "a!#[]~",
            "claudeai",
            "urn:x:y",
            "https://x/y",
        ] {
            assert!(is_scope_token(s), "{s}");
        }
        for s in ["", "a b", "a\"b", "a\\b", "é", "a\tb", "a\u{7f}", "\u{0}"] {
            assert!(!is_scope_token(s), "{s:?}");
        }
    }

    #[test]
    fn every_ascii_byte_is_decided_as_the_rfc_says() {
        for b in 0u8..=0x7f {
            let allowed = b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
            let s = char::from(b).to_string();
            assert_eq!(is_scope_token(&s), allowed, "byte {b:#04x}");
        }
    }

    #[test]
    fn scope_values() {
        for s in ["a", "a b", "claudeai orders.read offline_access"] {
            assert!(is_scope(s), "{s:?}");
        }
        for s in ["", " a", "a ", "a  b", "a\tb", "a \"b\""] {
            assert!(!is_scope(s), "{s:?}");
        }
    }

    #[test]
    fn parse_is_lenient_and_join_is_strict() {
        assert_eq!(parse("claudeai "), ["claudeai"]);
        assert_eq!(parse(" a\t b  a"), ["a", "b"]);
        assert!(parse("  ").is_empty());
        assert_eq!(join(&["a", "", "b"]), "a b");
        assert_eq!(join::<&str>(&[]), "");
        assert!(is_scope(&join(&parse(" x\ty  x "))));
    }
}
