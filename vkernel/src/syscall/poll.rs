//! poll and ppoll over the file kinds that exist so far: regular files, directories
//! and memory devices are always ready (as on Linux); the console is as ready as the
//! host descriptor behind it. (Wait queues for pipes and sockets come with them.)

use nix::errno::Errno;

use super::SysResult;
use crate::fs::FileKind;
use crate::mm::{GuestPtr, UserMem};
use crate::task::Task;

const POLLIN: i16 = 0x1;
const POLLPRI: i16 = 0x2;
const POLLOUT: i16 = 0x4;
const POLLNVAL: i16 = 0x20;
const POLLRDNORM: i16 = 0x40;
const POLLWRNORM: i16 = 0x100;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

// SAFETY: repr(C), integers only.
unsafe impl crate::mm::Pod for PollFd {}

pub fn poll(t: &mut Task, a: [u64; 6]) -> SysResult {
    let timeout_ms = a[2] as i32;
    do_poll(t, a[0], a[1], (timeout_ms >= 0).then_some(timeout_ms))
}

pub fn ppoll(t: &mut Task, a: [u64; 6]) -> SysResult {
    let timeout = if a[2] == 0 {
        None
    } else {
        let ts: libc::timespec = t.process.mm().read_val(GuestPtr(a[2]))?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Some((ts.tv_sec.saturating_mul(1000) + ts.tv_nsec / 1_000_000).min(i32::MAX as i64) as i32)
    };
    do_poll(t, a[0], a[1], timeout)
}

/// What we wait on for one pollfd: ready now, a host fd, or nothing.
enum Source {
    Ready(i16),
    Host(i32),
}

fn source(t: &Task, p: &PollFd) -> Source {
    let Ok(f) = t.process.files().file(p.fd) else {
        return Source::Ready(POLLNVAL);
    };
    match f.kind {
        FileKind::Device(d) => match d.host_fd() {
            // Reads come from the host's stdin whichever console fd it is.
            Some(_) if p.events & (POLLIN | POLLRDNORM | POLLPRI) != 0 => Source::Host(0),
            Some(fd) => Source::Host(fd),
            None => Source::Ready(p.events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)),
        },
        FileKind::Path => Source::Ready(POLLNVAL),
        _ => Source::Ready(p.events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)),
    }
}

fn do_poll(t: &mut Task, addr: u64, n: u64, timeout_ms: Option<i32>) -> SysResult {
    if n > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut fds: Vec<PollFd> = {
        let mut mm = t.process.mm();
        (0..n)
            .map(|i| mm.read_val(GuestPtr(addr + i * 8)))
            .collect::<Result<_, _>>()?
    };
    let mut host: Vec<libc::pollfd> = Vec::new();
    let mut host_of: Vec<Option<usize>> = Vec::new();
    for p in &mut fds {
        p.revents = 0;
        if p.fd < 0 {
            host_of.push(None);
            continue;
        }
        match source(t, p) {
            Source::Ready(r) => {
                p.revents = r;
                host_of.push(None);
            }
            Source::Host(fd) => {
                host_of.push(Some(host.len()));
                host.push(libc::pollfd {
                    fd,
                    events: p.events,
                    revents: 0,
                });
            }
        }
    }
    let ready_now = fds.iter().any(|p| p.revents != 0);
    let wait = if ready_now {
        0
    } else {
        timeout_ms.unwrap_or(-1)
    };
    host_poll(&mut host, wait)?;
    for (p, h) in fds.iter_mut().zip(&host_of) {
        if let Some(i) = h {
            p.revents = host[*i].revents;
        }
    }
    let count = fds.iter().filter(|p| p.revents != 0).count();
    let mut mm = t.process.mm();
    for (i, p) in fds.iter().enumerate() {
        mm.write_val(GuestPtr(addr + i as u64 * 8), p)?;
    }
    Ok(count as u64)
}

/// Polls host descriptors (sleeping for the timeout when there are none).
fn host_poll(host: &mut [libc::pollfd], timeout_ms: i32) -> Result<(), Errno> {
    loop {
        // SAFETY: `host` is a valid array of pollfd of the given length.
        let r = unsafe { libc::poll(host.as_mut_ptr(), host.len() as libc::nfds_t, timeout_ms) };
        if r >= 0 {
            return Ok(());
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
}
