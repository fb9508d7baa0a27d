//! eventfd, timerfd and signalfd: kernel objects that turn a counter, a clock and the
//! caller's pending signals into file descriptors.
//!
//! Each object keeps its guest-visible state in a plain serde struct (for checkpoints)
//! beside a wait queue; whatever changes the state notifies the queue, so readers,
//! poll and epoll sleep on it like on a pipe. Readiness is `Readiness` (see
//! `FileKind::poll`): the EPOLL* mask plus event counters edge-triggered epoll watches.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::epoll::{EPOLLERR, EPOLLIN, EPOLLOUT};
use super::file::Readiness;
use super::inode::{next_ino, Body, Inode, InodeState};
use crate::process::{Process, Thread};
use crate::sched::timer::{TimerId, Timers};
use crate::sched::{block_on, Block, WaitQueue};
use crate::signal::SigInfo;

/// st_dev of the anonymous-inode filesystem (0:16, what Linux 6.x shows).
const DEV_ANON_INODEFS: u64 = 0x10;

/// The inode behind every eventfd, timerfd, signalfd and epoll file. Linux gives them
/// all one shared anonymous inode: mode 0600 with no file type, the same st_ino.
pub fn anon_inode() -> Arc<Inode> {
    static ANON: OnceLock<Arc<Inode>> = OnceLock::new();
    ANON.get_or_init(|| {
        let st = InodeState::new(0o600, 0, 0, Body::Special);
        Inode::new(next_ino(), DEV_ANON_INODEFS, st)
    })
    .clone()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value of an eventfd write: exactly 8 bytes (Linux 6.x refuses longer ones too).
fn u64_arg(data: &[u8]) -> Result<u64, Errno> {
    let bytes: [u8; 8] = data.try_into().map_err(|_| Errno::EINVAL)?;
    Ok(u64::from_ne_bytes(bytes))
}

fn put_u64(buf: &mut [u8], v: u64) -> Result<usize, Errno> {
    let out = buf.get_mut(..8).ok_or(Errno::EINVAL)?;
    out.copy_from_slice(&v.to_ne_bytes());
    Ok(8)
}

// ---- eventfd ---------------------------------------------------------------------------

/// EFD_SEMAPHORE: each read takes 1 instead of the whole count.
pub const EFD_SEMAPHORE: u32 = 1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFdState {
    pub count: u64,
    pub semaphore: bool,
    /// Writes and reads so far: the events edge-triggered epoll reports (Linux wakes
    /// pollers with EPOLLIN on every write, even of 0, and EPOLLOUT on every read).
    pub writes: u64,
    pub reads: u64,
}

pub struct EventFd {
    state: Mutex<EventFdState>,
    pub wq: WaitQueue,
}

impl std::fmt::Debug for EventFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventFd")
    }
}

impl EventFd {
    pub fn new(state: EventFdState) -> Arc<EventFd> {
        Arc::new(EventFd {
            state: Mutex::new(state),
            wq: WaitQueue::default(),
        })
    }

    pub fn state(&self) -> EventFdState {
        *lock(&self.state)
    }

