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
//! All ignored until the kernel has them; the reasons name what each one needs.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;

use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["locks", "sendfile", "nonroot", "fileops"]);

modes! {
    "locks";
    #[ignore = "needs file locks: flock between processes, inheritance, release with the last fd"]
    flock_between_processes => "flock",
    #[ignore = "needs file locks: a blocking flock(LOCK_EX)"]
    flock_blocks_until_unlocked => "flockwait",
    #[ignore = "needs file locks: F_SETLK / F_GETLK with l_pid, read locks shared"]
    posix_record_locks => "posix",
    #[ignore = "needs file locks: unlocking the middle splits a lock, SEEK_END ranges"]
    posix_lock_split => "split",
    #[ignore = "needs file locks: closing any fd of the file drops the locks"]
    posix_locks_released_on_close => "close",
    #[ignore = "needs file locks: F_SETLKW blocks until released"]
    posix_setlkw_blocks => "setlkw",
    #[ignore = "needs file locks: EDEADLK"]
    posix_deadlock_detected => "deadlock",
    #[ignore = "needs file locks: EBADF / EINVAL"]
    lock_errors => "errors",
}

modes! {
    "sendfile";
    #[ignore = "needs sendfile: offsets, positions, EOF, 3 MiB"]
    sendfile_file_to_file => "sendfile",
    #[ignore = "needs sendfile + pipes: into a pipe read by a child"]
    sendfile_into_a_pipe => "pipe",
    #[ignore = "needs copy_file_range: offsets, positions, EOF, 2 MiB"]
    copy_file_range => "cfr",
    #[ignore = "needs sendfile + copy_file_range: EBADF / EINVAL / EISDIR"]
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
    #[ignore = "needs setuid/setgid/setgroups + process: file permission bits for uid 1000"]
    nonroot_file_permissions,
    cc => { nonroot(cc, "files"); }
);
twins!(
    #[ignore = "needs setuid/setgid/setgroups + process: directory permissions, sticky bit"]
    nonroot_directory_permissions,
    cc => { nonroot(cc, "dirs"); }
);
twins!(
    #[ignore = "needs setuid/setgid/setgroups + process: chmod/chown rules, new files' owner"]
    nonroot_ownership,
    cc => { nonroot(cc, "owner"); }
);
twins!(
    #[ignore = "needs setuid/setgid/setgroups + process + kill: no way back to root, /proc/self/status ids"]
    nonroot_ids,
    cc => { nonroot(cc, "ids"); }
);
twins!(
    #[ignore = "needs seteuid/setresuid + process: effective vs real uid in access checks"]
    nonroot_effective_uid,
    cc => { nonroot(cc, "euid"); }
);

modes! {
    "fileops";
    #[ignore = "needs process: an unlinked open file stays usable, also in a child"]
    unlinked_open_file => "unlinked",
    #[ignore = "needs process: hard links and nlink"]
    hard_links => "links",
    #[ignore = "needs renameat2 + process: rename over directories, RENAME_EXCHANGE"]
    rename_directories => "rename",
    #[ignore = "needs process: offsets shared across fork, O_APPEND from two processes"]
    shared_offsets => "shared",
    #[ignore = "needs process: truncation by another process"]
    truncated_by_another_process => "truncate",
}
