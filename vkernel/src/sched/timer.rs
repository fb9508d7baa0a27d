//! Kernel timers: one cothread runs callbacks at their deadlines (alarm, interval
//! timers; later POSIX timers, timerfd and the console's VTIME).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

pub type TimerId = u64;
type Callback = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    /// (deadline, id) -> callback; BTreeMap keeps them in firing order.
    due: BTreeMap<(Instant, TimerId), Callback>,
    next_id: TimerId,
    /// A checkpoint is being written: nothing fires (what comes due fires after).
    paused: bool,
    /// A callback is running (outside the lock).
    firing: bool,
}

#[derive(Default)]
pub struct Timers {
    q: Mutex<Queue>,
    cv: Condvar,
}

impl Timers {
    pub fn start() -> std::io::Result<Arc<Timers>> {
        let t = Arc::new(Timers::default());
        let runner = t.clone();
        std::thread::Builder::new()
            .name("timers".into())
            .spawn(move || runner.run())?;
        Ok(t)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` at `at` (on the timer thread) unless cancelled first.
    pub fn arm(&self, at: Instant, f: impl FnOnce() + Send + 'static) -> TimerId {
        let mut q = self.lock();
        q.next_id += 1;
        let id = q.next_id;
        q.due.insert((at, id), Box::new(f));
        drop(q);
        self.cv.notify_all();
        id
    }

    /// Cancels a timer; false if it already fired (or never existed).
    pub fn cancel(&self, id: TimerId) -> bool {
        let mut q = self.lock();
        let key = q.due.keys().find(|k| k.1 == id).copied();
        key.and_then(|k| q.due.remove(&k)).is_some()
    }

    /// Stops firing, once the callback running now (if any) has returned: kernel
    /// state stays still while a checkpoint is written.
    pub fn pause(&self) {
        let mut q = self.lock();
        q.paused = true;
        while q.firing {
            q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Fires again, starting with whatever came due meanwhile.
    pub fn resume(&self) {
        self.lock().paused = false;
        self.cv.notify_all();
    }

    fn run(&self) {
        let mut q = self.lock();
        loop {
            let now = Instant::now();
            let first = q.due.keys().next().copied();
            match first {
                _ if q.paused => q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner()),
                Some(k) if k.0 <= now => {
                    let Some(cb) = q.due.remove(&k) else { continue };
                    q.firing = true;
                    drop(q);
                    cb();
                    q = self.lock();
                    q.firing = false;
                    self.cv.notify_all();
                }
                Some(k) => {
                    q = self
                        .cv
                        .wait_timeout(q, k.0 - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn fires_in_order_and_cancels() {
        let t = Timers::start().unwrap();
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        for (ms, v) in [(30u64, 3), (10, 1), (20, 2)] {
            let tx = tx.clone();
            t.arm(now + Duration::from_millis(ms), move || tx.send(v).unwrap());
        }
        let tx2 = tx.clone();
        let id = t.arm(now + Duration::from_millis(15), move || {
            tx2.send(99).unwrap()
        });
        assert!(t.cancel(id));
        let got: Vec<i32> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![1, 2, 3]);
        assert!(
            rx.recv_timeout(Duration::from_millis(50)).is_err(),
            "cancelled timer stayed quiet"
        );
    }

    #[test]
    fn a_paused_queue_fires_nothing_until_resumed() {
        let t = Timers::start().unwrap();
        let (tx, rx) = mpsc::channel();
        t.pause();
        t.arm(Instant::now(), move || tx.send(1).unwrap());
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        t.resume();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
    }
}
