//! Signal calls. Dispositions and masks are recorded (and reported back) now;
//! delivery to guest handlers arrives with the signals work.

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::process::SigAction;
use crate::task::Task;

const SIGKILL: u64 = 9;
const SIGSTOP: u64 = 19;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct KSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

// SAFETY: repr(C), integers only.
unsafe impl crate::mm::Pod for KSigaction {}

pub fn rt_sigaction(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [sig, act, oact, size, ..] = a;
    if size != 8 || !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        Some(t.process.mm().read_val::<KSigaction>(GuestPtr(act))?)
    } else {
        None
    };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let slot = (sig - 1) as usize;
    let old = t.process.sigactions()[slot];
    if oact != 0 {
        let k = KSigaction {
            handler: old.handler,
            flags: old.flags,
            restorer: old.restorer,
            mask: old.mask,
        };
        t.process.mm().write_val(GuestPtr(oact), &k)?;
    }
    if let Some(n) = new {
        let unblockable = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
        t.process.sigactions()[slot] = SigAction {
            handler: n.handler,
            flags: n.flags,
            restorer: n.restorer,
            mask: n.mask & !unblockable,
        };
    }
    Ok(0)
}

pub fn rt_sigprocmask(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [how, set, oset, size, ..] = a;
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.sigmask;
    let new = if set != 0 {
        Some(t.process.mm().read_val::<u64>(GuestPtr(set))?)
    } else {
        None
    };
    if let Some(s) = new {
        let s = s & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
        t.sigmask = match how as i32 {
            libc::SIG_BLOCK => old | s,
            libc::SIG_UNBLOCK => old & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        };
    }
    if oset != 0 {
        t.process.mm().write_val(GuestPtr(oset), &old)?;
    }
    Ok(0)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub pad: i32,
    pub size: u64,
}

// SAFETY: repr(C), integers only, explicit padding.
unsafe impl crate::mm::Pod for StackT {}

pub fn sigaltstack(t: &mut Task, a: [u64; 6]) -> SysResult {
    const SS_DISABLE: i32 = 2;
    const MINSIGSTKSZ: u64 = 2048;
    let new = if a[0] != 0 {
        Some(t.process.mm().read_val::<StackT>(GuestPtr(a[0]))?)
    } else {
        None
    };
    if a[1] != 0 {
        let mut old = t.altstack;
        if old.size == 0 {
            old.flags = SS_DISABLE;
        }
        t.process.mm().write_val(GuestPtr(a[1]), &old)?;
    }
    if let Some(n) = new {
        if n.flags & !SS_DISABLE & !(1 << 31) != 0 {
            return Err(Errno::EINVAL);
        }
        if n.flags & SS_DISABLE == 0 && n.size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        t.altstack = if n.flags & SS_DISABLE != 0 {
            StackT::default()
        } else {
            n
        };
    }
    Ok(0)
}
