//! The x86-64 Linux system call table: numbers, names, and how strace
//! decodes each argument and the result.
//!
//! Everything about a syscall lives in one row of the `syscall_table!` macro below: the
//! `nr` constants, the name lookups and the strace decoding are all
//! generated from it, so they cannot drift apart. Numbers 335..=423 are
//! unused on x86-64 (the gap that aligned all architectures at 424), and
//! 512.. are x32 entry points, not ours.

use crate::strace::args::Arg::{self, *};
use crate::strace::args::Ret;
use crate::strace::flags::*;

/// One syscall: its number, name, argument kinds and result kind.
pub(crate) struct SyscallDef {
    pub nr: u64,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub ret: Ret,
}

/// Rows are `number name CONST (argument kinds) result-kind;`, in
/// ascending number order (checked by a test; lookups binary-search).
macro_rules! syscall_table {
    ($($nr:literal $name:ident $konst:ident ($($arg:expr),* $(,)?) $ret:ident;)*) => {
        /// Syscall numbers: one constant per x86-64 syscall, named after it.
        pub mod nr {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $konst: u64 = $nr;
            )*
        }

        /// Every syscall, sorted by number.
        pub(crate) static SYSCALLS: &[SyscallDef] = &[
            $(SyscallDef {
                nr: $nr,
                name: stringify!($name),
                args: &[$($arg),*],
                ret: Ret::$ret,
            },)*
        ];
    };
}

