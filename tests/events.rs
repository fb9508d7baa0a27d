//! Event files: eventfd / eventfd2, timerfd_create / settime / gettime, signalfd /
//! signalfd4 and epoll (create, create1, ctl, wait, pwait, pwait2), alone and together.
//!
//! Guests: eventfd.c, timerfd.c, signalfd.c, epoll.c and ev_eventfd.c, ev_timerfd.c,
//! ev_signalfd.c, ev_epoll.c (tests/guests/), each mode compared line by line with the
//! same binary run natively (see support/posix.rs). Every test runs in both libc
//! flavours: `<test>::glibc` and `<test>::musl`. The ev_* tests also pin down lines
//! that must appear, so a surprising host cannot make a wrong answer look right.
//!
//! Timers are tens of milliseconds; the guests print counts and orderings, never
//! durations.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&[
    "eventfd",
    "timerfd",
    "signalfd",
    "epoll",
    "ev_eventfd",
    "ev_timerfd",
    "ev_signalfd",
    "ev_epoll",
]);

modes! {
    "eventfd";
    /// Counter, EFD_NONBLOCK, EFD_CLOEXEC.
    eventfd_counter => "counter",
    /// EFD_SEMAPHORE.
    eventfd_semaphore => "semaphore",
    /// Short reads/writes, 2^64-1, overflow.
    eventfd_limits => "limits",
    /// Poll and epoll readiness.
    eventfd_readiness => "poll",
    /// Blocking read and write across fork.
    eventfd_across_fork => "fork",
    /// /proc/self/fd/N -> anon_inode:[eventfd].
    eventfd_proc_link => "proc",
}

modes! {
    "timerfd";
    /// One-shot, blocking read, gettime after expiry.
    timerfd_oneshot => "oneshot",
    /// Periodic expirations counted.
    timerfd_periodic => "periodic",
    /// TFD_TIMER_ABSTIME on REALTIME and MONOTONIC.
    timerfd_absolute => "abstime",
    /// Gettime, the old value from settime, disarming.
    timerfd_gettime => "gettime",
    /// Poll and epoll readiness.
    timerfd_readiness => "poll",
    /// EINVAL cases.
    timerfd_errors => "errors",
}

modes! {
    "signalfd";
    /// Reading a blocked signal with its siginfo.
    signalfd_basic => "basic",
    /// Sigqueue values, several real-time signals per read.
    signalfd_queued => "queue",
    /// Only the signalfd's mask, replacing it.
    signalfd_mask => "mask",
    /// SIGCHLD with CLD_EXITED and the status.
    signalfd_sigchld => "sigchld",
    /// Readiness, a blocking read woken by a child's kill.
    signalfd_readiness => "poll",
    /// SFD_NONBLOCK, SFD_CLOEXEC, EINVAL, anon_inode:[signalfd].
    signalfd_flags => "flags",
}

modes! {
    "epoll";
    /// Create1, ctl ADD/MOD/DEL and their errors, level-triggered pipes.
    epoll_basics => "basic",
    /// EPOLLET.
    epoll_edge_triggered => "edge",
    /// EPOLLONESHOT re-armed by MOD.
    epoll_oneshot => "oneshot",
    /// EPOLLHUP / EPOLLERR / EPOLLRDHUP on pipes.
    epoll_hup_and_err => "hup",
    /// Maxevents smaller than the ready list.
    epoll_many_ready => "many",
    /// Epoll_wait(-1) woken by a child, a 100 ms timeout.
    epoll_blocks_and_times_out => "block",
    /// Closing the last fd of a file removes it.
    epoll_close_removes => "close",
    /// An epoll fd inside another.
    epoll_nested => "nested",
    /// A child waits on an inherited epoll fd.
    epoll_across_fork => "fork",
    /// Epoll_pwait signal mask.
    epoll_pwait_signal_mask => "pwait",
}

// ---- ev_* guests: every mode compared with the native run, plus the lines that matter -

/// Every mode of `guest` (as `<guest> list` prints them) checked against its native
/// run; returns vkernel's stdout of all modes together.
fn all_modes(guest: &str, cc: Cc) -> String {
    let list = run_host(guest, cc, &["list"]);
    list.assert_status(0);
    let mut out = String::new();
    for mode in list.stdout.lines() {
        out.push_str(&GUESTS.check(guest, cc, mode).stdout);
    }
    out
}

#[track_caller]
fn has_lines(out: &str, lines: &[&str]) {
    for l in lines {
        assert!(
            out.lines().any(|x| x == *l),
            "missing line {l:?} in:\n{out}"
        );
    }
}

twins!(ev_eventfd, cc => {
    has_lines(
        &all_modes("ev_eventfd", cc),
        &[
            "after writes 3 and 4: 7",
            "16-byte write: EINVAL",
            "fstat: mode 600, type bits 0, size 0",
            "link: anon_inode:[eventfd]",
            "fourth read: EAGAIN",
            "count UINT64_MAX-1: POLLIN",
            "blocked write went through, count 5",
            "read, handler without SA_RESTART: EINTR",
            "read, handler with SA_RESTART: 7",
            "POLLRDNORM alone: not set",
        ],
    );
});

twins!(ev_timerfd, cc => {
    has_lines(
        &all_modes("ev_timerfd", cc),
        &[
            "blocking read: 1",
            "after expiry: disarmed, interval 0 ms",
            "expirations after 70 ms: >= 3",
            "periodic: armed, within the expected time, interval 20 ms",
            "CLOCK_REALTIME, deadline passed: 1",
            "CLOCK_BOOTTIME, deadline ahead: 1",
            "1 s late with a 10 ms period: >= 100",
            "read after the old deadline: EAGAIN",
            "poll until expiry: 1, revents POLLIN",
            "child reading the inherited timer: child ok",
            "CLOCK_MONOTONIC_RAW: EINVAL",
        ],
    );
});

twins!(ev_signalfd, cc => {
    has_lines(
        &all_modes("ev_signalfd", cc),
        &[
            "read SIGUSR1: code 0, pid self, uid mine",
            "SIGUSR2 outside the mask: EAGAIN",
            "  SIGRTMIN+2 code -1 int 42 ptr 42",
            "blocking read: 128 bytes, SIGUSR1 from the child",
            "poll, SIGUSR1 pending: 1 revents POLLIN",
            "epoll_wait until the signal: 1 (data 5)",
            "child reading its own signals: child ok",
            "read 100 bytes: EINVAL",
        ],
    );
});

twins!(ev_epoll, cc => {
    has_lines(
        &all_modes("ev_epoll", cc),
        &[
            "ADD a regular file: EPERM",
            "ADD the epoll fd itself: EINVAL",
            "again (level-triggered): 2 [1 IN] [2 IN]",
            "wait for the timer: 1 [3 IN]",
            "ET eventfd again: 0",
            "ET eventfd written 0: 1 [1 IN]",
            "ET pipe, data still unread: 0",
            "ET pipe written after draining: 1 [2 IN]",
            "oneshot again, still readable: 0",
            "re-armed by MOD: 1 [5 IN]",
            "fd closed, dup open: 1 [7 IN]",
            "last fd closed: 0",
            "blocking wait: 1 [8 IN]",
            "reader closed: 1 [10 OUT ERR]",
            "three calls of maxevents 2 saw: all five",
            "add outer to inner: ELOOP",
            "poll inner after write: 1 revents POLLIN",
            "outer, blocking until the child writes: 1 [12 IN]",
            "epoll_wait, SA_RESTART handler: EINTR",
        ],
    );
});
