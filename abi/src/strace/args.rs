//! Argument kinds: how each syscall argument is decoded and printed.
//!
//! The syscall table gives every argument one [`Arg`]. A kind knows when
//! strace prints it (at entry, or at exit once the kernel has filled the
//! memory it points to), whether it is printed at all for these argument
//! values, and how to render it. Kinds that decode memory fall back to the
//! raw pointer in hex when the memory is unreadable or the call failed.

use super::escape::{quote, Style};
use super::flags::{self, hex, Xlat};
use super::{offset, special, structs, Call, MAX_STRLEN, PATH_MAX};

/// How one syscall argument is decoded. Numbers in parentheses are the
/// index of another argument the decoding depends on (a length, a count).
#[derive(Clone, Copy)]
pub enum Arg {
    /// Signed 32-bit decimal (`int`, pids, uids: `-1` stays `-1`).
    Int,
    /// Unsigned 32-bit decimal.
    Uint,
    /// Signed 64-bit decimal (offsets).
    Long,
    /// Unsigned 64-bit decimal (sizes).
    Ulong,
    /// Hexadecimal, `0` for zero.
    Hex,
    /// A pointer printed as an address: `NULL` or hex.
    Ptr,
    /// A file descriptor.
    Fd,
    /// A directory fd of a `*at` call: `AT_FDCWD` or a descriptor.
    DirFd,
    /// A mode in octal (`0644`, `022`).
    Oct,
    /// A mode with its file type (`S_IFCHR|0600`).
    ModeT,
    /// A signal number (`SIGTERM`).
    Sig,
    /// A flag word from a table (`PROT_READ|PROT_WRITE`).
    Flags(&'static Xlat),
    /// An enumerated value from a table (`SEEK_SET`).
    Enum(&'static Xlat),
    /// A file name, printed whole.
    Path,
    /// A C string, cut at 32 bytes.
    Str,
    /// Data the guest passes in, length in argument N (write).
    BufIn(usize),
    /// Data the kernel returns (read): as many bytes as the result says,
    /// bounded by the buffer size in argument N.
    BufOut(usize),
    /// Like `BufOut` but every byte in `\x` form (getrandom).
    HexBufOut(usize),
    /// A C string the kernel returns (getcwd).
    StrOut,
    /// An argv array: `["ls", "-l"]`.
    Argv,
    /// An envp array: its address and `/* N vars */`.
    Envp,
    /// open(2) flags with the access mode first.
    OpenFlags,
    /// open(2) mode, printed only when flags arg N has O_CREAT or O_TMPFILE.
    OpenMode(usize),
    /// mknod(2) device, printed only for character and block devices (mode arg N).
    MknodDev(usize),
    /// mmap(2) flags.
    MmapFlags,
    /// statx(2) flags (sync type first).
    StatxFlags,
    /// socket(2) type with SOCK_CLOEXEC etc.
    SockType,
    /// socket(2) protocol, named according to the domain in argument N.
    SockProto(usize),
    /// A `struct timespec` passed in.
    Timespec,
    /// A `struct timespec` the kernel fills.
    TimespecOut,
    /// nanosleep's remaining time, filled only when interrupted.
    TimespecRem,
    /// A `struct timeval` passed in.
    Timeval,
    /// A `struct timeval` the kernel fills.
    TimevalOut,
    /// A `struct itimerspec` passed in / filled by the kernel.
    Itimerspec,
    ItimerspecOut,
    /// A `struct itimerval` passed in / filled by the kernel.
    Itimerval,
    ItimervalOut,
    /// A `struct stat` the kernel fills.
    StatOut,
    /// A `struct statx` the kernel fills.
    StatxOut,
    /// A signal set of the size in argument N, passed in / filled.
    Sigset(usize),
    SigsetOut(usize),
    /// A `struct sigaction` passed in / filled.
    Sigaction,
    SigactionOut,
    /// A `stack_t` passed in / filled (sigaltstack).
    Stack,
    StackOut,
    /// An iovec array of N elements whose data is passed in (writev).
    IovIn(usize),
    /// An iovec array of N elements the kernel fills (readv).
    IovOut(usize),
    /// Two fds the kernel returns: `[3, 4]` (pipe, socketpair).
    FdPairOut,
    /// An `int` the kernel stores through a pointer: `[0]`.
    IntOut,
    /// A gid array of N elements passed in (setgroups).
    GidsIn(usize),
    /// The gids the kernel stored; their count is the result (getgroups).
    GidsOut,
    /// A CPU affinity mask of N bytes passed in: `[0 1]`.
    CpuSet(usize),
    /// The CPU mask the kernel stored; its size in bytes is the result.
    CpuSetOut,
    /// A wait(2) status the kernel stores.
    WaitStatus,
    /// `struct rlimit` in/out with RLIM_INFINITY, and the prlimit64 variants.
    Rlimit,
    RlimitOut,
    Rlimit64,
    Rlimit64Out,
    /// A `struct utsname` the kernel fills.
    UnameOut,
    /// A socket address passed in, length in argument N.
    SockaddrIn(usize),
    /// A socket address the kernel fills, length pointer in argument N.
    SockaddrOut(usize),
    /// A `socklen_t` the kernel stores: `[16]`.
    SocklenOut,
    /// setsockopt/getsockopt option name for the level in argument N.
    SockOptName(usize),
    /// Option value passed in, length in argument N.
    SockOptIn(usize),
    /// Option value the kernel fills, length pointer in argument N.
    SockOptOut(usize),
    /// A pollfd array of N elements (revents are shown with the result).
    Pollfds(usize),
    /// One `struct epoll_event` passed in (epoll_ctl).
    EpollEventIn,
    /// The events epoll_wait returned; their count is the result.
    EpollEventsOut,
    /// A dirent buffer: its address and `/* N entries */`.
    DirentsOut,
    /// clone(2)'s stack and flags, named as strace does.
    Clone,
    /// clone(2)'s tid and tls arguments, printed at exit when flags use them.
    CloneTail,
    /// clone3(2)'s `struct clone_args`.
    Clone3,
    /// clone3(2)'s size, preceded by the parent tid the kernel stored.
    Clone3Size,
    /// futex(2) operation and the arguments that operation uses.
    Futex,
    /// fcntl(2) third argument, decoded by command.
    FcntlArg,
    /// ioctl(2) request name.
    IoctlReq,
    /// ioctl(2) third argument, decoded by request.
    IoctlArg,
    /// arch_prctl(2) address argument (`[0x...]` for ARCH_GET_*).
    ArchPrctlArg,
    /// prctl(2) arguments after the option, decoded by option.
    PrctlArgs,
    /// mremap(2) new address, only with MREMAP_FIXED/MREMAP_DONTUNMAP.
    MremapNewAddr,
}

/// How a syscall's result is printed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ret {
    /// Signed decimal.
    Dec,
    /// An address (mmap, brk).
    Hex,
    /// An octal mode (umask).
    Oct,
    /// The call does not return (exit): `= ?`.
    Unreturned,
    /// fcntl's result, with the flags of F_GETFD/F_GETFL spelled out.
    Fcntl,
    /// poll's result, with the ready descriptors' revents.
    Poll,
}

impl Arg {
    /// True if strace prints this argument after the call returns.
    pub fn at_exit(self, args: &[u64; 6]) -> bool {
        use Arg::*;
        match self {
            BufOut(_) | HexBufOut(_) | StrOut | TimespecOut | TimespecRem | TimevalOut
            | ItimerspecOut | ItimervalOut | StatOut | StatxOut | SigsetOut(_) | SigactionOut
            | StackOut | IovOut(_) | FdPairOut | IntOut | GidsOut | CpuSetOut | WaitStatus
            | RlimitOut | Rlimit64Out | UnameOut | SockaddrOut(_) | SocklenOut | SockOptOut(_)
            | EpollEventsOut | DirentsOut | CloneTail | Clone3Size => true,
            FcntlArg => special::fcntl_at_exit(args),
            IoctlArg => special::ioctl_at_exit(args),
            ArchPrctlArg => special::arch_prctl_at_exit(args),
            PrctlArgs => special::prctl_at_exit(args),
            _ => false,
        }
    }

