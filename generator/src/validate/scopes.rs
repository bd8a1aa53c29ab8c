//! Scopes: RFC 6749 scope-tokens, declared once, referenced only when declared.

use super::*;

impl Checker<'_> {
    pub(super) fn bad_scope(&mut self, pointer: &str, scope: &str, key: bool) {
        let why = scope_problem(scope).unwrap_or_else(|| "is not a scope-token".into());
        let message = if scope.is_empty() {
            "scope name is empty".to_string()
        } else {
            format!("scope `{}` {why}", scope.escape_debug())
        };
        if key {
            self.at_key(pointer, message);
        } else {
            self.at_value(pointer, message);
        }
        self.help(SCOPE_HELP);
    }

    pub(super) fn unique_strings(&mut self, pointer: &str, spec: &Value, what: &str) {
        let Some(items) = spec.pointer(pointer).and_then(Value::as_array) else {
            return;
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.as_str() else { continue };
            if let Some(first) = seen.get(s) {
                let first = self.pos.value(&format!("{pointer}/{first}"));
                self.at_value(
                    &format!("{pointer}/{i}"),
                    format!("{what} `{s}` is listed twice"),
                )
                .related
                .push((first, "first listed here".into()));
            } else {
                seen.insert(s, i);
            }
        }
    }

    pub(super) fn scope_refs(
        &mut self,
        pointer: &str,
        spec: &Value,
        declared: &[String],
        auth_none: bool,
    ) {
        let Some(items) = spec.pointer(pointer).and_then(Value::as_array) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.as_str() else { continue };
            if scope_problem(s).is_some() || declared.iter().any(|d| d == s) {
                continue;
            }
            let at = format!("{pointer}/{i}");
            if auth_none {
                self.at_value(&at, format!("scope `{s}` is named, but `auth` is `none`"));
                self.help("a server without authentication has no scopes; remove this list");
            } else {
                self.at_value(&at, format!("scope `{s}` is not declared"));
                let valid = declared
                    .iter()
                    .map(String::as_str)
                    .filter(|d| scope_problem(d).is_none());
                match nearest(s, valid) {
                    Some(near) => self.help(format!("did you mean `{near}`?")),
                    None => self.help(format!(
                        "declare it under `auth.scopes`: `{s}: {{ description: ... }}`"
                    )),
                }
            }
        }
    }
}

/// Why a string is not an RFC 6749 scope-token, in words; `None` when it is one
/// ([`mcpgen_rules::is_scope_token`] decides).
pub fn scope_problem(scope: &str) -> Option<String> {
    if is_scope_token(scope) {
        return None;
    }
    if scope.is_empty() {
        return Some("is empty".into());
    }
    if scope.starts_with(' ') {
        return Some("starts with a space".into());
    }
    if scope.ends_with(' ') {
        return Some("ends with a space".into());
    }
    for c in scope.chars() {
        let problem = match c {
            ' ' => "contains a space".to_string(),
            '"' => "contains a double quote".to_string(),
            '\\' => "contains a backslash".to_string(),
            c if c.is_ascii_control() => {
                format!("contains the control character U+{:04X}", c as u32)
            }
            c if !c.is_ascii() => format!("contains the non-ASCII character `{c}`"),
            _ => continue,
        };
        return Some(problem);
    }
    Some("is not a scope-token".into())
}

pub(super) const SCOPE_HELP: &str = "a scope is an RFC 6749 scope-token: printable ASCII with no spaces, quotes or backslashes; clients join scopes with spaces, so one bad scope corrupts every token request";
