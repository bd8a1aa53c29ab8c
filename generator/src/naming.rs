//! The one naming function: how spec names become Rust identifiers.

/// Words of a name, split at `-`, `_`, `.`, spaces and lower-to-upper case changes.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Rust keywords (all editions, reserved ones included) that cannot be plain identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// `snake_case` identifier for a field or method; keywords get a trailing `_`, a leading digit
/// a leading `_`, and a name with no letters or digits (`-`, `""`) becomes `unnamed` (`_` alone
/// is not an identifier).
pub fn snake(name: &str) -> String {
    let mut ident = words(name).join("_");
    if ident.is_empty() {
        return "unnamed".into();
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    if KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    }
    ident
}

/// `PascalCase` identifier for a type. `Self` is the only keyword a Pascal name can hit.
pub fn pascal(name: &str) -> String {
    let mut ident: String = words(name)
        .iter()
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, 'T');
    }
    if ident == "Self" {
        ident.push('_');
    }
    ident
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake("get_order_status"), "get_order_status");
        assert_eq!(snake("get-order-status"), "get_order_status");
        assert_eq!(snake("getOrderStatus"), "get_order_status");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("match"), "match_");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("2fa"), "_2fa");
        assert_eq!(snake("--"), "unnamed");
        assert_eq!(snake(""), "unnamed");
        assert_eq!(snake("HTTPServer"), "httpserver");
    }

    #[test]
    fn pascal_case_names() {
        assert_eq!(pascal("get_order_status"), "GetOrderStatus");
        assert_eq!(pascal("get-order"), "GetOrder");
        assert_eq!(pascal("self"), "Self_");
        assert_eq!(pascal("3d"), "T3d");
    }
}
