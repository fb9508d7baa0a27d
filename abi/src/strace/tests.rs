//! Formatter tests against a fake guest memory. Expected strings are what
//! strace 6.1 printed for the same calls (see the crate docs for the few
//! deliberate differences).

use super::*;
use crate::syscalls::nr;
use std::collections::HashMap;

/// Guest memory made of separate regions: address -> bytes.
#[derive(Default)]
struct FakeMem {
    regions: HashMap<u64, Vec<u8>>,
}

impl FakeMem {
    fn with(mut self, addr: u64, bytes: &[u8]) -> Self {
        self.regions.insert(addr, bytes.to_vec());
        self
    }

    fn region(&self, addr: u64) -> Option<&[u8]> {
        self.regions.iter().find_map(|(&base, bytes)| {
            let off = usize::try_from(addr.checked_sub(base)?).ok()?;
            (off < bytes.len()).then(|| &bytes[off..])
        })
    }
}

impl GuestMemory for FakeMem {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        if len == 0 {
            return Some(Vec::new());
        }
        self.region(addr)
            .filter(|r| r.len() >= len)
            .map(|r| r[..len].to_vec())
    }

    fn read_cstr(&self, addr: u64, max: usize) -> Option<(Vec<u8>, bool)> {
        let r = self.region(addr)?;
        let window = &r[..r.len().min(max)];
        match window.iter().position(|&b| b == 0) {
            Some(end) => Some((window[..end].to_vec(), false)),
            None if window.len() == max => Some((window.to_vec(), true)),
            None => None,
        }
    }
}

fn line(nr: u64, args: [u64; 6], ret: i64, mem: &FakeMem) -> String {
    format_entry(nr, &args, mem) + &format_exit(nr, &args, ret, mem)
}

