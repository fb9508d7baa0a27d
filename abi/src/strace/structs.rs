//! Decoders for the few structures strace spells out: times, stat, signal
//! sets and actions, iovecs, socket addresses, poll/epoll arrays, ...
//!
//! Every decoder returns `None` when the memory cannot be read, and the
//! caller then prints the pointer in hex, as strace does.

use super::args::{buffer, ptr};
use super::escape::{quote, Style};
use super::flags::{self, hex, Xlat};
use super::{le, Call, MAX_STRLEN};

/// Reads and renders the structure at `addr` for one call.
pub(crate) struct Reader<'c, 'a> {
    pub call: &'c Call<'a>,
    pub addr: u64,
}

/// Signed little-endian field.
fn sfield(b: &[u8], off: usize, size: usize) -> i64 {
    let v = le(b, off, size);
    let shift = 64 - 8 * size.clamp(1, 8) as u32;
    ((v << shift) as i64) >> shift
}

/// `{tv_sec=S, tv_nsec=N}` from 16 bytes; `unit` names the second field.
fn time_pair(b: &[u8], unit: &str) -> String {
    format!("{{tv_sec={}, {unit}={}}}", sfield(b, 0, 8), sfield(b, 8, 8))
}

/// strace's rlimit values: infinity by name, multiples of 1 KiB as `N*1024`.
fn rlim_value(v: u64, infinity: &str) -> String {
    if v == u64::MAX {
        infinity.to_string()
    } else if v > 1024 && v & 1023 == 0 {
        format!("{}*1024", v / 1024)
    } else {
        v.to_string()
    }
}

/// `makedev(0x1, 0x3)` from a Linux dev_t.
pub(crate) fn makedev(dev: u64) -> String {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    format!("makedev({}, {})", hex(major), hex(minor))
}

/// A signal set as strace prints it: `[INT TERM]`, or `~[...]` listing the
/// missing signals when more than half are present.
pub(crate) fn sigset_bits(mask: u64, nsig: u32) -> String {
    let all = if nsig >= 64 {
        u64::MAX
    } else {
        (1u64 << nsig) - 1
    };
    let mask = mask & all;
    let (shown, prefix) = if mask.count_ones() > nsig / 2 {
        (!mask & all, "~")
    } else {
        (mask, "")
    };
    let names: Vec<String> = (0..nsig.min(64))
        .filter(|bit| shown & (1u64 << bit) != 0)
        .map(|bit| flags::signal_short(u64::from(bit) + 1).unwrap_or_else(|| (bit + 1).to_string()))
        .collect();
    format!("{prefix}[{}]", names.join(" "))
}

static SS_FLAGS: Xlat = Xlat {
    items: &[
        (1, "SS_ONSTACK"),
        (2, "SS_DISABLE"),
        (1 << 31, "SS_AUTODISARM"),
    ],
    hex: true,
};

impl Reader<'_, '_> {
    fn bytes(&self, len: usize) -> Option<Vec<u8>> {
        self.call.read(self.addr, len)
    }

    pub fn timespec(&self) -> Option<String> {
        self.bytes(16).map(|b| time_pair(&b, "tv_nsec"))
    }

    pub fn timeval(&self) -> Option<String> {
        self.bytes(16).map(|b| time_pair(&b, "tv_usec"))
    }

    pub fn itimerspec(&self) -> Option<String> {
        let b = self.bytes(32)?;
        let (i, v) = (
            time_pair(&b[..16], "tv_nsec"),
            time_pair(&b[16..], "tv_nsec"),
        );
        Some(format!("{{it_interval={i}, it_value={v}}}"))
    }

    pub fn itimerval(&self) -> Option<String> {
        let b = self.bytes(32)?;
        let (i, v) = (
            time_pair(&b[..16], "tv_usec"),
            time_pair(&b[16..], "tv_usec"),
        );
        Some(format!("{{it_interval={i}, it_value={v}}}"))
    }

    /// `struct stat` (x86-64 layout): mode, then size or rdev for devices.
    pub fn stat(&self) -> Option<String> {
        let b = self.bytes(144)?;
        let mode = le(&b, 24, 4);
        Some(format!(
            "{{st_mode={}, {}, ...}}",
            flags::mode_with_type(mode),
            size_or_rdev(mode, le(&b, 40, 8), sfield(&b, 48, 8))
        ))
    }

    /// `struct statx`: mask, attributes, mode and size.
    pub fn statx(&self) -> Option<String> {
        let b = self.bytes(256)?;
        Some(format!(
            "{{stx_mask={}, stx_attributes={}, stx_mode={}, stx_size={}, ...}}",
            flags::STATX_MASK.flags(le(&b, 0, 4)),
            flags::STATX_ATTR.flags(le(&b, 8, 8)),
            flags::mode_with_type(le(&b, 28, 2)),
            le(&b, 40, 8)
        ))
    }