syscall_table! {
    0 read READ (Fd, BufOut(2), Ulong) Dec;
    1 write WRITE (Fd, BufIn(2), Ulong) Dec;
    2 open OPEN (Path, OpenFlags, OpenMode(1)) Dec;
    3 close CLOSE (Fd) Dec;
    4 stat STAT (Path, StatOut) Dec;
    5 fstat FSTAT (Fd, StatOut) Dec;
    6 lstat LSTAT (Path, StatOut) Dec;
    7 poll POLL (Pollfds(1), Uint, Int) Poll;
    8 lseek LSEEK (Fd, Long, Enum(&SEEK)) Dec;
    9 mmap MMAP (Ptr, Ulong, Flags(&PROT), MmapFlags, Fd, Hex) Hex;
    10 mprotect MPROTECT (Ptr, Ulong, Flags(&PROT)) Dec;
    11 munmap MUNMAP (Ptr, Ulong) Dec;
    12 brk BRK (Ptr) Hex;
    13 rt_sigaction RT_SIGACTION (Sig, Sigaction, SigactionOut, Ulong) Dec;
    14 rt_sigprocmask RT_SIGPROCMASK (Enum(&SIGPROCMASK_HOW), Sigset(3), SigsetOut(3), Ulong) Dec;
    15 rt_sigreturn RT_SIGRETURN () Dec;
    16 ioctl IOCTL (Fd, IoctlReq, IoctlArg) Dec;
    17 pread64 PREAD64 (Fd, BufOut(2), Ulong, Long) Dec;
    18 pwrite64 PWRITE64 (Fd, BufIn(2), Ulong, Long) Dec;
    19 readv READV (Fd, IovOut(2), Int) Dec;
    20 writev WRITEV (Fd, IovIn(2), Int) Dec;
    21 access ACCESS (Path, Flags(&ACCESS)) Dec;
    22 pipe PIPE (FdPairOut) Dec;
    23 select SELECT (Int, Ptr, Ptr, Ptr, Timeval) Dec;
    24 sched_yield SCHED_YIELD () Dec;
    25 mremap MREMAP (Ptr, Ulong, Ulong, Flags(&MREMAP), MremapNewAddr) Hex;
    26 msync MSYNC (Ptr, Ulong, Flags(&MSYNC)) Dec;
    27 mincore MINCORE (Ptr, Ulong, Ptr) Dec;
    28 madvise MADVISE (Ptr, Ulong, Enum(&MADV)) Dec;
    29 shmget SHMGET (Hex, Ulong, Hex) Dec;
    30 shmat SHMAT (Int, Ptr, Hex) Hex;
    31 shmctl SHMCTL (Int, Int, Ptr) Dec;
    32 dup DUP (Fd) Dec;
    33 dup2 DUP2 (Fd, Fd) Dec;
    34 pause PAUSE () Dec;
    35 nanosleep NANOSLEEP (Timespec, TimespecRem) Dec;
    36 getitimer GETITIMER (Enum(&ITIMER), ItimervalOut) Dec;
    37 alarm ALARM (Uint) Dec;
    38 setitimer SETITIMER (Enum(&ITIMER), Itimerval, ItimervalOut) Dec;
    39 getpid GETPID () Dec;
    40 sendfile SENDFILE (Fd, Fd, Ptr, Ulong) Dec;
    41 socket SOCKET (Enum(&AF), SockType, SockProto(0)) Dec;
    42 connect CONNECT (Fd, SockaddrIn(2), Uint) Dec;
    43 accept ACCEPT (Fd, SockaddrOut(2), SocklenOut) Dec;
    44 sendto SENDTO (Fd, BufIn(2), Ulong, Flags(&MSG), SockaddrIn(5), Uint) Dec;
    45 recvfrom RECVFROM (Fd, BufOut(2), Ulong, Flags(&MSG), SockaddrOut(5), SocklenOut) Dec;
    46 sendmsg SENDMSG (Fd, Ptr, Flags(&MSG)) Dec;
    47 recvmsg RECVMSG (Fd, Ptr, Flags(&MSG)) Dec;
    48 shutdown SHUTDOWN (Fd, Enum(&SHUT)) Dec;
    49 bind BIND (Fd, SockaddrIn(2), Uint) Dec;
    50 listen LISTEN (Fd, Int) Dec;
    51 getsockname GETSOCKNAME (Fd, SockaddrOut(2), SocklenOut) Dec;
    52 getpeername GETPEERNAME (Fd, SockaddrOut(2), SocklenOut) Dec;
    53 socketpair SOCKETPAIR (Enum(&AF), SockType, SockProto(0), FdPairOut) Dec;
    54 setsockopt SETSOCKOPT (Fd, Enum(&SOL), SockOptName(1), SockOptIn(4), Uint) Dec;
    55 getsockopt GETSOCKOPT (Fd, Enum(&SOL), SockOptName(1), SockOptOut(4), SocklenOut) Dec;
    56 clone CLONE (Clone, CloneTail) Dec;
    57 fork FORK () Dec;
    58 vfork VFORK () Dec;
    59 execve EXECVE (Path, Argv, Envp) Dec;
    60 exit EXIT (Int) Unreturned;
    61 wait4 WAIT4 (Int, WaitStatus, Flags(&WAIT_OPTS), Ptr) Dec;
    62 kill KILL (Int, Sig) Dec;
    63 uname UNAME (UnameOut) Dec;
    64 semget SEMGET (Hex, Int, Hex) Dec;
    65 semop SEMOP (Int, Ptr, Uint) Dec;
    66 semctl SEMCTL (Int, Int, Int, Hex) Dec;
    67 shmdt SHMDT (Ptr) Dec;
    68 msgget MSGGET (Hex, Hex) Dec;
    69 msgsnd MSGSND (Int, Ptr, Ulong, Hex) Dec;
    70 msgrcv MSGRCV (Int, Ptr, Ulong, Long, Hex) Dec;
    71 msgctl MSGCTL (Int, Int, Ptr) Dec;
    72 fcntl FCNTL (Fd, Enum(&FCNTL_CMD), FcntlArg) Fcntl;
    73 flock FLOCK (Fd, Flags(&FLOCK_OP)) Dec;
    74 fsync FSYNC (Fd) Dec;
    75 fdatasync FDATASYNC (Fd) Dec;
    76 truncate TRUNCATE (Path, Long) Dec;
    77 ftruncate FTRUNCATE (Fd, Long) Dec;
    78 getdents GETDENTS (Fd, DirentsOut, Uint) Dec;
    79 getcwd GETCWD (StrOut, Ulong) Dec;
    80 chdir CHDIR (Path) Dec;
    81 fchdir FCHDIR (Fd) Dec;
    82 rename RENAME (Path, Path) Dec;
    83 mkdir MKDIR (Path, Oct) Dec;
    84 rmdir RMDIR (Path) Dec;
    85 creat CREAT (Path, Oct) Dec;
    86 link LINK (Path, Path) Dec;
    87 unlink UNLINK (Path) Dec;
    88 symlink SYMLINK (Path, Path) Dec;
    89 readlink READLINK (Path, BufOut(2), Ulong) Dec;
    90 chmod CHMOD (Path, Oct) Dec;
    91 fchmod FCHMOD (Fd, Oct) Dec;
    92 chown CHOWN (Path, Int, Int) Dec;
    93 fchown FCHOWN (Fd, Int, Int) Dec;
    94 lchown LCHOWN (Path, Int, Int) Dec;
    95 umask UMASK (Oct) Oct;
    96 gettimeofday GETTIMEOFDAY (TimevalOut, Ptr) Dec;
    97 getrlimit GETRLIMIT (Enum(&RLIMIT_RES), RlimitOut) Dec;
    98 getrusage GETRUSAGE (Enum(&RUSAGE_WHO), Ptr) Dec;
    99 sysinfo SYSINFO (Ptr) Dec;
    100 times TIMES (Ptr) Dec;
    101 ptrace PTRACE (Long, Int, Ptr, Ptr) Dec;
    102 getuid GETUID () Dec;
    103 syslog SYSLOG (Int, Ptr, Int) Dec;
    104 getgid GETGID () Dec;
    105 setuid SETUID (Int) Dec;
    106 setgid SETGID (Int) Dec;
    107 geteuid GETEUID () Dec;
    108 getegid GETEGID () Dec;
    109 setpgid SETPGID (Int, Int) Dec;
    110 getppid GETPPID () Dec;
    111 getpgrp GETPGRP () Dec;
    112 setsid SETSID () Dec;
    113 setreuid SETREUID (Int, Int) Dec;
    114 setregid SETREGID (Int, Int) Dec;
    115 getgroups GETGROUPS (Int, GidsOut) Dec;
    116 setgroups SETGROUPS (Int, GidsIn(0)) Dec;
    117 setresuid SETRESUID (Int, Int, Int) Dec;
    118 getresuid GETRESUID (IntOut, IntOut, IntOut) Dec;
    119 setresgid SETRESGID (Int, Int, Int) Dec;
    120 getresgid GETRESGID (IntOut, IntOut, IntOut) Dec;
    121 getpgid GETPGID (Int) Dec;
    122 setfsuid SETFSUID (Int) Dec;
    123 setfsgid SETFSGID (Int) Dec;
    124 getsid GETSID (Int) Dec;
    125 capget CAPGET (Ptr, Ptr) Dec;
    126 capset CAPSET (Ptr, Ptr) Dec;
    127 rt_sigpending RT_SIGPENDING (SigsetOut(1), Ulong) Dec;
    128 rt_sigtimedwait RT_SIGTIMEDWAIT (Sigset(3), Ptr, Timespec, Ulong) Dec;
    129 rt_sigqueueinfo RT_SIGQUEUEINFO (Int, Sig, Ptr) Dec;
    130 rt_sigsuspend RT_SIGSUSPEND (Sigset(1), Ulong) Dec;
    131 sigaltstack SIGALTSTACK (Stack, StackOut) Dec;
    132 utime UTIME (Path, Ptr) Dec;
    133 mknod MKNOD (Path, ModeT, MknodDev(1)) Dec;
    134 uselib USELIB (Path) Dec;
    135 personality PERSONALITY (Hex) Hex;
    136 ustat USTAT (Uint, Ptr) Dec;
    137 statfs STATFS (Path, Ptr) Dec;
    138 fstatfs FSTATFS (Fd, Ptr) Dec;
    139 sysfs SYSFS (Int, Hex, Hex) Dec;
    140 getpriority GETPRIORITY (Enum(&PRIO_WHICH), Int) Dec;
    141 setpriority SETPRIORITY (Enum(&PRIO_WHICH), Int, Int) Dec;
    142 sched_setparam SCHED_SETPARAM (Int, Ptr) Dec;
    143 sched_getparam SCHED_GETPARAM (Int, Ptr) Dec;
    144 sched_setscheduler SCHED_SETSCHEDULER (Int, Int, Ptr) Dec;
    145 sched_getscheduler SCHED_GETSCHEDULER (Int) Dec;
    146 sched_get_priority_max SCHED_GET_PRIORITY_MAX (Int) Dec;
    147 sched_get_priority_min SCHED_GET_PRIORITY_MIN (Int) Dec;
    148 sched_rr_get_interval SCHED_RR_GET_INTERVAL (Int, TimespecOut) Dec;
    149 mlock MLOCK (Ptr, Ulong) Dec;
    150 munlock MUNLOCK (Ptr, Ulong) Dec;
    151 mlockall MLOCKALL (Flags(&MLOCKALL)) Dec;
    152 munlockall MUNLOCKALL () Dec;
    153 vhangup VHANGUP () Dec;
    154 modify_ldt MODIFY_LDT (Int, Ptr, Ulong) Dec;
    155 pivot_root PIVOT_ROOT (Path, Path) Dec;
    156 _sysctl _SYSCTL (Ptr) Dec;
    157 prctl PRCTL (Enum(&PRCTL), PrctlArgs) Dec;
    158 arch_prctl ARCH_PRCTL (Enum(&ARCH_PRCTL), ArchPrctlArg) Dec;
    159 adjtimex ADJTIMEX (Ptr) Dec;
    160 setrlimit SETRLIMIT (Enum(&RLIMIT_RES), Rlimit) Dec;
    161 chroot CHROOT (Path) Dec;
    162 sync SYNC () Dec;
    163 acct ACCT (Path) Dec;
    164 settimeofday SETTIMEOFDAY (Timeval, Ptr) Dec;
    165 mount MOUNT (Path, Path, Str, Flags(&MOUNT), Str) Dec;
    166 umount2 UMOUNT2 (Path, Flags(&UMOUNT)) Dec;
    167 swapon SWAPON (Path, Hex) Dec;
    168 swapoff SWAPOFF (Path) Dec;
    169 reboot REBOOT (Hex, Hex, Hex, Ptr) Dec;
    170 sethostname SETHOSTNAME (BufIn(1), Ulong) Dec;
    171 setdomainname SETDOMAINNAME (BufIn(1), Ulong) Dec;
    172 iopl IOPL (Int) Dec;
    173 ioperm IOPERM (Ulong, Ulong, Int) Dec;
    174 create_module CREATE_MODULE (Str, Ulong) Dec;
    175 init_module INIT_MODULE (Ptr, Ulong, Str) Dec;
    176 delete_module DELETE_MODULE (Str, Hex) Dec;
    177 get_kernel_syms GET_KERNEL_SYMS (Ptr) Dec;
    178 query_module QUERY_MODULE (Str, Int, Ptr, Ulong, Ptr) Dec;
    179 quotactl QUOTACTL (Hex, Path, Int, Ptr) Dec;
    180 nfsservctl NFSSERVCTL (Int, Ptr, Ptr) Dec;
    181 getpmsg GETPMSG (Hex, Hex, Hex, Hex, Hex) Dec;
    182 putpmsg PUTPMSG (Hex, Hex, Hex, Hex, Hex) Dec;
    183 afs_syscall AFS_SYSCALL (Hex, Hex, Hex, Hex, Hex) Dec;
    184 tuxcall TUXCALL (Hex, Hex, Hex) Dec;
    185 security SECURITY (Hex, Hex, Hex) Dec;
    186 gettid GETTID () Dec;
    187 readahead READAHEAD (Fd, Long, Ulong) Dec;
    188 setxattr SETXATTR (Path, Str, BufIn(3), Ulong, Flags(&XATTR)) Dec;
    189 lsetxattr LSETXATTR (Path, Str, BufIn(3), Ulong, Flags(&XATTR)) Dec;
    190 fsetxattr FSETXATTR (Fd, Str, BufIn(3), Ulong, Flags(&XATTR)) Dec;
    191 getxattr GETXATTR (Path, Str, BufOut(3), Ulong) Dec;
    192 lgetxattr LGETXATTR (Path, Str, BufOut(3), Ulong) Dec;
    193 fgetxattr FGETXATTR (Fd, Str, BufOut(3), Ulong) Dec;
    194 listxattr LISTXATTR (Path, BufOut(2), Ulong) Dec;
    195 llistxattr LLISTXATTR (Path, BufOut(2), Ulong) Dec;
    196 flistxattr FLISTXATTR (Fd, BufOut(2), Ulong) Dec;
    197 removexattr REMOVEXATTR (Path, Str) Dec;
    198 lremovexattr LREMOVEXATTR (Path, Str) Dec;
    199 fremovexattr FREMOVEXATTR (Fd, Str) Dec;
    200 tkill TKILL (Int, Sig) Dec;
    201 time TIME (Ptr) Dec;
    202 futex FUTEX (Ptr, Futex) Dec;
    203 sched_setaffinity SCHED_SETAFFINITY (Int, Ulong, CpuSet(1)) Dec;
    204 sched_getaffinity SCHED_GETAFFINITY (Int, Ulong, CpuSetOut) Dec;
    205 set_thread_area SET_THREAD_AREA (Ptr) Dec;
    206 io_setup IO_SETUP (Uint, Ptr) Dec;
    207 io_destroy IO_DESTROY (Hex) Dec;
    208 io_getevents IO_GETEVENTS (Hex, Long, Long, Ptr, Timespec) Dec;
    209 io_submit IO_SUBMIT (Hex, Long, Ptr) Dec;
    210 io_cancel IO_CANCEL (Hex, Ptr, Ptr) Dec;
    211 get_thread_area GET_THREAD_AREA (Ptr) Dec;
    212 lookup_dcookie LOOKUP_DCOOKIE (Hex, Ptr, Ulong) Dec;
    213 epoll_create EPOLL_CREATE (Int) Dec;
    214 epoll_ctl_old EPOLL_CTL_OLD (Hex, Hex, Hex, Hex) Dec;
    215 epoll_wait_old EPOLL_WAIT_OLD (Hex, Hex, Hex, Hex) Dec;
    216 remap_file_pages REMAP_FILE_PAGES (Ptr, Ulong, Flags(&PROT), Ulong, Hex) Dec;
    217 getdents64 GETDENTS64 (Fd, DirentsOut, Uint) Dec;
    218 set_tid_address SET_TID_ADDRESS (Ptr) Dec;
    219 restart_syscall RESTART_SYSCALL () Dec;
    220 semtimedop SEMTIMEDOP (Int, Ptr, Uint, Timespec) Dec;
    221 fadvise64 FADVISE64 (Fd, Long, Long, Enum(&FADVISE)) Dec;
    222 timer_create TIMER_CREATE (Enum(&CLOCKS), Ptr, Ptr) Dec;
    223 timer_settime TIMER_SETTIME (Int, Flags(&TIMER_FLAGS), Itimerspec, ItimerspecOut) Dec;
    224 timer_gettime TIMER_GETTIME (Int, ItimerspecOut) Dec;
    225 timer_getoverrun TIMER_GETOVERRUN (Int) Dec;
    226 timer_delete TIMER_DELETE (Int) Dec;
    227 clock_settime CLOCK_SETTIME (Enum(&CLOCKS), Timespec) Dec;
    228 clock_gettime CLOCK_GETTIME (Enum(&CLOCKS), TimespecOut) Dec;
    229 clock_getres CLOCK_GETRES (Enum(&CLOCKS), TimespecOut) Dec;
    230 clock_nanosleep CLOCK_NANOSLEEP (Enum(&CLOCKS), Flags(&TIMER_FLAGS), Timespec, TimespecRem) Dec;
    231 exit_group EXIT_GROUP (Int) Unreturned;
    232 epoll_wait EPOLL_WAIT (Fd, EpollEventsOut, Int, Int) Dec;
    233 epoll_ctl EPOLL_CTL (Fd, Enum(&EPOLL_OP), Fd, EpollEventIn) Dec;
    234 tgkill TGKILL (Int, Int, Sig) Dec;
    235 utimes UTIMES (Path, Ptr) Dec;
    236 vserver VSERVER (Hex, Hex, Hex, Hex, Hex) Dec;
    237 mbind MBIND (Ptr, Ulong, Int, Ptr, Ulong, Hex) Dec;
    238 set_mempolicy SET_MEMPOLICY (Int, Ptr, Ulong) Dec;
    239 get_mempolicy GET_MEMPOLICY (Ptr, Ptr, Ulong, Ptr, Hex) Dec;
    240 mq_open MQ_OPEN (Str, OpenFlags, OpenMode(1), Ptr) Dec;
    241 mq_unlink MQ_UNLINK (Str) Dec;
    242 mq_timedsend MQ_TIMEDSEND (Int, BufIn(2), Ulong, Uint, Timespec) Dec;
    243 mq_timedreceive MQ_TIMEDRECEIVE (Int, BufOut(2), Ulong, Ptr, Timespec) Dec;
    244 mq_notify MQ_NOTIFY (Int, Ptr) Dec;
    245 mq_getsetattr MQ_GETSETATTR (Int, Ptr, Ptr) Dec;
    246 kexec_load KEXEC_LOAD (Ptr, Ulong, Ptr, Hex) Dec;
    247 waitid WAITID (Enum(&IDTYPE), Int, Ptr, Flags(&WAIT_OPTS), Ptr) Dec;
    248 add_key ADD_KEY (Str, Str, BufIn(3), Ulong, Int) Dec;
    249 request_key REQUEST_KEY (Str, Str, Str, Int) Dec;
    250 keyctl KEYCTL (Int, Hex, Hex, Hex, Hex) Dec;
    251 ioprio_set IOPRIO_SET (Int, Int, Int) Dec;
    252 ioprio_get IOPRIO_GET (Int, Int) Dec;
    253 inotify_init INOTIFY_INIT () Dec;
    254 inotify_add_watch INOTIFY_ADD_WATCH (Fd, Path, Flags(&INOTIFY_MASK)) Dec;
    255 inotify_rm_watch INOTIFY_RM_WATCH (Fd, Int) Dec;
    256 migrate_pages MIGRATE_PAGES (Int, Ulong, Ptr, Ptr) Dec;
    257 openat OPENAT (DirFd, Path, OpenFlags, OpenMode(2)) Dec;
    258 mkdirat MKDIRAT (DirFd, Path, Oct) Dec;
    259 mknodat MKNODAT (DirFd, Path, ModeT, MknodDev(2)) Dec;
    260 fchownat FCHOWNAT (DirFd, Path, Int, Int, Flags(&AT)) Dec;
    261 futimesat FUTIMESAT (DirFd, Path, Ptr) Dec;
    262 newfstatat NEWFSTATAT (DirFd, Path, StatOut, Flags(&AT)) Dec;
    263 unlinkat UNLINKAT (DirFd, Path, Flags(&AT)) Dec;
    264 renameat RENAMEAT (DirFd, Path, DirFd, Path) Dec;
    265 linkat LINKAT (DirFd, Path, DirFd, Path, Flags(&AT)) Dec;
    266 symlinkat SYMLINKAT (Path, DirFd, Path) Dec;
    267 readlinkat READLINKAT (DirFd, Path, BufOut(3), Ulong) Dec;
    268 fchmodat FCHMODAT (DirFd, Path, Oct) Dec;
    269 faccessat FACCESSAT (DirFd, Path, Flags(&ACCESS)) Dec;
    270 pselect6 PSELECT6 (Int, Ptr, Ptr, Ptr, Timespec, Ptr) Dec;
    271 ppoll PPOLL (Pollfds(1), Uint, Timespec, Sigset(4), Ulong) Poll;
    272 unshare UNSHARE (Flags(&CLONE)) Dec;
    273 set_robust_list SET_ROBUST_LIST (Ptr, Ulong) Dec;
    274 get_robust_list GET_ROBUST_LIST (Int, Ptr, Ptr) Dec;
    275 splice SPLICE (Fd, Ptr, Fd, Ptr, Ulong, Flags(&SPLICE)) Dec;
    276 tee TEE (Fd, Fd, Ulong, Flags(&SPLICE)) Dec;
    277 sync_file_range SYNC_FILE_RANGE (Fd, Long, Long, Hex) Dec;
    278 vmsplice VMSPLICE (Fd, IovIn(2), Ulong, Flags(&SPLICE)) Dec;
    279 move_pages MOVE_PAGES (Int, Ulong, Ptr, Ptr, Ptr, Hex) Dec;
    280 utimensat UTIMENSAT (DirFd, Path, Ptr, Flags(&AT)) Dec;
    281 epoll_pwait EPOLL_PWAIT (Fd, EpollEventsOut, Int, Int, Sigset(5), Ulong) Dec;
    282 signalfd SIGNALFD (Fd, Sigset(2), Ulong) Dec;
    283 timerfd_create TIMERFD_CREATE (Enum(&CLOCKS), Flags(&TFD_FLAGS)) Dec;
    284 eventfd EVENTFD (Uint) Dec;
    285 fallocate FALLOCATE (Fd, Flags(&FALLOC), Long, Long) Dec;
    286 timerfd_settime TIMERFD_SETTIME (Fd, Flags(&TFD_SETTIME), Itimerspec, ItimerspecOut) Dec;
    287 timerfd_gettime TIMERFD_GETTIME (Fd, ItimerspecOut) Dec;
    288 accept4 ACCEPT4 (Fd, SockaddrOut(2), SocklenOut, Flags(&SOCK_FLAGS)) Dec;
    289 signalfd4 SIGNALFD4 (Fd, Sigset(2), Ulong, Flags(&SFD_FLAGS)) Dec;
    290 eventfd2 EVENTFD2 (Uint, Flags(&EFD_FLAGS)) Dec;
    291 epoll_create1 EPOLL_CREATE1 (Flags(&EPOLL_CREATE)) Dec;
    292 dup3 DUP3 (Fd, Fd, Flags(&OPEN)) Dec;
    293 pipe2 PIPE2 (FdPairOut, Flags(&OPEN)) Dec;
    294 inotify_init1 INOTIFY_INIT1 (Flags(&IN_INIT)) Dec;
    295 preadv PREADV (Fd, IovOut(2), Int, Long) Dec;
    296 pwritev PWRITEV (Fd, IovIn(2), Int, Long) Dec;
    297 rt_tgsigqueueinfo RT_TGSIGQUEUEINFO (Int, Int, Sig, Ptr) Dec;
    298 perf_event_open PERF_EVENT_OPEN (Ptr, Int, Int, Int, Hex) Dec;
    299 recvmmsg RECVMMSG (Fd, Ptr, Uint, Flags(&MSG), Timespec) Dec;
    300 fanotify_init FANOTIFY_INIT (Hex, Hex) Dec;
    301 fanotify_mark FANOTIFY_MARK (Fd, Hex, Hex, DirFd, Path) Dec;
    302 prlimit64 PRLIMIT64 (Int, Enum(&RLIMIT_RES), Rlimit64, Rlimit64Out) Dec;
    303 name_to_handle_at NAME_TO_HANDLE_AT (DirFd, Path, Ptr, Ptr, Flags(&AT)) Dec;
    304 open_by_handle_at OPEN_BY_HANDLE_AT (Fd, Ptr, OpenFlags) Dec;
    305 clock_adjtime CLOCK_ADJTIME (Enum(&CLOCKS), Ptr) Dec;
    306 syncfs SYNCFS (Fd) Dec;
    307 sendmmsg SENDMMSG (Fd, Ptr, Uint, Flags(&MSG)) Dec;
    308 setns SETNS (Fd, Flags(&CLONE)) Dec;
    309 getcpu GETCPU (IntOut, IntOut, Ptr) Dec;
    310 process_vm_readv PROCESS_VM_READV (Int, Ptr, Ulong, Ptr, Ulong, Hex) Dec;
    311 process_vm_writev PROCESS_VM_WRITEV (Int, Ptr, Ulong, Ptr, Ulong, Hex) Dec;
    312 kcmp KCMP (Int, Int, Int, Hex, Hex) Dec;
    313 finit_module FINIT_MODULE (Fd, Str, Hex) Dec;
    314 sched_setattr SCHED_SETATTR (Int, Ptr, Hex) Dec;
    315 sched_getattr SCHED_GETATTR (Int, Ptr, Uint, Hex) Dec;
    316 renameat2 RENAMEAT2 (DirFd, Path, DirFd, Path, Flags(&RENAME)) Dec;
    317 seccomp SECCOMP (Enum(&SECCOMP_OP), Hex, Ptr) Dec;
    318 getrandom GETRANDOM (HexBufOut(1), Ulong, Flags(&GRND)) Dec;
    319 memfd_create MEMFD_CREATE (Str, Flags(&MFD)) Dec;
    320 kexec_file_load KEXEC_FILE_LOAD (Fd, Fd, Ulong, Str, Hex) Dec;
    321 bpf BPF (Int, Ptr, Uint) Dec;
    322 execveat EXECVEAT (DirFd, Path, Argv, Envp, Flags(&AT)) Dec;
    323 userfaultfd USERFAULTFD (Flags(&OPEN)) Dec;
    324 membarrier MEMBARRIER (Int, Hex, Int) Dec;
    325 mlock2 MLOCK2 (Ptr, Ulong, Hex) Dec;
    326 copy_file_range COPY_FILE_RANGE (Fd, Ptr, Fd, Ptr, Ulong, Hex) Dec;
    327 preadv2 PREADV2 (Fd, IovOut(2), Int, Long, Hex) Dec;
    328 pwritev2 PWRITEV2 (Fd, IovIn(2), Int, Long, Hex) Dec;
    329 pkey_mprotect PKEY_MPROTECT (Ptr, Ulong, Flags(&PROT), Int) Dec;
    330 pkey_alloc PKEY_ALLOC (Hex, Hex) Dec;
    331 pkey_free PKEY_FREE (Int) Dec;
    332 statx STATX (DirFd, Path, StatxFlags, Flags(&STATX_MASK), StatxOut) Dec;
    333 io_pgetevents IO_PGETEVENTS (Hex, Long, Long, Ptr, Timespec, Ptr) Dec;
    334 rseq RSEQ (Ptr, Hex, Hex, Hex) Dec;
    424 pidfd_send_signal PIDFD_SEND_SIGNAL (Fd, Sig, Ptr, Hex) Dec;
    425 io_uring_setup IO_URING_SETUP (Uint, Ptr) Dec;
    426 io_uring_enter IO_URING_ENTER (Fd, Uint, Uint, Hex, Ptr, Ulong) Dec;
    427 io_uring_register IO_URING_REGISTER (Fd, Uint, Ptr, Uint) Dec;
    428 open_tree OPEN_TREE (DirFd, Path, Hex) Dec;
    429 move_mount MOVE_MOUNT (DirFd, Path, DirFd, Path, Hex) Dec;
    430 fsopen FSOPEN (Str, Hex) Dec;
    431 fsconfig FSCONFIG (Fd, Uint, Str, Ptr, Int) Dec;
    432 fsmount FSMOUNT (Fd, Hex, Hex) Dec;
    433 fspick FSPICK (DirFd, Path, Hex) Dec;
    434 pidfd_open PIDFD_OPEN (Int, Flags(&OPEN)) Dec;
    435 clone3 CLONE3 (Clone3, Clone3Size) Dec;
    436 close_range CLOSE_RANGE (Uint, Uint, Flags(&CLOSE_RANGE)) Dec;
    437 openat2 OPENAT2 (DirFd, Path, Ptr, Ulong) Dec;
    438 pidfd_getfd PIDFD_GETFD (Fd, Fd, Hex) Dec;
    439 faccessat2 FACCESSAT2 (DirFd, Path, Flags(&ACCESS), Flags(&AT_ACCESS)) Dec;
    440 process_madvise PROCESS_MADVISE (Fd, Ptr, Ulong, Enum(&MADV), Hex) Dec;
    441 epoll_pwait2 EPOLL_PWAIT2 (Fd, EpollEventsOut, Int, Timespec, Sigset(5), Ulong) Dec;
    442 mount_setattr MOUNT_SETATTR (DirFd, Path, Hex, Ptr, Ulong) Dec;
    443 quotactl_fd QUOTACTL_FD (Fd, Hex, Int, Ptr) Dec;
    444 landlock_create_ruleset LANDLOCK_CREATE_RULESET (Ptr, Ulong, Hex) Dec;
    445 landlock_add_rule LANDLOCK_ADD_RULE (Fd, Int, Ptr, Hex) Dec;
    446 landlock_restrict_self LANDLOCK_RESTRICT_SELF (Fd, Hex) Dec;
    447 memfd_secret MEMFD_SECRET (Hex) Dec;
    448 process_mrelease PROCESS_MRELEASE (Fd, Hex) Dec;
    449 futex_waitv FUTEX_WAITV (Ptr, Uint, Hex, Timespec, Enum(&CLOCKS)) Dec;
    450 set_mempolicy_home_node SET_MEMPOLICY_HOME_NODE (Ptr, Ulong, Ulong, Hex) Dec;
    451 cachestat CACHESTAT (Fd, Ptr, Ptr, Hex) Dec;
    452 fchmodat2 FCHMODAT2 (DirFd, Path, Oct, Flags(&AT)) Dec;
    453 map_shadow_stack MAP_SHADOW_STACK (Ptr, Ulong, Hex) Hex;
    454 futex_wake FUTEX_WAKE (Ptr, Hex, Int, Hex) Dec;
    455 futex_wait FUTEX_WAIT (Ptr, Hex, Hex, Timespec, Enum(&CLOCKS)) Dec;
    456 futex_requeue FUTEX_REQUEUE (Ptr, Hex, Int, Int) Dec;
    457 statmount STATMOUNT (Ptr, Ptr, Ulong, Hex) Dec;
    458 listmount LISTMOUNT (Ptr, Ptr, Ulong, Hex) Dec;
    459 lsm_get_self_attr LSM_GET_SELF_ATTR (Uint, Ptr, Ptr, Hex) Dec;
    460 lsm_set_self_attr LSM_SET_SELF_ATTR (Uint, Ptr, Ulong, Hex) Dec;
    461 lsm_list_modules LSM_LIST_MODULES (Ptr, Ptr, Hex) Dec;
    462 mseal MSEAL (Ptr, Ulong, Hex) Dec;
}

