//! Every byte offset of the x86-64 signal frame, in one place.
//!
//! The numbers are Linux's uapi structures (`asm/sigcontext.h`,
//! `asm-generic/ucontext.h`, `asm-generic/siginfo.h`) and the kernel-private
//! `struct rt_sigframe` (`arch/x86/include/asm/sigframe.h`). The test
//! `sigframe::linux_tests::layout_matches_c_headers` compiles a C program
//! against those headers and compares every constant here.

/// Register word indices in `struct user_regs_struct` order, as ptrace's
/// `PTRACE_GETREGS` lays them out.
pub mod reg {
    pub const R15: usize = 0;
    pub const R14: usize = 1;
    pub const R13: usize = 2;
    pub const R12: usize = 3;
    pub const RBP: usize = 4;
    pub const RBX: usize = 5;
    pub const R11: usize = 6;
    pub const R10: usize = 7;
    pub const R9: usize = 8;
    pub const R8: usize = 9;
    pub const RAX: usize = 10;
    pub const RCX: usize = 11;
    pub const RDX: usize = 12;
    pub const RSI: usize = 13;
    pub const RDI: usize = 14;
    pub const ORIG_RAX: usize = 15;
    pub const RIP: usize = 16;
    pub const CS: usize = 17;
    pub const EFLAGS: usize = 18;
    pub const RSP: usize = 19;
    pub const SS: usize = 20;
    pub const FS_BASE: usize = 21;
    pub const GS_BASE: usize = 22;
    pub const DS: usize = 23;
    pub const ES: usize = 24;
    pub const FS: usize = 25;
    pub const GS: usize = 26;
    /// Number of words in `user_regs_struct`.
    pub const COUNT: usize = 27;
}

/// `struct rt_sigframe { char *pretcode; struct ucontext uc; struct siginfo info; }`.
pub mod frame {
    pub const PRETCODE: usize = 0;
    pub const UC: usize = 8;
    pub const INFO: usize = 312;
    /// `sizeof(struct rt_sigframe)` (0x1b8).
    pub const SIZE: usize = 440;
}

/// `struct ucontext` (the kernel's, not glibc's larger `ucontext_t`: the
/// kernel's ends after an 8-byte sigset).
pub mod uc {
    pub const FLAGS: usize = 0;
    pub const LINK: usize = 8;
    pub const STACK: usize = 16;
    pub const MCONTEXT: usize = 40;
    pub const SIGMASK: usize = 296;
    /// `sizeof(struct ucontext)`.
    pub const SIZE: usize = 304;
}

/// `stack_t { void *ss_sp; int ss_flags; size_t ss_size; }`.
pub mod stack {
    pub const SP: usize = 0;
    pub const FLAGS: usize = 8;
    pub const SIZE: usize = 16;
    /// `sizeof(stack_t)`.
    pub const LEN: usize = 24;
}

/// `struct sigcontext` (64-bit).
pub mod sc {
    pub const R8: usize = 0;
    pub const R9: usize = 8;
    pub const R10: usize = 16;
    pub const R11: usize = 24;
    pub const R12: usize = 32;
    pub const R13: usize = 40;
    pub const R14: usize = 48;
    pub const R15: usize = 56;
    pub const RDI: usize = 64;
    pub const RSI: usize = 72;
    pub const RBP: usize = 80;
    pub const RBX: usize = 88;
    pub const RDX: usize = 96;
    pub const RAX: usize = 104;
    pub const RCX: usize = 112;
    pub const RSP: usize = 120;
    pub const RIP: usize = 128;
    pub const EFLAGS: usize = 136;
    /// u16 segment selectors.
    pub const CS: usize = 144;
    pub const GS: usize = 146;
    pub const FS: usize = 148;
    pub const SS: usize = 150;
    pub const ERR: usize = 152;
    pub const TRAPNO: usize = 160;
    pub const OLDMASK: usize = 168;
    pub const CR2: usize = 176;
    pub const FPSTATE: usize = 184;
    /// `reserved1[8]`: Linux neither writes nor reads it.
    pub const RESERVED1: usize = 192;
    /// `sizeof(struct sigcontext)`.
    pub const SIZE: usize = 256;

    /// The general registers the sigcontext saves, paired with their
    /// `user_regs_struct` index. `eflags` and the segments are handled
    /// separately because sigreturn filters them.
    pub const GPRS: [(usize, usize); 17] = [
        (R8, super::reg::R8),
        (R9, super::reg::R9),
        (R10, super::reg::R10),
        (R11, super::reg::R11),
        (R12, super::reg::R12),
        (R13, super::reg::R13),
        (R14, super::reg::R14),
        (R15, super::reg::R15),
        (RDI, super::reg::RDI),
        (RSI, super::reg::RSI),
        (RBP, super::reg::RBP),
        (RBX, super::reg::RBX),
        (RDX, super::reg::RDX),
        (RAX, super::reg::RAX),
        (RCX, super::reg::RCX),
        (RSP, super::reg::RSP),
        (RIP, super::reg::RIP),
    ];
}