    /// read(2): the count (or 1 with EFD_SEMAPHORE), waiting while it is 0.
    pub fn read(&self, buf: &mut [u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = block_on(b, &[&self.wq], None, || {
            let mut st = lock(&self.state);
            if st.count == 0 {
                return nonblock.then_some(Err(Errno::EAGAIN));
            }
            let v = if st.semaphore { 1 } else { st.count };
            st.count -= v;
            st.reads += 1;
            Some(Ok(v))
        })??;
        self.wq.notify_all();
        put_u64(buf, v)
    }

    /// write(2): adds to the count, waiting while the sum would reach u64::MAX (the
    /// count never reaches it, so u64::MAX itself is EINVAL).
    pub fn write(&self, data: &[u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        let v = u64_arg(data)?;
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        block_on(b, &[&self.wq], None, || {
            let mut st = lock(&self.state);
            if u64::MAX - st.count <= v {
                return nonblock.then_some(Err(Errno::EAGAIN));
            }
            st.count += v;
            st.writes += 1;
            Some(Ok(()))
        })??;
        self.wq.notify_all();
        Ok(8)
    }

    /// Readable with a count, writable while 1 more still fits. No RDNORM/WRNORM bits,
    /// as on Linux.
    pub fn poll(&self) -> Readiness {
        let st = lock(&self.state);
        let mut mask = 0;
        if st.count > 0 {
            mask |= EPOLLIN;
        }
        if st.count == u64::MAX {
            mask |= EPOLLERR;
        }
        if u64::MAX - 1 > st.count {
            mask |= EPOLLOUT;
        }
        Readiness {
            mask,
            ins: st.writes,
            outs: st.reads,
        }
    }
}

// ---- timerfd ---------------------------------------------------------------------------

/// A timer's value and period in nanoseconds (struct itimerspec).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerSpec {
    pub value_ns: u64,
    pub interval_ns: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerFdState {
    /// The host clock the timer runs on: CLOCK_MONOTONIC, CLOCK_REALTIME or
    /// CLOCK_BOOTTIME (the _ALARM clocks run as their plain versions).
    pub clock: i32,
    /// The next expiration, absolute nanoseconds on `clock`; None while disarmed.
    pub next_ns: Option<u64>,
    /// The period; 0 for a one-shot timer.
    pub interval_ns: u64,
    /// Expirations since the last read or settime: what read returns.
    pub ticks: u64,
    /// Every expiration so far: edge-triggered epoll watches it grow.
    pub expirations: u64,
}

impl TimerFdState {
    /// Counts the expirations up to `now`. Expirations are computed from the clock, so
    /// the count never depends on when the kernel timer thread got to run.
    fn settle(&mut self, now: u64) {
        let Some(next) = self.next_ns.filter(|&n| n <= now) else {
            return;
        };
        // A one-shot timer (period 0) expires once and disarms.
        let n = match (now - next).checked_div(self.interval_ns) {
            None => {
                self.next_ns = None;
                1
            }
            Some(periods) => {
                let n = periods + 1;
                self.next_ns = Some(next.saturating_add(n.saturating_mul(self.interval_ns)));
                n
            }
        };
        self.ticks = self.ticks.saturating_add(n);
        self.expirations = self.expirations.wrapping_add(n);
    }

    fn spec(&self, now: u64) -> TimerSpec {
        TimerSpec {
            value_ns: self.next_ns.map_or(0, |n| n.saturating_sub(now)),
            interval_ns: self.interval_ns,
        }
    }
}

/// Nanoseconds on a guest clock.
fn clock_ns(clock: i32) -> u64 {
    u64::try_from(crate::clock::now(clock).as_nanos()).unwrap_or(u64::MAX)
}

struct TimerInner {
    st: TimerFdState,
    /// The kernel timer that wakes pollers at `next_ns`. Only armed while nothing is
    /// pending: once ticks > 0 the file stays readable until a read, which re-arms.
    armed: Option<TimerId>,
    /// Counts armings, so a callback that lost a race with a cancel knows it is stale.
    arm_seq: u64,
}

pub struct TimerFd {
    inner: Mutex<TimerInner>,
    pub wq: WaitQueue,
    timers: Arc<Timers>,
    /// For the kernel timer's callback, which must not keep the object alive.
    me: Weak<TimerFd>,
}

impl std::fmt::Debug for TimerFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimerFd")
    }
}

impl TimerFd {
    pub fn new(timers: Arc<Timers>, state: TimerFdState) -> Arc<TimerFd> {
        let t = Arc::new_cyclic(|me| TimerFd {
            inner: Mutex::new(TimerInner {
                st: state,
                armed: None,
                arm_seq: 0,
            }),
            wq: WaitQueue::default(),
            timers,
            me: me.clone(),
        });
        t.schedule(&mut lock(&t.inner));
        t
    }

    /// The state with expirations counted up to now.
    pub fn state(&self) -> TimerFdState {
        let mut i = lock(&self.inner);
        let now = clock_ns(i.st.clock);
        i.st.settle(now);
        i.st
    }

    /// timerfd_settime: arms (value > 0) or disarms the timer, forgets unread
    /// expirations, and returns the old setting.
    pub fn set(&self, new: TimerSpec, absolute: bool) -> TimerSpec {
        let mut i = lock(&self.inner);
        let now = clock_ns(i.st.clock);
        i.st.settle(now);
        let old = i.st.spec(now);
        if let Some(id) = i.armed.take() {
            self.timers.cancel(id);
        }
        i.st.ticks = 0;
        i.st.interval_ns = new.interval_ns;
        i.st.next_ns = match (new.value_ns, absolute) {
            (0, _) => None,
            (v, true) => Some(v),
            (v, false) => Some(now.saturating_add(v)),
        };
        self.schedule(&mut i);
        old
    }

