//! RLIMIT_NOFILE bounds the descriptor table as on Linux: every call that makes a
//! descriptor says EMFILE when none is free below the soft limit (SCM_RIGHTS
//! truncates with MSG_CTRUNC), dup2/dup3 past it EBADF, F_DUPFD from it EINVAL, poll
//! with more entries EINVAL; a lowered limit keeps the open descriptors, a raised one
//! grows the table (fd 8191), and a raised limit with descriptors at 5000 and 7000
//! survives a checkpoint and thaw.
//!
//! Guest: nofile.c (tests/guests/), each mode compared line by line with the same
//! binary run natively (support/posix.rs), in both libc flavours.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["nofile"]);

modes! {
    "nofile";
    /// Limit 64, the table full: EMFILE from every allocator; SCM_RIGHTS truncated.
    every_allocation_says_emfile_with_the_table_full => "full",
    /// /proc/self/limits; lowering the limit below open descriptors keeps them; limit 0.
    a_lowered_limit_keeps_open_descriptors => "lower",
}

// Limit 8192: fds 5000, 8000 and 8191, poll of 8192 entries, select on 6000, fork.
twins!(a_raised_limit_grows_the_table, cc => {
    let vk = GUESTS.check("nofile", cc, "raise");
    // The power of two above fd 8000 (natively it depends on the table's history).
    assert_eq!(value(&vk, "fdsize"), "8192");
});

twins!(dup2_fdupfd_poll_select_and_setrlimit_at_the_bounds, cc => {
    let vk = GUESTS.check("nofile", cc, "bounds");
    // Natively this depends on the host's fs.nr_open (and on being root).
    assert_eq!(value(&vk, "nr_open+1"), "EPERM");
});

twins!(a_raised_limit_and_high_descriptors_survive_a_thaw, cc => {
    let stages = [
        Stage {
            input: Input::NONE,
            stop: Some(Stop::Line("waiting for the checkpoint")),
        },
        Stage {
            input: Input::NONE,
            stop: None,
        },
    ];
    chain(&GUESTS, "nofile", cc, "thaw", &stages);
});
