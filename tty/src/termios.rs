//! `struct termios` exactly as the x86-64 kernel exchanges it through
//! `TCGETS`/`TCSETS*`, its flag constants, and the settings Linux gives a
//! fresh terminal.
//!
//! Guests never see glibc's larger `struct termios` (NCCS 32, speed fields):
//! libc translates to this 36-byte kernel layout before the ioctl, so this is
//! the one layout the syscall layer must read and write.

use serde::{Deserialize, Serialize};

/// Every termios constant from `include/uapi/asm-generic/termbits.h` (the
/// values x86-64 uses), plus the `c_cc` indices.
pub mod flags {
    // c_iflag
    pub const IGNBRK: u32 = 0o1;
    pub const BRKINT: u32 = 0o2;
    pub const IGNPAR: u32 = 0o4;
    pub const PARMRK: u32 = 0o10;
    pub const INPCK: u32 = 0o20;
    pub const ISTRIP: u32 = 0o40;
    pub const INLCR: u32 = 0o100;
    pub const IGNCR: u32 = 0o200;
    pub const ICRNL: u32 = 0o400;
    pub const IUCLC: u32 = 0o1000;
    pub const IXON: u32 = 0o2000;
    pub const IXANY: u32 = 0o4000;
    pub const IXOFF: u32 = 0o10000;
    pub const IMAXBEL: u32 = 0o20000;
    pub const IUTF8: u32 = 0o40000;

    // c_oflag
    pub const OPOST: u32 = 0o1;
    pub const OLCUC: u32 = 0o2;
    pub const ONLCR: u32 = 0o4;
    pub const OCRNL: u32 = 0o10;
    pub const ONOCR: u32 = 0o20;
    pub const ONLRET: u32 = 0o40;
    pub const OFILL: u32 = 0o100;
    pub const OFDEL: u32 = 0o200;
    pub const NLDLY: u32 = 0o400;
    pub const NL0: u32 = 0o0;
    pub const NL1: u32 = 0o400;
    pub const CRDLY: u32 = 0o3000;
    pub const CR0: u32 = 0o0;
    pub const CR1: u32 = 0o1000;
    pub const CR2: u32 = 0o2000;
    pub const CR3: u32 = 0o3000;
    pub const TABDLY: u32 = 0o14000;
    pub const TAB0: u32 = 0o0;
    pub const TAB1: u32 = 0o4000;
    pub const TAB2: u32 = 0o10000;
    pub const TAB3: u32 = 0o14000;
    pub const XTABS: u32 = 0o14000;
    pub const BSDLY: u32 = 0o20000;
    pub const BS0: u32 = 0o0;
    pub const BS1: u32 = 0o20000;
    pub const VTDLY: u32 = 0o40000;
    pub const VT0: u32 = 0o0;
    pub const VT1: u32 = 0o40000;
    pub const FFDLY: u32 = 0o100000;
    pub const FF0: u32 = 0o0;
    pub const FF1: u32 = 0o100000;