    /// timerfd_gettime: the time to the next expiration and the period.
    pub fn get(&self) -> TimerSpec {
        let mut i = lock(&self.inner);
        let now = clock_ns(i.st.clock);
        i.st.settle(now);
        i.st.spec(now)
    }

    /// read(2): the number of expirations since the last read, waiting for one.
    pub fn read(&self, buf: &mut [u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let ticks = block_on(b, &[&self.wq], None, || {
            let mut i = lock(&self.inner);
            let now = clock_ns(i.st.clock);
            i.st.settle(now);
            if i.st.ticks == 0 {
                return nonblock.then_some(Err(Errno::EAGAIN));
            }
            let ticks = std::mem::take(&mut i.st.ticks);
            self.schedule(&mut i);
            Some(Ok(ticks))
        })??;
        put_u64(buf, ticks)
    }

    pub fn poll(&self) -> Readiness {
        let st = self.state();
        Readiness {
            mask: if st.ticks > 0 { EPOLLIN } else { 0 },
            ins: st.expirations,
            outs: 0,
        }
    }

    /// Arms the kernel timer for the next expiration, if one is due and nothing is
    /// pending yet.
    fn schedule(&self, i: &mut TimerInner) {
        if i.armed.is_some() || i.st.ticks > 0 {
            return;
        }
        let Some(next) = i.st.next_ns else { return };
        let delay = Duration::from_nanos(next.saturating_sub(clock_ns(i.st.clock)));
        // A deadline past what Instant can hold never fires.
        let Some(at) = Instant::now().checked_add(delay) else {
            return;
        };
        let me = self.me.clone();
        i.arm_seq += 1;
        let seq = i.arm_seq;
        i.armed = Some(self.timers.arm(at, move || {
            if let Some(t) = me.upgrade() {
                t.fire(seq);
            }
        }));
    }

    /// The kernel timer ran: count what expired (a clock other than CLOCK_MONOTONIC
    /// may lag the timer thread's; then arm again) and wake pollers.
    fn fire(&self, seq: u64) {
        {
            let mut i = lock(&self.inner);
            if i.arm_seq == seq {
                i.armed = None;
            }
            let now = clock_ns(i.st.clock);
            i.st.settle(now);
            self.schedule(&mut i);
        }
        self.wq.notify_all();
    }
}

/// A timerfd as a checkpoint saves it: the time left to the next expiration, not
/// the host clock's reading (as `sched::sigtimer`), so it resumes with what remained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTimerFd {
    pub clock: i32,
    /// None while disarmed.
    pub remaining_ns: Option<u64>,
    pub interval_ns: u64,
    pub ticks: u64,
    pub expirations: u64,
}

impl TimerFd {
    pub fn save(&self) -> SavedTimerFd {
        let st = self.state();
        let now = clock_ns(st.clock);
        SavedTimerFd {
            clock: st.clock,
            remaining_ns: st.next_ns.map(|n| n.saturating_sub(now)),
            interval_ns: st.interval_ns,
            ticks: st.ticks,
            expirations: st.expirations,
        }
    }

    /// Rebuilds a saved timerfd, its next expiration counted from now, and arms it.
    /// A clock timerfd_create never accepts is a corrupt image.
    pub fn restore(
        timers: Arc<Timers>,
        saved: &SavedTimerFd,
    ) -> Result<Arc<TimerFd>, ckpt::CkptError> {
        if ![
            libc::CLOCK_MONOTONIC,
            libc::CLOCK_REALTIME,
            libc::CLOCK_BOOTTIME,
        ]
        .contains(&saved.clock)
        {
            return Err(ckpt::CkptError::Decode(format!(
                "a timerfd on clock {}",
                saved.clock
            )));
        }
        let now = clock_ns(saved.clock);
        let state = TimerFdState {
            clock: saved.clock,
            next_ns: saved.remaining_ns.map(|r| now.saturating_add(r)),
            interval_ns: saved.interval_ns,
            ticks: saved.ticks,
            expirations: saved.expirations,
        };
        Ok(TimerFd::new(timers, state))
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        if let Some(id) = lock(&self.inner).armed.take() {
            self.timers.cancel(id);
        }
    }
}

// ---- signalfd --------------------------------------------------------------------------