    /// A kernel sigset of `size` bytes (8 on x86-64).
    pub fn sigset(&self, size: u64) -> Option<String> {
        if !(1..=8).contains(&size) {
            return None;
        }
        let b = self.bytes(size as usize)?;
        Some(sigset_bits(le(&b, 0, size as usize), size as u32 * 8))
    }

    /// The kernel's `struct sigaction`: handler, flags, restorer, mask.
    pub fn sigaction(&self) -> Option<String> {
        let b = self.bytes(32)?;
        let handler = match le(&b, 0, 8) {
            0 => "SIG_DFL".to_string(),
            1 => "SIG_IGN".to_string(),
            h => hex(h),
        };
        let sa_flags = le(&b, 8, 8);
        let mut out = format!(
            "{{sa_handler={handler}, sa_mask={}, sa_flags={}",
            sigset_bits(le(&b, 24, 8), 64),
            flags::SA_FLAGS.flags(sa_flags)
        );
        if sa_flags & flags::SA_RESTORER != 0 {
            out.push_str(&format!(", sa_restorer={}", ptr(le(&b, 16, 8))));
        }
        out.push('}');
        Some(out)
    }

    /// `stack_t` for sigaltstack.
    pub fn stack(&self) -> Option<String> {
        let b = self.bytes(24)?;
        Some(format!(
            "{{ss_sp={}, ss_flags={}, ss_size={}}}",
            ptr(le(&b, 0, 8)),
            SS_FLAGS.flags(le(&b, 8, 4)),
            le(&b, 16, 8)
        ))
    }

    /// An iovec array. With `budget`, only that many bytes in total are
    /// shown (readv's result); without, each element's full length.
    pub fn iovec(&self, count: u64, mut budget: Option<u64>) -> Option<String> {
        let shown = count.min(MAX_STRLEN as u64) as usize;
        let b = self.bytes(shown.checked_mul(16)?)?;
        let mut items = Vec::with_capacity(shown + 1);
        for k in 0..shown {
            let (base, len) = (le(&b, k * 16, 8), le(&b, k * 16 + 8, 8));
            let data_len = budget.map_or(len, |left| left.min(len));
            if let Some(left) = budget.as_mut() {
                *left -= data_len;
            }
            let data = buffer(self.call, base, data_len, Style::Octal);
            items.push(format!("{{iov_base={data}, iov_len={len}}}"));
        }
        if count > shown as u64 {
            items.push("...".to_string());
        }
        Some(format!("[{}]", items.join(", ")))
    }

    pub fn fd_pair(&self) -> Option<String> {
        let b = self.bytes(8)?;
        Some(format!("[{}, {}]", sfield(&b, 0, 4), sfield(&b, 4, 4)))
    }

    /// An `int` behind a pointer: `[5]`.
    pub fn int(&self) -> Option<String> {
        let b = self.bytes(4)?;
        Some(format!("[{}]", sfield(&b, 0, 4)))
    }

    /// wait(2) status, spelled with the W* macros like strace.
    /// An array of `count` unsigned ints (gids): `[0, 4, 27]`.
    pub fn u32_array(&self, count: u64) -> Option<String> {
        let shown = count.min(MAX_STRLEN as u64) as usize;
        let b = self.bytes(shown * 4)?;
        let mut items: Vec<String> = (0..shown).map(|k| le(&b, k * 4, 4).to_string()).collect();
        if count > shown as u64 {
            items.push("...".to_string());
        }
        Some(format!("[{}]", items.join(", ")))
    }

    /// A CPU bitmask of `len` bytes as the list of set CPUs: `[0 1]`.
    pub fn cpu_set(&self, len: u64) -> Option<String> {
        let b = self.bytes(len.min(8192) as usize)?;
        let cpus: Vec<String> = (0..b.len() * 8)
            .filter(|bit| b[bit / 8] & (1 << (bit % 8)) != 0)
            .map(|bit| bit.to_string())
            .collect();
        Some(format!("[{}]", cpus.join(" ")))
    }

    pub fn wait_status(&self) -> Option<String> {
        if !matches!(self.call.ok(), Some(pid) if pid > 0) {
            return None;
        }
        let b = self.bytes(4)?;
        Some(format!("[{}]", wait_status_text(le(&b, 0, 4) as u32)))
    }

    pub fn rlimit(&self, infinity: &str) -> Option<String> {
        let b = self.bytes(16)?;
        Some(format!(
            "{{rlim_cur={}, rlim_max={}}}",
            rlim_value(le(&b, 0, 8), infinity),
            rlim_value(le(&b, 8, 8), infinity)
        ))
    }