    // c_cflag
    pub const CBAUD: u32 = 0o10017;
    pub const B0: u32 = 0o0;
    pub const B50: u32 = 0o1;
    pub const B75: u32 = 0o2;
    pub const B110: u32 = 0o3;
    pub const B134: u32 = 0o4;
    pub const B150: u32 = 0o5;
    pub const B200: u32 = 0o6;
    pub const B300: u32 = 0o7;
    pub const B600: u32 = 0o10;
    pub const B1200: u32 = 0o11;
    pub const B1800: u32 = 0o12;
    pub const B2400: u32 = 0o13;
    pub const B4800: u32 = 0o14;
    pub const B9600: u32 = 0o15;
    pub const B19200: u32 = 0o16;
    pub const B38400: u32 = 0o17;
    pub const EXTA: u32 = B19200;
    pub const EXTB: u32 = B38400;
    pub const CSIZE: u32 = 0o60;
    pub const CS5: u32 = 0o0;
    pub const CS6: u32 = 0o20;
    pub const CS7: u32 = 0o40;
    pub const CS8: u32 = 0o60;
    pub const CSTOPB: u32 = 0o100;
    pub const CREAD: u32 = 0o200;
    pub const PARENB: u32 = 0o400;
    pub const PARODD: u32 = 0o1000;
    pub const HUPCL: u32 = 0o2000;
    pub const CLOCAL: u32 = 0o4000;
    pub const CBAUDEX: u32 = 0o10000;
    pub const BOTHER: u32 = 0o10000;
    pub const B57600: u32 = 0o10001;
    pub const B115200: u32 = 0o10002;
    pub const B230400: u32 = 0o10003;
    pub const B460800: u32 = 0o10004;
    pub const B500000: u32 = 0o10005;
    pub const B576000: u32 = 0o10006;
    pub const B921600: u32 = 0o10007;
    pub const B1000000: u32 = 0o10010;
    pub const B1152000: u32 = 0o10011;
    pub const B1500000: u32 = 0o10012;
    pub const B2000000: u32 = 0o10013;
    pub const B2500000: u32 = 0o10014;
    pub const B3000000: u32 = 0o10015;
    pub const B3500000: u32 = 0o10016;
    pub const B4000000: u32 = 0o10017;
    pub const CIBAUD: u32 = 0o2003600000;
    pub const CMSPAR: u32 = 0o10000000000;
    pub const CRTSCTS: u32 = 0o20000000000;
    pub const IBSHIFT: u32 = 16;

    // c_lflag
    pub const ISIG: u32 = 0o1;
    pub const ICANON: u32 = 0o2;
    pub const XCASE: u32 = 0o4;
    pub const ECHO: u32 = 0o10;
    pub const ECHOE: u32 = 0o20;
    pub const ECHOK: u32 = 0o40;
    pub const ECHONL: u32 = 0o100;
    pub const NOFLSH: u32 = 0o200;
    pub const TOSTOP: u32 = 0o400;
    pub const ECHOCTL: u32 = 0o1000;
    pub const ECHOPRT: u32 = 0o2000;
    pub const ECHOKE: u32 = 0o4000;
    pub const FLUSHO: u32 = 0o10000;
    pub const PENDIN: u32 = 0o40000;
    pub const IEXTEN: u32 = 0o100000;
    pub const EXTPROC: u32 = 0o200000;

    // c_cc indices
    pub const VINTR: usize = 0;
    pub const VQUIT: usize = 1;
    pub const VERASE: usize = 2;
    pub const VKILL: usize = 3;
    pub const VEOF: usize = 4;
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
    pub const VSWTC: usize = 7;
    pub const VSTART: usize = 8;
    pub const VSTOP: usize = 9;
    pub const VSUSP: usize = 10;
    pub const VEOL: usize = 11;
    pub const VREPRINT: usize = 12;
    pub const VDISCARD: usize = 13;
    pub const VWERASE: usize = 14;
    pub const VLNEXT: usize = 15;
    pub const VEOL2: usize = 16;
    /// Number of control characters in the kernel's `struct termios`.
    pub const NCCS: usize = 19;
    /// `_POSIX_VDISABLE`: a control character set to this value is off.
    pub const VDISABLE: u8 = 0;

    // tcflush() queue selectors and tcflow() actions, for the ioctl layer.
    pub const TCIFLUSH: u32 = 0;
    pub const TCOFLUSH: u32 = 1;
    pub const TCIOFLUSH: u32 = 2;
    pub const TCOOFF: u32 = 0;
    pub const TCOON: u32 = 1;
    pub const TCIOFF: u32 = 2;
    pub const TCION: u32 = 3;

    /// Size of n_tty's input ring; a canonical line holds at most this many
    /// bytes including its terminator.
    pub const N_TTY_BUF_SIZE: usize = 4096;
}

use flags::*;

/// The kernel's `struct termios` as `TCGETS`/`TCSETS` exchange it on x86-64
/// (36 bytes: 4 x u32 flags, `c_line` u8, `c_cc[19]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; 19],
}