/// The thread a signalfd works for: Linux's `current`. Its own pending signals and
/// its process's are what a read takes; the process's `signal_event` is what a post
/// notifies.
pub struct Caller<'a> {
    pub thread: &'a Thread,
    pub process: &'a Process,
}

impl Caller<'_> {
    /// One lock at a time (the process's lock order): the thread's, then the queue.
    fn pending(&self) -> u64 {
        let own = self.thread.signals().pending.set();
        own | self.process.shared_pending().set()
    }

    /// Takes the lowest pending signal in `mask`, the thread's own first.
    fn dequeue(&self, mask: u64) -> Option<SigInfo> {
        crate::signal::dequeue(self.thread, self.process, !mask)
    }
}

/// The 128-byte struct signalfd_siginfo.
pub const SIGINFO_SIZE: usize = 128;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalFdState {
    /// The signals the descriptor accepts (never SIGKILL or SIGSTOP).
    pub mask: u64,
}

pub struct SignalFd {
    state: Mutex<SignalFdState>,
}

impl std::fmt::Debug for SignalFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalFd")
    }
}

impl SignalFd {
    pub fn new(state: SignalFdState) -> Arc<SignalFd> {
        Arc::new(SignalFd {
            state: Mutex::new(state),
        })
    }

    pub fn state(&self) -> SignalFdState {
        *lock(&self.state)
    }

    /// signalfd4 on an existing descriptor: a new mask. Waiters re-check through
    /// the caller's `signal_event`, which the syscall notifies.
    pub fn set_mask(&self, mask: u64) {
        lock(&self.state).mask = mask & !crate::signal::UNBLOCKABLE;
    }

    /// Readable while a signal in the mask is pending for the caller. Linux wakes
    /// signalfd pollers on every posted signal, so the queue's count is the event.
    pub fn poll(&self, cur: &Caller) -> Readiness {
        let pending = cur.pending() & self.state().mask;
        let gen = cur.process.signal_event.generation();
        Readiness {
            mask: if pending != 0 { EPOLLIN } else { 0 },
            ins: gen,
            outs: gen,
        }
    }

    /// read(2) from `OpenFile::read`, for the current thread.
    pub fn read_current(
        &self,
        buf: &mut [u8],
        nonblock: bool,
        b: &dyn Block,
    ) -> Result<usize, Errno> {
        let Some((thread, process)) = b.caller() else {
            return Err(Errno::EINVAL);
        };
        let cur = Caller { thread, process };
        self.read(buf, nonblock, &cur, b)
    }

    /// Takes as many pending signals of the mask as fit in `buf` (at least one
    /// struct), waiting for the first.
    pub fn read(
        &self,
        buf: &mut [u8],
        nonblock: bool,
        cur: &Caller,
        b: &dyn Block,
    ) -> Result<usize, Errno> {
        let room = buf.len() / SIGINFO_SIZE;
        if room == 0 {
            return Err(Errno::EINVAL);
        }
        let first = block_on(b, &[&cur.process.signal_event], None, || {
            match cur.dequeue(self.state().mask) {
                Some(info) => Some(Ok(info)),
                None => nonblock.then_some(Err(Errno::EAGAIN)),
            }
        })??;
        buf[..SIGINFO_SIZE].copy_from_slice(&signalfd_siginfo(&first));
        let mut n = 1;
        while n < room {
            let Some(info) = cur.dequeue(self.state().mask) else {
                break;
            };
            buf[n * SIGINFO_SIZE..(n + 1) * SIGINFO_SIZE].copy_from_slice(&signalfd_siginfo(&info));
            n += 1;
        }
        Ok(n * SIGINFO_SIZE)
    }
}

/// Which fields of the siginfo a signal carries (Linux's siginfo_layout).
enum Layout {
    Kill,
    Rt,
    Timer,
    Child,
    Fault,
}

fn layout(i: &SigInfo) -> Layout {
    use crate::signal::*;
    const SI_SIGIO: i32 = -5;
    match i.code {
        c if c > 0 && c < SI_KERNEL => match i.signo {
            SIGCHLD => Layout::Child,
            SIGILL | SIGFPE | SIGSEGV | SIGBUS | SIGTRAP => Layout::Fault,
            _ => Layout::Kill,
        },
        SI_TIMER => Layout::Timer,
        c if c < 0 && c != SI_SIGIO => Layout::Rt,
        _ => Layout::Kill,
    }
}

