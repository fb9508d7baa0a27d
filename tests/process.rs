//! Processes: fork, vfork, clone, clone3, execve, exit, wait4 / waitid (status words,
//! WNOHANG, WNOWAIT, __WALL), zombies, orphans reparented to pid 1, getppid, sessions
//! and process groups, copy-on-write fork, and /proc for other processes plus
//! /proc/{loadavg,uptime,meminfo}.
//!
//! Guests: fork_wait.c, cow.c, exec.c, procfs.c (tests/guests/), each mode compared
//! line by line with the same binary run natively (see support/posix.rs). Every test
//! runs in both libc flavours: `<test>::glibc` and `<test>::musl`.
//!
//! Tests still marked #[ignore] name what the kernel lacks for them.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["fork_wait", "cow", "exec", "procfs"]);

// ---- fork, exit, wait ------------------------------------------------------------------

modes! {
    "fork_wait";
    fork_tree_of_depth_3 => "tree",
    exit_codes_and_status_words => "exitcodes",
    wnohang_before_and_after_exit => "wnohang",
    waitid_variants => "waitid",
    echild_without_children => "echild",
    getppid_pgrp_and_session_of_children => "getppid",
    zombie_until_reaped => "zombie",
    vfork_suspends_the_parent => "vfork",
    clone_flavours => "clone",
    clone3_fork_like => "clone3",
    sessions_and_process_groups => "sessions",
    wait4_rusage => "rusage",
}

twins!(
    orphans_are_adopted_by_pid_1,
    cc => {
        let out = GUESTS.check("fork_wait", cc, "orphan");
        // Natively the top process is a subreaper; under vkernel it is pid 1 itself.
        out.check(
            value(&out, "top_pid") == "1",
            "the top process should be pid 1 under vkernel",
        );
    }
);

// ---- copy-on-write ---------------------------------------------------------------------

modes! {
    "cow";
    cow_child_writes_do_not_reach_the_parent => "child_writes",
    cow_parent_writes_do_not_reach_the_child => "parent_writes",
    cow_many_children => "many",
    cow_nested => "nested",
    cow_all_kinds_of_memory => "regions",
    cow_shared_anonymous_mapping => "shared",
    cow_fork_loop => "loop",
}

twins!(
    cow_is_lazy,
    cc => {
        GUESTS.check_with(&["--memory", "96M"], "cow", cc, "lazy");
    }
);

// ---- execve ----------------------------------------------------------------------------

modes! {
    "exec";
    exec_argv_and_envp => "args",
    exec_close_on_exec => "cloexec",
    exec_resets_signal_handlers => "signals",
    exec_shebang_scripts => "script",
    exec_errors => "errors",
    exec_keeps_ids_and_cwd => "ids",
    exec_busybox => "busybox",
}

// ---- /proc -----------------------------------------------------------------------------

modes! {
    "procfs";
    proc_of_a_child => "child",
    proc_self_in_children => "self",
}

twins!(
    proc_loadavg_uptime_meminfo,
    cc => {
        let out = GUESTS.check_with(&["--memory", "256M"], "procfs", cc, "system");
        let total: u64 = value(&out, "memtotal_kb")
            .parse()
            .unwrap_or_else(|_| out.fail("MemTotal is not a number"));
        out.check(
            total > 0 && total <= 256 * 1024,
            format!("MemTotal {total} kB should be within the guest's 256 MiB"),
        );
    }
);

// ---- pid 1 and the rest ------------------------------------------------------------------

fn busybox_sh(script: &str) -> Outcome {
    Vk::boot(&GUESTS.image(), &[], &["/bin/busybox", "sh", "-c", script])
        .timeout(GUEST_TIMEOUT)
        .run()
}

#[test]
fn pid_1_exiting_ends_the_machine() {
    // A background `sleep 30` must not keep vkernel alive (the run would time out) nor
    // be left behind (the harness checks for strays).
    busybox_sh("sleep 30 & echo started; exit 3")
        .assert_status(3)
        .assert_stdout_eq("started\n");
}

#[test]
fn shell_children_have_their_own_pids() {
    let out = busybox_sh(
        "echo \"top $$\"; sh -c 'echo \"child ppid $PPID\"'; \
         a=$(sh -c 'echo $$'); b=$(sh -c 'echo $$'); \
         [ \"$a\" != 1 ] && [ \"$b\" != 1 ] && [ \"$a\" != \"$b\" ] && echo distinct",
    );
    out.assert_success()
        .assert_stdout_eq("top 1\nchild ppid 1\ndistinct\n");
}
