//! Pipes and polling: pipe/pipe2 between processes (EOF, EPIPE and SIGPIPE, 64 KiB
//! capacity, PIPE_BUF atomicity, O_NONBLOCK, F_GETPIPE_SZ, FIONREAD), FIFOs, pipelines
//! of exec'd busybox applets, and poll / ppoll / select / pselect6 over pipes and files.
//!
//! Guests: pipe.c, poll.c, select.c (tests/guests/), each mode compared line by line
//! with the same binary run natively (see support/posix.rs). Every test runs in both
//! libc flavours: `<test>::glibc` and `<test>::musl`.
//!
//! All ignored until the kernel has pipes; the reasons name what each one needs.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["pipe", "poll", "select"]);

modes! {
    "pipe";
    #[ignore = "needs pipes: EOF after the last writer, a blocked reader woken by close"]
    pipe_eof => "eof",
    #[ignore = "needs pipes + signals: SIGPIPE kills a writer without readers (status 13)"]
    pipe_sigpipe_kills => "sigpipe",
    #[ignore = "needs pipes + signals: EPIPE with SIGPIPE ignored, handled or blocked"]
    pipe_epipe => "epipe",
    #[ignore = "needs pipes: 64 KiB capacity, O_NONBLOCK EAGAIN, partial writes, F_GETPIPE_SZ, FIONREAD"]
    pipe_capacity_and_nonblocking => "capacity",
    #[ignore = "needs pipes: PIPE_BUF writes from two processes are atomic"]
    pipe_buf_writes_are_atomic => "atomic",
    #[ignore = "needs pipes: 4 MiB with both sides blocking"]
    pipe_big_transfer => "big",
    #[ignore = "needs pipes: pipe2 flags"]
    pipe2_flags => "pipe2",
    #[ignore = "needs pipes: fstat, ESPIPE, EBADF on the wrong end, /proc/self/fd/N -> pipe:[ino]"]
    pipe_stat_and_proc_links => "stat",
    #[ignore = "needs pipes: mkfifo (mknodat) and the FIFO open rendezvous"]
    fifo_rendezvous => "fifo",
    #[ignore = "needs pipes: dup2 onto stdin/stdout + execve busybox tr | rev"]
    pipeline_of_exec_d_children => "chain",
}

modes! {
    "poll";
    #[ignore = "needs pipes + poll: readiness of pipe ends (POLLIN/OUT/HUP/ERR)"]
    poll_pipe_readiness => "pipe",
    #[ignore = "needs pipes + poll: files, /dev nodes, fd -1, POLLNVAL"]
    poll_files_and_bad_fds => "files",
    #[ignore = "needs pipes + poll: poll(-1) woken by a child, timeouts of at least 100 ms"]
    poll_blocks_and_times_out => "block",
    #[ignore = "needs pipes + poll: 64 pipes"]
    poll_many_pipes => "many",
    #[ignore = "needs pipes + signals: ppoll timeout and signal mask"]
    ppoll_signal_mask => "ppoll",
    #[ignore = "needs poll: EINVAL and EFAULT"]
    poll_errors => "errors",
}

modes! {
    "select";
    #[ignore = "needs pipes + select: readiness of pipe ends through fd_sets"]
    select_pipe_readiness => "pipe",
    #[ignore = "needs select: timeouts of at least 100 ms, the timeval updated (glibc)"]
    select_timeouts => "timeout",
    #[ignore = "needs pipes + select: select without a timeout woken by a child"]
    select_blocks => "block",
    #[ignore = "needs select: regular files always ready, no exceptions"]
    select_files => "files",
    #[ignore = "needs pipes + select: descriptors 100 and 900"]
    select_high_descriptors => "many",
    #[ignore = "needs pipes + signals: pselect6 signal mask"]
    pselect_signal_mask => "pselect",
    #[ignore = "needs select: EBADF and EINVAL"]
    select_errors => "errors",
}
