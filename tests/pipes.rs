//! Pipes and polling: pipe/pipe2 between processes (EOF, EPIPE and SIGPIPE, 64 KiB
//! capacity, PIPE_BUF atomicity, O_NONBLOCK, F_GETPIPE_SZ, FIONREAD), FIFOs (also opened
//! O_RDWR), pipelines of exec'd busybox applets, and poll / ppoll / select / pselect6
//! over pipes and files.
//!
//! Guests: pipe.c, poll.c, select.c (tests/guests/), each mode compared line by line
//! with the same binary run natively (see support/posix.rs). Every test runs in both
//! libc flavours: `<test>::glibc` and `<test>::musl`.
//!
//! Tests still marked #[ignore] name what the kernel lacks for them.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["pipe", "poll", "select"]);

modes! {
    "pipe";
    pipe_eof => "eof",
    pipe_sigpipe_kills => "sigpipe",
    pipe_epipe => "epipe",
    pipe_capacity_and_nonblocking => "capacity",
    pipe_buf_writes_are_atomic => "atomic",
    pipe_big_transfer => "big",
    pipe2_flags => "pipe2",
    pipe_stat_and_proc_links => "stat",
    fifo_rendezvous => "fifo",
    fifo_opened_read_write => "fiforw",
    pipeline_of_exec_d_children => "chain",
}

modes! {
    "poll";
    poll_pipe_readiness => "pipe",
    poll_files_and_bad_fds => "files",
    poll_blocks_and_times_out => "block",
    poll_many_pipes => "many",
    ppoll_signal_mask => "ppoll",
    poll_errors => "errors",
}

modes! {
    "select";
    select_pipe_readiness => "pipe",
    select_timeouts => "timeout",
    select_blocks => "block",
    select_files => "files",
    select_high_descriptors => "many",
    pselect_signal_mask => "pselect",
    select_errors => "errors",
}
