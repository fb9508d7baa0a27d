//! Register files of a guest thread, as ptrace exchanges them.

use serde::{Deserialize, Serialize};

/// General registers in `struct user_regs_struct` order (27 words), the layout ptrace,
/// core files (NT_PRSTATUS) and the kernel's checkpoint all share.
#[derive(Clone, Copy)]
pub struct Regs(pub libc::user_regs_struct);

impl Default for Regs {
    fn default() -> Self {
        Regs::from_words([0; 27])
    }
}

impl PartialEq for Regs {
    fn eq(&self, other: &Self) -> bool {
        self.to_words() == other.to_words()
    }
}

impl Eq for Regs {}

impl Serialize for Regs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_words().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Regs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <[u64; 27]>::deserialize(d).map(Regs::from_words)
    }
}

impl std::fmt::Debug for Regs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.0;
        write!(
            f,
            "rip={:#x} rsp={:#x} rax={:#x} orig_rax={:#x} rdi={:#x} rsi={:#x} rdx={:#x}",
            r.rip, r.rsp, r.rax, r.orig_rax, r.rdi, r.rsi, r.rdx
        )
    }
}

impl Regs {
    /// Fresh registers for a thread entering user mode at `rip` with stack `rsp`, as
    /// Linux sets them at execve: everything zero but the user segments and IF.
    pub fn initial(rip: u64, rsp: u64, template: &Regs) -> Regs {
        let mut r = Regs::default();
        r.0.rip = rip;
        r.0.rsp = rsp;
        r.0.cs = template.0.cs;
        r.0.ss = template.0.ss;
        r.0.ds = template.0.ds;
        r.0.es = template.0.es;
        r.0.eflags = 0x202;
        r.0.orig_rax = u64::MAX;
        r
    }

    /// The system call number and arguments at a syscall stop.
    pub fn syscall(&self) -> (u64, [u64; 6]) {
        let r = &self.0;
        (r.orig_rax, [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9])
    }

    /// The words in user_regs_struct order, for core-file notes.
    pub fn to_words(&self) -> [u64; 27] {
        // SAFETY: user_regs_struct is 27 u64 fields with no padding.
        unsafe { std::mem::transmute::<libc::user_regs_struct, [u64; 27]>(self.0) }
    }

    pub fn from_words(w: [u64; 27]) -> Regs {
        // SAFETY: as in to_words; every bit pattern is a valid user_regs_struct.
        Regs(unsafe { std::mem::transmute::<[u64; 27], libc::user_regs_struct>(w) })
    }
}

/// The legacy FXSAVE area (512 bytes).
#[derive(Clone, Copy)]
pub struct FpRegs(pub libc::user_fpregs_struct);

/// The XSAVE area as PTRACE_GETREGSET(NT_X86_XSTATE) returns it; its size depends on
/// the CPU's enabled features.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XState(pub Vec<u8>);
