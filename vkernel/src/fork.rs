//! fork, vfork and clone for new processes.
//!
//! The child gets a copy of the parent's vmspace sharing every frame copy-on-write,
//! the parent's open file descriptions (shared, with their offsets), cwd, umask,
//! credentials, dispositions, mask and limits, and a fresh stub traced by a new
//! kernel thread. vfork is fork plus the parent sleeping until the child execs or
//! exits: the child gets its own copy of memory rather than borrowing the parent's,
//! which every correct vfork user tolerates.

use std::sync::Arc;

use nix::errno::Errno;

use crate::mm::{GuestPtr, UserMem};
use crate::process::{Process, Thread, Tree};
use crate::sched::block_on;
use crate::task::Task;

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;

pub struct CloneArgs {
    pub flags: u64,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

/// Creates a child process; returns its pid.
pub fn clone_process(t: &mut Task, a: &CloneArgs) -> Result<u64, Errno> {
    if a.flags & (CLONE_THREAD | CLONE_SIGHAND) != 0 {
        // Threads (and shared handler tables) arrive with the threads work.
        return Err(Errno::EINVAL);
    }
    if a.flags & CLONE_VM != 0 && a.flags & CLONE_VFORK == 0 {
        return Err(Errno::EINVAL);
    }
    let k = t.kernel.clone();
    let pid = k.alloc_pid();
    let child = new_child(t, pid, a.flags);
    k.add_process(child.clone());
    t.process.tree().children.push(pid);
    if a.flags & CLONE_PARENT_SETTID != 0 {
        t.process.mm().write_val(GuestPtr(a.parent_tid), &pid)?;
    }
    let setup = child_setup(t, a, pid)?;
    let me = Thread::new(pid);
    me.signals().mask = t.me.signals().mask;
    if let Err(e) = k.spawn_task(child.clone(), me, setup) {
        eprintln!("vkernel: cannot start a task thread: {e}");
        k.reap(&t.process, pid);
        return Err(Errno::EAGAIN);
    }
    if a.flags & CLONE_VFORK != 0 {
        // The parent sleeps until the child execs or exits (signals may end it early).
        let _ = block_on(t, &[&child.vfork_event], None, || {
            child.life().vfork_done.then_some(())
        });
    }
    Ok(pid as u64)
}

fn new_child(t: &Task, pid: i32, flags: u64) -> Arc<Process> {
    let p = &t.process;
    let (pgid, sid, ctty) = {
        let tr = p.tree();
        (tr.pgid, tr.sid, tr.ctty)
    };
    let ppid = if flags & CLONE_PARENT != 0 {
        p.ppid()
    } else {
        p.pid
    };
    let tree = Tree {
        ppid,
        pgid,
        sid,
        children: Vec::new(),
        ctty,
        tty_old_pgrp: None,
    };
    let vm = p.mm().fork();
    let files = p.files().clone();
    let fs = {
        let f = p.fs();
        crate::process::FsState {
            root: f.root.clone(),
            cwd: f.cwd.clone(),
            umask: f.umask,
        }
    };
    let child = Process::new(pid, tree, vm, files, fs, p.cred());
    *child.sigactions() = *p.sigactions();
    *child.rlimits() = *p.rlimits();
    *child.exec_info() = p.exec_info().clone();
    child
}

/// What the child's task does before running: the parent's registers (rax = 0, the
/// new stack and TLS if given) and FPU state, and the child-tid bookkeeping.
fn child_setup(
    t: &mut Task,
    a: &CloneArgs,
    pid: i32,
) -> Result<impl FnOnce(&mut Task) -> bool + Send + 'static, Errno> {
    // The parent's queued write-protections must reach its stub before it runs on.
    t.flush_mm().map_err(|_| Errno::ENOMEM)?;
    let xstate = t.thread.get_xstate().map_err(|_| Errno::EAGAIN)?;
    let mut regs = t.regs;
    regs.0.rax = 0;
    if a.stack != 0 {
        regs.0.rsp = a.stack;
    }
    if a.flags & CLONE_SETTLS != 0 {
        regs.0.fs_base = a.tls;
    }
    let (altstack, flags, child_tid) = (t.altstack, a.flags, a.child_tid);
    Ok(move |c: &mut Task| {
        // Segment selectors come from the fresh stub; everything else from the parent.
        let template = c.regs;
        regs.0.cs = template.0.cs;
        regs.0.ss = template.0.ss;
        c.regs = regs;
        c.altstack = altstack;
        if c.thread.set_xstate(&xstate).is_err() {
            return false;
        }
        if flags & CLONE_CHILD_CLEARTID != 0 {
            c.clear_child_tid = child_tid;
        }
        if flags & CLONE_CHILD_SETTID != 0
            && c.process.mm().write_val(GuestPtr(child_tid), &pid).is_err()
        {
            return false;
        }
        true
    })
}
