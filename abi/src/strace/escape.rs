//! String quoting exactly as strace prints guest strings and buffers.
//!
//! strace escapes with C syntax: the usual backslash escapes, printable
//! ASCII as is, and everything else in octal (hex when forced, e.g. for
//! `getrandom` output). Octal escapes are shortest form unless the next
//! printed byte is an octal digit, where a short escape would be ambiguous.

/// How non-printable bytes are escaped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// strace's default: `\n`, `\t`, ..., then octal (`\0`, `\33`, `\377`).
    Octal,
    /// Every byte as `\xNN` (strace's style for random/binary data).
    Hex,
}

/// Quote `bytes` in double quotes; `truncated` appends `...` after the
/// closing quote, which is how strace marks output cut at its `-s` limit.
pub fn quote(bytes: &[u8], truncated: bool, style: Style) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    out.push('"');
    for (i, &b) in bytes.iter().enumerate() {
        match style {
            Style::Hex => push_hex(&mut out, b),
            Style::Octal => push_escaped(&mut out, b, bytes.get(i + 1).copied()),
        }
    }
    out.push('"');
    if truncated {
        out.push_str("...");
    }
    out
}

fn push_hex(out: &mut String, b: u8) {
    out.push_str(&format!("\\x{b:02x}"));
}

/// Escape one byte; `next` decides between short and 3-digit octal.
fn push_escaped(out: &mut String, b: u8, next: Option<u8>) {
    let simple = match b {
        b'"' => Some("\\\""),
        b'\\' => Some("\\\\"),
        b'\n' => Some("\\n"),
        b'\t' => Some("\\t"),
        b'\r' => Some("\\r"),
        0x0c => Some("\\f"),
        0x0b => Some("\\v"),
        _ => None,
    };
    if let Some(s) = simple {
        out.push_str(s);
    } else if (0x20..0x7f).contains(&b) {
        out.push(b as char);
    } else if next.is_some_and(|n| (b'0'..=b'7').contains(&n)) {
        out.push_str(&format!("\\{b:03o}"));
    } else {
        out.push_str(&format!("\\{b:o}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_strace() {
        // Checked against strace 6.1: write(1, "a\tb\"c\\d\1\177\377\0001\0end", 16)
        let s = quote(b"a\tb\"c\\d\x01\x7f\xff\x001\x00end", false, Style::Octal);
        assert_eq!(s, r#""a\tb\"c\\d\1\177\377\0001\0end""#);
    }

    #[test]
    fn truncation_marker_follows_quote() {
        assert_eq!(quote(b"ab", true, Style::Octal), "\"ab\"...");
    }

    #[test]
    fn hex_style_escapes_everything() {
        assert_eq!(quote(b"\x8e1", false, Style::Hex), r#""\x8e\x31""#);
    }

    #[test]
    fn form_feed_and_vtab() {
        assert_eq!(quote(b"\x0c\x0b\r", false, Style::Octal), r#""\f\v\r""#);
    }
}
