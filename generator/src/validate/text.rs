//! Text: control and bidirectional characters in every string a person writes.

use super::*;

impl Checker<'_> {
    /// Every string and key of the spec: no control characters (tab, line feed and carriage
    /// return aside in text that may span lines) and no bidirectional controls; see
    /// [`text`](crate::text) for why.
    pub(super) fn text(&mut self, spec: &Value) {
        let mut stack = vec![(String::new(), spec, false)];
        while let Some((pointer, value, data)) = stack.pop() {
            match value {
                Value::String(s) => {
                    let key = pointer.rsplit('/').next().unwrap_or("");
                    let lines = data || MULTI_LINE_KEYS.contains(&key);
                    if let Some((at, bad)) = crate::text::first_forbidden(s, lines) {
                        let what = format!("`{}`", display_path(&pointer));
                        self.forbidden_char(&pointer, &what, at, bad, lines, false);
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        stack.push((format!("{pointer}/{i}"), item, data));
                    }
                }
                Value::Object(map) => {
                    let in_schema = {
                        let mut t = pointer.split('/');
                        t.nth(1) == Some("tools") && matches!(t.nth(1), Some("input" | "output"))
                    };
                    for (k, v) in map {
                        let here = push_pointer(&pointer, k);
                        if let Some((at, bad)) = crate::text::first_forbidden(k, false) {
                            let what = if pointer.is_empty() {
                                "a top-level key".to_owned()
                            } else {
                                format!("a key in `{}`", display_path(&pointer))
                            };
                            self.forbidden_char(&here, &what, at, bad, false, true);
                        }
                        let data = data || (in_schema && SCHEMA_DATA_KEYS.contains(&k.as_str()));
                        stack.push((here, v, data));
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn forbidden_char(
        &mut self,
        pointer: &str,
        what: &str,
        at: usize,
        bad: crate::text::Forbidden,
        lines: bool,
        key: bool,
    ) {
        use crate::text::Forbidden;
        // Names, scopes and URLs have rules of their own, already reported at this place.
        let span = if key {
            self.pos.key(pointer)
        } else {
            self.pos.value(pointer)
        };
        if self.diags.iter().any(|d| d.span == span) {
            return;
        }
        let message = match bad {
            Forbidden::Control(c) => format!(
                "{what} contains the control character U+{:04X} at character {at}",
                c as u32
            ),
            Forbidden::Bidi(c) => format!(
                "{what} contains the bidirectional control U+{:04X} at character {at}",
                c as u32
            ),
        };
        self.push(Diagnostic::new(message, span));
        self.help(match (bad, lines) {
            (Forbidden::Bidi(_), _) => "remove it: it makes text display in an order other than the one it is read in; write the text in its natural order".to_owned(),
            (Forbidden::Control(_), true) => "remove it: descriptions, instructions, templates and schema values may hold tab, line feed and carriage return, but no other control character".to_owned(),
            (Forbidden::Control(_), false) => "remove it: titles, names, keys and other one-line values hold no control characters (not even tab or line breaks; only descriptions, instructions, templates and schema values may span lines)".to_owned(),
        });
    }
}

/// Keys whose string values may span lines: tab, line feed and carriage return are allowed.
pub(super) const MULTI_LINE_KEYS: &[&str] = &["description", "instructions", "template"];

/// Schema keywords whose values are data (any string a tool may receive or return), where
/// tab, line feed and carriage return are allowed too.
pub(super) const SCHEMA_DATA_KEYS: &[&str] = &["default", "const", "enum", "examples"];
