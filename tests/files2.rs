//! Files between processes and users: flock and fcntl record locks (F_SETLK, F_SETLKW,
//! F_GETLK, splitting, release on close, deadlock detection), sendfile and
//! copy_file_range, permission checks for the unprivileged `user` (uid 1000) after
//! setuid, unlinked-but-open files, rename over directories, shared offsets.
//!
//! Guests: locks.c, sendfile.c, nonroot.c, fileops.c (tests/guests/), each mode compared
//! line by line with the same binary run natively (see support/posix.rs; nonroot needs
//! root natively, so without it only the vkernel run is checked). Every test runs in
//! both libc flavours: `<test>::glibc` and `<test>::musl`.
//!
//! Tests still marked #[ignore] name what the kernel lacks for them.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["locks", "sendfile", "nonroot", "fileops"]);

modes! {
    "locks";
    flock_between_processes => "flock",
    flock_blocks_until_unlocked => "flockwait",
    posix_record_locks => "posix",
    posix_lock_split => "split",
    posix_locks_released_on_close => "close",
    posix_setlkw_blocks => "setlkw",
    posix_deadlock_detected => "deadlock",
    lock_errors => "errors",
}

modes! {
    "sendfile";
    sendfile_file_to_file => "sendfile",
    sendfile_into_a_pipe => "pipe",
    copy_file_range => "cfr",
    sendfile_errors => "errors",
}

fn nonroot(cc: Cc, mode: &str) {
    if host_is_root() {
        GUESTS.check("nonroot", cc, mode);
    } else {
        GUESTS.check_guest_only("nonroot", cc, mode);
    }
}

twins!(
    nonroot_file_permissions,
    cc => { nonroot(cc, "files"); }
);
twins!(
    nonroot_directory_permissions,
    cc => { nonroot(cc, "dirs"); }
);
twins!(
    nonroot_ownership,
    cc => { nonroot(cc, "owner"); }
);
twins!(
    nonroot_ids,
    cc => { nonroot(cc, "ids"); }
);
twins!(
    nonroot_effective_uid,
    cc => { nonroot(cc, "euid"); }
);

modes! {
    "fileops";
    unlinked_open_file => "unlinked",
    hard_links => "links",
    rename_directories => "rename",
    shared_offsets => "shared",
    truncated_by_another_process => "truncate",
}