fn u64s(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

const AT_FDCWD: u64 = -100i64 as u64;

#[test]
fn openat_path_and_flags() {
    let mem = FakeMem::default().with(0x1000, b"/etc/passwd\0");
    let args = [AT_FDCWD, 0x1000, 0o2000000, 0, 0, 0];
    assert_eq!(
        format_entry(nr::OPENAT, &args, &mem),
        r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC"#
    );
    assert_eq!(format_exit(nr::OPENAT, &args, 3, &mem), ") = 3");
}

#[test]
fn openat_create_shows_mode_and_error() {
    let mem = FakeMem::default().with(0x1000, b"/tmp/abiref/x\0");
    let args = [AT_FDCWD, 0x1000, 0o406302, 0o600, 0, 0];
    assert_eq!(
        line(nr::OPENAT, args, -17, &mem),
        r#"openat(AT_FDCWD, "/tmp/abiref/x", O_RDWR|O_CREAT|O_EXCL|O_APPEND|O_NONBLOCK|O_NOFOLLOW, 0600) = -1 EEXIST (File exists)"#
    );
}

#[test]
fn error_return() {
    let path = b"/nonexistent/path/that/is/quite/long/more/than/thirty/two/bytes\0";
    let mem = FakeMem::default().with(0x1000, path);
    let args = [AT_FDCWD, 0x1000, 0o1101, 0o644, 0, 0];
    assert_eq!(
        line(nr::OPENAT, args, -2, &mem),
        r#"openat(AT_FDCWD, "/nonexistent/path/that/is/quite/long/more/than/thirty/two/bytes", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 ENOENT (No such file or directory)"#
    );
}

#[test]
fn write_buffer_with_newline() {
    let mem = FakeMem::default().with(0x2000, b"hello\n");
    let args = [1, 0x2000, 6, 0, 0, 0];
    assert_eq!(
        format_entry(nr::WRITE, &args, &mem),
        r#"write(1, "hello\n", 6"#
    );
    assert_eq!(format_exit(nr::WRITE, &args, 6, &mem), ") = 6");
}

#[test]
fn write_long_buffer_is_cut_at_32() {
    let mem = FakeMem::default().with(0x2000, b"0123456789012345678901234567890123456789");
    assert_eq!(
        line(nr::WRITE, [1, 0x2000, 40, 0, 0, 0], 40, &mem),
        r#"write(1, "01234567890123456789012345678901"..., 40) = 40"#
    );
}

#[test]
fn read_buffer_decoded_at_exit() {
    let data = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1";
    let mem = FakeMem::default().with(0x3000, data);
    let args = [3, 0x3000, 100, 0, 0, 0];
    assert_eq!(format_entry(nr::READ, &args, &mem), "read(3, ");
    assert_eq!(
        format_exit(
            nr::READ,
            &args,
            100,
            &FakeMem::default().with(0x3000, &[data.as_slice(), &[b'x'; 56]].concat())
        ),
        r#""root:x:0:0:root:/root:/bin/bash\n"..., 100) = 100"#
    );
    let short = format_exit(nr::READ, &[3, 0x3000, 5, 0, 0, 0], 5, &mem);
    assert_eq!(short, r#""root:", 5) = 5"#);
}

#[test]
fn read_failure_shows_pointer() {
    let mem = FakeMem::default().with(0x3000, b"stale");
    assert_eq!(
        line(nr::READ, [3, 0x3000, 10, 0, 0, 0], -11, &mem),
        "read(3, 0x3000, 10) = -1 EAGAIN (Resource temporarily unavailable)"
    );
}

#[test]
fn bad_pointer_prints_hex() {
    let mem = FakeMem::default();
    assert_eq!(
        line(nr::WRITE, [1, 0x1000, 4, 0, 0, 0], -14, &mem),
        "write(1, 0x1000, 4) = -1 EFAULT (Bad address)"
    );
    assert_eq!(
        line(nr::OPENAT, [AT_FDCWD, 0x1000, 0, 0, 0, 0], -14, &mem),
        "openat(AT_FDCWD, 0x1000, O_RDONLY) = -1 EFAULT (Bad address)"
    );
    assert_eq!(
        line(nr::OPENAT, [AT_FDCWD, 0, 0, 0, 0, 0], -14, &mem),
        "openat(AT_FDCWD, NULL, O_RDONLY) = -1 EFAULT (Bad address)"
    );
}

#[test]
fn mmap_prot_flags_and_hex_result() {
    let mem = FakeMem::default();
    assert_eq!(
        line(
            nr::MMAP,
            [0, 8192, 3, 0x22, u64::MAX, 0],
            0x7feced426000,
            &mem
        ),
        "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7feced426000"
    );
    assert_eq!(
        line(nr::MMAP, [0x7fb277178000, 1400832, 5, 0x812, 5, 0x26000], 0x7fb277178000, &mem),
        "mmap(0x7fb277178000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 5, 0x26000) = 0x7fb277178000"
    );
    assert_eq!(
        line(
            nr::MPROTECT,
            [0x7feced426000, 4096, 0x105, 0, 0, 0],
            -22,
            &mem
        ),
        "mprotect(0x7feced426000, 4096, PROT_READ|PROT_EXEC|0x100) = -1 EINVAL (Invalid argument)"
    );
    assert_eq!(
        line(nr::BRK, [0; 6], 0x4c7f000, &mem),
        "brk(NULL) = 0x4c7f000"
    );
}

#[test]
fn execve_argv_and_envp() {
    let mem = FakeMem::default()
        .with(0x100, b"/bin/true\0")
        .with(0x200, &u64s(&[0x100, 0x300, 0x310, 0]))
        .with(0x300, b"-l\0")
        .with(0x310, b"a b\0")
        .with(0x400, &u64s(&[0x500, 0x508, 0]))
        .with(0x500, b"A=1\0B=2\0");
    assert_eq!(
        line(nr::EXECVE, [0x100, 0x200, 0x400, 0, 0, 0], 0, &mem),
        r#"execve("/bin/true", ["/bin/true", "-l", "a b"], 0x400 /* 2 vars */) = 0"#
    );
}

#[test]
fn unknown_syscall() {
    let mem = FakeMem::default();
    assert_eq!(
        line(1000, [1, 2, 3, 4, 5, 6], -38, &mem),
        "syscall_0x3e8(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)"
    );
}

#[test]
fn exit_group_never_returns() {
    let mem = FakeMem::default();
    assert_eq!(line(nr::EXIT_GROUP, [0; 6], 0, &mem), "exit_group(0) = ?");
    assert_eq!(
        line(nr::EXIT, [7, 0, 0, 0, 0, 0], 12345, &mem),
        "exit(7) = ?"
    );
}

#[test]
fn restart_codes_print_as_question_mark() {
    let mem = FakeMem::default().with(0x100, &u64s(&[1, 0]));
    assert_eq!(
        line(nr::NANOSLEEP, [0x100, 0x100, 0, 0, 0, 0], -516, &mem),
        "nanosleep({tv_sec=1, tv_nsec=0}, {tv_sec=1, tv_nsec=0}) = ? ERESTART_RESTARTBLOCK (Interrupted by signal)"
    );
    assert_eq!(
        line(nr::PAUSE, [0; 6], -514, &mem),
        "pause() = ? ERESTARTNOHAND (To be restarted if no handler)"
    );
}

#[test]
fn nanosleep_remainder_only_when_interrupted() {
    let mem = FakeMem::default().with(0x100, &u64s(&[0, 1000]));
    assert_eq!(
        line(nr::CLOCK_NANOSLEEP, [0, 0, 0x100, 0x200, 0, 0], 0, &mem),
        "clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=1000}, 0x200) = 0"
    );
}

#[test]
fn fstat_decodes_mode_and_size() {
    let mut st = vec![0u8; 144];
    st[24..28].copy_from_slice(&0o100755u32.to_le_bytes());
    st[48..56].copy_from_slice(&125640u64.to_le_bytes());
    let mut dev = vec![0u8; 144];
    dev[24..28].copy_from_slice(&0o20666u32.to_le_bytes());
    dev[40..48].copy_from_slice(&0x103u64.to_le_bytes());
    let mem = FakeMem::default()
        .with(0x100, b"\0")
        .with(0x200, &st)
        .with(0x300, b"/dev/null\0")
        .with(0x400, &dev);
    assert_eq!(
        line(nr::NEWFSTATAT, [4, 0x100, 0x200, 0x1000, 0, 0], 0, &mem),
        r#"newfstatat(4, "", {st_mode=S_IFREG|0755, st_size=125640, ...}, AT_EMPTY_PATH) = 0"#
    );
    assert_eq!(
        line(nr::NEWFSTATAT, [AT_FDCWD, 0x300, 0x400, 0, 0, 0], 0, &mem),
        r#"newfstatat(AT_FDCWD, "/dev/null", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}, 0) = 0"#
    );
}

#[test]
fn signals_and_sigsets() {
    let act = u64s(&[0x401615, 0x14000004, 0x409540, (1 << 1) | (1 << 14)]);
    let full = u64s(&[!((1u64 << 31) | (1 << 32))]);
    let mem = FakeMem::default().with(0x100, &act).with(0x200, &full);
    assert_eq!(
        line(nr::RT_SIGACTION, [10, 0x100, 0, 8, 0, 0], 0, &mem),
        "rt_sigaction(SIGUSR1, {sa_handler=0x401615, sa_mask=[INT TERM], sa_flags=SA_RESTORER|SA_RESTART|SA_SIGINFO, sa_restorer=0x409540}, NULL, 8) = 0"
    );
    assert_eq!(
        line(nr::RT_SIGPROCMASK, [0, 0x200, 0, 8, 0, 0], 0, &mem),
        "rt_sigprocmask(SIG_BLOCK, ~[RTMIN RT_1], NULL, 8) = 0"
    );
    assert_eq!(
        line(nr::KILL, [99999999, 36, 0, 0, 0, 0], -3, &mem),
        "kill(99999999, SIGRT_4) = -1 ESRCH (No such process)"
    );
}

#[test]
fn writev_and_readv() {
    let mem = FakeMem::default()
        .with(0x100, &u64s(&[0x200, 2, 0x300, 4]))
        .with(0x200, b"ab")
        .with(0x300, b"cde\n");
    assert_eq!(
        line(nr::WRITEV, [1, 0x100, 2, 0, 0, 0], 6, &mem),
        r#"writev(1, [{iov_base="ab", iov_len=2}, {iov_base="cde\n", iov_len=4}], 2) = 6"#
    );
    assert_eq!(
        line(nr::READV, [6, 0x100, 2, 0, 0, 0], 3, &mem),
        r#"readv(6, [{iov_base="ab", iov_len=2}, {iov_base="c", iov_len=4}], 2) = 3"#
    );
}

#[test]
fn clone_for_fork() {
    let mem = FakeMem::default();
    let args = [0x1200011, 0, 0, 0x8473690, 0, 0];
    assert_eq!(
        format_entry(nr::CLONE, &args, &mem),
        "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
    );
    assert_eq!(
        format_exit(nr::CLONE, &args, 3046, &mem),
        "child_tidptr=0x8473690) = 3046"
    );
    assert_eq!(
        line(nr::CLONE, [17, 0, 0, 0, 0, 0], 27800, &mem),
        "clone(child_stack=NULL, flags=SIGCHLD) = 27800"
    );
}

#[test]
fn clone3_with_parent_tid() {
    let flags = 0x3d0f00u64;
    let args_struct = u64s(&[
        flags,
        0,
        0x7fa6ccd71990,
        0x7fa6ccd71990,
        0,
        0x7fa6cc571000,
        0x800300,
        0x7fa6ccd716c0,
        0,
        0,
        0,
    ]);
    let mem = FakeMem::default()
        .with(0x100, &args_struct)
        .with(0x7fa6ccd71990, &3044u32.to_le_bytes());
    assert_eq!(
        line(nr::CLONE3, [0x100, 88, 0, 0, 0, 0], 3044, &mem),
        "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fa6ccd71990, parent_tid=0x7fa6ccd71990, exit_signal=0, stack=0x7fa6cc571000, stack_size=0x800300, tls=0x7fa6ccd716c0} => {parent_tid=[3044]}, 88) = 3044"
    );
}

#[test]
fn wait4_status() {
    let mem = FakeMem::default()
        .with(0x100, &9u32.to_le_bytes())
        .with(0x200, &0x700u32.to_le_bytes());
    assert_eq!(
        line(nr::WAIT4, [3045, 0x100, 0, 0, 0, 0], 3045, &mem),
        "wait4(3045, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 3045"
    );
    assert_eq!(
        line(nr::WAIT4, [u64::MAX, 0x200, 0, 0, 0, 0], 3046, &mem),
        "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, NULL) = 3046"
    );
    assert_eq!(
        line(nr::WAIT4, [u64::MAX, 0x200, 1, 0, 0, 0], 0, &mem),
        "wait4(-1, 0x200, WNOHANG, NULL) = 0"
    );
}

#[test]
fn fcntl_variants() {
    let mem = FakeMem::default();
    assert_eq!(
        line(nr::FCNTL, [1, 1, 0, 0, 0, 0], 0, &mem),
        "fcntl(1, F_GETFD) = 0"
    );
    assert_eq!(
        line(nr::FCNTL, [13, 1, 0, 0, 0, 0], 1, &mem),
        "fcntl(13, F_GETFD) = 0x1 (flags FD_CLOEXEC)"
    );
    assert_eq!(
        line(nr::FCNTL, [1, 3, 0, 0, 0, 0], 0x8001, &mem),
        "fcntl(1, F_GETFL) = 0x8001 (flags O_WRONLY|O_LARGEFILE)"
    );
    assert_eq!(
        line(nr::FCNTL, [1, 4, 0o4002, 0, 0, 0], 0, &mem),
        "fcntl(1, F_SETFL, O_RDWR|O_NONBLOCK) = 0"
    );
    assert_eq!(
        line(nr::FCNTL, [1, 2, 1, 0, 0, 0], 0, &mem),
        "fcntl(1, F_SETFD, FD_CLOEXEC) = 0"
    );
    assert_eq!(
        line(nr::FCNTL, [1, 1030, 10, 0, 0, 0], 11, &mem),
        "fcntl(1, F_DUPFD_CLOEXEC, 10) = 11"
    );
}

#[test]
fn ioctl_requests() {
    let ws = [24u16, 80, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<_>>();
    let mem = FakeMem::default()
        .with(0x100, &ws)
        .with(0x200, &0u32.to_le_bytes());
    assert_eq!(
        line(nr::IOCTL, [1, 0x5413, 0x100, 0, 0, 0], 0, &mem),
        "ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0"
    );
    assert_eq!(
        line(nr::IOCTL, [1, 0x5413, 0x100, 0, 0, 0], -25, &mem),
        "ioctl(1, TIOCGWINSZ, 0x100) = -1 ENOTTY (Inappropriate ioctl for device)"
    );
    assert_eq!(
        line(nr::IOCTL, [1, 0x541b, 0x200, 0, 0, 0], 0, &mem),
        "ioctl(1, FIONREAD, [0]) = 0"
    );
    assert_eq!(
        line(nr::IOCTL, [3, 0x12345678, 5, 0, 0, 0], -25, &mem),
        "ioctl(3, _IOC(_IOC_NONE, 0x56, 0x78, 0x1234), 0x5) = -1 ENOTTY (Inappropriate ioctl for device)"
    );
}

#[test]
fn sockets() {
    let mut sun = [&[1u8, 0][..], b"/var/run/nothing\0"].concat();
    sun.resize(110, 0);
    let sin = [2u8, 0, 0, 53, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let mem = FakeMem::default().with(0x100, &sun).with(0x200, &sin);
    assert_eq!(
        line(nr::SOCKET, [1, 0o2000001, 0, 0, 0, 0], 14, &mem),
        "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 14"
    );
    assert_eq!(
        line(nr::SOCKET, [2, 2, 17, 0, 0, 0], 15, &mem),
        "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = 15"
    );
    assert_eq!(
        line(nr::CONNECT, [14, 0x100, 110, 0, 0, 0], -2, &mem),
        r#"connect(14, {sa_family=AF_UNIX, sun_path="/var/run/nothing"}, 110) = -1 ENOENT (No such file or directory)"#
    );
    assert_eq!(
        line(nr::CONNECT, [15, 0x200, 16, 0, 0, 0], 0, &mem),
        r#"connect(15, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#
    );
}

#[test]
fn futex_ops() {
    let mem = FakeMem::default().with(0x100, &u64s(&[0, 1]));
    assert_eq!(
        line(nr::FUTEX, [0x7000, 129, 1, 0, 0, 0], 0, &mem),
        "futex(0x7000, FUTEX_WAKE_PRIVATE, 1) = 0"
    );
    assert_eq!(
        line(nr::FUTEX, [0x7000, 128, 0, 0x100, 0, 0], -110, &mem),
        "futex(0x7000, FUTEX_WAIT_PRIVATE, 0, {tv_sec=0, tv_nsec=1}) = -1 ETIMEDOUT (Connection timed out)"
    );
    assert_eq!(
        line(nr::FUTEX, [0x7000, 393, 1, 0, 0, 0xffffffff], -11, &mem),
        "futex(0x7000, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 1, NULL, FUTEX_BITSET_MATCH_ANY) = -1 EAGAIN (Resource temporarily unavailable)"
    );
}

#[test]
fn misc_common_calls() {
    let rl = u64s(&[8192 * 1024, u64::MAX]);
    let mem = FakeMem::default()
        .with(0x100, &rl)
        .with(0x200, &0x4c7f380u64.to_le_bytes())
        .with(0x300, &[7, 0, 0, 0, 8, 0, 0, 0])
        .with(0x400, b"/tmp\0")
        .with(0x500, b"abc\0");
    assert_eq!(
        line(nr::PRLIMIT64, [0, 3, 0, 0x100, 0, 0], 0, &mem),
        "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0"
    );
    assert_eq!(
        line(nr::ARCH_PRCTL, [0x1002, 0x4c7f380, 0, 0, 0, 0], 0, &mem),
        "arch_prctl(ARCH_SET_FS, 0x4c7f380) = 0"
    );
    assert_eq!(
        line(nr::ARCH_PRCTL, [0x1003, 0x200, 0, 0, 0, 0], 0, &mem),
        "arch_prctl(ARCH_GET_FS, [0x4c7f380]) = 0"
    );
    assert_eq!(
        line(nr::PIPE2, [0x300, 0o2000000, 0, 0, 0, 0], 0, &mem),
        "pipe2([7, 8], O_CLOEXEC) = 0"
    );
    assert_eq!(
        line(nr::UMASK, [0o22, 0, 0, 0, 0, 0], 0o22, &mem),
        "umask(022) = 022"
    );
    assert_eq!(
        line(nr::GETCWD, [0x400, 256, 0, 0, 0, 0], 5, &mem),
        r#"getcwd("/tmp", 256) = 5"#
    );
    assert_eq!(
        line(nr::LSEEK, [3, 0, 2, 0, 0, 0], 1221, &mem),
        "lseek(3, 0, SEEK_END) = 1221"
    );
    assert_eq!(
        line(nr::PRCTL, [15, 0x500, 0, 0, 0, 0], 0, &mem),
        r#"prctl(PR_SET_NAME, "abc") = 0"#
    );
    assert_eq!(
        line(nr::PRCTL, [38, 1, 0, 0, 0, 0], 0, &mem),
        "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0"
    );
    assert_eq!(line(nr::GETPID, [0; 6], 42, &mem), "getpid() = 42");
    assert_eq!(
        line(nr::RSEQ, [0x4c7fca0, 0x20, 0, 0x53053053, 0, 0], 0, &mem),
        "rseq(0x4c7fca0, 0x20, 0, 0x53053053) = 0"
    );
}

#[test]
fn garbage_never_panics() {
    let junk: Vec<u8> = (0..=255u8).cycle().take(8192).collect();
    let mem = FakeMem::default()
        .with(0x1000, &junk)
        .with(u64::MAX - 4, &[1, 2, 3, 4]);
    let values = [
        0,
        1,
        0x1000,
        0x1ff8,
        u64::MAX,
        u64::MAX - 4,
        0x8000_0000_0000_0000,
        4096,
        255,
    ];
    for nr in 0..=470u64 {
        for (k, &a) in values.iter().enumerate() {
            let args = [
                a,
                values[(k + 1) % 9],
                values[(k + 2) % 9],
                a,
                0x1000,
                values[(k + 3) % 9],
            ];
            for ret in [0, 1, -1, -4095, -516, 0x1000, 100000, i64::MIN, i64::MAX] {
                let _ = format_entry(nr, &args, &mem);
                let _ = format_exit(nr, &args, ret, &mem);
            }
        }
    }
}
