//! Wait queues.
//!
//! A task that must wait registers its `Waker` on every queue that can end the wait,
//! re-checks its condition, then sleeps; whoever changes the state notifies the queue.
//! Registering before checking makes lost wakeups impossible. Every wait is
//! interruptible: a signal for the task (or the freezer) wakes the same waker, and the
//! wait returns `Interrupted` when the task's interrupt check says so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

#[derive(Default)]
pub struct Waker {
    woken: Mutex<bool>,
    cv: Condvar,
    /// Whether its task is asleep in the kernel now (/proc's S state).
    asleep: std::sync::atomic::AtomicBool,
}

impl Waker {
    pub fn new() -> Arc<Waker> {
        Arc::new(Waker::default())
    }

    pub fn wake(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }

    fn reset(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }

    pub fn is_asleep(&self) -> bool {
        self.asleep.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sleeps until woken or `deadline`.
    fn sleep(&self, deadline: Option<Instant>) {
        self.asleep
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.sleep_inner(deadline);
        self.asleep
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    fn sleep_inner(&self, deadline: Option<Instant>) {
        let mut woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        while !*woken {
            match deadline {
                None => woken = self.cv.wait(woken).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    woken = self
                        .cv
                        .wait_timeout(woken, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Waker>>>,
    /// How many notifications there have been: edge-triggered epoll compares it to
    /// tell a new event from a state it has already reported.
    notified: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    Interrupted,
    TimedOut,
}

impl WaitQueue {
    pub fn notify_all(&self) {
        self.notified.fetch_add(1, Ordering::SeqCst);
        let waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        for w in waiters.iter() {
            w.wake();
        }
    }

    /// The number of notifications so far (it only grows).
    pub fn generation(&self) -> u64 {
        self.notified.load(Ordering::SeqCst)
    }

    fn add(&self, w: &Arc<Waker>) {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w.clone());
    }

    fn remove(&self, w: &Arc<Waker>) {
        let mut v = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = v.iter().position(|x| Arc::ptr_eq(x, w)) {
            v.swap_remove(i);
        }
    }
}

/// Waits until `cond` yields a value, `interrupted` says stop, or `deadline` passes.
pub fn wait_on<R>(
    waker: &Arc<Waker>,
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    interrupted: &dyn Fn() -> bool,
    mut cond: impl FnMut() -> Option<R>,
) -> Result<R, WaitError> {
    for q in queues {
        q.add(waker);
    }
    let result = loop {
        waker.reset();
        if let Some(r) = cond() {
            break Ok(r);
        }
        if interrupted() {
            break Err(WaitError::Interrupted);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Err(WaitError::TimedOut);
        }
        waker.sleep(deadline);
    };
    for q in queues {
        q.remove(waker);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn notify_ends_a_wait() {
        let q = Arc::new(WaitQueue::default());
        let flag = Arc::new(AtomicBool::new(false));
        let (q2, f2) = (q.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.store(true, Ordering::SeqCst);
            q2.notify_all();
        });
        let w = Waker::new();
        let r = wait_on(&w, &[&q], None, &|| false, || {
            flag.load(Ordering::SeqCst).then_some(7)
        });
        assert_eq!(r, Ok(7));
        t.join().unwrap();
    }

    #[test]
    fn interruption_and_timeout() {
        let q = WaitQueue::default();
        let w = Waker::new();
        assert_eq!(
            wait_on(&w, &[&q], None, &|| true, || None::<()>),
            Err(WaitError::Interrupted)
        );
        let soon = Instant::now() + Duration::from_millis(10);
        assert_eq!(
            wait_on(&w, &[&q], Some(soon), &|| false, || None::<()>),
            Err(WaitError::TimedOut)
        );
    }
}
