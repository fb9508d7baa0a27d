//! Linux's x86-64 signal frame, built ([`build`]) and read back on
//! `rt_sigreturn` ([`restore`]) exactly as Linux does it.
//!
//! glibc's and musl's handlers, `ucontext_t` readers (libunwind, language
//! runtimes, debuggers) and sigreturn itself all depend on the bytes, so the
//! frame follows arch/x86/kernel/signal.c (`get_sigframe`), signal_64.c
//! (`x64_setup_rt_frame`, `rt_sigreturn`), fpu/signal.c and the uapi headers.
//! From the interrupted stack pointer downwards:
//!
//! ```text
//!   rsp - 128                 red zone skipped (not on a fresh alternate stack)
//!   fpstate  (64-aligned)     XSAVE image (xstate_size bytes) + FP_XSTATE_MAGIC2
//!   [padding]                 not written by Linux (zeros here)
//!   frame + 312               siginfo_t (128 bytes)
//!   frame + 8                 struct ucontext (304 bytes)
//!   frame    ((frame+8)%16==0) pretcode = sa_restorer; the handler's rsp
//! ```
//!
//! The layout was checked against the C headers and against frames the
//! running Linux kernel wrote (see `linux_tests.rs`).
//!
//! ```
//! use abi::sigframe::{build, restore, AltStack, Delivery, SigFields, SigInfo, reg};
//!
//! let mut regs = [0u64; 27];
//! regs[reg::RSP] = 0x7fff_0000_1000;
//! regs[reg::CS] = 0x33;
//! regs[reg::SS] = 0x2b;
//! regs[reg::EFLAGS] = 0x246;
//! let mut xsave = vec![0u8; 832];
//! xsave[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // MXCSR
//! let info = SigInfo { signo: 10, errno: 0, code: 0, fields: SigFields::Kill { pid: 1, uid: 0 } };
//! let d = Delivery {
//!     regs, xsave: &xsave, xfeatures: 0x7, blocked: 0, altstack: AltStack::default(),
//!     info: &info, handler: 0x401000, restorer: 0x402000,
//!     sa_flags: abi::sigframe::SA_SIGINFO | abi::sigframe::SA_RESTORER, fault: None,
//! };
//! let f = build(&d).unwrap();
//! assert_eq!(f.addr % 16, 8);
//! assert_eq!(f.regs[reg::RSI], f.addr + 312);
//!
//! // The handler returns into the restorer, which pops pretcode and calls rt_sigreturn.
//! let mem = |a: u64, n: usize| {
//!     let off = a.checked_sub(f.addr)? as usize;
//!     f.bytes.get(off..off.checked_add(n)?).map(<[u8]>::to_vec)
//! };
//! let r = restore(f.addr + 8, &f.regs, &mem).unwrap();
//! assert_eq!(r.regs[reg::RSP], 0x7fff_0000_1000);
//! ```

mod build;
pub mod layout;
mod restore;
mod siginfo;

#[cfg(test)]
mod linux_tests;
#[cfg(test)]
mod tests;

pub use build::{build, reset_fpu};
pub use layout::reg;
pub use restore::{pad_xsave, restore};
pub use siginfo::{code, SigFields, SigInfo, SigInfoError};

/// `sa_flags` bits (asm-generic/signal-defs.h, asm/signal.h).
pub const SA_SIGINFO: u64 = 0x0000_0004;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `stack_t.ss_flags` bits.
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;
/// x86's MINSIGSTKSZ: the smallest alternate stack sigaltstack accepts.
pub const MINSIGSTKSZ: u64 = 2048;

/// `uc_flags` bits (asm/ucontext.h).
pub const UC_FP_XSTATE: u64 = 1;
pub const UC_SIGCONTEXT_SS: u64 = 2;
pub const UC_STRICT_RESTORE_SS: u64 = 4;

/// `_fpx_sw_bytes.magic1`: the fpstate is an XSAVE image described by sw_reserved.
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// Written right after the XSAVE image: proves the extended state was copied too.
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;

/// `__USER_CS` / `__USER_DS` of x86-64 Linux.
pub const USER_CS: u64 = 0x33;
pub const USER_DS: u64 = 0x2b;

/// XSTATE components x87 and SSE: always enabled on x86-64, always restorable.
pub const XFEATURE_MASK_FPSSE: u64 = 0x3;

/// Largest XSAVE image accepted, from the caller or from a frame. Today's
/// largest (AMX tile data) is about 11 KiB.
pub const XSTATE_MAX: usize = 1 << 16;

/// `eflags` bits.
pub const EFLAGS_TF: u64 = 1 << 8;
pub const EFLAGS_DF: u64 = 1 << 10;
pub const EFLAGS_RF: u64 = 1 << 16;
/// `FIX_EFLAGS` (asm/sighandling.h): the only flags sigreturn takes from the
/// frame (AC OF DF TF SF ZF AF PF CF RF); IF, IOPL and the rest stay.
pub const FIX_EFLAGS: u64 = 0x5_0dd5;

