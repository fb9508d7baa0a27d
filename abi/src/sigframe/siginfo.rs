//! `siginfo_t` as x86-64 Linux hands it to a handler.
//!
//! Which union member a siginfo carries is not stored in it: Linux derives it
//! from the signal number and `si_code` (`siginfo_layout()` in
//! kernel/signal.c), and so does [`SigInfo::from_bytes`]. Only the first 48
//! bytes (`struct kernel_siginfo`) survive inside the kernel; the other 80
//! always reach user space as zeros (`copy_siginfo_to_user`).

use super::layout::bytes::{i32_at, i64_at, put_i32, put_i64, put_u32, put_u64, u32_at, u64_at};
use super::layout::si;

/// `si_code` values that matter for the layout (asm-generic/siginfo.h).
pub mod code {
    pub const SI_USER: i32 = 0;
    pub const SI_KERNEL: i32 = 0x80;
    pub const SI_QUEUE: i32 = -1;
    pub const SI_TIMER: i32 = -2;
    pub const SI_MESGQ: i32 = -3;
    pub const SI_ASYNCIO: i32 = -4;
    pub const SI_SIGIO: i32 = -5;
    pub const SI_TKILL: i32 = -6;
    pub const SI_DETHREAD: i32 = -7;
    pub const SI_ASYNCNL: i32 = -60;
}

const SIGILL: i32 = 4;
const SIGTRAP: i32 = 5;
const SIGBUS: i32 = 7;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;
const SIGCHLD: i32 = 17;
const SIGPOLL: i32 = 29;
const SIGSYS: i32 = 31;
/// `NSIGPOLL`: codes 1..=6 of signals without their own codes use `_sigpoll`.
const NSIGPOLL: i32 = 6;

/// siginfo_t (128 bytes on x86-64) for the cases the kernel produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub fields: SigFields,
}

/// The `_sifields` union member, chosen by the producer of the signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFields {
    /// Nothing beyond signo/errno/code (the union is zero).
    None,
    /// `_kill`: SI_USER (kill), SI_KERNEL.
    Kill { pid: i32, uid: u32 },
    /// `_rt`: SI_QUEUE (sigqueue), SI_TKILL (tkill/tgkill, value 0), SI_MESGQ, ...
    Rt { pid: i32, uid: u32, value: u64 },
    /// `_timer`: SI_TIMER (POSIX timers).
    Timer { tid: i32, overrun: i32, value: u64 },
    /// `_sigchld`: SIGCHLD with CLD_* codes. `utime`/`stime` are clock ticks.
    Child {
        pid: i32,
        uid: u32,
        status: i32,
        utime: i64,
        stime: i64,
    },
    /// `_sigfault`: SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP raised by the CPU.
    Fault { addr: u64 },
    /// `_sigpoll`: SIGIO/SIGPOLL with POLL_* codes, SI_SIGIO.
    Poll { band: i64, fd: i32 },
    /// `_sigsys`: SIGSYS from seccomp (SYS_SECCOMP).
    Sys {
        call_addr: u64,
        syscall: i32,
        arch: u32,
    },
    /// rt_sigqueueinfo / rt_tgsigqueueinfo: the guest's own bytes, passed
    /// through. As in Linux only bytes 12..48 are kept (the header comes from
    /// `signo`/`errno`/`code`), and bytes 48..128 are delivered as zeros.
    Raw([u8; 128]),
}

/// Which union member Linux uses for a (signo, code) pair (`enum siginfo_layout`),
/// collapsed to the variants we encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Kill,
    Timer,
    Poll,
    Fault,
    Child,
    Rt,
    Sys,
}

/// The highest signal-specific `si_code` of `sig`, for signals that have
/// their own codes (`sig_sicodes[]` in kernel/signal.c).
fn specific_codes(sig: i32) -> Option<(i32, Layout)> {
    match sig {
        SIGILL => Some((11, Layout::Fault)),
        SIGFPE => Some((15, Layout::Fault)),
        // NSIGSEGV is 10 since SEGV_CPERR (shadow stacks, Linux 6.6).
        SIGSEGV => Some((10, Layout::Fault)),
        SIGBUS => Some((5, Layout::Fault)),
        SIGTRAP => Some((6, Layout::Fault)),
        SIGCHLD => Some((6, Layout::Child)),
        SIGPOLL => Some((NSIGPOLL, Layout::Poll)),
        SIGSYS => Some((2, Layout::Sys)),
        _ => None,
    }
}

/// Linux's `siginfo_layout()`. The fault sub-layouts (MCEERR, BNDERR,
/// PKUERR, PERF) share `si_addr` with [`Layout::Fault`]; their extra fields
/// make [`SigInfo::from_bytes`] fall back to [`SigFields::Raw`].
fn layout(sig: i32, si_code: i32) -> Layout {
    if si_code > code::SI_USER && si_code < code::SI_KERNEL {
        // Signals without their own codes have a limit of 0 in Linux's table.
        let (limit, own) = specific_codes(sig).unwrap_or((0, Layout::Kill));
        if si_code <= limit {
            own
        } else if si_code <= NSIGPOLL {
            Layout::Poll
        } else {
            Layout::Kill
        }
    } else if si_code == code::SI_TIMER {
        Layout::Timer
    } else if si_code == code::SI_SIGIO {
        Layout::Poll
    } else if si_code < 0 {
        Layout::Rt
    } else {
        Layout::Kill
    }
}

