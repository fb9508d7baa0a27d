//! Time: nanosleep and clock_nanosleep (relative and absolute), alarm, setitimer /
//! getitimer (REAL, VIRTUAL, PROF), POSIX timers (timer_create / settime / gettime /
//! getoverrun / delete), CPU-time clocks, times and getrusage. Durations are only
//! checked from below.
//!
//! Guest: timers.c (tests/guests/), each mode compared line by line with the same binary
//! run natively (see support/posix.rs). Every test runs in both libc flavours:
//! `<test>::glibc` and `<test>::musl`. Plus busybox `sleep`.
//!
//! Tests still marked #[ignore] name what the kernel lacks for them.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use std::time::Instant;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["timers"]);

modes! {
    "timers";
    sleeps => "sleep",
    alarm => "alarm",
    itimer_real => "itimer",
    itimer_virtual_and_prof => "virtual",
    posix_timers => "posix",
    posix_timers_more => "posix2",
    cpu_clocks_of_self_and_children => "cpuclock",
    times_and_getrusage => "times",
}

#[test]
fn busybox_sleep_sleeps_at_least_as_long() {
    let start = Instant::now();
    let out = Vk::boot(
        &GUESTS.image(),
        &[],
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "a=$(date +%s); sleep 1.2; b=$(date +%s); echo $((b - a >= 1)); sleep 0; echo $?",
        ],
    )
    .timeout(GUEST_TIMEOUT)
    .run();
    out.assert_success().assert_stdout_eq("1\n0\n");
    out.check(
        start.elapsed().as_millis() >= 1200,
        "vkernel returned before the guest could have slept 1.2 s",
    );
}
