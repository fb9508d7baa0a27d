//! The freezer: brings every task to a clean boundary and holds it there while the
//! checkpoint is written, then lets them all go on as if nothing happened.
//!
//! Every task that exists or is being created counts as live (`spawned` before its
//! kernel thread starts, `ended` when it finishes). A freeze request kicks every
//! thread; each task parks at its next check:
//! - at the top of its loop, between guest instructions (its registers are the
//!   guest's, as after any trap);
//! - inside a kernel wait, through `Block::interrupted` (the wait goes on afterwards:
//!   no EINTR, no lost wakeup, since the wait re-checks its condition). Its registers
//!   are recorded rewound to re-issue the system call, as a restart would.
//!
//! A parked task has handed over a snapshot of its thread; once every live task has
//! parked, guest memory and thread state are quiescent and the checkpoint is written.
//!
//! Input from the host (the console's reader, which is no task) goes through a gate
//! the checkpoint holds from before the freeze until after the thaw: bytes read
//! meanwhile wait and reach the terminal after the thaw, as input to the system that
//! goes on, never half into the saved terminal state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// One thread as the checkpoint sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSnapshot {
    pub pid: i32,
    pub tid: i32,
    /// user_regs_struct order; for a thread parked in a system call, rewound so that
    /// resuming re-issues it.
    pub regs: [u64; 27],
    /// The XSAVE area as PTRACE_GETREGSET(NT_X86_XSTATE) gives it.
    pub xstate: Vec<u8>,
    /// The system call the thread was blocked in, if any.
    pub in_syscall: Option<u64>,
    pub mask: u64,
    /// The thread's own pending signals, with their siginfo.
    pub pending: crate::signal::SigQueue,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    /// sigaltstack: base, flags, size.
    pub altstack: (u64, i32, u64),
    pub comm: Vec<u8>,
    /// How a system call that a signal interrupted goes on, once signals are handled.
    pub restart: Option<crate::signal::Restart>,
    /// What restart_syscall continues (also a sleep or vfork wait parked in).
    pub restart_block: Option<crate::signal::RestartBlock>,
    /// sigsuspend's caller mask, while it is in force.
    pub saved_mask: Option<u64>,
    /// Its CPU time (the thawed thread's base).
    pub cpu: crate::sched::cpuclock::CpuBase,
}

#[derive(Default)]
struct State {
    /// Tasks that exist or are being created.
    live: usize,
    parked: Vec<ThreadSnapshot>,
    /// Bumped by every thaw: a parked task waits for it to change.
    generation: u64,
}

#[derive(Default)]
pub struct Freezer {
    requested: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
    /// Host input delivers under the read side; a checkpoint holds the write side.
    input: parking_lot::RwLock<()>,
}