    /// `struct utsname`: strace shows the first two fields.
    pub fn uname(&self) -> Option<String> {
        let b = self.bytes(65 * 2)?;
        let field = |k: usize| {
            let f = &b[k * 65..(k + 1) * 65];
            let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
            quote(&f[..end], false, Style::Octal)
        };
        Some(format!(
            "{{sysname={}, nodename={}, ...}}",
            field(0),
            field(1)
        ))
    }

    /// A socket address of `len` bytes passed in.
    pub fn sockaddr(&self, len: u64) -> Option<String> {
        let len = usize::try_from(len).ok()?.min(128);
        if len < 2 {
            return None;
        }
        self.bytes(len).map(|b| sockaddr_text(&b))
    }

    /// A socket address the kernel stored; its length is behind `len_ptr`.
    pub fn sockaddr_out(&self, len_ptr: u64) -> Option<String> {
        if self.addr == 0 {
            return None;
        }
        let len = self.call.read_u32(len_ptr)?;
        self.sockaddr(u64::from(len))
    }

    /// A pollfd array: `[{fd=1, events=POLLOUT}]`.
    pub fn pollfds(&self, count: u64) -> Option<String> {
        let items = self.pollfd_items(count, |fd, events, _| {
            Some(format!(
                "{{fd={fd}, events={}}}",
                flags::POLL_EVENTS.flags(events)
            ))
        })?;
        Some(format!("[{items}]"))
    }

    /// Render up to 32 pollfds with `f(fd, events, revents)`; `None` skips one.
    fn pollfd_items(
        &self,
        count: u64,
        f: impl Fn(i64, u64, u64) -> Option<String>,
    ) -> Option<String> {
        let shown = count.min(MAX_STRLEN as u64) as usize;
        let b = self.bytes(shown * 8)?;
        let mut items: Vec<String> = (0..shown)
            .filter_map(|k| {
                f(
                    sfield(&b, k * 8, 4),
                    le(&b, k * 8 + 4, 2),
                    le(&b, k * 8 + 6, 2),
                )
            })
            .collect();
        if count > shown as u64 {
            items.push("...".to_string());
        }
        Some(items.join(", "))
    }

    /// One epoll_event: `{events=EPOLLIN, data={u32=7, u64=7}}` (packed, 12 bytes).
    pub fn epoll_event(&self) -> Option<String> {
        self.bytes(12).map(|b| epoll_text(&b))
    }

    /// The `n` events epoll_wait stored.
    pub fn epoll_events(&self, n: u64) -> Option<String> {
        let shown = n.min(MAX_STRLEN as u64) as usize;
        let b = if shown == 0 {
            Vec::new()
        } else {
            self.bytes(shown * 12)?
        };
        let mut items: Vec<String> = b.chunks_exact(12).map(epoll_text).collect();
        if n > shown as u64 {
            items.push("...".to_string());
        }
        Some(format!("[{}]", items.join(", ")))
    }

    /// A getdents buffer: strace prints only how many records it holds.
    pub fn dirents(&self, len: u64) -> Option<String> {
        let len = len.min(1 << 20) as usize;
        let b = if len == 0 {
            Vec::new()
        } else {
            self.bytes(len)?
        };
        let mut count = 0;
        let mut off = 0usize;
        while off + 18 <= b.len() {
            let reclen = le(&b, off + 16, 2) as usize;
            if reclen == 0 {
                break;
            }
            count += 1;
            off += reclen;
        }
        let s = if count == 1 { "y" } else { "ies" };
        Some(format!("{} /* {count} entr{s} */", hex(self.addr)))
    }

    /// `struct winsize` for TIOCGWINSZ/TIOCSWINSZ.
    pub fn winsize(&self) -> Option<String> {
        let b = self.bytes(8)?;
        Some(format!(
            "{{ws_row={}, ws_col={}, ws_xpixel={}, ws_ypixel={}}}",
            le(&b, 0, 2),
            le(&b, 2, 2),
            le(&b, 4, 2),
            le(&b, 6, 2)
        ))
    }

    /// The kernel `struct termios` for TCGETS/TCSETS: the four flag words.
    pub fn termios(&self) -> Option<String> {
        let b = self.bytes(36)?;
        Some(format!(
            "{{c_iflag={}, c_oflag={}, c_cflag={}, c_lflag={}, ...}}",
            flags::TERM_IFLAG.flags(le(&b, 0, 4)),
            flags::term_oflag(le(&b, 4, 4)),
            flags::term_cflag(le(&b, 8, 4)),
            flags::TERM_LFLAG.flags(le(&b, 12, 4))
        ))
    }

