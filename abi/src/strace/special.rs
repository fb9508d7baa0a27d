//! Calls whose arguments change meaning with another argument: clone's
//! flags decide which tid/tls arguments exist, futex/fcntl/ioctl/prctl/
//! arch_prctl commands decide what the remaining arguments are.

use super::args::{ptr, string, Arg};
use super::flags::{self, hex, Xlat};
use super::structs::Reader;
use super::{Call, MAX_STRLEN};

fn reader<'c, 'a>(call: &'c Call<'a>, addr: u64) -> Reader<'c, 'a> {
    Reader { call, addr }
}

/// `[N]` for an int the kernel stored, or the pointer.
fn int_at(call: &Call, addr: u64) -> String {
    reader(call, addr).int().unwrap_or_else(|| ptr(addr))
}

const CLONE_TAIL_FLAGS: u64 = flags::CLONE_PARENT_SETTID
    | flags::CLONE_PIDFD
    | flags::CLONE_CHILD_SETTID
    | flags::CLONE_CHILD_CLEARTID
    | flags::CLONE_SETTLS;

/// clone(2) on x86-64: (flags, stack, parent_tid, child_tid, tls).
pub fn clone_head(call: &Call) -> String {
    let a = call.args;
    format!(
        "child_stack={}, flags={}",
        ptr(a[1]),
        flags::clone_flags(a[0])
    )
}

pub fn clone_has_tail(clone_flags: u64) -> bool {
    clone_flags & CLONE_TAIL_FLAGS != 0
}

/// The clone arguments strace prints after the call, as flags require.
pub fn clone_tail(call: &Call) -> String {
    let a = call.args;
    let mut parts = Vec::new();
    if a[0] & (flags::CLONE_PARENT_SETTID | flags::CLONE_PIDFD) != 0 {
        parts.push(format!("parent_tid={}", int_at(call, a[2])));
    }
    if a[0] & flags::CLONE_SETTLS != 0 {
        parts.push(format!("tls={}", ptr(a[4])));
    }
    if a[0] & (flags::CLONE_CHILD_SETTID | flags::CLONE_CHILD_CLEARTID) != 0 {
        parts.push(format!("child_tidptr={}", ptr(a[3])));
    }
    parts.join(", ")
}

/// clone3's `struct clone_args`, with the fields strace shows for its flags.
pub fn clone3(call: &Call) -> Option<String> {
    let size = call.args[1];
    if !(64..=4096).contains(&size) {
        return None;
    }
    let b = call.read(call.args[0], size.min(88) as usize)?;
    let field = |k: usize| super::le(&b, k * 8, 8);
    let fl = field(0);
    let mut parts = vec![format!("flags={}", flags::CLONE.flags(fl))];
    let mut opt = |cond: bool, name: &str, value: String| {
        if cond {
            parts.push(format!("{name}={value}"));
        }
    };
    opt(fl & flags::CLONE_PIDFD != 0, "pidfd", ptr(field(1)));
    let child = flags::CLONE_CHILD_SETTID | flags::CLONE_CHILD_CLEARTID;
    opt(fl & child != 0, "child_tid", ptr(field(2)));
    opt(
        fl & flags::CLONE_PARENT_SETTID != 0,
        "parent_tid",
        ptr(field(3)),
    );
    opt(true, "exit_signal", flags::signal(field(4)));
    opt(true, "stack", ptr(field(5)));
    opt(true, "stack_size", hex(field(6)));
    opt(fl & flags::CLONE_SETTLS != 0, "tls", ptr(field(7)));
    opt(field(9) != 0, "set_tid", ptr(field(8)));
    opt(field(9) != 0, "set_tid_size", field(9).to_string());
    opt(fl & 0x200000000 != 0, "cgroup", field(10).to_string());
    Some(format!("{{{}}}", parts.join(", ")))
}

/// clone3's size, after ` => {parent_tid=[N]}` when the kernel stored one.
pub fn clone3_size(call: &Call) -> String {
    let size = call.args[1];
    let stored = call.ok().and_then(|_| {
        let fl = call.read_u64(call.args[0])?;
        if fl & flags::CLONE_PARENT_SETTID == 0 {
            return None;
        }
        let ptid = call.read_u64(super::offset(call.args[0], 24)?)?;
        Some(format!(" => {{parent_tid={}}}", int_at(call, ptid)))
    });
    format!("{}, {size}", stored.unwrap_or_default())
}

const FUTEX_PRIVATE: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

