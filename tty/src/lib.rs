//! A Linux-compatible terminal line discipline (n_tty) as a pure data
//! structure.
//!
//! vkernel puts the host terminal in raw mode and runs its own line
//! discipline so that guests see exactly what Linux would give them: what is
//! echoed, what `read(2)` returns, which job-control signals typing raises.
//! This crate does no I/O and knows nothing about processes. The kernel
//! feeds it typed bytes ([`LineDiscipline::input`]) and program output
//! ([`LineDiscipline::output`]), writes the bytes those return to the host
//! terminal, delivers the returned [`JobSignal`]s to the foreground process
//! group, and answers `read`, `poll`, `FIONREAD` and the termios ioctls
//! from it.
//!
//! ```
//! use tty::{LineDiscipline, ReadOutcome, JobSignal};
//!
//! let mut ld = LineDiscipline::new();
//! let fx = ld.input(b"lss\x7f -l\r");
//! assert_eq!(fx.echo, b"lss\x08 \x08 -l\r\n");
//! assert!(fx.readable);
//! assert_eq!(ld.read(100), ReadOutcome::Data(b"ls -l\n".to_vec()));
//!
//! let fx = ld.input(b"\x03");
//! assert_eq!((fx.echo, fx.signals), (b"^C".to_vec(), vec![JobSignal::Int]));
//! assert_eq!(ld.output(b"done\n"), b"done\r\n");
//! ```
//!
//! Behaviour follows Linux's `drivers/tty/n_tty.c` closely, down to the
//! quirks a user can see (see `tests/ptydiff.rs`, which compares against the
//! host kernel's own n_tty through a pseudo-terminal).

mod ctype;
mod echo;
mod ldisc;
mod output;
mod termios;

use serde::{Deserialize, Serialize};

pub use ldisc::{LineDiscipline, BACKLOG_LIMIT};
pub use termios::{flags, Termios};

/// A job-control signal typed at the terminal, for the foreground process
/// group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobSignal {
    /// VINTR (^C): SIGINT.
    Int,
    /// VQUIT (^\): SIGQUIT.
    Quit,
    /// VSUSP (^Z): SIGTSTP.
    Tstp,
}

/// `struct winsize` (TIOCGWINSZ/TIOCSWINSZ).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

impl Winsize {
    /// The ioctl wire form: four native-endian u16 in this order.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        for (i, v) in [self.rows, self.cols, self.xpixel, self.ypixel]
            .into_iter()
            .enumerate()
        {
            b[i * 2..i * 2 + 2].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Parses the ioctl wire form.
    pub fn from_bytes(b: &[u8; 8]) -> Winsize {
        let half = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Winsize {
            rows: half(0),
            cols: half(2),
            xpixel: half(4),
            ypixel: half(6),
        }
    }
}

/// What processing typed input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputEffects {
    /// Bytes to write back to the terminal (already output-processed).
    pub echo: Vec<u8>,
    /// Signals to send to the foreground process group, in order.
    pub signals: Vec<JobSignal>,
    /// Whether a reader could now make progress (for waking waiters).
    pub readable: bool,
    /// How many of the given bytes were taken. Fewer than given only when
    /// [`BACKLOG_LIMIT`] unprocessed bytes are already waiting; the caller
    /// may offer the rest again after a read, or drop them.
    pub accepted: usize,
}

/// Result of [`LineDiscipline::read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Bytes for the reader (empty only when asked for 0 bytes).
    Data(Vec<u8>),
    /// End of file: read(2) returns 0.
    Eof,
    /// Nothing to return now: block, time out or EAGAIN as
    /// [`LineDiscipline::min_time`] describes.
    WouldBlock,
}

/// TCXONC (`tcflow`) actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowAction {
    /// TCOOFF: suspend output until TCOON.
    OutputOff,
    /// TCOON: resume output suspended by TCOOFF.
    OutputOn,
    /// TCIOFF: send the VSTOP character to the terminal.
    SendStop,
    /// TCION: send the VSTART character to the terminal.
    SendStart,
}
