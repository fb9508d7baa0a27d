//! The echo queue: what the line discipline has decided to show the user
//! but has not yet sent to the terminal.
//!
//! Echo is not written the moment a key is processed, because Linux does
//! not do that either, and the difference is visible:
//!
//! * echo is sent at the end of each received batch (or every 256 queued
//!   bytes), so an `INTR` that flushes input also throws away the echo of
//!   the keys typed before it in the same batch (`"ab^C"` echoes only `^C`);
//! * while output is stopped (`^S`), echo waits here and appears on `^Q`;
//! * column bookkeeping (line start column, tab erase width) happens when
//!   the echo is *sent*, after any program output written in between.
//!
//! Entries are kept as operations, like n_tty's echo ring, and rendered by
//! [`Echo::run`]; the sizes n_tty gives them in its ring are kept so the
//! 256-byte commit points and the overflow discard match Linux.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::ctype::is_cntrl;
use crate::output::Columns;
use crate::termios::{flags::*, Termios};

/// Queued echo is sent once this many bytes are waiting (n_tty's
/// `ECHO_COMMIT_WATERMARK`)...
const ECHO_COMMIT_WATERMARK: usize = 256;
/// ...and again each time another block of this size accumulates.
const ECHO_BLOCK: usize = 256;
/// Sent-but-stuck echo beyond this is dropped, oldest first, so a stopped
/// terminal cannot make the queue grow without bound.
const ECHO_DISCARD_WATERMARK: usize = N_TTY_BUF_SIZE - (ECHO_BLOCK + 32);

/// One queued echo action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum EchoOp {
    /// A byte echoed as itself, through OPOST when that is on.
    Byte(u8),
    /// A control character echoed as `^X` (ECHOCTL).
    Ctl(u8),
    /// The cursor moved back one column without output (ECHOPRT erase of
    /// a UTF-8 continuation byte).
    MoveBackCol,
    /// A new input line starts here: remember the column for tab erase.
    SetCanonCol,
    /// Back up over an erased tab. Low 3 bits: columns used since the
    /// previous tab or line start (mod 8); bit 7: measured from a tab.
    EraseTab(u8),
}

impl EchoOp {
    /// Bytes the operation takes in n_tty's echo ring.
    fn size(self) -> usize {
        match self {
            EchoOp::Byte(0xff) => 2,
            EchoOp::Byte(_) => 1,
            EchoOp::Ctl(_) | EchoOp::MoveBackCol | EchoOp::SetCanonCol => 2,
            EchoOp::EraseTab(_) => 3,
        }
    }
}

/// The echo queue and the cursor column it renders against.
///
/// `committed` and `marked` count operations from the front of `ops`, the
/// way n_tty's `echo_commit` and `echo_mark` index its ring: committed
/// echo may be sent now, marked echo is what `process` may commit.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Echo {
    pub cols: Columns,
    ops: VecDeque<EchoOp>,
    bytes: usize,
    committed: usize,
    committed_bytes: usize,
    marked: usize,
    marked_bytes: usize,
}

impl Echo {
    fn push(&mut self, op: EchoOp) {
        self.bytes += op.size();
        self.ops.push_back(op);
    }

    /// Echo `c` literally.
    pub(crate) fn raw(&mut self, c: u8) {
        self.push(EchoOp::Byte(c));
    }

    /// Echo typed input `c`: control characters other than tab become `^X`
    /// under ECHOCTL.
    pub(crate) fn char(&mut self, c: u8, t: &Termios) {
        if t.l(ECHOCTL) && is_cntrl(c) && c != b'\t' {
            self.push(EchoOp::Ctl(c));
        } else {
            self.push(EchoOp::Byte(c));
        }
    }

    pub(crate) fn move_back_col(&mut self) {
        self.push(EchoOp::MoveBackCol);
    }

    pub(crate) fn set_canon_col(&mut self) {
        self.push(EchoOp::SetCanonCol);
    }

    /// Queue a tab erase; `num_chars` are the columns used since the
    /// previous tab (`after_tab`) or since the line start.
    pub(crate) fn erase_tab(&mut self, num_chars: u32, after_tab: bool) {
        let flag = if after_tab { 0x80 } else { 0 };
        self.push(EchoOp::EraseTab((num_chars & 7) as u8 | flag));
    }

    /// True if nothing is queued.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// After queueing echo for one input character (n_tty `commit_echoes`):
    /// marks everything queued, and sends it only at block boundaries, so
    /// that ordinary typing is sent by [`Echo::flush`] at the batch end.
    pub(crate) fn commit(&mut self, t: &Termios, space: usize, out: &mut Vec<u8>) {
        self.marked = self.ops.len();
        self.marked_bytes = self.bytes;
        let (nr, old) = (self.bytes, self.committed_bytes);
        if nr < ECHO_COMMIT_WATERMARK || nr % ECHO_BLOCK > old % ECHO_BLOCK {
            return;
        }
        self.committed = self.ops.len();
        self.committed_bytes = self.bytes;
        self.run(t, space, out);
    }

    /// Send what was marked (n_tty `process_echoes`): used when output
    /// restarts and before program output.
    pub(crate) fn process(&mut self, t: &Termios, space: usize, out: &mut Vec<u8>) {
        if self.marked == 0 {
            return;
        }
        self.committed = self.marked;
        self.committed_bytes = self.marked_bytes;
        self.run(t, space, out);
    }

    /// Send everything queued (n_tty `flush_echoes`, at the end of a batch).
    pub(crate) fn flush(&mut self, t: &Termios, space: usize, out: &mut Vec<u8>) {
        if !(t.l(ECHO) || t.l(ECHONL)) || self.committed == self.ops.len() {
            return;
        }
        self.committed = self.ops.len();
        self.committed_bytes = self.bytes;
        self.run(t, space, out);
    }