/// SIGKILL and SIGSTOP can never be blocked (`set_current_blocked`).
pub const UNBLOCKABLE: u64 = (1 << (9 - 1)) | (1 << (19 - 1));

/// A thread's alternate signal stack, as Linux stores it (`sas_ss_sp`,
/// `sas_ss_flags`, `sas_ss_size`) and as it appears in `uc_stack`.
///
/// `flags` holds what sigaltstack(2) was given (0, SS_ONSTACK or SS_DISABLE,
/// possibly with SS_AUTODISARM), not the computed flags sigaltstack reports
/// (see [`AltStack::reported`]). A fresh process has `{0, 0, 0}`, and Linux
/// writes exactly these three values into `uc_stack`: no SS_ONSTACK is added
/// when the handler runs on the stack (checked against Linux 6.18).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub flags: i32,
    pub size: u64,
}

/// sigaltstack(2) errors (`do_sigaltstack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AltStackError {
    /// The thread is running on the alternate stack it wants to change.
    #[error("EPERM: running on the alternate signal stack")]
    OnStack,
    /// Mode other than 0, SS_ONSTACK or SS_DISABLE (plus SS_AUTODISARM).
    #[error("EINVAL: bad ss_flags")]
    BadFlags,
    /// Smaller than MINSIGSTKSZ.
    #[error("ENOMEM: alternate stack smaller than MINSIGSTKSZ")]
    TooSmall,
}

impl AltStack {
    /// Disabled: Linux tests `sas_ss_size == 0` (disabling zeroes the size);
    /// SS_DISABLE is honoured too in case a caller keeps a stale size.
    pub fn disabled(&self) -> bool {
        self.size == 0 || self.flags & SS_DISABLE != 0
    }

    /// `__on_sig_stack`: `sp` lies in `(sp, sp + size]` (the top is included,
    /// the base is not, since the stack grows down).
    pub fn contains(&self, sp: u64) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }

    /// `on_sig_stack`: with SS_AUTODISARM the thread is never considered on
    /// it, so a corrupt sp near the stack cannot block delivery.
    pub fn on_stack(&self, sp: u64) -> bool {
        self.flags & SS_AUTODISARM == 0 && self.contains(sp)
    }

    /// `sas_ss_flags(sp)`: SS_DISABLE, SS_ONSTACK or 0.
    pub fn sas_flags(&self, sp: u64) -> i32 {
        if self.disabled() {
            SS_DISABLE
        } else if self.on_stack(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }

    /// What sigaltstack(NULL, &old) reports at stack pointer `sp`.
    pub fn reported(&self, sp: u64) -> AltStack {
        AltStack {
            flags: self.sas_flags(sp) | (self.flags & SS_AUTODISARM),
            ..*self
        }
    }

    /// The state after Linux's `sas_ss_reset` (SS_AUTODISARM after a delivery).
    pub fn reset() -> AltStack {
        AltStack {
            sp: 0,
            flags: SS_DISABLE,
            size: 0,
        }
    }

    /// sigaltstack(new, ...) at stack pointer `sp` (`do_sigaltstack`): the
    /// new state, or why Linux refuses it.
    pub fn set(&self, new: AltStack, sp: u64, min_size: u64) -> Result<AltStack, AltStackError> {
        if self.on_stack(sp) {
            return Err(AltStackError::OnStack);
        }
        let mode = new.flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE {
            return Err(AltStackError::BadFlags);
        }
        if new == *self {
            return Ok(*self);
        }
        if mode == SS_DISABLE {
            return Ok(AltStack {
                sp: 0,
                flags: new.flags,
                size: 0,
            });
        }
        if new.size < min_size {
            return Err(AltStackError::TooSmall);
        }
        Ok(new)
    }

    /// rt_sigreturn's `restore_altstack`: re-install the frame's `uc_stack`
    /// (`saved`, from [`Restored::altstack`]) at the restored `sp`. Linux
    /// ignores every error but EFAULT, keeping the current stack.
    pub fn after_sigreturn(&self, saved: AltStack, sp: u64) -> AltStack {
        self.set(saved, sp, MINSIGSTKSZ).unwrap_or(*self)
    }
}