/// Linux's `known_siginfo_layout()`: codes whose layout the kernel knows, so
/// it may drop bytes 48..128 of a user-supplied siginfo without losing data.
fn known_layout(sig: i32, si_code: i32) -> bool {
    if si_code == code::SI_KERNEL {
        true
    } else if si_code > code::SI_USER {
        match specific_codes(sig) {
            Some((limit, _)) => si_code <= limit,
            None => si_code <= NSIGPOLL,
        }
    } else {
        si_code >= code::SI_DETHREAD || si_code == code::SI_ASYNCNL
    }
}

/// Why a user-supplied siginfo was refused (rt_sigqueueinfo's E2BIG).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigInfoError {
    /// An unknown `si_code` with nonzero bytes past the 48 the kernel keeps.
    #[error("siginfo has data beyond the kernel's 48 bytes for an unknown si_code (E2BIG)")]
    TooBig,
}

impl SigInfo {
    /// The 128 bytes a handler sees at `info`.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; si::SIZE];
        if let SigFields::Raw(raw) = &self.fields {
            b[12..si::KERNEL_SIZE].copy_from_slice(&raw[12..si::KERNEL_SIZE]);
        }
        put_i32(&mut b, si::SIGNO, self.signo);
        put_i32(&mut b, si::ERRNO, self.errno);
        put_i32(&mut b, si::CODE, self.code);
        write_fields(&mut b, &self.fields);
        b
    }

    /// Decodes `b` by signo/code as Linux lays it out. Whatever the chosen
    /// variant cannot represent exactly (extra nonzero bytes, sub-layouts
    /// such as SEGV_PKUERR's `si_pkey`) comes back as [`SigFields::Raw`], so
    /// `from_bytes(b).to_bytes() == b` whenever bytes 48..128 are zero.
    pub fn from_bytes(b: &[u8; 128]) -> SigInfo {
        let signo = i32_at(b, si::SIGNO);
        let code = i32_at(b, si::CODE);
        let info = SigInfo {
            signo,
            errno: i32_at(b, si::ERRNO),
            code,
            fields: read_fields(b, layout(signo, code)),
        };
        if info.to_bytes() == *b {
            info
        } else {
            SigInfo {
                fields: SigFields::Raw(*b),
                ..info
            }
        }
    }

    /// rt_sigqueueinfo's copy-in (`__copy_siginfo_from_user`): the signal
    /// number comes from the call, not the buffer; an unknown `si_code` must
    /// not carry data past byte 48, which Linux would silently lose.
    pub fn from_user(sig: i32, b: &[u8; 128]) -> Result<SigInfo, SigInfoError> {
        let code = i32_at(b, si::CODE);
        if !known_layout(sig, code) && b[si::KERNEL_SIZE..].iter().any(|&x| x != 0) {
            return Err(SigInfoError::TooBig);
        }
        Ok(SigInfo {
            signo: sig,
            errno: i32_at(b, si::ERRNO),
            code,
            fields: SigFields::Raw(*b),
        })
    }
}

/// Writes the union member at its offsets (`Raw` was copied by the caller).
fn write_fields(b: &mut [u8], f: &SigFields) {
    match *f {
        SigFields::None | SigFields::Raw(_) => {}
        SigFields::Kill { pid, uid } => put_sender(b, pid, uid),
        SigFields::Rt { pid, uid, value } => {
            put_sender(b, pid, uid);
            put_u64(b, si::VALUE, value);
        }
        SigFields::Timer {
            tid,
            overrun,
            value,
        } => {
            put_i32(b, si::TIMERID, tid);
            put_i32(b, si::OVERRUN, overrun);
            put_u64(b, si::VALUE, value);
        }
        SigFields::Child {
            pid,
            uid,
            status,
            utime,
            stime,
        } => {
            put_sender(b, pid, uid);
            put_i32(b, si::STATUS, status);
            put_i64(b, si::UTIME, utime);
            put_i64(b, si::STIME, stime);
        }
        SigFields::Fault { addr } => put_u64(b, si::ADDR, addr),
        SigFields::Poll { band, fd } => {
            put_i64(b, si::BAND, band);
            put_i32(b, si::FD, fd);
        }
        SigFields::Sys {
            call_addr,
            syscall,
            arch,
        } => {
            put_u64(b, si::CALL_ADDR, call_addr);
            put_i32(b, si::SYSCALL, syscall);
            put_u32(b, si::ARCH, arch);
        }
    }
}

fn put_sender(b: &mut [u8], pid: i32, uid: u32) {
    put_i32(b, si::PID, pid);
    put_u32(b, si::UID, uid);
}

/// Reads the union member `l` selects.
fn read_fields(b: &[u8], l: Layout) -> SigFields {
    let (pid, uid) = (i32_at(b, si::PID), u32_at(b, si::UID));
    match l {
        Layout::Kill => SigFields::Kill { pid, uid },
        Layout::Rt => SigFields::Rt {
            pid,
            uid,
            value: u64_at(b, si::VALUE),
        },
        Layout::Timer => SigFields::Timer {
            tid: i32_at(b, si::TIMERID),
            overrun: i32_at(b, si::OVERRUN),
            value: u64_at(b, si::VALUE),
        },
        Layout::Child => SigFields::Child {
            pid,
            uid,
            status: i32_at(b, si::STATUS),
            utime: i64_at(b, si::UTIME),
            stime: i64_at(b, si::STIME),
        },
        Layout::Fault => SigFields::Fault {
            addr: u64_at(b, si::ADDR),
        },
        Layout::Poll => SigFields::Poll {
            band: i64_at(b, si::BAND),
            fd: i32_at(b, si::FD),
        },
        Layout::Sys => SigFields::Sys {
            call_addr: u64_at(b, si::CALL_ADDR),
            syscall: i32_at(b, si::SYSCALL),
            arch: u32_at(b, si::ARCH),
        },
    }
}