/// The table row for `nr`, if Linux x86-64 has such a syscall.
pub(crate) fn lookup(nr: u64) -> Option<&'static SyscallDef> {
    SYSCALLS
        .binary_search_by_key(&nr, |d| d.nr)
        .ok()
        .map(|i| &SYSCALLS[i])
}

/// The name of syscall `nr` as Linux and strace spell it (`262` -> `"newfstatat"`).
pub fn syscall_name(nr: u64) -> Option<&'static str> {
    lookup(nr).map(|d| d.name)
}

/// The number of the syscall called `name` (`"openat"` -> `257`).
pub fn syscall_number(name: &str) -> Option<u64> {
    SYSCALLS.iter().find(|d| d.name == name).map(|d| d.nr)
}

/// How many arguments the syscall takes (as strace prints them).
pub fn syscall_arg_count(nr: u64) -> Option<usize> {
    lookup(nr).map(|d| d.args.len())
}

/// All syscalls as (number, name), in ascending number order.
pub fn all_syscalls() -> impl Iterator<Item = (u64, &'static str)> {
    SYSCALLS.iter().map(|d| (d.nr, d.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_and_unique() {
        assert!(SYSCALLS.windows(2).all(|w| w[0].nr < w[1].nr));
        for d in SYSCALLS {
            assert_eq!(
                SYSCALLS.iter().filter(|e| e.name == d.name).count(),
                1,
                "{}",
                d.name
            );
            assert!(d.args.len() <= 6, "{}", d.name);
        }
    }

    #[test]
    fn every_number_named_except_the_x86_64_gap() {
        for n in 0..=470u64 {
            let expected = n <= 334 || (424..=462).contains(&n);
            assert_eq!(syscall_name(n).is_some(), expected, "nr {n}");
            if let Some(name) = syscall_name(n) {
                assert_eq!(syscall_number(name), Some(n), "{name}");
            }
        }
        assert_eq!(SYSCALLS.len(), 335 + 39);
        assert_eq!(syscall_name(512), None);
        assert_eq!(syscall_name(u64::MAX), None);
    }

    #[test]
    fn well_known_numbers() {
        let known = [
            ("read", 0),
            ("write", 1),
            ("open", 2),
            ("mmap", 9),
            ("clone", 56),
            ("fork", 57),
            ("execve", 59),
            ("exit", 60),
            ("wait4", 61),
            ("kill", 62),
            ("uname", 63),
            ("getdents64", 217),
            ("set_tid_address", 218),
            ("exit_group", 231),
            ("openat", 257),
            ("newfstatat", 262),
            ("pselect6", 270),
            ("ppoll", 271),
            ("prlimit64", 302),
            ("getrandom", 318),
            ("statx", 332),
            ("rseq", 334),
            ("clone3", 435),
            ("faccessat2", 439),
            ("futex_waitv", 449),
            ("mseal", 462),
        ];
        for (name, n) in known {
            assert_eq!(syscall_name(n), Some(name));
            assert_eq!(syscall_number(name), Some(n));
        }
        assert_eq!(syscall_number("nosuchcall"), None);
    }

    #[test]
    fn nr_constants_follow_the_table() {
        assert_eq!(nr::READ, 0);
        assert_eq!(nr::RT_SIGACTION, 13);
        assert_eq!(nr::_SYSCTL, 156);
        assert_eq!(nr::NEWFSTATAT, 262);
        assert_eq!(nr::CLONE3, 435);
        assert_eq!(nr::FUTEX_WAITV, 449);
        assert_eq!(nr::MSEAL, 462);
    }
}
