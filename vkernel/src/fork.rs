//! fork, vfork and clone for new processes.
//!
//! The child gets a copy of the parent's vmspace sharing every frame copy-on-write
//! (or, with CLONE_VM, the vmspace itself), a copy of the fd table (or the table, with
//! CLONE_FILES), of cwd/root/umask (CLONE_FS), of the dispositions (CLONE_SIGHAND),
//! the parent's credentials, mask and limits, and a fresh stub traced by a new kernel
//! thread. A CLONE_VM child's stub is a second host address space on the same vmspace
//! (see mm/hostlog.rs). With CLONE_VFORK the parent sleeps until the child execs or
//! exits.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nix::errno::Errno;

use crate::mm::{GuestPtr, UserMem};
use crate::process::{Process, Shared, Thread, Tree};
use crate::sched::wait_on;
use crate::signal::RestartBlock;
use crate::task::{StubSource, Task};

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

pub struct CloneArgs {
    pub flags: u64,
    /// The signal the parent gets when the child ends (0: none, and only __WALL or
    /// __WCLONE waits see the child).
    pub exit_signal: i32,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

/// Creates a child process; returns its pid.
pub fn clone_process(t: &mut Task, a: &CloneArgs) -> Result<u64, Errno> {
    if a.flags & CLONE_THREAD != 0 {
        return clone_thread(t, a);
    }
    if a.flags & CLONE_SIGHAND != 0 && a.flags & CLONE_VM == 0
        || a.flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) == CLONE_SIGHAND | CLONE_CLEAR_SIGHAND
    {
        return Err(Errno::EINVAL);
    }
    if a.flags & CLONE_PARENT != 0 && t.process.pid == 1 {
        // init's siblings would have no parent to reap them.
        return Err(Errno::EINVAL);
    }
    let k = t.kernel.clone();
    let pid = k.alloc_pid();
    let child = new_child(t, pid, a);
    let setup = child_setup(t, a, pid)?;
    k.add_process(child.clone());
    let parent = k.process(child.ppid()).unwrap_or_else(|| t.process.clone());
    parent.tree().children.push(pid);
    if a.flags & CLONE_PARENT_SETTID != 0 {
        // As in Linux, a bad pointer here does not undo the clone.
        let _ = t.process.mm().write_val(GuestPtr(a.parent_tid), &pid);
    }
    let me = Thread::new(pid);
    me.signals().mask = t.me.signals().mask;
    if let Err(e) = k.spawn_task(child.clone(), me, StubSource::Fresh, setup, None) {
        eprintln!("vkernel: cannot start a task thread: {e}");
        k.reap(&parent, pid);
        return Err(Errno::EAGAIN);
    }
    if a.flags & CLONE_VFORK != 0 {
        return wait_for_vfork_child(t, pid);
    }
    Ok(pid as u64)
}

/// A vfork parent sleeps until child `pid` execs or exits, then vfork returns the
/// pid. As in Linux, only a fatal signal ends the wait early: the parent must not run
/// on the memory (and stack) the child is using; other signals wait for the child to
/// let go. A checkpoint taken meanwhile records the wait, not the vfork, so a thaw
/// waits for the same child (restart_syscall) instead of making another.
pub fn wait_for_vfork_child(t: &mut Task, pid: i32) -> Result<u64, Errno> {
    let Some(child) = t.kernel.process(pid) else {
        return Ok(pid as u64);
    };
    t.restartable(RestartBlock::Vfork { child: pid }, |t| {
        let fatal = || {
            t.freeze_point(true);
            t.fatal_signal_pending()
        };
        let _ = wait_on(&t.me.waker, &[&child.vfork_event], None, &fatal, || {
            child.life().vfork_done.then_some(())
        });
        Ok(pid as u64)
    })
}

/// A new thread in the caller's process: a new host thread in the same stub, traced
/// by a new kernel thread. Returns its tid once that thread has taken it over.
fn clone_thread(t: &mut Task, a: &CloneArgs) -> Result<u64, Errno> {
    // Linux: a thread shares the handler table, which needs shared memory. Threads
    // share one Process here, so a thread with its own fd table or cwd cannot be made.
    let needed = CLONE_SIGHAND | CLONE_VM | CLONE_FILES | CLONE_FS;
    if a.flags & needed != needed || a.flags & (CLONE_VFORK | CLONE_PARENT) != 0 {
        return Err(Errno::EINVAL);
    }
    if t.process.life().group_exit.is_some() {
        return Err(Errno::EAGAIN);
    }
    let tid = t.kernel.alloc_pid();
    let setup = child_setup(t, a, tid)?;
    let me = Thread::new(tid);
    me.signals().mask = t.me.signals().mask;
    *me.comm.lock().unwrap_or_else(|e| e.into_inner()) = t.thread_name();
    // Before the thread runs: it may exit (and clear the same word) at once.
    if a.flags & CLONE_PARENT_SETTID != 0 {
        let _ = t.process.mm().write_val(GuestPtr(a.parent_tid), &tid);
    }
    if !t.start_sibling(me, setup) {
        return Err(Errno::EAGAIN);
    }
    Ok(tid as u64)
}

fn new_child(t: &Task, pid: i32, a: &CloneArgs) -> Arc<Process> {
    let (p, flags) = (&t.process, a.flags);
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
    let vm = share_or_copy(&p.mm, flags & CLONE_VM != 0, |vm| vm.fork());
    let files = share_or_copy(&p.files, flags & CLONE_FILES != 0, |f| f.clone());
    let fs = share_or_copy(&p.fs, flags & CLONE_FS != 0, |f| f.clone());
    let child = Process::new(pid, tree, vm, files, fs, p.cred());
    if flags & CLONE_SIGHAND != 0 {
        child.sigactions.share(&p.sigactions);
    } else {
        *child.sigactions() = *p.sigactions();
    }
    if flags & CLONE_CLEAR_SIGHAND != 0 {
        child.reset_caught_handlers();
    }
    child.exit_signal.store(a.exit_signal, Ordering::SeqCst);
    *child.rlimits() = *p.rlimits();
    *child.exec_info() = p.exec_info().clone();
    child
}

fn share_or_copy<T>(part: &Shared<T>, share: bool, copy: impl FnOnce(&mut T) -> T) -> Shared<T> {
    if share {
        Shared::of(part.handle())
    } else {
        Shared::new(copy(&mut part.lock()))
    }
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
    // Linux clears the alternate stack of a child that shares memory but not vfork's
    // borrowed stack: both would run on it.
    let altstack = if a.flags & (CLONE_VM | CLONE_VFORK) == CLONE_VM {
        Default::default()
    } else {
        t.altstack
    };
    let (flags, child_tid) = (a.flags, a.child_tid);
    Ok(move |c: &mut Task| {
        c.load_regs(regs);
        if flags & (CLONE_VM | CLONE_THREAD) == CLONE_VM {
            // The fresh stub maps nothing yet; it faults in what it touches.
            c.process.mm().join(c.space());
        }
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