    /// False if strace omits this argument for these values (open's mode
    /// without O_CREAT, fcntl's unused third argument, ...).
    pub fn present(self, args: &[u64; 6]) -> bool {
        let at = |i: usize| args.get(i).copied().unwrap_or(0);
        match self {
            Arg::OpenMode(i) => at(i) & (flags::O_CREAT | flags::O_TMPFILE_BIT) != 0,
            Arg::MknodDev(i) => matches!(at(i) & 0o170000, 0o20000 | 0o60000),
            Arg::MremapNewAddr => at(3) & (flags::MREMAP_FIXED | flags::MREMAP_DONTUNMAP) != 0,
            Arg::CloneTail => special::clone_has_tail(at(0)),
            Arg::FcntlArg => special::fcntl_has_arg(args),
            Arg::IoctlArg => special::ioctl_has_arg(args),
            Arg::PrctlArgs => special::prctl_has_args(args),
            _ => true,
        }
    }

    /// True if this argument attaches to the previous one without `, `
    /// (clone3's ` => {parent_tid=...}, size` tail).
    pub fn glued(self) -> bool {
        matches!(self, Arg::Clone3Size)
    }

    /// Render argument `i` of `call` as strace prints it.
    pub(crate) fn render(self, i: usize, call: &Call) -> String {
        let v = call.args.get(i).copied().unwrap_or(0);
        if self.at_exit(call.args) && call.failed() && self.points_to_output() {
            return ptr(v);
        }
        self.render_value(v, call)
    }

