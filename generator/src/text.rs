//! Characters a spec's text must not hold: control characters and bidirectional controls.
//!
//! Spec text reaches a terminal (`mcpgen check`, logs), generated code and the consent page a
//! person reads before granting access. A C0/C1 control character there can drive a terminal
//! (escape sequences), and a bidirectional control can make text display in an order other
//! than the one it is read in (CVE-2021-42574, "Trojan Source").

pub use mcpgen_rules::is_bidi_control;

/// What is wrong with one character of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// A C0 or C1 control character, or DEL.
    Control(char),
    /// A bidirectional control (see [`is_bidi_control`]).
    Bidi(char),
}

/// The first forbidden character of `text` and its position, counted in characters from 1.
/// Tab, line feed and carriage return are allowed when `lines` is true (descriptions,
/// templates), forbidden otherwise (titles, names, URLs).
pub fn first_forbidden(text: &str, lines: bool) -> Option<(usize, Forbidden)> {
    text.chars().enumerate().find_map(|(i, c)| {
        let found = if is_bidi_control(c) {
            Forbidden::Bidi(c)
        } else if c.is_control() && !(lines && matches!(c, '\t' | '\n' | '\r')) {
            Forbidden::Control(c)
        } else {
            return None;
        };
        Some((i + 1, found))
    })
}

/// `text` with every control character (but line feed, tab and carriage return) and every
/// bidirectional control replaced by a visible character of the same UTF-8 length (`?`, `¿`
/// or U+FFFD), so byte offsets into it stay valid: for printing a spec to a terminal.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(c);
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| match c {
            c if !bad(c) => c,
            c => match c.len_utf8() {
                1 => '?',
                2 => '\u{BF}',
                _ => '\u{FFFD}',
            },
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_allow_only_tab_lf_cr() {
        assert_eq!(first_forbidden("a\tb\r\nc", true), None);
        assert_eq!(
            first_forbidden("a\tb", false),
            Some((2, Forbidden::Control('\t')))
        );
        assert_eq!(
            first_forbidden("ok \u{1b}[2J", true),
            Some((4, Forbidden::Control('\u{1b}')))
        );
        assert_eq!(
            first_forbidden("x\u{85}", true),
            Some((2, Forbidden::Control('\u{85}')))
        );
        assert_eq!(
            first_forbidden("é\u{202E}gnp.exe", true),
            Some((2, Forbidden::Bidi('\u{202E}')))
        );
        assert_eq!(first_forbidden("Ünïcødé — ok", false), None);
    }

    #[test]
    fn shown_keeps_byte_offsets() {
        for s in ["a\u{1b}b", "\u{9b}x", "\u{202E}y\u{061C}", "plain\n"] {
            let out = shown(s);
            assert_eq!(out.len(), s.len(), "{out:?}");
            assert!(first_forbidden(&out, true).is_none(), "{out:?}");
        }
    }
}
