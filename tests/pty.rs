//! Pseudo-terminals and controlling terminals: /dev/ptmx and /dev/pts with glibc's and
//! musl's posix_openpt, grantpt, unlockpt and ptsname; canonical input edited and
//! echoed through the pair; VMIN/VTIME timing; poll readiness of both sides and the
//! hangup when either closes; /dev/tty, TIOCSCTTY and gaining a controlling terminal at
//! open; ^C reaching the foreground group; SIGTTIN for a background reader; SIGHUP to
//! the session leader when the master closes and to the foreground group when the
//! leader exits; SIGHUP and SIGCONT for a stopped, newly orphaned process group.
//!
//! Guest: pty.c (tests/guests/), each mode compared line by line with the same binary
//! run natively (see support/posix.rs). Every test runs in both libc flavours:
//! `<test>::glibc` and `<test>::musl`.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["pty"]);

modes! {
    "pty";
    open_unlock_and_name_a_pty => "open",
    canonical_input_edited_and_echoed => "canon",
    raw_mode_vmin_and_vtime => "raw",
    poll_and_hangup_of_either_side => "poll",
    controlling_terminal_and_ctrl_c => "ctty",
    background_reader_gets_sigttin => "jobctl",
    master_close_hangs_up_the_session_leader => "hangup",
    session_leader_exit_hangs_up_the_foreground => "leader",
    orphaned_stopped_group_gets_sighup => "orphan",
}