    /// Output pointers print as plain addresses when the call failed.
    fn points_to_output(self) -> bool {
        !matches!(
            self,
            Arg::CloneTail | Arg::Clone3Size | Arg::PrctlArgs | Arg::TimespecRem
        )
    }

    fn render_value(self, v: u64, call: &Call) -> String {
        use Arg::*;
        match self {
            Int | Fd => (v as i32).to_string(),
            Uint => (v as u32).to_string(),
            Long => (v as i64).to_string(),
            Ulong => v.to_string(),
            Hex => hex(v),
            Ptr | MremapNewAddr => ptr(v),
            DirFd => dirfd(v),
            Oct | OpenMode(_) => flags::octal(v as u32 as u64),
            ModeT => flags::mode_with_type(v),
            MknodDev(_) => structs::makedev(v),
            Sig => flags::signal(v),
            Flags(x) => x.flags(v as u32 as u64),
            Enum(x) => x.value(v as u32 as u64),
            OpenFlags => flags::open_flags(v),
            MmapFlags => flags::mmap_flags(v),
            StatxFlags => flags::statx_flags(v),
            SockType => flags::sock_type(v),
            SockProto(d) => special::sock_proto(call.args[d.min(5)], v),
            _ => self.render_memory(v, call),
        }
    }

    /// Kinds that decode guest memory.
    fn render_memory(self, v: u64, call: &Call) -> String {
        use Arg::*;
        let len_arg = |n: usize| call.args[n.min(5)];
        match self {
            Path => path(call, v),
            Str => string(call, v, MAX_STRLEN),
            BufIn(n) => buffer(call, v, len_arg(n), Style::Octal),
            BufOut(n) => buffer(call, v, ret_len(call).min(len_arg(n)), Style::Octal),
            HexBufOut(n) => buffer(call, v, ret_len(call).min(len_arg(n)), Style::Hex),
            StrOut => path(call, v),
            Argv => argv(call, v),
            Envp => envp(call, v),
            _ => self.render_struct(v, call),
        }
    }

    /// Kinds that decode a structure or an array of them.
    fn render_struct(self, v: u64, call: &Call) -> String {
        use Arg::*;
        let arg = |n: usize| call.args[n.min(5)];
        let s = structs::Reader { call, addr: v };
        let decoded = match self {
            Timespec | TimespecOut => s.timespec(),
            TimespecRem if call.failed() => s.timespec(),
            Timeval | TimevalOut => s.timeval(),
            Itimerspec | ItimerspecOut => s.itimerspec(),
            Itimerval | ItimervalOut => s.itimerval(),
            StatOut => s.stat(),
            StatxOut => s.statx(),
            Sigset(n) | SigsetOut(n) => s.sigset(arg(n)),
            Sigaction | SigactionOut => s.sigaction(),
            Stack | StackOut => s.stack(),
            IovIn(n) => s.iovec(arg(n), None),
            IovOut(n) => s.iovec(arg(n), Some(ret_len(call))),
            FdPairOut => s.fd_pair(),
            IntOut => s.int(),
            GidsIn(n) => s.u32_array(arg(n)),
            GidsOut => s.u32_array(ret_len(call)),
            CpuSet(n) => s.cpu_set(arg(n)),
            CpuSetOut => s.cpu_set(ret_len(call)),
            WaitStatus => s.wait_status(),
            Rlimit | RlimitOut => s.rlimit("RLIM_INFINITY"),
            Rlimit64 | Rlimit64Out => s.rlimit("RLIM64_INFINITY"),
            UnameOut => s.uname(),
            SockaddrIn(n) => s.sockaddr(arg(n)),
            SockaddrOut(n) => s.sockaddr_out(arg(n)),
            SocklenOut => s.int(),
            Pollfds(n) => s.pollfds(arg(n)),
            EpollEventIn => s.epoll_event(),
            EpollEventsOut => s.epoll_events(ret_len(call)),
            DirentsOut => s.dirents(ret_len(call)),
            _ => return self.render_special(v, call),
        };
        decoded.unwrap_or_else(|| ptr(v))
    }

