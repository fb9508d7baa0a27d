//! Character classes as the Linux kernel's `lib/ctype.c` defines them.
//!
//! n_tty decides echo width, `^X` echoes, word boundaries for VWERASE and
//! case mapping with the kernel's own table, which is ISO-8859-1 aware and
//! differs from both ASCII and C locales: bytes 0x80-0x9f are neither
//! control nor printable there (so they echo raw and take a column), and
//! 0xc0-0xff are letters. Using `u8::is_ascii_*` would change what users
//! see on screen, so these mirror the kernel table exactly.

/// `iscntrl`: only C0 controls and DEL.
pub(crate) fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// `isupper`: ASCII and Latin-1 capitals (0xd7, the multiplication sign, is
/// punctuation).
pub(crate) fn is_upper(c: u8) -> bool {
    c.is_ascii_uppercase() || ((0xc0..=0xde).contains(&c) && c != 0xd7)
}

/// `islower`: ASCII and Latin-1 small letters (0xf7, the division sign, is
/// punctuation; 0xdf sharp s counts as lower case).
pub(crate) fn is_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || (c >= 0xdf && c != 0xf7)
}

/// `isalnum`, which VWERASE uses to find the end of a word.
pub(crate) fn is_alnum(c: u8) -> bool {
    c.is_ascii_digit() || is_upper(c) || is_lower(c)
}

/// The kernel's `tolower` (IUCLC): moves upper case letters by 32.
pub(crate) fn to_lower(c: u8) -> u8 {
    if is_upper(c) {
        c + 32
    } else {
        c
    }
}

/// The kernel's `toupper` (OLCUC): moves lower case letters by 32, which
/// maps 0xdf to 0xbf and 0xff to 0xdf exactly as Linux does.
pub(crate) fn to_upper(c: u8) -> u8 {
    if is_lower(c) {
        c - 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_kernel_table() {
        assert!(is_cntrl(0) && is_cntrl(0x1f) && is_cntrl(0x7f));
        assert!(!is_cntrl(0x80) && !is_cntrl(0x9f) && !is_cntrl(b' '));
        assert!(is_alnum(b'z') && is_alnum(b'0') && is_alnum(0xe9) && is_alnum(0xc0));
        assert!(!is_alnum(b'_') && !is_alnum(0xd7) && !is_alnum(0xf7) && !is_alnum(0xa0));
        assert_eq!(to_lower(b'A'), b'a');
        assert_eq!(to_lower(0xc9), 0xe9);
        assert_eq!(to_lower(0xd7), 0xd7);
        assert_eq!(to_upper(b'q'), b'Q');
        assert_eq!(to_upper(0xdf), 0xbf);
        assert_eq!(to_upper(0xff), 0xdf);
        assert_eq!(to_upper(0xf7), 0xf7);
    }

    #[test]
    fn case_mapping_never_overflows() {
        for c in 0..=255u8 {
            let _ = (to_lower(c), to_upper(c));
        }
    }
}
