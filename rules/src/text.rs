//! Characters that must not reach a person's screen raw: a C0/C1 control character can drive a
//! terminal (escape sequences) or fake a line of a log or report, and a Unicode bidirectional
//! control can make text display in an order other than the one it is read in
//! (CVE-2021-42574, "Trojan Source").

/// The Unicode bidirectional controls: ALM (U+061C), LRM, RLM (U+200E, U+200F), LRE/RLE/PDF/
/// LRO/RLO (U+202A–U+202E) and LRI/RLI/FSI/PDI (U+2066–U+2069) (Unicode Standard Annex #9,
/// table 1).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A control character (C0, DEL, C1; tab and line breaks included) or a bidirectional control:
/// what one line of text shown to a person (a log value, a client's name, a report line) may
/// not hold raw.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_controls_are_unsafe() {
        for c in [
            '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{61c}', '\u{202e}', '\u{2069}',
        ] {
            assert!(is_unsafe_char(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '\u{200d}', '\u{2028}'] {
            assert!(!is_unsafe_char(c), "{c:?}");
        }
        assert!(is_bidi_control('\u{202a}') && !is_bidi_control('\u{1b}'));
    }
}
