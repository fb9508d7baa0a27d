//! Blocking: wait queues and the waker each task sleeps on.

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
    wait_on(b.waker(), queues, deadline, &|| b.interrupted(), cond).map_err(|e| match e {
        WaitError::Interrupted => nix::errno::Errno::EINTR,
        WaitError::TimedOut => nix::errno::Errno::ETIMEDOUT,
    })
}
