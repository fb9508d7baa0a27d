//! Threads: pthreads in glibc and musl guests over clone(CLONE_THREAD), futexes, TLS,
//! cancellation, robust mutexes, signals aimed at threads, fork and execve from a
//! thread, how a thread group ends (the leader leaving first, exit from a thread), the
//! scheduling calls, membarrier and prctl.
//!
//! Guest: threads.c (tests/guests/), each mode compared line by line with the same
//! binary run natively (see support/posix.rs), in both libc flavours.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["threads"]);

modes! {
    "threads";
    create_join_and_tids => "create",
    mutex_contention_of_64_threads => "mutex",
    condvar_producers_and_consumers => "condvar",
    barrier_rounds_and_rwlock => "barrier",
    thread_local_storage => "tls",
    cancellation_of_blocked_threads => "cancel",
    robust_mutex_owner_death => "robust",
    signals_aimed_at_threads => "kill",
    fork_and_exec_from_a_thread => "fork",
    exec_from_a_non_leader_thread => "exec",
    scheduling_calls => "sched",
    prctl_names_pdeathsig_and_flags => "prctl",
}

/// A mode that ends the process its own way: the same output and exit status as native.
fn same_end(cc: Cc, mode: &str, status: i32) {
    let host = run_host("threads", cc, &[mode]);
    host.assert_status(status);
    let vk = GUESTS.run("threads", cc, &[mode]);
    vk.assert_status(status);
    same_lines(&vk, &host);
}

twins!(leader_exits_first_and_the_last_thread_ends_the_process, cc => {
    same_end(cc, "leader", 5);
});

twins!(exit_from_a_thread_ends_every_thread, cc => {
    same_end(cc, "exitgroup", 3);
});