/// Everything Linux's signal delivery reads.
pub struct Delivery<'a> {
    /// The interrupted context in `user_regs_struct` order (rax already holds
    /// the syscall result or -EINTR, rip already backed up for a restart).
    pub regs: [u64; 27],
    /// The thread's XSAVE image in ptrace NT_X86_XSTATE form (>= 576 bytes:
    /// 512 legacy + 64 header + extended components). Its length becomes the
    /// frame's `xstate_size`, so it must be the size of the components in
    /// `xfeatures` (Linux's `fpstate->user_size`). On machines with AMX the
    /// ptrace dump also holds the tile data, which Linux leaves out of frames
    /// unless the process asked for it: truncate to CPUID(0xd,0).EBX of the
    /// frame's features. `sw_reserved` (464..512) is overwritten.
    pub xsave: &'a [u8],
    /// The user feature mask (Linux's `fpstate->user_xfeatures`): XCR0 as
    /// ptrace reports it in bytes 464..472 of the dump ([`ptrace_xcr0`]),
    /// minus AMX unless permitted. Must include x87 and SSE (bits 0, 1).
    pub xfeatures: u64,
    /// The signal mask to restore on sigreturn (`uc_sigmask`, `oldmask`).
    pub blocked: u64,
    /// The thread's alternate stack before this delivery.
    pub altstack: AltStack,
    pub info: &'a SigInfo,
    pub handler: u64,
    /// `sa_restorer`. SA_RESTORER is mandatory on x86-64.
    pub restorer: u64,
    /// SA_ONSTACK, SA_SIGINFO, SA_RESTORER, ... (SA_NODEFER, SA_RESETHAND
    /// and sa_mask are the caller's business after a successful build).
    pub sa_flags: u64,
    /// `(error_code, trap_nr, cr2)` of a CPU fault, zeros otherwise (Linux
    /// writes the thread's last trap values, which are zero in practice).
    pub fault: Option<(u64, u64, u64)>,
}

/// A frame ready to be written to the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Where `bytes` go: the handler's rsp, `(addr + 8) % 16 == 0`.
    pub addr: u64,
    /// From `addr` to the end of FP_XSTATE_MAGIC2, in one contiguous write
    /// (the alignment gap Linux leaves unwritten is zero here).
    pub bytes: Vec<u8>,
    /// Registers at handler entry: rip = handler, rsp = addr, rdi = signo,
    /// rsi = &info, rdx = &uc, rax = 0, eflags without DF/TF/RF, cs = 0x33,
    /// ss kept if 0x2b else forced to 0x2b, everything else (orig_rax, fs_base,
    /// ...) as interrupted.
    pub regs: [u64; 27],
    /// The frame lies on the alternate stack (entered now or already on it).
    pub altstack_used: bool,
    /// Linux's `signal_delivered`: after ANY successful delivery while the
    /// altstack has SS_AUTODISARM, reset it ([`AltStack::reset`]), whether or
    /// not this frame used it. sigreturn re-arms it from `uc_stack`.
    pub disarm_altstack: bool,
    /// The thread's XSAVE image at handler entry: Linux resets the FPU
    /// (`fpu__clear_user_states`). Same length as `Delivery::xsave`.
    pub handler_xsave: Vec<u8>,
}

/// What rt_sigreturn restores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The interrupted registers from the frame: orig_rax = -1 (no restart),
    /// eflags merged through FIX_EFLAGS, cs/ss forced to CPL 3; fs_base,
    /// gs_base, ds, es, fs, gs as they are now. rax is the syscall's return
    /// value (Linux returns `regs->ax`): do not overwrite it.
    pub regs: [u64; 27],
    /// The mask to install, SIGKILL/SIGSTOP already removed.
    pub blocked: u64,
    /// The XSAVE image to load, in ptrace NT_X86_XSTATE form: XSTATE_BV
    /// limited to what XRSTOR would load (components with a clear bit go to
    /// their init state), XCR0 from the frame at 464. Its length is the
    /// frame's `xstate_size` (576 on the legacy fallback): grow it to the
    /// regset size with [`pad_xsave`] before PTRACE_SETREGSET. `None`: the
    /// frame had no fpstate and Linux resets the FPU ([`reset_fpu`]).
    pub xsave: Option<Vec<u8>>,
    /// `uc_stack` as the frame holds it; install it with
    /// [`AltStack::after_sigreturn`] at the restored rsp.
    pub altstack: AltStack,
}

/// Why a frame could not be built or restored; Linux answers every one of
/// them with SIGSEGV (`force_sigsegv` / `signal_fault`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The handler has no SA_RESTORER: x86-64 Linux refuses to deliver.
    #[error("handler installed without SA_RESTORER")]
    NoRestorer,
    /// The frame does not fit on the alternate stack it must go on.
    #[error("signal frame overflows the alternate signal stack")]
    StackOverflow,
    /// The XSAVE image is unusable (too small, bad features, bad header).
    #[error("bad XSAVE state: {0}")]
    BadXsave(&'static str),
    /// Guest memory unreadable, or the frame would wrap the address space.
    #[error("signal frame memory is not accessible")]
    Fault,
}

/// XCR0 as a ptrace NT_X86_XSTATE dump records it (bytes 464..472), the
/// value [`Delivery::xfeatures`] wants on machines without AMX.
pub fn ptrace_xcr0(xsave: &[u8]) -> Option<u64> {
    let b = xsave.get(layout::xsave::SW_RESERVED..layout::xsave::SW_RESERVED + 8)?;
    Some(layout::bytes::u64_at(b, 0))
}
