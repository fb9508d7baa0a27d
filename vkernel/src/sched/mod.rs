//! Blocking: wait queues and the waker each task sleeps on.

pub mod cpuclock;
pub mod sigtimer;
pub mod timer;
mod wait;

pub use wait::{wait_on, WaitError, WaitQueue, Waker};

use std::sync::Arc;
use std::time::Instant;

/// What kernel code that may sleep needs from the sleeping task: its waker, and
/// whether something (a signal, the freezer) must end the sleep early.
pub trait Block {
    fn waker(&self) -> &Arc<Waker>;
    fn interrupted(&self) -> bool;
    /// What ends the wait of a call that has already done part of its work: a
    /// signal, as for any wait, but also a checkpoint, where the call must return
    /// what it did (a thaw re-issues a parked call from its start, which would do
    /// that part twice). Linux's freezer likewise makes such a write return short.
    fn interrupted_after_progress(&self) -> bool {
        self.interrupted()
    }
    /// The caller wrote to a pipe nobody reads: SIGPIPE for the writing thread.
    fn sigpipe(&self);
    /// The guest thread and process making the call (Linux's `current`), for
    /// objects whose reads depend on who reads, like signalfd. None in test doubles.
    fn caller(&self) -> Option<(&Arc<crate::process::Thread>, &Arc<crate::process::Process>)>;
}

/// Sleeps on `queues` until `cond` gives a value; EINTR if interrupted, ETIMEDOUT at
/// `deadline`.
pub fn block_on<R>(
    b: &dyn Block,
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    cond: impl FnMut() -> Option<R>,
) -> Result<R, nix::errno::Errno> {
    wait_on(b.waker(), queues, deadline, &|| b.interrupted(), cond).map_err(errno)
}

/// [`block_on`] for a call that may have done part of its work already (`progress`):
/// then a checkpoint ends the wait too (see `Block::interrupted_after_progress`).
pub fn block_on_partial<R>(
    b: &dyn Block,
    progress: bool,
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    cond: impl FnMut() -> Option<R>,
) -> Result<R, nix::errno::Errno> {
    if !progress {
        return block_on(b, queues, deadline, cond);
    }
    let interrupted = || b.interrupted_after_progress();
    wait_on(b.waker(), queues, deadline, &interrupted, cond).map_err(errno)
}

fn errno(e: WaitError) -> nix::errno::Errno {
    match e {
        WaitError::Interrupted => nix::errno::Errno::EINTR,
        WaitError::TimedOut => nix::errno::Errno::ETIMEDOUT,
    }
}

/// Test doubles shared by the unit tests of objects that block.
#[cfg(test)]
pub mod testing {
    use std::sync::Arc;

    use super::{Block, Waker};
    use crate::fs::{Cred, FdTable};
    use crate::mm::Vmspace;
    use crate::process::{FsState, Process, Shared, Thread, Tree};

    /// A caller that is never interrupted and is no guest thread.
    pub struct Idle(pub Arc<Waker>);

    impl Idle {
        pub fn new() -> Idle {
            Idle(Waker::new())
        }
    }

    impl Block for Idle {
        fn waker(&self) -> &Arc<Waker> {
            &self.0
        }
        fn interrupted(&self) -> bool {
            false
        }
        fn sigpipe(&self) {}
        fn caller(&self) -> Option<(&Arc<Thread>, &Arc<Process>)> {
            None
        }
    }

    /// A bare pid 1 with a tiny physmem, for tests of per-process state.
    pub fn process() -> Arc<Process> {
        let physmem = Arc::new(vproc::Physmem::new(16 * 4096).expect("physmem"));
        let dir = crate::fs::pipe::pipe_inode();
        let fs = FsState {
            root: dir.clone(),
            cwd: dir,
            umask: 0o22,
        };
        let tree = Tree {
            ppid: 0,
            pgid: 1,
            sid: 1,
            children: Vec::new(),
            ctty: None,
            tty_old_pgrp: None,
        };
        Process::new(
            1,
            tree,
            Shared::new(Vmspace::new(physmem)),
            Shared::new(FdTable::default()),
            Shared::new(fs),
            Cred::ROOT,
        )
    }
}
