//! OPOST output processing and the cursor column it tracks.
//!
//! The column is shared by program output and echo: erasing a tab has to
//! know where the tab started, which depends on everything written to the
//! terminal since the last newline, whoever wrote it. That is why the column
//! lives here and echo rendering goes through [`Columns::output_char`].

use serde::{Deserialize, Serialize};

use crate::ctype::{is_cntrl, to_upper};
use crate::termios::{flags::*, Termios};

/// Where n_tty believes the cursor is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Columns {
    /// Current cursor column as far as OPOST processing can tell.
    pub column: u32,
    /// Column where the current input line's echo began (after the prompt);
    /// tab erase measures from here when the line has no earlier tab.
    pub canon_column: u32,
}

/// A UTF-8 continuation byte takes no column when the terminal is IUTF8.
pub(crate) fn is_continuation(c: u8, t: &Termios) -> bool {
    t.i(IUTF8) && c & 0xc0 == 0x80
}

impl Columns {
    /// One byte through OPOST (Linux `do_output_char`): appends what the
    /// terminal receives to `out` and returns how many bytes that was, or
    /// `None` if they do not fit in `space` (the byte is then not consumed).
    pub(crate) fn output_char(
        &mut self,
        c: u8,
        t: &Termios,
        space: usize,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        if space == 0 {
            return None;
        }
        let c = match c {
            b'\n' => return self.newline(t, space, out),
            b'\r' => match self.carriage_return(t) {
                Some(c) => c,
                None => return Some(0),
            },
            b'\t' => return self.tab(t, space, out),
            0x08 => {
                self.column = self.column.saturating_sub(1);
                c
            }
            _ => self.printable(c, t),
        };
        out.push(c);
        Some(1)
    }

    /// `\n`: ONLCR turns it into CR LF; ONLRET means it also returns the
    /// carriage. Either way a new input line starts at the resulting column.
    fn newline(&mut self, t: &Termios, space: usize, out: &mut Vec<u8>) -> Option<usize> {
        if t.o(ONLRET) {
            self.column = 0;
        }
        if t.o(ONLCR) {
            if space < 2 {
                return None;
            }
            self.column = 0;
            self.canon_column = 0;
            out.extend_from_slice(b"\r\n");
            return Some(2);
        }
        self.canon_column = self.column;
        out.push(b'\n');
        Some(1)
    }

    /// `\r`: dropped at column 0 under ONOCR, turned into `\n` by OCRNL.
    /// Returns the byte to send, or `None` to send nothing.
    fn carriage_return(&mut self, t: &Termios) -> Option<u8> {
        if t.o(ONOCR) && self.column == 0 {
            return None;
        }
        if t.o(OCRNL) {
            if t.o(ONLRET) {
                self.column = 0;
                self.canon_column = 0;
            }
            return Some(b'\n');
        }
        self.column = 0;
        self.canon_column = 0;
        Some(b'\r')
    }

    /// `\t` moves to the next multiple of 8; XTABS (TAB3) sends spaces.
    fn tab(&mut self, t: &Termios, space: usize, out: &mut Vec<u8>) -> Option<usize> {
        let spaces = 8 - (self.column & 7);
        if t.oflag & TABDLY == XTABS {
            if space < spaces as usize {
                return None;
            }
            self.column = self.column.wrapping_add(spaces);
            out.resize(out.len() + spaces as usize, b' ');
            return Some(spaces as usize);
        }
        self.column = self.column.wrapping_add(spaces);
        out.push(b'\t');
        Some(1)
    }

    /// Any other byte: printable ones take a column (OLCUC upper-cases them);
    /// other controls pass through without moving the cursor.
    fn printable(&mut self, c: u8, t: &Termios) -> u8 {
        if is_cntrl(c) {
            return c;
        }
        let c = if t.o(OLCUC) { to_upper(c) } else { c };
        if !is_continuation(c, t) {
            self.column = self.column.wrapping_add(1);
        }
        c
    }

    /// Program output (`write(2)` to the terminal): OPOST processing when it
    /// is on, otherwise the bytes pass untouched and the column is not
    /// tracked, exactly as n_tty does.
    pub(crate) fn process_output(&mut self, bytes: &[u8], t: &Termios, out: &mut Vec<u8>) {
        if !t.o(OPOST) {
            out.extend_from_slice(bytes);
            return;
        }
        for &c in bytes {
            let _ = self.output_char(c, t, usize::MAX, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &Termios, cols: &mut Columns, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        cols.process_output(bytes, t, &mut out);
        out
    }

    fn with_oflag(oflag: u32) -> Termios {
        Termios {
            oflag,
            ..Termios::linux_default()
        }
    }

    #[test]
    fn onlcr_and_columns() {
        let t = Termios::linux_default();
        let mut c = Columns::default();
        assert_eq!(run(&t, &mut c, b"ab\ncd"), b"ab\r\ncd");
        assert_eq!(c.column, 2);
        assert_eq!(run(&t, &mut c, b"\t"), b"\t");
        assert_eq!(c.column, 8);
        assert_eq!(run(&t, &mut c, b"\x08\x08x"), b"\x08\x08x");
        assert_eq!(c.column, 7);
        assert_eq!(run(&t, &mut c, b"\r"), b"\r");
        assert_eq!((c.column, c.canon_column), (0, 0));
    }

    #[test]
    fn no_opost_passes_bytes_and_keeps_column() {
        let t = with_oflag(ONLCR);
        let mut c = Columns::default();
        assert_eq!(run(&t, &mut c, b"ab\n\t"), b"ab\n\t");
        assert_eq!(c.column, 0);
    }

    #[test]
    fn ocrnl_onocr_onlret_olcuc_xtabs() {
        let mut c = Columns::default();
        assert_eq!(run(&with_oflag(OPOST | OCRNL), &mut c, b"a\rb"), b"a\nb");
        let mut c = Columns::default();
        assert_eq!(run(&with_oflag(OPOST | ONOCR), &mut c, b"\rx\r"), b"x\r");
        let mut c = Columns::default();
        let t = with_oflag(OPOST | ONLRET);
        assert_eq!(run(&t, &mut c, b"abc\n"), b"abc\n");
        assert_eq!(c.column, 0);
        let mut c = Columns::default();
        assert_eq!(
            run(&with_oflag(OPOST | OLCUC), &mut c, b"a1\xe9"),
            b"A1\xc9"
        );
        let mut c = Columns::default();
        assert_eq!(
            run(&with_oflag(OPOST | XTABS), &mut c, b"ab\tc"),
            b"ab      c"
        );
        assert_eq!(c.column, 9);
    }

    #[test]
    fn utf8_continuations_take_no_column() {
        let mut t = Termios::linux_default();
        t.iflag |= IUTF8;
        let mut c = Columns::default();
        run(&t, &mut c, "é€".as_bytes());
        assert_eq!(c.column, 2);
    }
}
