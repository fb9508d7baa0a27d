//! Symbolic names for flag words and enumerated values.
//!
//! Each table lists names in the order strace prints them (usually, but
//! not always, ascending value), so that combined flags read the same as
//! strace's output. Bits without a name are appended in hex.

/// A value-to-name table; `hex` picks the fallback for unnamed enum values.
pub struct Xlat {
    pub items: &'static [(u64, &'static str)],
    pub hex: bool,
}

const fn dec(items: &'static [(u64, &'static str)]) -> Xlat {
    Xlat { items, hex: false }
}

const fn hexed(items: &'static [(u64, &'static str)]) -> Xlat {
    Xlat { items, hex: true }
}

/// C's `%#x`: `0` for zero (no prefix), `0x..` otherwise.
pub fn hex(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// C's `%#03o`, the way strace prints file modes and umasks: `000`, `0644`.
pub fn octal(v: u64) -> String {
    let s = if v == 0 {
        "0".to_string()
    } else {
        format!("0{v:o}")
    };
    format!("{s:0>3}")
}

impl Xlat {
    /// The name of exactly `v`, if it has one.
    pub fn name(&self, v: u64) -> Option<&'static str> {
        self.items.iter().find(|(k, _)| *k == v).map(|(_, n)| *n)
    }

    /// `v` as an enumerated value: its name, else a number.
    pub fn value(&self, v: u64) -> String {
        match self.name(v) {
            Some(n) => n.to_string(),
            None if self.hex => hex(v),
            None => (v as i64 as i32).to_string(),
        }
    }

    /// `v` as a flag word: `A|B|0x40`; zero prints as its name or `0`.
    pub fn flags(&self, v: u64) -> String {
        if v == 0 {
            return self.name(0).unwrap_or("0").to_string();
        }
        let mut parts = Vec::new();
        let rest = self.collect(v, &mut parts);
        join_flags(parts, rest)
    }

    /// Move every named bit group of `v` into `parts`; returns the rest.
    pub fn collect(&self, mut v: u64, parts: &mut Vec<String>) -> u64 {
        for &(bits, name) in self.items {
            if bits != 0 && v & bits == bits {
                parts.push(name.to_string());
                v &= !bits;
            }
        }
        v
    }
}

/// Join named parts and leftover bits as strace does (`A|B|0x100`).
pub fn join_flags(mut parts: Vec<String>, rest: u64) -> String {
    if rest != 0 || parts.is_empty() {
        parts.push(hex(rest));
    }
    parts.join("|")
}

/// Signal names without the `SIG` prefix, 1..=31 (x86-64 numbering).
const SIGNAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Signal name without `SIG` (`INT`, `RTMIN`, `RT_3`), as in sigsets.
pub fn signal_short(sig: u64) -> Option<String> {
    match sig {
        1..=31 => Some(SIGNAMES[sig as usize - 1].to_string()),
        32 => Some("RTMIN".to_string()),
        33..=64 => Some(format!("RT_{}", sig - 32)),
        _ => None,
    }
}

/// A signal number argument: `SIGTERM`, `SIGRT_2`, or the number.
pub fn signal(sig: u64) -> String {
    let sig = sig as u32 as u64;
    match signal_short(sig) {
        Some(s) => format!("SIG{s}"),
        None => (sig as i32).to_string(),
    }
}

pub const O_ACCMODE: u64 = 0o3;
pub const O_CREAT: u64 = 0o100;
pub const O_TMPFILE: u64 = 0o20200000;
/// The bit of O_TMPFILE that is not O_DIRECTORY (`__O_TMPFILE`).
pub const O_TMPFILE_BIT: u64 = 0o20000000;

/// open(2) flags other than the access mode.
pub static OPEN: Xlat = dec(&[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o4000000, "__O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
    (O_TMPFILE, "O_TMPFILE"),
    (O_TMPFILE_BIT, "__O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o20000, "FASYNC"),
]);

/// Full open(2) flag word: the access mode always leads (`O_RDONLY|...`).
pub fn open_flags(v: u64) -> String {
    let v = v as u32 as u64;
    let mode = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][(v & O_ACCMODE) as usize];
    let mut parts = vec![mode.to_string()];
    let rest = OPEN.collect(v & !O_ACCMODE, &mut parts);
    join_flags(parts, rest)
}

pub static PROT: Xlat = hexed(&[
    (0, "PROT_NONE"),
    (1, "PROT_READ"),
    (2, "PROT_WRITE"),
    (4, "PROT_EXEC"),
    (0x8, "PROT_SEM"),
    (0x01000000, "PROT_GROWSDOWN"),
    (0x02000000, "PROT_GROWSUP"),
]);

static MAP_TYPE: Xlat = hexed(&[
    (1, "MAP_SHARED"),
    (2, "MAP_PRIVATE"),
    (3, "MAP_SHARED_VALIDATE"),
    (8, "MAP_DROPPABLE"),
]);

static MAP: Xlat = hexed(&[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x80, "MAP_ABOVE4G"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x4000000, "MAP_UNINITIALIZED"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
]);

/// mmap(2) flags: the mapping type (low 4 bits) first, then the rest.
pub fn mmap_flags(v: u64) -> String {
    let mut parts = Vec::new();
    let kind = v & 0xf;
    match MAP_TYPE.name(kind) {
        Some(n) => parts.push(n.to_string()),
        None if kind != 0 => parts.push(hex(kind)),
        None => {}
    }
    let rest = MAP.collect(v & !0xf, &mut parts);
    join_flags(parts, rest)
}