/// struct signalfd_siginfo for one dequeued signal.
fn signalfd_siginfo(i: &SigInfo) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &i.signo.to_ne_bytes()); // ssi_signo
    put(8, &i.code.to_ne_bytes()); // ssi_code (ssi_errno at 4 stays 0)
    let sender = |put: &mut dyn FnMut(usize, &[u8])| {
        put(12, &i.pid.to_ne_bytes()); // ssi_pid
        put(16, &i.uid.to_ne_bytes()); // ssi_uid
    };
    let value = |put: &mut dyn FnMut(usize, &[u8])| {
        put(44, &(i.value as i32).to_ne_bytes()); // ssi_int
        put(48, &i.value.to_ne_bytes()); // ssi_ptr
    };
    match layout(i) {
        Layout::Kill => sender(&mut put),
        Layout::Rt => {
            sender(&mut put);
            value(&mut put);
        }
        Layout::Timer => {
            put(24, &i.pid.to_ne_bytes()); // ssi_tid: the timer id
            put(32, &i.overrun.to_ne_bytes()); // ssi_overrun
            value(&mut put);
        }
        Layout::Child => {
            sender(&mut put);
            put(40, &i.status.to_ne_bytes()); // ssi_status
        }
        Layout::Fault => put(72, &i.addr.to_ne_bytes()), // ssi_addr
    }
    b
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::sched::Waker;

    struct Sleeper {
        waker: Arc<Waker>,
        stop: AtomicBool,
    }

    impl Block for Sleeper {
        fn waker(&self) -> &Arc<Waker> {
            &self.waker
        }
        fn interrupted(&self) -> bool {
            self.stop.load(Ordering::SeqCst)
        }
        fn sigpipe(&self) {}
        fn caller(&self) -> Option<(&Arc<Thread>, &Arc<Process>)> {
            None
        }
    }

    fn sleeper() -> Sleeper {
        Sleeper {
            waker: Waker::new(),
            stop: AtomicBool::new(false),
        }
    }

    fn roundtrip<T>(v: &T) -> T
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        let cfg = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(v, cfg).expect("encode");
        bincode::serde::decode_from_slice(&bytes, cfg)
            .expect("decode")
            .0
    }

    #[test]
    fn eventfd_counts_and_semaphore() {
        let b = sleeper();
        let e = EventFd::new(EventFdState::default());
        let mut buf = [0u8; 8];
        assert_eq!(e.read(&mut buf, true, &b), Err(Errno::EAGAIN));
        assert_eq!(e.write(&3u64.to_ne_bytes(), true, &b), Ok(8));
        assert_eq!(e.write(&4u64.to_ne_bytes(), true, &b), Ok(8));
        assert_eq!(e.read(&mut buf, true, &b), Ok(8));
        assert_eq!(u64::from_ne_bytes(buf), 7);
        assert_eq!(e.read(&mut [0u8; 7], true, &b), Err(Errno::EINVAL));
        assert_eq!(e.write(&[0u8; 4], true, &b), Err(Errno::EINVAL));
        assert_eq!(e.write(&[0u8; 16], true, &b), Err(Errno::EINVAL));
        assert_eq!(
            e.write(&u64::MAX.to_ne_bytes(), true, &b),
            Err(Errno::EINVAL)
        );

        let s = EventFd::new(EventFdState {
            count: 2,
            semaphore: true,
            ..Default::default()
        });
        assert_eq!(s.read(&mut buf, true, &b), Ok(8));
        assert_eq!(u64::from_ne_bytes(buf), 1);
        assert_eq!(s.state().count, 1);
    }

    #[test]
    fn eventfd_overflow_blocks_writes() {
        let b = sleeper();
        let e = EventFd::new(EventFdState {
            count: u64::MAX - 2,
            ..Default::default()
        });
        assert_eq!(e.poll().mask, EPOLLIN | EPOLLOUT);
        assert_eq!(e.write(&1u64.to_ne_bytes(), true, &b), Ok(8));
        assert_eq!(e.poll().mask, EPOLLIN, "count MAX-1: no longer writable");
        assert_eq!(e.write(&1u64.to_ne_bytes(), true, &b), Err(Errno::EAGAIN));
        // A blocking write is interrupted like any other wait.
        b.stop.store(true, Ordering::SeqCst);
        assert_eq!(e.write(&1u64.to_ne_bytes(), false, &b), Err(Errno::EINTR));
    }

    #[test]
    fn eventfd_blocking_read_wakes_on_write() {
        let e = EventFd::new(EventFdState::default());
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let b = sleeper();
            e2.write(&5u64.to_ne_bytes(), false, &b)
        });
        let mut buf = [0u8; 8];
        assert_eq!(e.read(&mut buf, false, &sleeper()), Ok(8));
        assert_eq!(u64::from_ne_bytes(buf), 5);
        assert_eq!(t.join().expect("writer"), Ok(8));
    }

    #[test]
    fn timerfd_expires_and_counts_intervals() {
        let timers = Timers::start().expect("timers");
        let t = TimerFd::new(
            timers,
            TimerFdState {
                clock: libc::CLOCK_MONOTONIC,
                ..Default::default()
            },
        );
        let b = sleeper();
        let mut buf = [0u8; 8];
        assert_eq!(t.read(&mut buf, true, &b), Err(Errno::EAGAIN));
        let old = t.set(
            TimerSpec {
                value_ns: 10_000_000,
                interval_ns: 10_000_000,
            },
            false,
        );
        assert_eq!(old, TimerSpec::default());
        assert_eq!(t.read(&mut buf, false, &b), Ok(8));
        assert!(u64::from_ne_bytes(buf) >= 1);
        let spec = t.get();
        assert_eq!(spec.interval_ns, 10_000_000);
        assert!(spec.value_ns <= 10_000_000);
        t.set(TimerSpec::default(), false);
        assert_eq!(t.get(), TimerSpec::default());
        assert_eq!(t.read(&mut buf, true, &b), Err(Errno::EAGAIN));
    }

    #[test]
    fn timerfd_wakes_pollers_and_absolute_past_fires_at_once() {
        let timers = Timers::start().expect("timers");
        let t = TimerFd::new(
            timers,
            TimerFdState {
                clock: libc::CLOCK_REALTIME,
                ..Default::default()
            },
        );
        t.set(
            TimerSpec {
                value_ns: 1,
                interval_ns: 0,
            },
            true,
        );
        let b = sleeper();
        let r = block_on(&b, &[&t.wq], None, || (t.poll().mask != 0).then_some(()));
        assert_eq!(r, Ok(()));
        assert_eq!(t.state().ticks, 1);
        assert_eq!(t.state().next_ns, None);
    }

    #[test]
    fn settle_counts_overruns() {
        let mut st = TimerFdState {
            next_ns: Some(100),
            interval_ns: 10,
            ..Default::default()
        };
        st.settle(99);
        assert_eq!(st.ticks, 0);
        st.settle(125);
        assert_eq!((st.ticks, st.next_ns), (3, Some(130)));
    }

    #[test]
    fn signalfd_siginfo_layout() {
        let info = SigInfo {
            signo: 40,
            code: -1,
            pid: 7,
            uid: 1000,
            value: 0x1234,
            ..Default::default()
        };
        let b = signalfd_siginfo(&info);
        let word = |o: usize| i32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        assert_eq!((word(0), word(8), word(12), word(16)), (40, -1, 7, 1000));
        assert_eq!(word(44), 0x1234);
        let chld = signalfd_siginfo(&SigInfo {
            signo: crate::signal::SIGCHLD,
            code: crate::signal::CLD_EXITED,
            pid: 9,
            status: 3,
            ..Default::default()
        });
        assert_eq!(chld[40], 3);
        assert_eq!(chld[12], 9);
        let timer = signalfd_siginfo(&SigInfo {
            signo: 40,
            code: crate::signal::SI_TIMER,
            pid: 2,
            value: 77,
            overrun: 5,
            ..Default::default()
        });
        let word =
            |o: usize| i32::from_ne_bytes([timer[o], timer[o + 1], timer[o + 2], timer[o + 3]]);
        assert_eq!((word(12), word(24), word(32), word(44)), (0, 2, 5, 77));
    }

    #[test]
    fn states_roundtrip_through_bincode() {
        let e = EventFdState {
            count: 42,
            semaphore: true,
            writes: 3,
            reads: 1,
        };
        assert_eq!(roundtrip(&e), e);
        let t = TimerFdState {
            clock: libc::CLOCK_BOOTTIME,
            next_ns: Some(123_456_789),
            interval_ns: 50_000_000,
            ticks: 2,
            expirations: 9,
        };
        assert_eq!(roundtrip(&t), t);
        let s = SignalFdState { mask: 1 << 9 };
        assert_eq!(roundtrip(&s), s);
    }
}