/// The XSAVE area (standard, non-compacted form) as far as signals use it:
/// the 512-byte FXSAVE legacy region, whose bytes 464..512 are reserved for
/// software, then the 64-byte XSAVE header.
pub mod xsave {
    /// FPU control word (u16).
    pub const FCW: usize = 0;
    /// Abridged tag word (u8; 0 = all registers empty).
    pub const FTW: usize = 4;
    /// MXCSR (u32).
    pub const MXCSR: usize = 24;
    /// MXCSR_MASK (u32), informational.
    pub const MXCSR_MASK: usize = 28;
    /// `sw_reserved[]` of `struct _fpstate_64`: `struct _fpx_sw_bytes` in a
    /// signal frame, XCR0 in its first 8 bytes in a ptrace NT_X86_XSTATE dump.
    pub const SW_RESERVED: usize = 464;
    /// Size of the legacy FXSAVE region (`struct _fpstate_64`).
    pub const LEGACY_SIZE: usize = 512;
    /// `XSTATE_BV`: which state components the image holds (u64).
    pub const XSTATE_BV: usize = 512;
    /// `XCOMP_BV`: must be 0 for the standard form user space uses (u64).
    pub const XCOMP_BV: usize = 520;
    /// Start of the header's reserved bytes.
    pub const HDR_RESERVED: usize = 528;
    /// End of the header: the smallest valid XSAVE image (legacy + header).
    pub const HDR_END: usize = 576;
}

/// `struct _fpx_sw_bytes`, relative to [`xsave::SW_RESERVED`].
pub mod sw {
    pub const MAGIC1: usize = 0;
    pub const EXTENDED_SIZE: usize = 4;
    pub const XFEATURES: usize = 8;
    pub const XSTATE_SIZE: usize = 16;
    /// `sizeof(struct _fpx_sw_bytes)` (padding to 48).
    pub const SIZE: usize = 48;
}

/// `siginfo_t` (128 bytes; the union `_sifields` starts at 16).
pub mod si {
    pub const SIGNO: usize = 0;
    pub const ERRNO: usize = 4;
    pub const CODE: usize = 8;
    /// Start of `_sifields`.
    pub const FIELDS: usize = 16;
    // _kill / _rt / _sigchld
    pub const PID: usize = 16;
    pub const UID: usize = 20;
    pub const VALUE: usize = 24;
    pub const STATUS: usize = 24;
    pub const UTIME: usize = 32;
    pub const STIME: usize = 40;
    // _timer
    pub const TIMERID: usize = 16;
    pub const OVERRUN: usize = 20;
    // _sigfault
    pub const ADDR: usize = 16;
    // _sigpoll
    pub const BAND: usize = 16;
    pub const FD: usize = 24;
    // _sigsys
    pub const CALL_ADDR: usize = 16;
    pub const SYSCALL: usize = 24;
    pub const ARCH: usize = 28;
    /// `sizeof(struct kernel_siginfo)`: the part the kernel keeps; the rest
    /// of the 128 bytes reaches user space as zeros.
    pub const KERNEL_SIZE: usize = 48;
    /// `sizeof(siginfo_t)`.
    pub const SIZE: usize = 128;
}

/// Little-endian field access on byte buffers. Out-of-range accesses read
/// as zero and write nothing, so a malformed offset can never panic; every
/// offset used with these comes from the constants above and is checked by
/// the tests against buffers of the right size.
pub(crate) mod bytes {
    /// Reads `N` bytes at `off`, or zeros if they are not all there.
    fn get<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
        off.checked_add(N)
            .and_then(|end| b.get(off..end))
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; N])
    }

    /// Writes `v` at `off` if it fits.
    fn put<const N: usize>(b: &mut [u8], off: usize, v: [u8; N]) {
        if let Some(s) = off.checked_add(N).and_then(|end| b.get_mut(off..end)) {
            s.copy_from_slice(&v);
        }
    }

    pub fn u16_at(b: &[u8], off: usize) -> u16 {
        u16::from_le_bytes(get(b, off))
    }
    pub fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(get(b, off))
    }
    pub fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(get(b, off))
    }
    pub fn i32_at(b: &[u8], off: usize) -> i32 {
        i32::from_le_bytes(get(b, off))
    }
    pub fn i64_at(b: &[u8], off: usize) -> i64 {
        i64::from_le_bytes(get(b, off))
    }
    pub fn put_u16(b: &mut [u8], off: usize, v: u16) {
        put(b, off, v.to_le_bytes());
    }
    pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
        put(b, off, v.to_le_bytes());
    }
    pub fn put_u64(b: &mut [u8], off: usize, v: u64) {
        put(b, off, v.to_le_bytes());
    }
    pub fn put_i32(b: &mut [u8], off: usize, v: i32) {
        put(b, off, v.to_le_bytes());
    }
    pub fn put_i64(b: &mut [u8], off: usize, v: i64) {
        put(b, off, v.to_le_bytes());
    }
}