pub static MREMAP: Xlat = hexed(&[
    (1, "MREMAP_MAYMOVE"),
    (2, "MREMAP_FIXED"),
    (4, "MREMAP_DONTUNMAP"),
]);

pub const MREMAP_FIXED: u64 = 2;
pub const MREMAP_DONTUNMAP: u64 = 4;

pub static MSYNC: Xlat = hexed(&[(1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC")]);

pub static MADV: Xlat = dec(&[
    (0, "MADV_NORMAL"),
    (1, "MADV_RANDOM"),
    (2, "MADV_SEQUENTIAL"),
    (3, "MADV_WILLNEED"),
    (4, "MADV_DONTNEED"),
    (8, "MADV_FREE"),
    (9, "MADV_REMOVE"),
    (10, "MADV_DONTFORK"),
    (11, "MADV_DOFORK"),
    (12, "MADV_MERGEABLE"),
    (13, "MADV_UNMERGEABLE"),
    (14, "MADV_HUGEPAGE"),
    (15, "MADV_NOHUGEPAGE"),
    (16, "MADV_DONTDUMP"),
    (17, "MADV_DODUMP"),
    (18, "MADV_WIPEONFORK"),
    (19, "MADV_KEEPONFORK"),
    (20, "MADV_COLD"),
    (21, "MADV_PAGEOUT"),
    (22, "MADV_POPULATE_READ"),
    (23, "MADV_POPULATE_WRITE"),
    (24, "MADV_DONTNEED_LOCKED"),
    (25, "MADV_COLLAPSE"),
    (100, "MADV_HWPOISON"),
    (101, "MADV_SOFT_OFFLINE"),
]);

pub static MLOCKALL: Xlat = hexed(&[(1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT")]);

pub static AT: Xlat = hexed(&[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
]);

/// faccessat2 reuses bit 0x200 as AT_EACCESS.
pub static AT_ACCESS: Xlat = hexed(&[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_EACCESS"),
    (0x1000, "AT_EMPTY_PATH"),
]);

static STATX_SYNC: [&str; 4] = [
    "AT_STATX_SYNC_AS_STAT",
    "AT_STATX_FORCE_SYNC",
    "AT_STATX_DONT_SYNC",
    "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC",
];

/// statx(2) flags: the sync type (which has a zero name) leads.
pub fn statx_flags(v: u64) -> String {
    let v = v as u32 as u64;
    let mut parts = vec![STATX_SYNC[((v >> 13) & 3) as usize].to_string()];
    let rest = AT.collect(v & !0x6000, &mut parts);
    join_flags(parts, rest)
}

pub static STATX_MASK: Xlat = hexed(&[
    (0xfff, "STATX_ALL"),
    (0x7ff, "STATX_BASIC_STATS"),
    (0x1, "STATX_TYPE"),
    (0x2, "STATX_MODE"),
    (0x4, "STATX_NLINK"),
    (0x8, "STATX_UID"),
    (0x10, "STATX_GID"),
    (0x20, "STATX_ATIME"),
    (0x40, "STATX_MTIME"),
    (0x80, "STATX_CTIME"),
    (0x100, "STATX_INO"),
    (0x200, "STATX_SIZE"),
    (0x400, "STATX_BLOCKS"),
    (0x800, "STATX_BTIME"),
    (0x1000, "STATX_MNT_ID"),
    (0x2000, "STATX_DIOALIGN"),
    (0x4000, "STATX_MNT_ID_UNIQUE"),
    (0x8000, "STATX_SUBVOL"),
    (0x10000, "STATX_WRITE_ATOMIC"),
]);

pub static STATX_ATTR: Xlat = hexed(&[
    (0x4, "STATX_ATTR_COMPRESSED"),
    (0x10, "STATX_ATTR_IMMUTABLE"),
    (0x20, "STATX_ATTR_APPEND"),
    (0x40, "STATX_ATTR_NODUMP"),
    (0x800, "STATX_ATTR_ENCRYPTED"),
    (0x1000, "STATX_ATTR_AUTOMOUNT"),
    (0x2000, "STATX_ATTR_MOUNT_ROOT"),
    (0x100000, "STATX_ATTR_VERITY"),
    (0x200000, "STATX_ATTR_DAX"),
]);

pub static ACCESS: Xlat = hexed(&[(0, "F_OK"), (4, "R_OK"), (2, "W_OK"), (1, "X_OK")]);

static FILE_TYPES: [(u64, &str); 7] = [
    (0o140000, "S_IFSOCK"),
    (0o120000, "S_IFLNK"),
    (0o100000, "S_IFREG"),
    (0o60000, "S_IFBLK"),
    (0o40000, "S_IFDIR"),
    (0o20000, "S_IFCHR"),
    (0o10000, "S_IFIFO"),
];

/// A mode with its file type: `S_IFREG|0644`, `S_IFDIR|S_ISVTX|0777`.
pub fn mode_with_type(v: u64) -> String {
    let v = v as u32 as u64;
    let mut out = String::new();
    if let Some((_, name)) = FILE_TYPES.iter().find(|(t, _)| v & 0o170000 == *t) {
        out.push_str(name);
        out.push('|');
    }
    for (bit, name) in [
        (0o4000, "S_ISUID"),
        (0o2000, "S_ISGID"),
        (0o1000, "S_ISVTX"),
    ] {
        if v & bit != 0 {
            out.push_str(name);
            out.push('|');
        }
    }
    let known = FILE_TYPES.iter().any(|(t, _)| v & 0o170000 == *t);
    let rest = if known { v & 0o777 } else { v & !0o7000 };
    out.push_str(&octal(rest));
    out
}

pub static SEEK: Xlat = dec(&[
    (0, "SEEK_SET"),
    (1, "SEEK_CUR"),
    (2, "SEEK_END"),
    (3, "SEEK_DATA"),
    (4, "SEEK_HOLE"),
]);

pub static CLONE: Xlat = hexed(&[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
    (0x100000000, "CLONE_CLEAR_SIGHAND"),
    (0x200000000, "CLONE_INTO_CGROUP"),
]);

pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;

/// clone(2) flags: named flags, then the exit signal in the low byte.
pub fn clone_flags(v: u64) -> String {
    let sig = v & 0xff;
    let mut parts = Vec::new();
    let rest = CLONE.collect(v & !0xff, &mut parts);
    if rest != 0 {
        parts.push(hex(rest));
    }
    if sig != 0 {
        parts.push(signal(sig));
    }
    if parts.is_empty() {
        parts.push("0".to_string());
    }
    parts.join("|")
}

pub static SIGPROCMASK_HOW: Xlat = dec(&[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")]);

pub static SA_FLAGS: Xlat = hexed(&[
    (0x04000000, "SA_RESTORER"),
    (0x08000000, "SA_ONSTACK"),
    (0x10000000, "SA_RESTART"),
    (0x20000000, "SA_INTERRUPT"),
    (0x40000000, "SA_NODEFER"),
    (0x80000000, "SA_RESETHAND"),
    (4, "SA_SIGINFO"),
    (1, "SA_NOCLDSTOP"),
    (2, "SA_NOCLDWAIT"),
    (0x400, "SA_UNSUPPORTED"),
    (0x800, "SA_EXPOSE_TAGBITS"),
]);
pub const SA_RESTORER: u64 = 0x04000000;

pub static FCNTL_CMD: Xlat = dec(&[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (17, "F_GETOWNER_UIDS"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1027, "F_DUPFD_QUERY"),
    (1028, "F_CREATED_QUERY"),
    (1029, "F_CANCELLK"),
    (1030, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
]);

pub static FD_FLAGS: Xlat = hexed(&[(1, "FD_CLOEXEC")]);

pub static LOCK_TYPE: Xlat = dec(&[(0, "F_RDLCK"), (1, "F_WRLCK"), (2, "F_UNLCK")]);

pub static SEALS: Xlat = hexed(&[
    (1, "F_SEAL_SEAL"),
    (2, "F_SEAL_SHRINK"),
    (4, "F_SEAL_GROW"),
    (8, "F_SEAL_WRITE"),
    (0x10, "F_SEAL_FUTURE_WRITE"),
    (0x20, "F_SEAL_EXEC"),
]);

pub static FLOCK_OP: Xlat = hexed(&[
    (1, "LOCK_SH"),
    (2, "LOCK_EX"),
    (4, "LOCK_NB"),
    (8, "LOCK_UN"),
]);

pub static WAIT_OPTS: Xlat = hexed(&[
    (1, "WNOHANG"),
    (2, "WSTOPPED"),
    (4, "WEXITED"),
    (8, "WCONTINUED"),
    (0x01000000, "WNOWAIT"),
    (0x80000000, "__WCLONE"),
    (0x40000000, "__WALL"),
    (0x20000000, "__WNOTHREAD"),
]);

pub static IDTYPE: Xlat = dec(&[(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")]);

pub static CLOCKS: Xlat = dec(&[
    (0, "CLOCK_REALTIME"),
    (1, "CLOCK_MONOTONIC"),
    (2, "CLOCK_PROCESS_CPUTIME_ID"),
    (3, "CLOCK_THREAD_CPUTIME_ID"),
    (4, "CLOCK_MONOTONIC_RAW"),
    (5, "CLOCK_REALTIME_COARSE"),
    (6, "CLOCK_MONOTONIC_COARSE"),
    (7, "CLOCK_BOOTTIME"),
    (8, "CLOCK_REALTIME_ALARM"),
    (9, "CLOCK_BOOTTIME_ALARM"),
    (11, "CLOCK_TAI"),
]);

pub static TIMER_FLAGS: Xlat = hexed(&[(1, "TIMER_ABSTIME")]);
pub static TFD_FLAGS: Xlat = hexed(&[(0o2000000, "TFD_CLOEXEC"), (0o4000, "TFD_NONBLOCK")]);
pub static TFD_SETTIME: Xlat = hexed(&[(1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET")]);
pub static EFD_FLAGS: Xlat = hexed(&[
    (1, "EFD_SEMAPHORE"),
    (0o2000000, "EFD_CLOEXEC"),
    (0o4000, "EFD_NONBLOCK"),
]);
pub static SFD_FLAGS: Xlat = hexed(&[(0o2000000, "SFD_CLOEXEC"), (0o4000, "SFD_NONBLOCK")]);
pub static IN_INIT: Xlat = hexed(&[(0o2000000, "IN_CLOEXEC"), (0o4000, "IN_NONBLOCK")]);
pub static EPOLL_CREATE: Xlat = hexed(&[(0o2000000, "EPOLL_CLOEXEC")]);
pub static EPOLL_OP: Xlat = dec(&[
    (1, "EPOLL_CTL_ADD"),
    (2, "EPOLL_CTL_DEL"),
    (3, "EPOLL_CTL_MOD"),
]);
pub static ITIMER: Xlat = dec(&[
    (0, "ITIMER_REAL"),
    (1, "ITIMER_VIRTUAL"),
    (2, "ITIMER_PROF"),
]);
pub static PRIO_WHICH: Xlat = dec(&[(0, "PRIO_PROCESS"), (1, "PRIO_PGRP"), (2, "PRIO_USER")]);
pub static GRND: Xlat = hexed(&[
    (1, "GRND_NONBLOCK"),
    (2, "GRND_RANDOM"),
    (4, "GRND_INSECURE"),
]);
pub static RENAME: Xlat = hexed(&[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
]);
pub static MFD: Xlat = hexed(&[
    (1, "MFD_CLOEXEC"),
    (2, "MFD_ALLOW_SEALING"),
    (4, "MFD_HUGETLB"),
    (8, "MFD_NOEXEC_SEAL"),
    (0x10, "MFD_EXEC"),
]);
pub static UMOUNT: Xlat = hexed(&[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
]);
pub static CLOSE_RANGE: Xlat = hexed(&[(2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC")]);
pub static SPLICE: Xlat = hexed(&[
    (1, "SPLICE_F_MOVE"),
    (2, "SPLICE_F_NONBLOCK"),
    (4, "SPLICE_F_MORE"),
    (8, "SPLICE_F_GIFT"),
]);
pub static FALLOC: Xlat = hexed(&[
    (1, "FALLOC_FL_KEEP_SIZE"),
    (2, "FALLOC_FL_PUNCH_HOLE"),
    (4, "FALLOC_FL_NO_HIDE_STALE"),
    (8, "FALLOC_FL_COLLAPSE_RANGE"),
    (0x10, "FALLOC_FL_ZERO_RANGE"),
    (0x20, "FALLOC_FL_INSERT_RANGE"),
    (0x40, "FALLOC_FL_UNSHARE_RANGE"),
]);
pub static FADVISE: Xlat = dec(&[
    (0, "POSIX_FADV_NORMAL"),
    (1, "POSIX_FADV_RANDOM"),
    (2, "POSIX_FADV_SEQUENTIAL"),
    (3, "POSIX_FADV_WILLNEED"),
    (4, "POSIX_FADV_DONTNEED"),
    (5, "POSIX_FADV_NOREUSE"),
]);
pub static INOTIFY_MASK: Xlat = hexed(&[
    (0x1, "IN_ACCESS"),
    (0x2, "IN_MODIFY"),
    (0x4, "IN_ATTRIB"),
    (0x8, "IN_CLOSE_WRITE"),
    (0x10, "IN_CLOSE_NOWRITE"),
    (0x20, "IN_OPEN"),
    (0x40, "IN_MOVED_FROM"),
    (0x80, "IN_MOVED_TO"),
    (0x100, "IN_CREATE"),
    (0x200, "IN_DELETE"),
    (0x400, "IN_DELETE_SELF"),
    (0x800, "IN_MOVE_SELF"),
    (0x2000, "IN_UNMOUNT"),
    (0x4000, "IN_Q_OVERFLOW"),
    (0x8000, "IN_IGNORED"),
    (0x1000000, "IN_ONLYDIR"),
    (0x2000000, "IN_DONT_FOLLOW"),
    (0x4000000, "IN_EXCL_UNLINK"),
    (0x10000000, "IN_MASK_CREATE"),
    (0x20000000, "IN_MASK_ADD"),
    (0x40000000, "IN_ISDIR"),
    (0x80000000, "IN_ONESHOT"),
]);
pub static MOUNT: Xlat = hexed(&[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (256, "MS_NOSYMFOLLOW"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
    (0xc0ed0000, "MS_MGC_VAL"),
]);

pub static RLIMIT_RES: Xlat = dec(&[
    (0, "RLIMIT_CPU"),
    (1, "RLIMIT_FSIZE"),
    (2, "RLIMIT_DATA"),
    (3, "RLIMIT_STACK"),
    (4, "RLIMIT_CORE"),
    (5, "RLIMIT_RSS"),
    (6, "RLIMIT_NPROC"),
    (7, "RLIMIT_NOFILE"),
    (8, "RLIMIT_MEMLOCK"),
    (9, "RLIMIT_AS"),
    (10, "RLIMIT_LOCKS"),
    (11, "RLIMIT_SIGPENDING"),
    (12, "RLIMIT_MSGQUEUE"),
    (13, "RLIMIT_NICE"),
    (14, "RLIMIT_RTPRIO"),
    (15, "RLIMIT_RTTIME"),
]);

pub static RUSAGE_WHO: Xlat = dec(&[
    (0, "RUSAGE_SELF"),
    (u32::MAX as u64, "RUSAGE_CHILDREN"),
    (1, "RUSAGE_THREAD"),
]);

pub static POLL_EVENTS: Xlat = hexed(&[
    (0x1, "POLLIN"),
    (0x2, "POLLPRI"),
    (0x4, "POLLOUT"),
    (0x8, "POLLERR"),
    (0x10, "POLLHUP"),
    (0x20, "POLLNVAL"),
    (0x40, "POLLRDNORM"),
    (0x80, "POLLRDBAND"),
    (0x100, "POLLWRNORM"),
    (0x200, "POLLWRBAND"),
    (0x400, "POLLMSG"),
    (0x1000, "POLLREMOVE"),
    (0x2000, "POLLRDHUP"),
]);

pub static EPOLL_EVENTS: Xlat = hexed(&[
    (0x1, "EPOLLIN"),
    (0x2, "EPOLLPRI"),
    (0x4, "EPOLLOUT"),
    (0x8, "EPOLLERR"),
    (0x10, "EPOLLHUP"),
    (0x20, "EPOLLNVAL"),
    (0x40, "EPOLLRDNORM"),
    (0x80, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (1 << 28, "EPOLLEXCLUSIVE"),
    (1 << 29, "EPOLLWAKEUP"),
    (1 << 30, "EPOLLONESHOT"),
    (1 << 31, "EPOLLET"),
]);

pub static AF: Xlat = dec(&[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
]);

static SOCK_KIND: Xlat = dec(&[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
]);

pub static SOCK_FLAGS: Xlat = hexed(&[(0o2000000, "SOCK_CLOEXEC"), (0o4000, "SOCK_NONBLOCK")]);

/// socket(2) type: base type in the low nibble, then SOCK_CLOEXEC etc.
pub fn sock_type(v: u64) -> String {
    let v = v as u32 as u64;
    let mut parts = vec![SOCK_KIND.value(v & 0xf)];
    let rest = SOCK_FLAGS.collect(v & !0xf, &mut parts);
    if rest != 0 {
        parts.push(hex(rest));
    }
    parts.join("|")
}

pub static IPPROTO: Xlat = dec(&[
    (0, "IPPROTO_IP"),
    (1, "IPPROTO_ICMP"),
    (6, "IPPROTO_TCP"),
    (17, "IPPROTO_UDP"),
    (41, "IPPROTO_IPV6"),
    (58, "IPPROTO_ICMPV6"),
    (132, "IPPROTO_SCTP"),
    (255, "IPPROTO_RAW"),
]);

pub static SOL: Xlat = dec(&[
    (0, "SOL_IP"),
    (1, "SOL_SOCKET"),
    (6, "SOL_TCP"),
    (17, "SOL_UDP"),
    (41, "SOL_IPV6"),
    (263, "SOL_PACKET"),
    (270, "SOL_NETLINK"),
]);

pub static SO_OPTS: Xlat = dec(&[
    (1, "SO_DEBUG"),
    (2, "SO_REUSEADDR"),
    (3, "SO_TYPE"),
    (4, "SO_ERROR"),
    (5, "SO_DONTROUTE"),
    (6, "SO_BROADCAST"),
    (7, "SO_SNDBUF"),
    (8, "SO_RCVBUF"),
    (9, "SO_KEEPALIVE"),
    (10, "SO_OOBINLINE"),
    (11, "SO_NO_CHECK"),
    (12, "SO_PRIORITY"),
    (13, "SO_LINGER"),
    (14, "SO_BSDCOMPAT"),
    (15, "SO_REUSEPORT"),
    (16, "SO_PASSCRED"),
    (17, "SO_PEERCRED"),
    (18, "SO_RCVLOWAT"),
    (19, "SO_SNDLOWAT"),
    (20, "SO_RCVTIMEO_OLD"),
    (21, "SO_SNDTIMEO_OLD"),
    (25, "SO_BINDTODEVICE"),
    (29, "SO_TIMESTAMP_OLD"),
    (30, "SO_ACCEPTCONN"),
    (31, "SO_PEERSEC"),
    (32, "SO_SNDBUFFORCE"),
    (33, "SO_RCVBUFFORCE"),
    (34, "SO_PASSSEC"),
    (38, "SO_PROTOCOL"),
    (39, "SO_DOMAIN"),
]);

pub static TCP_OPTS: Xlat = dec(&[
    (1, "TCP_NODELAY"),
    (2, "TCP_MAXSEG"),
    (3, "TCP_CORK"),
    (4, "TCP_KEEPIDLE"),
    (5, "TCP_KEEPINTVL"),
    (6, "TCP_KEEPCNT"),
    (7, "TCP_SYNCNT"),
    (8, "TCP_LINGER2"),
    (9, "TCP_DEFER_ACCEPT"),
    (10, "TCP_WINDOW_CLAMP"),
    (11, "TCP_INFO"),
    (12, "TCP_QUICKACK"),
    (13, "TCP_CONGESTION"),
]);

pub static MSG: Xlat = hexed(&[
    (0x1, "MSG_OOB"),
    (0x2, "MSG_PEEK"),
    (0x4, "MSG_DONTROUTE"),
    (0x8, "MSG_CTRUNC"),
    (0x10, "MSG_PROBE"),
    (0x20, "MSG_TRUNC"),
    (0x40, "MSG_DONTWAIT"),
    (0x80, "MSG_EOR"),
    (0x100, "MSG_WAITALL"),
    (0x200, "MSG_FIN"),
    (0x400, "MSG_SYN"),
    (0x800, "MSG_CONFIRM"),
    (0x1000, "MSG_RST"),
    (0x2000, "MSG_ERRQUEUE"),
    (0x4000, "MSG_NOSIGNAL"),
    (0x8000, "MSG_MORE"),
    (0x10000, "MSG_WAITFORONE"),
    (0x40000, "MSG_BATCH"),
    (0x4000000, "MSG_ZEROCOPY"),
    (0x20000000, "MSG_FASTOPEN"),
    (0x40000000, "MSG_CMSG_CLOEXEC"),
]);

pub static XATTR: Xlat = hexed(&[(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")]);

pub static SHUT: Xlat = dec(&[(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")]);

pub static ARCH_PRCTL: Xlat = hexed(&[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
    (0x1021, "ARCH_GET_XCOMP_SUPP"),
    (0x1022, "ARCH_GET_XCOMP_PERM"),
    (0x1023, "ARCH_REQ_XCOMP_PERM"),
    (0x1024, "ARCH_GET_XCOMP_GUEST_PERM"),
    (0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"),
    (0x2001, "ARCH_MAP_VDSO_X32"),
    (0x2002, "ARCH_MAP_VDSO_32"),
    (0x2003, "ARCH_MAP_VDSO_64"),
    (0x4001, "ARCH_GET_UNTAG_MASK"),
    (0x4002, "ARCH_ENABLE_TAGGED_ADDR"),
    (0x4003, "ARCH_GET_MAX_TAG_BITS"),
    (0x4004, "ARCH_FORCE_TAGGED_SVA"),
    (0x5001, "ARCH_SHSTK_ENABLE"),
    (0x5002, "ARCH_SHSTK_DISABLE"),
    (0x5003, "ARCH_SHSTK_LOCK"),
    (0x5004, "ARCH_SHSTK_UNLOCK"),
    (0x5005, "ARCH_SHSTK_STATUS"),
]);

pub static PRCTL: Xlat = hexed(&[
    (1, "PR_SET_PDEATHSIG"),
    (2, "PR_GET_PDEATHSIG"),
    (3, "PR_GET_DUMPABLE"),
    (4, "PR_SET_DUMPABLE"),
    (5, "PR_GET_UNALIGN"),
    (6, "PR_SET_UNALIGN"),
    (7, "PR_GET_KEEPCAPS"),
    (8, "PR_SET_KEEPCAPS"),
    (9, "PR_GET_FPEMU"),
    (10, "PR_SET_FPEMU"),
    (11, "PR_GET_FPEXC"),
    (12, "PR_SET_FPEXC"),
    (13, "PR_GET_TIMING"),
    (14, "PR_SET_TIMING"),
    (15, "PR_SET_NAME"),
    (16, "PR_GET_NAME"),
    (19, "PR_GET_ENDIAN"),
    (20, "PR_SET_ENDIAN"),
    (21, "PR_GET_SECCOMP"),
    (22, "PR_SET_SECCOMP"),
    (23, "PR_CAPBSET_READ"),
    (24, "PR_CAPBSET_DROP"),
    (25, "PR_GET_TSC"),
    (26, "PR_SET_TSC"),
    (27, "PR_GET_SECUREBITS"),
    (28, "PR_SET_SECUREBITS"),
    (29, "PR_SET_TIMERSLACK"),
    (30, "PR_GET_TIMERSLACK"),
    (31, "PR_TASK_PERF_EVENTS_DISABLE"),
    (32, "PR_TASK_PERF_EVENTS_ENABLE"),
    (33, "PR_MCE_KILL"),
    (34, "PR_MCE_KILL_GET"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (37, "PR_GET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (39, "PR_GET_NO_NEW_PRIVS"),
    (40, "PR_GET_TID_ADDRESS"),
    (41, "PR_SET_THP_DISABLE"),
    (42, "PR_GET_THP_DISABLE"),
    (45, "PR_SET_FP_MODE"),
    (46, "PR_GET_FP_MODE"),
    (47, "PR_CAP_AMBIENT"),
    (52, "PR_GET_SPECULATION_CTRL"),
    (53, "PR_SET_SPECULATION_CTRL"),
    (57, "PR_SET_IO_FLUSHER"),
    (58, "PR_GET_IO_FLUSHER"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (62, "PR_SCHED_CORE"),
    (65, "PR_SET_MDWE"),
    (66, "PR_GET_MDWE"),
    (67, "PR_SET_MEMORY_MERGE"),
    (68, "PR_GET_MEMORY_MERGE"),
    (74, "PR_GET_SHADOW_STACK_STATUS"),
    (75, "PR_SET_SHADOW_STACK_STATUS"),
    (76, "PR_LOCK_SHADOW_STACK_STATUS"),
    (0x53564d41, "PR_SET_VMA"),
    (0x59616d61, "PR_SET_PTRACER"),
]);

pub static FUTEX_CMD: Xlat = dec(&[
    (0, "FUTEX_WAIT"),
    (1, "FUTEX_WAKE"),
    (2, "FUTEX_FD"),
    (3, "FUTEX_REQUEUE"),
    (4, "FUTEX_CMP_REQUEUE"),
    (5, "FUTEX_WAKE_OP"),
    (6, "FUTEX_LOCK_PI"),
    (7, "FUTEX_UNLOCK_PI"),
    (8, "FUTEX_TRYLOCK_PI"),
    (9, "FUTEX_WAIT_BITSET"),
    (10, "FUTEX_WAKE_BITSET"),
    (11, "FUTEX_WAIT_REQUEUE_PI"),
    (12, "FUTEX_CMP_REQUEUE_PI"),
    (13, "FUTEX_LOCK_PI2"),
]);

pub static SECCOMP_OP: Xlat = dec(&[
    (0, "SECCOMP_SET_MODE_STRICT"),
    (1, "SECCOMP_SET_MODE_FILTER"),
    (2, "SECCOMP_GET_ACTION_AVAIL"),
    (3, "SECCOMP_GET_NOTIF_SIZES"),
]);

/// Terminal and generic file ioctls that strace names.
pub static IOCTL: Xlat = hexed(&[
    (0x5401, "TCGETS"),
    (0x5402, "TCSETS"),
    (0x5403, "TCSETSW"),
    (0x5404, "TCSETSF"),
    (0x5405, "TCGETA"),
    (0x5406, "TCSETA"),
    (0x5407, "TCSETAW"),
    (0x5408, "TCSETAF"),
    (0x5409, "TCSBRK"),
    (0x540a, "TCXONC"),
    (0x540b, "TCFLSH"),
    (0x540c, "TIOCEXCL"),
    (0x540d, "TIOCNXCL"),
    (0x540e, "TIOCSCTTY"),
    (0x540f, "TIOCGPGRP"),
    (0x5410, "TIOCSPGRP"),
    (0x5411, "TIOCOUTQ"),
    (0x5412, "TIOCSTI"),
    (0x5413, "TIOCGWINSZ"),
    (0x5414, "TIOCSWINSZ"),
    (0x5415, "TIOCMGET"),
    (0x5416, "TIOCMBIS"),
    (0x5417, "TIOCMBIC"),
    (0x5418, "TIOCMSET"),
    (0x5419, "TIOCGSOFTCAR"),
    (0x541a, "TIOCSSOFTCAR"),
    (0x541b, "FIONREAD"),
    (0x541c, "TIOCLINUX"),
    (0x541d, "TIOCCONS"),
    (0x541e, "TIOCGSERIAL"),
    (0x541f, "TIOCSSERIAL"),
    (0x5420, "TIOCPKT"),
    (0x5421, "FIONBIO"),
    (0x5422, "TIOCNOTTY"),
    (0x5423, "TIOCSETD"),
    (0x5424, "TIOCGETD"),
    (0x5425, "TCSBRKP"),
    (0x5427, "TIOCSBRK"),
    (0x5428, "TIOCCBRK"),
    (0x5429, "TIOCGSID"),
    (0x802c542a, "TCGETS2"),
    (0x402c542b, "TCSETS2"),
    (0x402c542c, "TCSETSW2"),
    (0x402c542d, "TCSETSF2"),
    (0x80045430, "TIOCGPTN"),
    (0x40045431, "TIOCSPTLCK"),
    (0x80045432, "TIOCGDEV"),
    (0x40045436, "TIOCSIG"),
    (0x5437, "TIOCVHANGUP"),
    (0x80045438, "TIOCGPKT"),
    (0x80045439, "TIOCGPTLCK"),
    (0x80045440, "TIOCGEXCL"),
    (0x5441, "TIOCGPTPEER"),
    (0x5450, "FIONCLEX"),
    (0x5451, "FIOCLEX"),
    (0x5452, "FIOASYNC"),
    (0x5460, "FIOQSIZE"),
    (0x80086601, "FS_IOC_GETFLAGS"),
    (0x40086602, "FS_IOC_SETFLAGS"),
    (0x80041272, "BLKSSZGET"),
    (0x80081272, "BLKGETSIZE64"),
]);

/// Unnamed ioctl requests decoded the way strace does: `_IOC(dir, type, nr, size)`.
pub fn ioctl_request(v: u64) -> String {
    let v = v as u32 as u64;
    if let Some(n) = IOCTL.name(v) {
        return n.to_string();
    }
    let dir = [
        "_IOC_NONE",
        "_IOC_WRITE",
        "_IOC_READ",
        "_IOC_READ|_IOC_WRITE",
    ][(v >> 30) as usize];
    let (kind, nr, size) = ((v >> 8) & 0xff, v & 0xff, (v >> 16) & 0x3fff);
    format!("_IOC({dir}, {}, {}, {})", hex(kind), hex(nr), hex(size))
}

pub static TERM_IFLAG: Xlat = hexed(&[
    (0o1, "IGNBRK"),
    (0o2, "BRKINT"),
    (0o4, "IGNPAR"),
    (0o10, "PARMRK"),
    (0o20, "INPCK"),
    (0o40, "ISTRIP"),
    (0o100, "INLCR"),
    (0o200, "IGNCR"),
    (0o400, "ICRNL"),
    (0o1000, "IUCLC"),
    (0o2000, "IXON"),
    (0o4000, "IXANY"),
    (0o10000, "IXOFF"),
    (0o20000, "IMAXBEL"),
    (0o40000, "IUTF8"),
]);

pub static TERM_OFLAG: Xlat = hexed(&[
    (0o1, "OPOST"),
    (0o2, "OLCUC"),
    (0o4, "ONLCR"),
    (0o10, "OCRNL"),
    (0o20, "ONOCR"),
    (0o40, "ONLRET"),
    (0o100, "OFILL"),
    (0o200, "OFDEL"),
]);

pub static TERM_CFLAG: Xlat = hexed(&[
    (0o100, "CSTOPB"),
    (0o200, "CREAD"),
    (0o400, "PARENB"),
    (0o1000, "PARODD"),
    (0o2000, "HUPCL"),
    (0o4000, "CLOCAL"),
    (0o10000000000, "CMSPAR"),
    (0o20000000000, "CRTSCTS"),
]);

pub static TERM_LFLAG: Xlat = hexed(&[
    (0o1, "ISIG"),
    (0o2, "ICANON"),
    (0o4, "XCASE"),
    (0o10, "ECHO"),
    (0o20, "ECHOE"),
    (0o40, "ECHOK"),
    (0o100, "ECHONL"),
    (0o200, "NOFLSH"),
    (0o100000, "IEXTEN"),
    (0o1000, "ECHOCTL"),
    (0o2000, "ECHOPRT"),
    (0o4000, "ECHOKE"),
    (0o10000, "FLUSHO"),
    (0o40000, "PENDIN"),
    (0o400, "TOSTOP"),
    (0o200000, "EXTPROC"),
]);

/// Baud rates by their CBAUD code (index), then the extended B57600.. codes.
static BAUDS: [&str; 16] = [
    "B0", "B50", "B75", "B110", "B134", "B150", "B200", "B300", "B600", "B1200", "B1800", "B2400",
    "B4800", "B9600", "B19200", "B38400",
];
static BAUDS_EXT: [&str; 16] = [
    "BOTHER", "B57600", "B115200", "B230400", "B460800", "B500000", "B576000", "B921600",
    "B1000000", "B1152000", "B1500000", "B2000000", "B2500000", "B3000000", "B3500000", "B4000000",
];

/// termios c_oflag: the delay fields (`NL0|CR0|...`) lead, then flags.
pub fn term_oflag(v: u64) -> String {
    let fields: [(u64, u32, &[&str]); 6] = [
        (0o400, 8, &["NL0", "NL1"]),
        (0o3000, 9, &["CR0", "CR1", "CR2", "CR3"]),
        (0o14000, 11, &["TAB0", "TAB1", "TAB2", "TAB3"]),
        (0o20000, 13, &["BS0", "BS1"]),
        (0o40000, 14, &["VT0", "VT1"]),
        (0o100000, 15, &["FF0", "FF1"]),
    ];
    let mut parts: Vec<String> = fields
        .iter()
        .map(|(mask, shift, names)| names[((v & mask) >> shift) as usize].to_string())
        .collect();
    let rest = TERM_OFLAG.collect(v & 0o377, &mut parts);
    join_flags(parts, rest | (v & !0o177777))
}

/// termios c_cflag: baud rate, character size, then flags.
pub fn term_cflag(v: u64) -> String {
    let code = (v & 0o17) as usize;
    let baud = if v & 0o10000 != 0 {
        BAUDS_EXT[code]
    } else {
        BAUDS[code]
    };
    let size = ["CS5", "CS6", "CS7", "CS8"][((v >> 4) & 3) as usize];
    let mut parts = vec![baud.to_string(), size.to_string()];
    let rest = TERM_CFLAG.collect(v & !0o10077, &mut parts);
    join_flags(parts, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_match_strace_order() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(
            open_flags(0o10200000 | 0x40000000),
            "O_RDONLY|O_PATH|O_DIRECTORY|0x40000000"
        );
        assert_eq!(open_flags(0o20200002), "O_RDWR|O_TMPFILE");
        assert_eq!(
            open_flags(0o5070403),
            "O_ACCMODE|O_NOCTTY|O_SYNC|O_DIRECT|O_NOATIME|FASYNC"
        );
    }

    #[test]
    fn mmap_flags_type_first() {
        assert_eq!(mmap_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(
            mmap_flags(0xc011),
            "MAP_SHARED|MAP_FIXED|MAP_NORESERVE|MAP_POPULATE"
        );
    }

    #[test]
    fn prot_none_and_leftover() {
        assert_eq!(PROT.flags(0), "PROT_NONE");
        assert_eq!(PROT.flags(0x105), "PROT_READ|PROT_EXEC|0x100");
    }

    #[test]
    fn clone_flags_with_signal() {
        assert_eq!(
            clone_flags(0x1200011),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(clone_flags(17), "SIGCHLD");
        assert_eq!(clone_flags(0), "0");
    }

    #[test]
    fn modes() {
        assert_eq!(octal(0o644), "0644");
        assert_eq!(octal(0), "000");
        assert_eq!(octal(0o22), "022");
        assert_eq!(mode_with_type(0o100755), "S_IFREG|0755");
        assert_eq!(mode_with_type(0o41777), "S_IFDIR|S_ISVTX|0777");
    }

    #[test]
    fn signals() {
        assert_eq!(signal(15), "SIGTERM");
        assert_eq!(signal(32), "SIGRTMIN");
        assert_eq!(signal(36), "SIGRT_4");
        assert_eq!(signal(0), "0");
        assert_eq!(signal(99), "99");
    }

    #[test]
    fn unknown_ioctl_is_ioc() {
        assert_eq!(
            ioctl_request(0x12345678),
            "_IOC(_IOC_NONE, 0x56, 0x78, 0x1234)"
        );
        assert_eq!(ioctl_request(0x5413), "TIOCGWINSZ");
    }

    #[test]
    fn termios_fields() {
        assert_eq!(term_oflag(0o5), "NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR");
        assert_eq!(term_cflag(0o277), "B38400|CS8|CREAD");
        assert_eq!(
            TERM_LFLAG.flags(0o105073),
            "ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE"
        );
    }
}