/// futex(2): the operation, then the arguments that operation reads.
pub fn futex(call: &Call) -> String {
    let a = call.args;
    let op = a[1] as u32 as u64;
    let cmd = op & !(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
    let mut parts = vec![futex_op(op)];
    let val = |v: u64| (v as u32).to_string();
    let timeout = || Arg::Timespec.render(3, call);
    let bitset = |v: u64| match v as u32 {
        u32::MAX => "FUTEX_BITSET_MATCH_ANY".to_string(),
        b => hex(u64::from(b)),
    };
    let rest: Vec<String> = match cmd {
        0 => vec![val(a[2]), timeout()],
        1 | 2 => vec![val(a[2])],
        3 => vec![val(a[2]), val(a[3]), ptr(a[4])],
        4 | 12 => vec![val(a[2]), val(a[3]), ptr(a[4]), val(a[5])],
        5 => vec![val(a[2]), val(a[3]), ptr(a[4]), hex(a[5] as u32 as u64)],
        6 | 13 => vec![timeout()],
        7 | 8 => vec![],
        9 => vec![val(a[2]), timeout(), bitset(a[5])],
        10 => vec![val(a[2]), bitset(a[5])],
        11 => vec![val(a[2]), timeout(), ptr(a[4])],
        _ => vec![hex(a[2]), hex(a[3]), hex(a[4]), hex(a[5])],
    };
    parts.extend(rest);
    parts.join(", ")
}

/// `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`.
fn futex_op(op: u64) -> String {
    let cmd = op & !(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
    let Some(name) = flags::FUTEX_CMD.name(cmd) else {
        return hex(op);
    };
    let mut out = name.to_string();
    if op & FUTEX_PRIVATE != 0 {
        out.push_str("_PRIVATE");
    }
    if op & FUTEX_CLOCK_REALTIME != 0 {
        out.push_str("|FUTEX_CLOCK_REALTIME");
    }
    out
}

const F_GETLK: u64 = 5;
const F_OFD_GETLK: u64 = 36;

/// fcntl commands that take no third argument.
fn fcntl_no_arg(cmd: u64) -> bool {
    matches!(cmd, 1 | 3 | 9 | 11 | 1025 | 1032 | 1034)
}

pub fn fcntl_has_arg(args: &[u64; 6]) -> bool {
    !fcntl_no_arg(args[1] as u32 as u64)
}

pub fn fcntl_at_exit(args: &[u64; 6]) -> bool {
    matches!(args[1] as u32 as u64, F_GETLK | F_OFD_GETLK)
}

/// fcntl's third argument, decoded by command.
pub fn fcntl_arg(call: &Call) -> String {
    let v = call.args[2];
    match call.args[1] as u32 as u64 {
        0 | 1030 | 8 | 1031 => (v as i32).to_string(),
        2 => flags::FD_FLAGS.flags(v as u32 as u64),
        4 => flags::open_flags(v),
        10 => flags::signal(v),
        1024 => flags::LOCK_TYPE.value(v),
        1033 => flags::SEALS.flags(v as u32 as u64),
        6 | 7 | 37 | 38 => reader(call, v).flock(false).unwrap_or_else(|| ptr(v)),
        F_GETLK | F_OFD_GETLK => reader(call, v).flock(true).unwrap_or_else(|| ptr(v)),
        _ => hex(v),
    }
}

/// fcntl's result: F_GETFD/F_GETFL/F_GET_SEALS also spell out the flags.
pub fn fcntl_ret(call: &Call) -> String {
    let ret = call.ret.unwrap_or(0);
    let r = ret as u64;
    match call.args[1] as u32 as u64 {
        1 if ret != 0 => format!("{} (flags {})", hex(r), flags::FD_FLAGS.flags(r)),
        3 => format!("{} (flags {})", hex(r), flags::open_flags(r)),
        1034 => format!("{} (seals {})", hex(r), flags::SEALS.flags(r)),
        _ => ret.to_string(),
    }
}

/// ioctls printed without a third argument.
fn ioctl_no_arg(req: u64) -> bool {
    matches!(
        req,
        0x5450 | 0x5451 | 0x5422 | 0x540c | 0x540d | 0x5427 | 0x5428 | 0x5437
    )
}

/// ioctls whose third argument points to data the kernel fills.
fn ioctl_out(req: u64) -> bool {
    matches!(
        req,
        0x5401
            | 0x5413
            | 0x540f
            | 0x5429
            | 0x541b
            | 0x5411
            | 0x80045430
            | 0x5424
            | 0x80045439
            | 0x80045438
            | 0x80045440
            | 0x5415
            | 0x5419
    )
}

pub fn ioctl_has_arg(args: &[u64; 6]) -> bool {
    !ioctl_no_arg(args[1] as u32 as u64)
}

pub fn ioctl_at_exit(args: &[u64; 6]) -> bool {
    ioctl_out(args[1] as u32 as u64)
}

static TCFLSH: Xlat = Xlat {
    items: &[(0, "TCIFLUSH"), (1, "TCOFLUSH"), (2, "TCIOFLUSH")],
    hex: false,
};
static TCXONC: Xlat = Xlat {
    items: &[(0, "TCOOFF"), (1, "TCOON"), (2, "TCIOFF"), (3, "TCION")],
    hex: false,
};

/// ioctl's third argument for the terminal requests strace decodes.
pub fn ioctl_arg(call: &Call) -> String {
    let v = call.args[2];
    let r = reader(call, v);
    let decoded = match call.args[1] as u32 as u64 {
        0x5401..=0x5404 => r.termios(),
        0x5413 | 0x5414 => r.winsize(),
        req if ioctl_out(req) => r.int(),
        0x5410 | 0x5421 | 0x40045431 | 0x5452 | 0x5423 | 0x5416..=0x5418 | 0x541a | 0x5420 => {
            r.int()
        }
        0x540e | 0x5409 | 0x5425 => Some((v as i32).to_string()),
        0x540b => Some(TCFLSH.value(v)),
        0x540a => Some(TCXONC.value(v)),
        0x40045436 => Some(flags::signal(v)),
        0x5412 => Some(super::args::buffer(call, v, 1, super::escape::Style::Octal)),
        _ => None,
    };
    decoded.unwrap_or_else(|| hex(v))
}

const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

pub fn arch_prctl_at_exit(args: &[u64; 6]) -> bool {
    matches!(args[0] as u32 as u64, ARCH_GET_FS | ARCH_GET_GS)
}

/// arch_prctl's address: `[0x...]` for ARCH_GET_FS/GS, else the value in hex.
pub fn arch_prctl_arg(call: &Call) -> String {
    let v = call.args[1];
    if !arch_prctl_at_exit(call.args) {
        return hex(v);
    }
    match call.read_u64(v) {
        Some(x) => format!("[{}]", hex(x)),
        None => ptr(v),
    }
}

const PR_SET_PDEATHSIG: u64 = 1;
const PR_GET_PDEATHSIG: u64 = 2;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_GET_CHILD_SUBREAPER: u64 = 37;
const PR_SET_NO_NEW_PRIVS: u64 = 38;

pub fn prctl_at_exit(args: &[u64; 6]) -> bool {
    matches!(
        args[0] as u32 as u64,
        PR_GET_PDEATHSIG | PR_GET_NAME | PR_GET_CHILD_SUBREAPER
    )
}

/// prctl options that take no argument.
fn prctl_no_args(option: u64) -> bool {
    matches!(
        option,
        3 | 7 | 13 | 19 | 21 | 27 | 30 | 31 | 32 | 39 | 42 | 58
    )
}

pub fn prctl_has_args(args: &[u64; 6]) -> bool {
    !prctl_no_args(args[0] as u32 as u64)
}

/// prctl options that take one integer.
fn prctl_one_int(option: u64) -> bool {
    matches!(option, 4 | 8 | 14 | 23 | 24 | 29 | 36)
}

/// prctl's arguments after the option, decoded for common options.
pub fn prctl_args(call: &Call) -> String {
    let a = call.args;
    let option = a[0] as u32 as u64;
    if call.failed() && prctl_at_exit(a) {
        return ptr(a[1]);
    }
    match option {
        PR_SET_NAME => string(call, a[1], MAX_STRLEN),
        PR_GET_NAME => string(call, a[1], 16),
        PR_SET_PDEATHSIG => flags::signal(a[1]),
        PR_GET_PDEATHSIG => match call.read_u32(a[1]) {
            Some(sig) => format!("[{}]", flags::signal(u64::from(sig))),
            None => ptr(a[1]),
        },
        PR_GET_CHILD_SUBREAPER => int_at(call, a[1]),
        PR_SET_NO_NEW_PRIVS => a[1..5]
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        o if prctl_one_int(o) => (a[1] as i32).to_string(),
        _ => a[1..5]
            .iter()
            .map(|&v| hex(v))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

static NETLINK: Xlat = Xlat {
    items: &[
        (0, "NETLINK_ROUTE"),
        (2, "NETLINK_USERSOCK"),
        (4, "NETLINK_SOCK_DIAG"),
        (9, "NETLINK_AUDIT"),
        (15, "NETLINK_KOBJECT_UEVENT"),
        (16, "NETLINK_GENERIC"),
    ],
    hex: false,
};

/// socket's protocol: named for IP and netlink domains, a number otherwise.
pub fn sock_proto(domain: u64, proto: u64) -> String {
    let proto = proto as u32 as u64;
    match domain as u32 {
        2 | 10 => flags::IPPROTO.value(proto),
        16 => NETLINK.value(proto),
        _ => (proto as i32).to_string(),
    }
}

/// setsockopt/getsockopt option name, by level.
pub fn sockopt_name(level: u64, name: u64) -> String {
    let name = name as u32 as u64;
    match level as u32 {
        1 => flags::SO_OPTS.value(name),
        6 => flags::TCP_OPTS.value(name),
        _ => (name as i32).to_string(),
    }
}

/// An option value passed in: `[1]` for int-sized values, else the pointer.
pub fn sockopt_in(call: &Call, addr: u64, len: u64) -> String {
    if len == 4 {
        int_at(call, addr)
    } else {
        ptr(addr)
    }
}

/// An option value the kernel stored; its length is behind `len_ptr`.
pub fn sockopt_out(call: &Call, addr: u64, len_ptr: u64) -> String {
    match call.read_u32(len_ptr) {
        Some(4) => int_at(call, addr),
        _ => ptr(addr),
    }
}
