//! Input processing, the canonical line buffer and `read(2)`: the part of
//! Linux's `drivers/tty/n_tty.c` a terminal's reader and typist see.
//!
//! The state mirrors n_tty's so that edge cases come out the same: one
//! 4096-byte input queue holding completed lines followed by the line being
//! edited, with a per-byte end-of-line flag (an `EOF` ends a line with a
//! flagged NUL that readers never see), and the absolute counters
//! `read_tail`/`canon_head` whose equalities n_tty's decisions are phrased
//! in. Bytes that arrive while the queue is full wait in a backlog, as they
//! wait in the tty flip buffer on Linux.

use std::collections::VecDeque;
use std::mem::take;

use serde::{Deserialize, Serialize};

use crate::ctype::{is_alnum, is_cntrl, to_lower};
use crate::echo::Echo;
use crate::output::is_continuation;
use crate::termios::{flags::*, Termios};
use crate::{FlowAction, InputEffects, JobSignal, ReadOutcome, Winsize};

/// Input accepted beyond what the queue can take waits here, up to this many
/// bytes (the tty layer's flip-buffer limit, `TTYB_DEFAULT_MEM_LIMIT`);
/// anything more is refused, see [`InputEffects::accepted`].
pub const BACKLOG_LIMIT: usize = 65536;

/// One byte of the input queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Slot {
    byte: u8,
    /// Ends a canonical line (newline, EOL, EOL2, or the NUL left by EOF).
    eol: bool,
}

/// Which kind of erase an erase character asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Erase {
    Char,
    Word,
    Line,
}