    /// `struct flock`; F_GETLK results also show the owner's pid.
    pub fn flock(&self, with_pid: bool) -> Option<String> {
        let b = self.bytes(32)?;
        let mut out = format!(
            "{{l_type={}, l_whence={}, l_start={}, l_len={}",
            flags::LOCK_TYPE.value(le(&b, 0, 2)),
            flags::SEEK.value(le(&b, 2, 2)),
            sfield(&b, 8, 8),
            sfield(&b, 16, 8)
        );
        if with_pid {
            out.push_str(&format!(", l_pid={}", sfield(&b, 24, 4)));
        }
        out.push('}');
        Some(out)
    }
}

/// stat's second field: `st_rdev=makedev(..)` for devices, else `st_size`.
fn size_or_rdev(mode: u64, rdev: u64, size: i64) -> String {
    match mode & 0o170000 {
        0o20000 | 0o60000 => format!("st_rdev={}", makedev(rdev)),
        _ => format!("st_size={size}"),
    }
}

fn epoll_text(b: &[u8]) -> String {
    let data = le(b, 4, 8);
    format!(
        "{{events={}, data={{u32={}, u64={data}}}}}",
        flags::EPOLL_EVENTS.flags(le(b, 0, 4)),
        data as u32
    )
}

/// The W* macro form strace uses for a wait status.
fn wait_status_text(s: u32) -> String {
    let low = s & 0x7f;
    if low == 0 {
        format!("{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}", (s >> 8) & 0xff)
    } else if s & 0xff == 0x7f {
        let sig = (s >> 8) & 0xff;
        let name = flags::signal(u64::from(sig & 0x7f));
        let extra = if sig & 0x80 != 0 { " | 0x80" } else { "" };
        let event = s >> 16;
        let tail = if event != 0 {
            format!(" | {} << 16", hex(u64::from(event)))
        } else {
            String::new()
        };
        format!("{{WIFSTOPPED(s) && WSTOPSIG(s) == {name}{extra}}}{tail}")
    } else if s == 0xffff {
        "{WIFCONTINUED(s)}".to_string()
    } else {
        let core = if s & 0x80 != 0 {
            " && WCOREDUMP(s)"
        } else {
            ""
        };
        format!(
            "{{WIFSIGNALED(s) && WTERMSIG(s) == {}{core}}}",
            flags::signal(u64::from(low))
        )
    }
}

/// A socket address by family: unix paths, IPv4/IPv6 in strace's
/// `htons(..)`/`inet_addr(..)` notation, netlink; others as raw `sa_data`.
fn sockaddr_text(b: &[u8]) -> String {
    let family = le(b, 0, 2);
    let name = flags::AF.value(family);
    let body = match family {
        1 => unix_addr(b),
        2 if b.len() >= 8 => inet_addr(b),
        10 if b.len() >= 24 => inet6_addr(b),
        16 if b.len() >= 12 => format!("nl_pid={}, nl_groups={:08x}", le(b, 4, 4), le(b, 8, 4)),
        _ => format!("sa_data={}", quote(&b[2..], false, Style::Octal)),
    };
    if body.is_empty() {
        format!("{{sa_family={name}}}")
    } else {
        format!("{{sa_family={name}, {body}}}")
    }
}

fn unix_addr(b: &[u8]) -> String {
    let path = &b[2..];
    match path.first() {
        None => String::new(),
        Some(0) => format!("sun_path=@{}", quote(&path[1..], false, Style::Octal)),
        Some(_) => {
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            format!("sun_path={}", quote(&path[..end], false, Style::Octal))
        }
    }
}

fn inet_addr(b: &[u8]) -> String {
    let port = u16::from_be_bytes([b[2], b[3]]);
    let ip = std::net::Ipv4Addr::new(b[4], b[5], b[6], b[7]);
    format!("sin_port=htons({port}), sin_addr=inet_addr(\"{ip}\")")
}

fn inet6_addr(b: &[u8]) -> String {
    let port = u16::from_be_bytes([b[2], b[3]]);
    let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&b[8..24]);
    let ip = std::net::Ipv6Addr::from(octets);
    let mut out = format!(
        "sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), inet_pton(AF_INET6, \"{ip}\", &sin6_addr)"
    );
    if b.len() >= 28 {
        out.push_str(&format!(", sin6_scope_id={}", le(b, 24, 4)));
    }
    out
}

/// poll's result: ` ([{fd=0, revents=POLLIN}])` for ready fds, `(Timeout)` for 0.
pub(crate) fn poll_ret(call: &Call) -> String {
    let ret = call.ret.unwrap_or(0);
    if ret == 0 {
        return "0 (Timeout)".to_string();
    }
    let r = Reader {
        call,
        addr: call.args[0],
    };
    let ready = r.pollfd_items(call.args[1], |fd, _, revents| {
        (revents != 0)
            .then(|| format!("{{fd={fd}, revents={}}}", flags::POLL_EVENTS.flags(revents)))
    });
    match ready {
        Some(items) => format!("{ret} ([{items}])"),
        None => ret.to_string(),
    }
}