    /// Kinds whose meaning depends on another argument (a command, flags).
    fn render_special(self, v: u64, call: &Call) -> String {
        use Arg::*;
        match self {
            Clone => special::clone_head(call),
            CloneTail => special::clone_tail(call),
            Clone3 => special::clone3(call).unwrap_or_else(|| ptr(v)),
            Clone3Size => special::clone3_size(call),
            Futex => special::futex(call),
            FcntlArg => special::fcntl_arg(call),
            IoctlReq => flags::ioctl_request(v),
            IoctlArg => special::ioctl_arg(call),
            ArchPrctlArg => special::arch_prctl_arg(call),
            PrctlArgs => special::prctl_args(call),
            SockOptName(n) => special::sockopt_name(call.args[n.min(5)], v),
            SockOptIn(n) => special::sockopt_in(call, v, call.args[n.min(5)]),
            SockOptOut(n) => special::sockopt_out(call, v, call.args[n.min(5)]),
            _ => ptr(v),
        }
    }
}

/// `NULL` or the address in hex, as strace prints pointers.
pub fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".to_string()
    } else {
        hex(v)
    }
}

/// A `*at` directory fd: AT_FDCWD is -100 in the low 32 bits.
fn dirfd(v: u64) -> String {
    match v as i32 {
        -100 => "AT_FDCWD".to_string(),
        fd => fd.to_string(),
    }
}

/// Bytes the kernel produced: the (non-negative) result.
fn ret_len(call: &Call) -> u64 {
    call.ok().map_or(0, |r| r.max(0) as u64)
}

/// A whole path (strace does not apply `-s` to file names).
pub(crate) fn path(call: &Call, addr: u64) -> String {
    string(call, addr, PATH_MAX)
}

/// A NUL-terminated string cut at `limit` bytes, or its address if unreadable.
pub(crate) fn string(call: &Call, addr: u64, limit: usize) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    // One extra byte tells a string of exactly `limit` bytes from a longer one.
    match call.mem.read_cstr(addr, limit + 1) {
        Some((mut bytes, cut)) => {
            let long = cut || bytes.len() > limit;
            bytes.truncate(limit);
            quote(&bytes, long, Style::Octal)
        }
        None => hex(addr),
    }
}

/// `len` bytes of data at `addr`, at most 32 shown.
pub(crate) fn buffer(call: &Call, addr: u64, len: u64, style: Style) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let shown = len.min(MAX_STRLEN as u64) as usize;
    match call
        .mem
        .read_bytes(addr, shown)
        .filter(|b| b.len() == shown)
    {
        Some(bytes) => quote(&bytes, len > shown as u64, style),
        None => hex(addr),
    }
}

/// Pointers of a NULL-terminated pointer array, at most `max` of them;
/// the flag says more followed. `None` if the array itself is unreadable.
fn pointer_array(call: &Call, addr: u64, max: usize) -> Option<(Vec<u64>, bool)> {
    let mut out = Vec::new();
    for k in 0..=max as u64 {
        let p = call.read_u64(offset(addr, k.checked_mul(8)?)?)?;
        if p == 0 {
            return Some((out, false));
        }
        if out.len() == max {
            return Some((out, true));
        }
        out.push(p);
    }
    Some((out, true))
}

/// execve's argv: `["ls", "-l"]`, at most 32 elements then `...`.
fn argv(call: &Call, addr: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let Some((ptrs, more)) = pointer_array(call, addr, MAX_STRLEN) else {
        return hex(addr);
    };
    let mut items: Vec<String> = ptrs.iter().map(|&p| string(call, p, MAX_STRLEN)).collect();
    if more {
        items.push("...".to_string());
    }
    format!("[{}]", items.join(", "))
}

/// execve's envp: strace shows only its address and how many variables.
fn envp(call: &Call, addr: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    match pointer_array(call, addr, 1 << 16) {
        Some((ptrs, false)) => {
            let n = ptrs.len();
            format!(
                "{} /* {n} var{} */",
                hex(addr),
                if n == 1 { "" } else { "s" }
            )
        }
        _ => hex(addr),
    }
}