    /// Forget all queued echo (input flush, or a signal character).
    pub(crate) fn reset(&mut self) {
        let cols = self.cols;
        *self = Echo {
            cols,
            ..Echo::default()
        };
    }

    /// Render committed operations while `space` allows (zero when output
    /// is stopped), then drop the oldest if too much is stuck.
    fn run(&mut self, t: &Termios, mut space: usize, out: &mut Vec<u8>) {
        while self.committed > 0 {
            let Some(&op) = self.ops.front() else {
                break;
            };
            match self.render(op, t, space, out) {
                Some(used) => space = space.saturating_sub(used),
                None => break,
            }
            self.pop_front();
        }
        while self.committed > 0 && self.committed_bytes >= ECHO_DISCARD_WATERMARK {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        let Some(op) = self.ops.pop_front() else {
            return;
        };
        let size = op.size();
        self.bytes = self.bytes.saturating_sub(size);
        if self.committed > 0 {
            self.committed -= 1;
            self.committed_bytes = self.committed_bytes.saturating_sub(size);
        }
        if self.marked > 0 {
            self.marked -= 1;
            self.marked_bytes = self.marked_bytes.saturating_sub(size);
        }
    }

    /// Send one operation; `None` if it does not fit in `space`.
    fn render(
        &mut self,
        op: EchoOp,
        t: &Termios,
        space: usize,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let cols = &mut self.cols;
        match op {
            // 0xff is n_tty's escape byte: it always goes out raw.
            EchoOp::Byte(0xff) => emit(out, space, &[0xff], || {
                cols.column = cols.column.wrapping_add(1)
            }),
            EchoOp::Byte(c) if t.o(OPOST) => cols.output_char(c, t, space, out),
            EchoOp::Byte(c) => emit(out, space, &[c], || {}),
            EchoOp::Ctl(c) => emit(out, space, &[b'^', c ^ 0o100], || {
                cols.column = cols.column.wrapping_add(2)
            }),
            EchoOp::MoveBackCol => {
                cols.column = cols.column.saturating_sub(1);
                Some(0)
            }
            EchoOp::SetCanonCol => {
                cols.canon_column = cols.column;
                Some(0)
            }
            EchoOp::EraseTab(n) => erase_tab(cols, n, space, out),
        }
    }
}

/// Appends `bytes` and runs `moved` (the column update) if they fit.
fn emit(out: &mut Vec<u8>, space: usize, bytes: &[u8], moved: impl FnOnce()) -> Option<usize> {
    if space < bytes.len() {
        return None;
    }
    out.extend_from_slice(bytes);
    moved();
    Some(bytes.len())
}

/// Backspaces over a tab: the tab spanned from the previous tab stop, so
/// its width is 8 minus the columns used since then (measured from the line
/// start column when no tab precedes it on the line).
fn erase_tab(cols: &mut Columns, n: u8, space: usize, out: &mut Vec<u8>) -> Option<usize> {
    let mut num_chars = u32::from(n);
    if n & 0x80 == 0 {
        num_chars = num_chars.wrapping_add(cols.canon_column);
    }
    let num_bs = (8 - (num_chars & 7)) as usize;
    if num_bs > space {
        return None;
    }
    out.resize(out.len() + num_bs, 0x08);
    cols.column = cols.column.saturating_sub(num_bs as u32);
    Some(num_bs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushed(e: &mut Echo, t: &Termios) -> Vec<u8> {
        let mut out = Vec::new();
        e.flush(t, usize::MAX, &mut out);
        out
    }

    #[test]
    fn control_echo_and_columns() {
        let t = Termios::linux_default();
        let mut e = Echo::default();
        e.char(b'a', &t);
        e.char(0x03, &t);
        e.char(b'\t', &t);
        e.char(0xff, &t);
        assert_eq!(flushed(&mut e, &t), b"a^C\t\xff");
        assert_eq!(e.cols.column, 9);
        assert!(e.is_empty());
    }

    #[test]
    fn erase_tab_uses_canon_column() {
        let t = Termios::linux_default();
        let mut e = Echo::default();
        e.cols.column = 3; // a prompt of three columns
        e.set_canon_col();
        e.raw(b'\t');
        e.erase_tab(0, false);
        assert_eq!(flushed(&mut e, &t), b"\t\x08\x08\x08\x08\x08");
        assert_eq!(e.cols.column, 3);
    }

    #[test]
    fn commit_waits_for_block_boundary() {
        let t = Termios::linux_default();
        let mut e = Echo::default();
        let mut out = Vec::new();
        for _ in 0..255 {
            e.raw(b'x');
            e.commit(&t, usize::MAX, &mut out);
        }
        assert!(out.is_empty());
        e.raw(b'x');
        e.commit(&t, usize::MAX, &mut out);
        assert_eq!(out.len(), 256);
    }

    #[test]
    fn stopped_output_holds_then_discards_oldest() {
        let t = Termios::linux_default();
        let mut e = Echo::default();
        let mut out = Vec::new();
        for _ in 0..5000 {
            e.raw(b'y');
            e.commit(&t, 0, &mut out);
        }
        e.flush(&t, 0, &mut out);
        assert!(out.is_empty());
        assert!(e.bytes < ECHO_DISCARD_WATERMARK);
        e.process(&t, usize::MAX, &mut out);
        assert!(!out.is_empty() && out.len() < ECHO_DISCARD_WATERMARK);
    }
}