impl Termios {
    /// Bytes in the wire form.
    pub const SIZE: usize = 36;

    /// The wire form (native = little endian on x86-64).
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut b = [0u8; 36];
        for (i, v) in [self.iflag, self.oflag, self.cflag, self.lflag]
            .into_iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    /// Parses the wire form; every bit pattern is a valid `Termios`.
    pub fn from_bytes(b: &[u8; 36]) -> Termios {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&b[17..]);
        Termios {
            iflag: word(0),
            oflag: word(4),
            cflag: word(8),
            lflag: word(12),
            line: b[16],
            cc,
        }
    }

    /// What Linux gives a fresh console or pty (`tty_std_termios` and
    /// `INIT_C_CC`): cooked mode with echo, signals and ^S/^Q flow control.
    pub fn linux_default() -> Termios {
        let mut cc = [0u8; NCCS];
        cc[VINTR] = 0x03; // ^C
        cc[VQUIT] = 0x1c; // ^\
        cc[VERASE] = 0x7f; // ^?
        cc[VKILL] = 0x15; // ^U
        cc[VEOF] = 0x04; // ^D
        cc[VTIME] = 0;
        cc[VMIN] = 1;
        cc[VSTART] = 0x11; // ^Q
        cc[VSTOP] = 0x13; // ^S
        cc[VSUSP] = 0x1a; // ^Z
        cc[VREPRINT] = 0x12; // ^R
        cc[VDISCARD] = 0x0f; // ^O
        cc[VWERASE] = 0x17; // ^W
        cc[VLNEXT] = 0x16; // ^V
        Termios {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: B38400 | CS8 | CREAD | HUPCL,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            line: 0,
            cc,
        }
    }

    /// True if every bit of `f` is set in `c_iflag`.
    pub fn i(&self, f: u32) -> bool {
        self.iflag & f == f
    }

    /// True if every bit of `f` is set in `c_oflag`.
    pub fn o(&self, f: u32) -> bool {
        self.oflag & f == f
    }

    /// True if every bit of `f` is set in `c_lflag`.
    pub fn l(&self, f: u32) -> bool {
        self.lflag & f == f
    }

    /// Control character `idx` (`flags::V*`); out-of-range reads as disabled.
    pub fn cc(&self, idx: usize) -> u8 {
        self.cc.get(idx).copied().unwrap_or(VDISABLE)
    }

    /// True if `c` is the enabled control character `idx`. A control
    /// character of 0 is disabled and matches nothing, as in n_tty.
    pub fn is_cc(&self, c: u8, idx: usize) -> bool {
        c != VDISABLE && self.cc(idx) == c
    }
}

impl Default for Termios {
    fn default() -> Self {
        Termios::linux_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_layout() {
        let t = Termios::linux_default();
        let b = t.to_bytes();
        assert_eq!(Termios::from_bytes(&b), t);
        // c_iflag first, little endian; c_line at 16; c_cc from 17.
        assert_eq!(&b[0..4], &(ICRNL | IXON).to_le_bytes());
        assert_eq!(b[16], 0);
        assert_eq!(b[17 + VINTR], 3);
        assert_eq!(b[17 + VEOL2], 0);
        assert_eq!(b.len(), Termios::SIZE);
    }

    #[test]
    fn default_matches_linux_values() {
        let t = Termios::linux_default();
        assert_eq!(t.iflag, 0o2400);
        assert_eq!(t.oflag, 0o5);
        assert_eq!(t.cflag, 0o2277);
        assert_eq!(t.lflag, 0o105073);
        assert_eq!(
            t.cc,
            *b"\x03\x1c\x7f\x15\x04\x00\x01\x00\x11\x13\x1a\x00\x12\x0f\x17\x16\x00\x00\x00"
        );
    }

    #[test]
    fn disabled_cc_matches_nothing() {
        let mut t = Termios::linux_default();
        t.cc[VEOL] = 0;
        assert!(!t.is_cc(0, VEOL));
        assert!(t.is_cc(3, VINTR));
        assert_eq!(t.cc(99), 0);
    }
}
