//! wait4 and waitid: reaping children and hearing about stops and continues.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::process::{ExitStatus, Process};
use crate::sched::block_on;
use crate::signal::*;
use crate::task::Task;

const WNOHANG: u32 = 1;
const WUNTRACED: u32 = 2;
const WSTOPPED: u32 = 2;
const WEXITED: u32 = 4;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;
const WNOTHREAD: u32 = 0x2000_0000;

/// Which children a wait is about.
#[derive(Clone, Copy)]
enum Which {
    Any,
    Pid(i32),
    Group(i32),
}

/// What a wait found.
struct Found {
    pid: i32,
    uid: u32,
    /// The wait(2) status word and the waitid si_code / si_status.
    status: i32,
    code: i32,
    si_status: i32,
    /// The child's CPU time with its own reaped children's (wait4's rusage).
    cpu: crate::process::CpuTimes,
}

fn matches(c: &Process, which: Which, opts: u32) -> bool {
    // Linux's eligible_child: __WALL waits for every child, __WCLONE only for clone
    // children (exit signal other than SIGCHLD), neither only for the others.
    let clone_child = c.exit_signal.load(Ordering::SeqCst) != SIGCHLD;
    if opts & WALL == 0 && clone_child != (opts & WCLONE != 0) {
        return false;
    }
    match which {
        Which::Any => true,
        Which::Pid(p) => c.pid == p,
        Which::Group(g) => c.pgid() == g,
    }
}

/// Looks for a child in a reportable state; `consume` marks it reported (and reaps a
/// zombie). Ok(None): children exist but none is ready. ECHILD: no such child.
fn scan(t: &Task, which: Which, opts: u32, consume: bool) -> Result<Option<Found>, Errno> {
    let kids: Vec<Arc<Process>> = t
        .process
        .tree()
        .children
        .iter()
        .filter_map(|&c| t.kernel.process(c))
        .filter(|c| matches(c, which, opts))
        .collect();
    if kids.is_empty() {
        return Err(Errno::ECHILD);
    }
    for c in kids {
        if let Some(f) = report(&c, opts, consume) {
            if consume && f.code != CLD_STOPPED && f.code != CLD_CONTINUED {
                t.kernel.reap(&t.process, c.pid);
            }
            return Ok(Some(f));
        }
    }
    Ok(None)
}

fn report(c: &Process, opts: u32, consume: bool) -> Option<Found> {
    let uid = c.cred().uid;
    let mut l = c.life();
    let cpu = l.cpu.add(l.children_cpu);
    if let Some(st) = l.exit.filter(|_| opts & WEXITED != 0) {
        let (code, si_status) = match st {
            ExitStatus::Code(v) => (CLD_EXITED, v),
            ExitStatus::Signal(s) if l.core => (CLD_DUMPED, s),
            ExitStatus::Signal(s) => (CLD_KILLED, s),
        };
        let status = st.wait_status() | if l.core { 0x80 } else { 0 };
        return Some(Found {
            pid: c.pid,
            uid,
            status,
            code,
            si_status,
            cpu,
        });
    }
    if let Some(sig) = l
        .stopped
        .filter(|_| opts & WSTOPPED != 0 && !l.stop_reported)
    {
        if consume {
            l.stop_reported = true;
        }
        return Some(Found {
            pid: c.pid,
            uid,
            status: (sig << 8) | 0x7f,
            code: CLD_STOPPED,
            si_status: sig,
            cpu,
        });
    }
    if l.continued && opts & WCONTINUED != 0 {
        if consume {
            l.continued = false;
        }
        return Some(Found {
            pid: c.pid,
            uid,
            status: 0xffff,
            code: CLD_CONTINUED,
            si_status: SIGCONT,
            cpu,
        });
    }
    None
}

/// Sleeps on the process's child_event until `scan` finds something.
fn wait_for(t: &Task, which: Which, opts: u32) -> Result<Option<Found>, Errno> {
    let consume = opts & WNOWAIT == 0;
    if opts & WNOHANG != 0 {
        return scan(t, which, opts, consume);
    }
    let p = t.process.clone();
    block_on(t, &[&p.child_event], None, || {
        match scan(t, which, opts, consume) {
            Ok(None) => None,
            other => Some(other),
        }
    })?
}

pub fn wait4(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (pid, status_addr, opts) = (a[0] as i32, a[1], a[2] as u32);
    if opts & !(WNOHANG | WUNTRACED | WCONTINUED | WALL | WCLONE | WNOTHREAD) != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match pid {
        -1 => Which::Any,
        0 => Which::Group(t.process.pgid()),
        p if p < 0 => Which::Group(-p),
        p => Which::Pid(p),
    };
    let Some(f) = wait_for(
        t,
        which,
        (opts & !WUNTRACED) | WEXITED | if opts & WUNTRACED != 0 { WSTOPPED } else { 0 },
    )?
    else {
        return Ok(0);
    };
    if status_addr != 0 {
        t.process.mm().write_val(GuestPtr(status_addr), &f.status)?;
    }
    if a[3] != 0 {
        let ru = super::time::rusage_bytes(f.cpu, 0);
        t.process.mm().write_bytes(GuestPtr(a[3]), &ru)?;
    }
    Ok(f.pid as u64)
}

pub fn waitid(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (idtype, id, infop, opts) = (a[0] as u32, a[1] as i32, a[2], a[3] as u32);
    if opts & !(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WALL | WCLONE | WNOTHREAD)
        != 0
        || opts & (WSTOPPED | WEXITED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        0 => Which::Any,
        1 if id > 0 => Which::Pid(id),
        2 => Which::Group(if id == 0 { t.process.pgid() } else { id }),
        _ => return Err(Errno::EINVAL),
    };
    let found = wait_for(t, which, opts)?;
    if infop != 0 {
        let mut si = [0u8; 128];
        if let Some(f) = &found {
            si[0..4].copy_from_slice(&SIGCHLD.to_ne_bytes());
            si[8..12].copy_from_slice(&f.code.to_ne_bytes());
            si[16..20].copy_from_slice(&f.pid.to_ne_bytes());
            si[20..24].copy_from_slice(&f.uid.to_ne_bytes());
            si[24..28].copy_from_slice(&f.si_status.to_ne_bytes());
        }
        t.process.mm().write_bytes(GuestPtr(infop), &si)?;
    }
    Ok(0)
}