impl Freezer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether tasks must park now (cheap: checked at every loop and wait).
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// A task is about to be created (before its kernel thread starts).
    pub fn spawned(&self) {
        self.lock().live += 1;
    }

    /// A task has finished (or failed to start).
    pub fn ended(&self) {
        let mut s = self.lock();
        s.live = s.live.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Hands over `snapshot` and sleeps until the thaw.
    pub fn park(&self, snapshot: ThreadSnapshot) {
        let mut s = self.lock();
        let generation = s.generation;
        s.parked.push(snapshot);
        self.changed.notify_all();
        while s.generation == generation {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Asks every task to park (the caller then kicks them all) and waits until they
    /// have; returns their snapshots. Tasks created meanwhile park before they run.
    pub fn freeze(&self, kick_all: impl Fn()) -> Vec<ThreadSnapshot> {
        self.requested.store(true, Ordering::SeqCst);
        kick_all();
        let mut s = self.lock();
        loop {
            if s.parked.len() >= s.live {
                return s.parked.clone();
            }
            // A kick can be missed by a task that was just between its check and a
            // sleep; kick again now and then.
            let (g, timeout) = self
                .changed
                .wait_timeout(s, std::time::Duration::from_millis(20))
                .unwrap_or_else(|e| e.into_inner());
            s = g;
            if timeout.timed_out() {
                drop(s);
                kick_all();
                s = self.lock();
            }
        }
    }

    /// Lets every parked task go on.
    pub fn thaw(&self) {
        let mut s = self.lock();
        self.requested.store(false, Ordering::SeqCst);
        s.parked.clear();
        s.generation += 1;
        self.changed.notify_all();
    }

    /// Closes the input gate until the guard is dropped: taken before the freeze
    /// (waiting for a delivery under way), dropped after the thaw.
    pub fn hold_input(&self) -> parking_lot::RwLockWriteGuard<'_, ()> {
        self.input.write()
    }

    /// Runs `deliver` (host input into a terminal) with the gate open, waiting
    /// while a checkpoint holds it.
    pub fn deliver_input<R>(&self, deliver: impl FnOnce() -> R) -> R {
        let _open = self.input.read();
        deliver()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn snapshot(tid: i32) -> ThreadSnapshot {
        ThreadSnapshot {
            pid: 1,
            tid,
            regs: [0; 27],
            xstate: Vec::new(),
            in_syscall: None,
            mask: 0,
            pending: Default::default(),
            clear_child_tid: 0,
            robust_list: 0,
            altstack: (0, 2, 0),
            comm: b"t".to_vec(),
            restart: None,
            restart_block: None,
            saved_mask: None,
            cpu: Default::default(),
        }
    }

    #[test]
    fn a_snapshot_round_trips_through_the_note_encoding() {
        let mut s = snapshot(7);
        s.regs[3] = 0xdead_beef;
        s.xstate = vec![1, 2, 3];
        s.in_syscall = Some(202);
        s.pending.push(crate::signal::SigInfo::kernel(10));
        s.restart = Some(crate::signal::Restart::Block);
        s.restart_block = Some(crate::signal::RestartBlock::Sleep {
            clock: 1,
            target: std::time::Duration::from_millis(1500),
            rem: 0x7000,
        });
        s.saved_mask = Some(1 << 9);
        s.cpu.runtime = std::time::Duration::from_millis(1234);
        let back: ThreadSnapshot = ckpt::decode(&ckpt::encode(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn freeze_waits_for_every_live_task_and_thaw_releases_them() {
        let f = Arc::new(Freezer::default());
        f.spawned();
        f.spawned();
        let tasks: Vec<_> = (1..=2)
            .map(|tid| {
                let f = f.clone();
                std::thread::spawn(move || {
                    while !f.requested() {
                        std::thread::yield_now();
                    }
                    f.park(snapshot(tid));
                    f.ended();
                })
            })
            .collect();
        let mut got = f.freeze(|| {});
        got.sort_by_key(|s| s.tid);
        assert_eq!(got.iter().map(|s| s.tid).collect::<Vec<_>>(), [1, 2]);
        f.thaw();
        for t in tasks {
            t.join().unwrap();
        }
        assert_eq!(f.lock().live, 0);
    }

    #[test]
    fn input_waits_while_a_checkpoint_holds_the_gate() {
        let f = Arc::new(Freezer::default());
        let held = f.hold_input();
        let delivered = Arc::new(AtomicBool::new(false));
        let pump = {
            let (f, delivered) = (f.clone(), delivered.clone());
            std::thread::spawn(move || f.deliver_input(|| delivered.store(true, Ordering::SeqCst)))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !delivered.load(Ordering::SeqCst),
            "delivered during the checkpoint"
        );
        drop(held);
        pump.join().unwrap();
        assert!(delivered.load(Ordering::SeqCst), "delivered after it");
    }

    #[test]
    fn a_checkpoint_waits_for_a_delivery_under_way() {
        let f = Arc::new(Freezer::default());
        let (started, done) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let pump = {
            let (f, started, done) = (f.clone(), started.clone(), done.clone());
            std::thread::spawn(move || {
                f.deliver_input(|| {
                    started.store(true, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    done.store(true, Ordering::SeqCst);
                })
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let _held = f.hold_input();
        assert!(done.load(Ordering::SeqCst), "the gate closed mid-delivery");
        pump.join().unwrap();
    }
}