/// Everything guest-visible about one terminal's line discipline; serde so a
/// checkpoint can save it exactly (pending input, partial line, echo column
/// state...).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LineDiscipline {
    termios: Termios,
    winsize: Winsize,
    /// Unread input, oldest first: completed lines, then the line being
    /// edited (canonical mode) or just bytes (non-canonical).
    queue: VecDeque<Slot>,
    /// Absolute count of bytes consumed from the front of `queue`
    /// (n_tty `read_tail`); reset to 0 by a flush.
    tail: u64,
    /// Absolute position just past the last completed line
    /// (n_tty `canon_head`).
    canon_head: u64,
    echo: Echo,
    /// Received but not yet processed, because the queue was full.
    backlog: VecDeque<u8>,
    /// Terminal output produced outside `input`/`output` (released echo);
    /// handed out first by the next call, or by `take_pending_output`.
    pending_output: Vec<u8>,
    /// ECHOPRT: inside a `\...` erase sequence, to be closed by `/`.
    erasing: bool,
    /// The previous character was VLNEXT: take the next one literally.
    lnext: bool,
    /// Output stopped by VSTOP (or TCOOFF).
    stopped: bool,
    /// Output stopped by TCOOFF, which only TCOON undoes.
    tco_stopped: bool,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDiscipline {
    /// A fresh terminal: `Termios::linux_default()`, empty queues, winsize 0.
    pub fn new() -> Self {
        LineDiscipline {
            termios: Termios::linux_default(),
            winsize: Winsize::default(),
            queue: VecDeque::new(),
            tail: 0,
            canon_head: 0,
            echo: Echo::default(),
            backlog: VecDeque::new(),
            pending_output: Vec::new(),
            erasing: false,
            lnext: false,
            stopped: false,
            tco_stopped: false,
        }
    }

    /// TCGETS.
    pub fn termios(&self) -> Termios {
        self.termios
    }

    /// TCSETS / TCSETSW / TCSETSF (`flush_input` for TCSETSF, which flushes
    /// before the change; waiting for output to drain is the caller's job).
    ///
    /// Switching ICANON off makes a pending partial line readable; switching
    /// it on turns pending input into one readable line without a
    /// terminator, as Linux does. Clearing IXON restarts stopped output; any
    /// echo released by that is in [`LineDiscipline::take_pending_output`].
    /// Call [`LineDiscipline::input`] with no bytes afterwards if
    /// [`LineDiscipline::backlog`] is non-zero.
    pub fn set_termios(&mut self, t: Termios, flush_input: bool) {
        if flush_input {
            self.flush_input();
        }
        let old = std::mem::replace(&mut self.termios, t);
        if (old.lflag ^ t.lflag) & (ICANON | EXTPROC) != 0 {
            self.switch_mode();
        }
        if !t.i(IXON) && old.i(IXON) && !self.tco_stopped {
            self.start_output();
            let space = self.space();
            self.echo.process(&t, space, &mut self.pending_output);
        }
    }

    /// Re-reads the queue under the new ICANON setting: line boundaries are
    /// forgotten, and entering canonical mode with data makes all of it one
    /// pushed line (n_tty_set_termios).
    fn switch_mode(&mut self) {
        for s in &mut self.queue {
            s.eol = false;
        }
        if self.termios.l(ICANON) && !self.queue.is_empty() {
            if let Some(last) = self.queue.back_mut() {
                last.eol = true;
            }
            self.canon_head = self.head();
        } else {
            self.canon_head = self.tail;
        }
        self.erasing = false;
        self.lnext = false;
    }

    /// TIOCGWINSZ.
    pub fn winsize(&self) -> Winsize {
        self.winsize
    }

    /// TIOCSWINSZ. Returns true if the size changed, in which case the
    /// kernel sends SIGWINCH to the foreground process group.
    pub fn set_winsize(&mut self, w: Winsize) -> bool {
        let changed = self.winsize != w;
        self.winsize = w;
        changed
    }

    /// Output bytes waiting to be written to the terminal that no
    /// `input`/`output` call has handed out yet.
    pub fn take_pending_output(&mut self) -> Vec<u8> {
        take(&mut self.pending_output)
    }

    /// Bytes received but not yet processed because the input queue is
    /// full. They are processed by the next [`LineDiscipline::input`] call
    /// (pass no bytes to just retry), once a read has made room.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// The cursor column n_tty believes the terminal is at.
    pub fn column(&self) -> u32 {
        self.echo.cols.column
    }

    /// Bytes typed by the user (from the host terminal in raw mode).
    ///
    /// Implements n_tty's receive path: ISTRIP, IUCLC, IGNCR/ICRNL/INLCR,
    /// IXON/IXANY, ISIG (VINTR/VQUIT/VSUSP raise signals, flush input unless
    /// NOFLSH, and echo as `^C`), canonical editing (VERASE, VWERASE, VKILL,
    /// VEOF, VEOL/VEOL2, VREPRINT, VLNEXT) with ECHO, ECHOE, ECHOK, ECHOKE,
    /// ECHOCTL, ECHOPRT, ECHONL and IUTF8-aware erase, PARMRK doubling of
    /// 0xff, and the 4096-byte queue limit: a canonical line keeps its first
    /// 4095 characters plus its terminator (later characters are still
    /// processed and echoed but not stored; modern Linux does not ring the
    /// bell), and a full queue otherwise leaves input in the backlog.
    pub fn input(&mut self, bytes: &[u8]) -> InputEffects {
        let accepted = bytes
            .len()
            .min(BACKLOG_LIMIT.saturating_sub(self.backlog.len()));
        self.backlog.extend(&bytes[..accepted]);
        let mut fx = InputEffects {
            echo: take(&mut self.pending_output),
            accepted,
            ..InputEffects::default()
        };
        self.receive_backlog(&mut fx);
        fx.readable = self.input_available(false);
        fx
    }

    /// Feeds the backlog through in chunks that fit the queue, as
    /// n_tty_receive_buf_common does.
    fn receive_backlog(&mut self, fx: &mut InputEffects) {
        while !self.backlog.is_empty() {
            let n = self.receive_room().min(self.backlog.len());
            if n == 0 {
                break;
            }
            let chunk: Vec<u8> = self.backlog.drain(..n).collect();
            self.receive_chunk(&chunk, fx);
        }
    }

    /// How many bytes may be processed now. One byte of the 4096 is kept
    /// back for the newline a mode switch may need. A canonical line with
    /// no completed line before it never blocks, so erase keeps working
    /// (`line_full` says what is stored then).
    fn receive_room(&self) -> usize {
        let mut room = N_TTY_BUF_SIZE as i64 - self.queue.len() as i64;
        if self.termios.i(PARMRK) {
            // Each byte may become three (0xff 0x00 c).
            room = (room.max(0) + 2) / 3;
        }
        room -= 1;
        if room > 0 {
            return room as usize;
        }
        let overflow = self.termios.l(ICANON) && self.canon_head == self.tail;
        usize::from(overflow)
    }

    fn receive_chunk(&mut self, chunk: &[u8], fx: &mut InputEffects) {
        if self.raw_path() {
            for &c in chunk {
                self.put(c);
            }
            return;
        }
        for &c in chunk {
            self.receive_char(c, fx);
        }
        let t = self.termios;
        let space = self.space();
        self.echo.flush(&t, space, &mut fx.echo);
    }

    /// With no input processing enabled at all, bytes go straight to the
    /// queue (n_tty's raw mode).
    fn raw_path(&self) -> bool {
        let t = &self.termios;
        let cooked = t.iflag & (ISTRIP | IUCLC | IGNCR | ICRNL | INLCR | IXON | PARMRK) != 0
            || t.lflag & (ICANON | ISIG | ECHO) != 0;
        !cooked || (t.l(EXTPROC) && !self.has_preops())
    }

    fn has_preops(&self) -> bool {
        let t = &self.termios;
        t.i(ISTRIP) || (t.i(IUCLC) && t.l(IEXTEN))
    }

    /// ISTRIP and IUCLC, applied to every byte before anything else.
    fn preops(&self, mut c: u8) -> u8 {
        let t = &self.termios;
        if t.i(ISTRIP) {
            c &= 0x7f;
        }
        if t.i(IUCLC) && t.l(IEXTEN) {
            c = to_lower(c);
        }
        c
    }

    fn receive_char(&mut self, c: u8, fx: &mut InputEffects) {
        if self.lnext {
            self.lnext = false;
            let c = self.preops(c);
            self.receive_plain(c, fx);
            return;
        }
        let c = self.preops(c);
        if self.termios.l(EXTPROC) {
            self.put(c);
        } else if self.is_special(c) {
            self.receive_special(c, fx);
        } else {
            self.receive_plain(c, fx);
        }
    }

    /// n_tty's `char_map`: whether `c` has a role under the current
    /// settings. NUL never has one (it is `_POSIX_VDISABLE`). Which path a
    /// byte takes matters beyond the roles: a plain `\n` echoes as `^J`
    /// under ECHOCTL, a special one as a newline.
    fn is_special(&self, c: u8) -> bool {
        let t = &self.termios;
        let is = |idx| t.is_cc(c, idx);
        if c == 0 {
            return false;
        }
        (c == b'\r' && (t.i(IGNCR) || t.i(ICRNL)))
            || (c == b'\n' && t.i(INLCR))
            || (t.l(ICANON) && (is(VERASE) || is(VKILL) || is(VEOF) || c == b'\n' || is(VEOL)))
            || (t.l(ICANON)
                && t.l(IEXTEN)
                && (is(VWERASE) || is(VLNEXT) || is(VEOL2) || (t.l(ECHO) && is(VREPRINT))))
            || (t.i(IXON) && (is(VSTART) || is(VSTOP)))
            || (t.l(ISIG) && (is(VINTR) || is(VQUIT) || is(VSUSP)))
    }

    /// An ordinary character: echo it and queue it (n_tty_receive_char).
    fn receive_plain(&mut self, c: u8, fx: &mut InputEffects) {
        let t = self.termios;
        self.restart_on_any_key(fx);
        if t.l(ECHO) {
            self.finish_erasing();
            if self.line_empty() {
                self.echo.set_canon_col();
            }
            self.echo.char(c, &t);
            self.commit_echo(fx);
        }
        self.put_parmrk(c);
    }

    /// A character with a role (n_tty_receive_char_special).
    fn receive_special(&mut self, c: u8, fx: &mut InputEffects) {
        let t = self.termios;
        if t.i(IXON) && self.flow_control_char(c, fx) {
            return;
        }
        if let Some(sig) = signal_for(&t, c) {
            self.signal_char(sig, c, fx);
            return;
        }
        self.restart_on_any_key(fx);
        let Some(c) = map_cr_nl(&t, c) else {
            return;
        };
        if t.l(ICANON) && self.receive_canon(c, fx) {
            return;
        }
        if t.l(ECHO) {
            self.finish_erasing();
            if c == b'\n' {
                self.echo.raw(b'\n');
            } else {
                if self.line_empty() {
                    self.echo.set_canon_col();
                }
                self.echo.char(c, &t);
            }
            self.commit_echo(fx);
        }
        self.put_parmrk(c);
    }

    /// VSTART/VSTOP under IXON: swallowed, they start or stop output.
    fn flow_control_char(&mut self, c: u8, fx: &mut InputEffects) -> bool {
        let t = self.termios;
        if t.is_cc(c, VSTART) {
            self.start_output();
            self.process_echo(fx);
            true
        } else if t.is_cc(c, VSTOP) {
            self.stopped = true;
            true
        } else {
            false
        }
    }

    /// VINTR/VQUIT/VSUSP: raise the signal, flush input and pending echo
    /// unless NOFLSH, restart output, then echo the character.
    fn signal_char(&mut self, sig: JobSignal, c: u8, fx: &mut InputEffects) {
        let t = self.termios;
        fx.signals.push(sig);
        if !t.l(NOFLSH) {
            self.echo.reset();
            self.reset_input();
        }
        if t.i(IXON) {
            self.start_output();
        }
        if t.l(ECHO) {
            self.echo.char(c, &t);
            self.commit_echo(fx);
        } else {
            self.process_echo(fx);
        }
    }

    /// Canonical-mode roles; returns false if `c` has none of them.
    fn receive_canon(&mut self, c: u8, fx: &mut InputEffects) -> bool {
        let t = self.termios;
        // Each branch commits its echo exactly when n_tty does, because
        // the commit point decides what a later flush may throw away.
        if t.is_cc(c, VERASE) || t.is_cc(c, VKILL) || (t.is_cc(c, VWERASE) && t.l(IEXTEN)) {
            self.eraser(c);
            self.commit_echo(fx);
        } else if t.is_cc(c, VLNEXT) && t.l(IEXTEN) {
            self.literal_next(fx);
        } else if t.is_cc(c, VREPRINT) && t.l(ECHO) && t.l(IEXTEN) {
            self.reprint(c);
            self.commit_echo(fx);
        } else if c == b'\n' {
            if t.l(ECHO) || t.l(ECHONL) {
                self.echo.raw(b'\n');
                self.commit_echo(fx);
            }
            self.end_line(b'\n');
        } else if t.is_cc(c, VEOF) {
            // The line ends with a NUL the reader never sees, so a lone
            // EOF makes read() return 0. Nothing is echoed.
            self.end_line(VDISABLE);
        } else if t.is_cc(c, VEOL) || (t.is_cc(c, VEOL2) && t.l(IEXTEN)) {
            if t.l(ECHO) {
                if self.line_empty() {
                    self.echo.set_canon_col();
                }
                self.echo.char(c, &t);
                self.commit_echo(fx);
            }
            if c == 0xff && t.i(PARMRK) {
                self.put(c);
            }
            self.end_line(c);
        } else {
            return false;
        }
        true
    }

    /// VLNEXT: shows `^` with the cursor on it until the next character.
    fn literal_next(&mut self, fx: &mut InputEffects) {
        let t = self.termios;
        self.lnext = true;
        if t.l(ECHO) {
            self.finish_erasing();
            if t.l(ECHOCTL) {
                self.echo.raw(b'^');
                self.echo.raw(0x08);
                self.commit_echo(fx);
            }
        }
    }

    /// VREPRINT: echo the character, a newline, and the line so far.
    fn reprint(&mut self, c: u8) {
        let t = self.termios;
        self.finish_erasing();
        self.echo.char(c, &t);
        self.echo.raw(b'\n');
        let line: Vec<u8> = self.line().map(|s| s.byte).collect();
        for b in line {
            self.echo.char(b, &t);
        }
    }

    /// VERASE, VWERASE, VKILL (n_tty `eraser`).
    fn eraser(&mut self, c: u8) {
        if self.line_empty() {
            return;
        }
        let t = self.termios;
        let kind = if t.is_cc(c, VERASE) {
            Erase::Char
        } else if t.is_cc(c, VWERASE) {
            Erase::Word
        } else {
            Erase::Line
        };
        if kind == Erase::Line && self.kill_without_rubout() {
            return;
        }
        let mut seen_alnums = false;
        while !self.line_empty() {
            let Some((start, first)) = self.last_char_start() else {
                break;
            };
            if kind == Erase::Word {
                if is_alnum(first) || first == b'_' {
                    seen_alnums = true;
                } else if seen_alnums {
                    break;
                }
            }
            let erased: Vec<u8> = self.queue.drain(start..).map(|s| s.byte).collect();
            if t.l(ECHO) {
                self.echo_erased(&erased, kind);
            }
            if kind == Erase::Char {
                break;
            }
        }
        if self.line_empty() && t.l(ECHO) {
            self.finish_erasing();
        }
    }

    /// VKILL unless ECHO, ECHOK, ECHOKE and ECHOE are all on: drop the line
    /// and echo the kill character (and a newline under ECHOK) instead of
    /// rubbing out each character. Returns false to erase visually.
    fn kill_without_rubout(&mut self) -> bool {
        let t = self.termios;
        if !t.l(ECHO) {
            self.truncate_line();
            return true;
        }
        if t.l(ECHOK) && t.l(ECHOKE) && t.l(ECHOE) {
            return false;
        }
        self.truncate_line();
        self.finish_erasing();
        self.echo.char(t.cc(VKILL), &t);
        if t.l(ECHOK) {
            self.echo.raw(b'\n');
        }
        true
    }

    /// Index and first byte of the last character of the line, treating an
    /// IUTF8 multibyte sequence as one character. `None` if the line holds
    /// only continuation bytes (which are then never partially erased).
    fn last_char_start(&self) -> Option<(usize, u8)> {
        let canon = self.canon_index();
        let mut i = self.queue.len().checked_sub(1)?;
        if i < canon {
            return None;
        }
        loop {
            let c = self.queue.get(i)?.byte;
            if !is_continuation(c, &self.termios) {
                return Some((i, c));
            }
            if i == canon {
                return None;
            }
            i -= 1;
        }
    }

    /// Shows the erase of one character: `\erased/` under ECHOPRT, the
    /// erase character itself without ECHOE, else backspace-space-backspace
    /// once per column the character's echo took.
    fn echo_erased(&mut self, erased: &[u8], kind: Erase) {
        let t = self.termios;
        let Some((&c, rest)) = erased.split_first() else {
            return;
        };
        if t.l(ECHOPRT) {
            if !self.erasing {
                self.echo.raw(b'\\');
                self.erasing = true;
            }
            self.echo.char(c, &t);
            for &b in rest {
                self.echo.raw(b);
                self.echo.move_back_col();
            }
        } else if kind == Erase::Char && !t.l(ECHOE) {
            self.echo.char(t.cc(VERASE), &t);
        } else if c == b'\t' {
            let (num_chars, after_tab) = self.columns_since_tab();
            self.echo.erase_tab(num_chars, after_tab);
        } else {
            let cntrl = is_cntrl(c);
            let width = if !cntrl {
                1
            } else if t.l(ECHOCTL) {
                2
            } else {
                0
            };
            for _ in 0..width {
                self.rubout();
            }
        }
    }

    fn rubout(&mut self) {
        self.echo.raw(0x08);
        self.echo.raw(b' ');
        self.echo.raw(0x08);
    }

    /// Columns the line's echo used since its last tab (true) or since the
    /// line start (false); a tab erase backs up to the tab stop from there.
    fn columns_since_tab(&self) -> (u32, bool) {
        let t = &self.termios;
        let mut num = 0u32;
        for s in self.line().rev() {
            let c = s.byte;
            if c == b'\t' {
                return (num, true);
            } else if is_cntrl(c) {
                if t.l(ECHOCTL) {
                    num = num.wrapping_add(2);
                }
            } else if !is_continuation(c, t) {
                num = num.wrapping_add(1);
            }
        }
        (num, false)
    }

    /// ECHOPRT: close an erase sequence with `/` before anything else shows.
    fn finish_erasing(&mut self) {
        if self.erasing {
            self.echo.raw(b'/');
            self.erasing = false;
        }
    }

    /// IXANY: any key restarts output stopped by VSTOP.
    fn restart_on_any_key(&mut self, fx: &mut InputEffects) {
        let t = &self.termios;
        if self.stopped && !self.tco_stopped && t.i(IXON) && t.i(IXANY) {
            self.start_output();
            self.process_echo(fx);
        }
    }

    /// Restart output unless TCOOFF holds it.
    fn start_output(&mut self) {
        if !self.tco_stopped {
            self.stopped = false;
        }
    }

    /// Room for echo: none while output is stopped, so it waits.
    fn space(&self) -> usize {
        if self.stopped || self.tco_stopped {
            0
        } else {
            usize::MAX
        }
    }

    fn commit_echo(&mut self, fx: &mut InputEffects) {
        let t = self.termios;
        let space = self.space();
        self.echo.commit(&t, space, &mut fx.echo);
    }

    fn process_echo(&mut self, fx: &mut InputEffects) {
        let t = self.termios;
        let space = self.space();
        self.echo.process(&t, space, &mut fx.echo);
    }

    /// Stores an input byte, unless the canonical line is already full.
    fn put(&mut self, c: u8) {
        if self.line_full() {
            return;
        }
        self.queue.push_back(Slot {
            byte: c,
            eol: false,
        });
    }

    /// A canonical line stores at most 4095 bytes; later bytes are still
    /// processed (echoed, erase keys work) but not stored, and the
    /// terminator always fits as the 4096th. Linux gets the same result by
    /// overwriting a hidden last slot.
    fn line_full(&self) -> bool {
        self.termios.l(ICANON)
            && self.canon_head == self.tail
            && self.queue.len() >= N_TTY_BUF_SIZE - 1
    }

    /// PARMRK: a real 0xff is doubled so it cannot be read as a marker.
    fn put_parmrk(&mut self, c: u8) {
        if c == 0xff && self.termios.i(PARMRK) {
            self.put(c);
        }
        self.put(c);
    }

    /// Completes the current line with terminator `c`.
    fn end_line(&mut self, c: u8) {
        self.queue.push_back(Slot { byte: c, eol: true });
        self.canon_head = self.head();
    }

    /// Absolute position just past the newest byte (n_tty `read_head`).
    fn head(&self) -> u64 {
        self.tail.wrapping_add(self.queue.len() as u64)
    }

    /// True if the line being edited is empty (`canon_head == read_head`).
    fn line_empty(&self) -> bool {
        self.canon_head == self.head()
    }

    /// Index in `queue` where the line being edited starts.
    fn canon_index(&self) -> usize {
        let n = self.canon_head.wrapping_sub(self.tail);
        usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.queue.len())
    }

    fn line(&self) -> impl DoubleEndedIterator<Item = &Slot> {
        self.queue.iter().skip(self.canon_index())
    }

    fn truncate_line(&mut self) {
        self.queue.truncate(self.canon_index());
    }

    /// Forget everything typed so far (n_tty `reset_buffer_flags`). Echo
    /// already queued survives: only a signal character discards that.
    fn reset_input(&mut self) {
        self.queue.clear();
        self.tail = 0;
        self.canon_head = 0;
        self.erasing = false;
    }

    /// TCFLSH with TCIFLUSH: drops unread input and the backlog. Echo
    /// waiting for stopped output is kept, as on Linux.
    pub fn flush_input(&mut self) {
        self.backlog.clear();
        self.reset_input();
    }

    /// True if reads use line semantics.
    fn canonical_read(&self) -> bool {
        self.termios.l(ICANON) && !self.termios.l(EXTPROC)
    }

    /// n_tty `input_available_p`. For poll, a non-canonical terminal with
    /// VTIME 0 is readable only once VMIN bytes are there.
    fn input_available(&self, poll: bool) -> bool {
        if self.canonical_read() {
            return self.canon_head != self.tail;
        }
        let t = &self.termios;
        let (vmin, vtime) = (t.cc(VMIN), t.cc(VTIME));
        let amt = if poll && vtime == 0 && vmin != 0 {
            usize::from(vmin)
        } else {
            1
        };
        self.queue.len() >= amt
    }

    /// read(2) semantics without the waiting.
    ///
    /// Canonical: returns at most one line, up to `max` bytes; the rest of
    /// the line stays for the next read. A line ended by VEOF is returned
    /// without it, and a lone VEOF gives `Eof` once. If `max` bytes fill
    /// exactly up to an EOF, the EOF is consumed too (as Linux does).
    /// Non-canonical: returns what is there, up to `max`. `WouldBlock` if
    /// nothing can be returned now; `max == 0` always gives empty `Data`.
    ///
    /// After a read, call [`LineDiscipline::input`] with no bytes if
    /// [`LineDiscipline::backlog`] is non-zero: the read made room.
    pub fn read(&mut self, max: usize) -> ReadOutcome {
        if max == 0 {
            return ReadOutcome::Data(Vec::new());
        }
        if !self.input_available(false) {
            return ReadOutcome::WouldBlock;
        }
        if self.canonical_read() {
            self.read_line(max)
        } else {
            self.read_bytes(max)
        }
    }

    fn read_line(&mut self, max: usize) -> ReadOutcome {
        let n = max.min(self.canon_index());
        let eol = self.queue.iter().take(n).position(|s| s.eol);
        let (copy, consume) = match eol {
            Some(i) if self.queue.get(i).is_some_and(|s| s.byte == VDISABLE) => (i, i + 1),
            Some(i) => (i + 1, i + 1),
            None => (n, n),
        };
        let data: Vec<u8> = self.queue.iter().take(copy).map(|s| s.byte).collect();
        self.consume(consume);
        if eol.is_none() && copy == max {
            self.skip_eof();
        }
        if data.is_empty() {
            ReadOutcome::Eof
        } else {
            ReadOutcome::Data(data)
        }
    }

    /// A read that stopped right before an EOF marker eats the marker, so
    /// the next read does not see a spurious end of file.
    fn skip_eof(&mut self) {
        if self.canon_head == self.tail {
            return;
        }
        if self
            .queue
            .front()
            .is_some_and(|s| s.eol && s.byte == VDISABLE)
        {
            self.consume(1);
        }
    }

    fn read_bytes(&mut self, max: usize) -> ReadOutcome {
        let n = max.min(self.queue.len());
        let data: Vec<u8> = self.queue.iter().take(n).map(|s| s.byte).collect();
        self.consume(n);
        // EXTPROC canonical mode: a lone VEOF reads as end of file.
        let t = &self.termios;
        if t.l(EXTPROC) && t.l(ICANON) && data == [t.cc(VEOF)] && self.queue.is_empty() {
            return ReadOutcome::Eof;
        }
        ReadOutcome::Data(data)
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.queue.len());
        self.queue.drain(..n);
        self.tail = self.tail.wrapping_add(n as u64);
    }

    /// poll(2) POLLIN: see `read` for what counts; in non-canonical mode
    /// with VTIME 0 and VMIN > 0, VMIN bytes must be waiting.
    pub fn readable(&self) -> bool {
        self.input_available(true)
    }

    /// FIONREAD/TIOCINQ: bytes a reader could get now. Canonical mode counts
    /// completed lines only, without their EOF markers.
    pub fn available(&self) -> usize {
        if !self.canonical_read() {
            return self.queue.len();
        }
        let canon = self.canon_index();
        self.queue
            .iter()
            .take(canon)
            .filter(|s| !(s.eol && s.byte == VDISABLE))
            .count()
    }

    /// `(VMIN, VTIME)` for the kernel's non-canonical read timing. With
    /// `avail = available()` and `want = min(VMIN, max)`:
    ///
    /// * `(0, 0)` polling: call `read(max)` at once; `WouldBlock` means
    ///   read(2) returns 0 (not EAGAIN).
    /// * `(m, 0)`, m > 0: block (or EAGAIN if O_NONBLOCK) until
    ///   `avail >= want`, then `read(max)`; no timer.
    /// * `(0, t)`, t > 0: wait up to t/10 s for `avail >= 1`, then
    ///   `read(max)`; on timeout read(2) returns 0.
    /// * `(m, t)`: wait with no timeout for the first byte; then restart a
    ///   t/10 s timer whenever a byte arrives, and `read(max)` as soon as
    ///   `avail >= want` or the timer expires.
    ///
    /// O_NONBLOCK reads skip all waiting: `read(max)`, with `WouldBlock`
    /// meaning EAGAIN (except the `(0, 0)` case above, where Linux returns
    /// 0). Canonical mode ignores both values: block until `readable()`.
    /// Wake waiters when [`InputEffects::readable`] is set.
    pub fn min_time(&self) -> (u8, u8) {
        (self.termios.cc(VMIN), self.termios.cc(VTIME))
    }

    /// Program output going to the terminal (write(2) on the tty): any echo
    /// still due goes first, then `bytes` with OPOST processing (ONLCR,
    /// OCRNL, ONOCR, ONLRET, OLCUC, XTABS) and column tracking. The kernel
    /// should not call this while [`LineDiscipline::output_stopped`] (the
    /// writer blocks on Linux), nor check TOSTOP here: that is job control.
    pub fn output(&mut self, bytes: &[u8]) -> Vec<u8> {
        let t = self.termios;
        let mut out = take(&mut self.pending_output);
        let space = self.space();
        self.echo.process(&t, space, &mut out);
        self.echo.cols.process_output(bytes, &t, &mut out);
        out
    }

    /// True while VSTOP (IXON) or TCOOFF has stopped output.
    pub fn output_stopped(&self) -> bool {
        self.stopped || self.tco_stopped
    }

    /// TCXONC (tcflow). Returns bytes to write to the terminal: the VSTOP or
    /// VSTART character for `SendStop`/`SendStart` (nothing if disabled).
    pub fn flow(&mut self, action: FlowAction) -> Vec<u8> {
        let t = self.termios;
        let xchar = |idx| match t.cc(idx) {
            VDISABLE => Vec::new(),
            c => vec![c],
        };
        match action {
            FlowAction::OutputOff => {
                self.tco_stopped = true;
                self.stopped = true;
                Vec::new()
            }
            FlowAction::OutputOn => {
                if self.tco_stopped {
                    self.tco_stopped = false;
                    self.stopped = false;
                }
                Vec::new()
            }
            FlowAction::SendStop => xchar(VSTOP),
            FlowAction::SendStart => xchar(VSTART),
        }
    }
}

/// The job-control signal `c` raises under ISIG, if any.
fn signal_for(t: &Termios, c: u8) -> Option<JobSignal> {
    if !t.l(ISIG) {
        None
    } else if t.is_cc(c, VINTR) {
        Some(JobSignal::Int)
    } else if t.is_cc(c, VQUIT) {
        Some(JobSignal::Quit)
    } else if t.is_cc(c, VSUSP) {
        Some(JobSignal::Tstp)
    } else {
        None
    }
}

/// IGNCR, ICRNL and INLCR; `None` means the byte is ignored.
fn map_cr_nl(t: &Termios, c: u8) -> Option<u8> {
    match c {
        b'\r' if t.i(IGNCR) => None,
        b'\r' if t.i(ICRNL) => Some(b'\n'),
        b'\n' if t.i(INLCR) => Some(b'\r'),
        _ => Some(c),
    }
}
