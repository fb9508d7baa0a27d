//! The pump: one host thread waiting in epoll on every host socket the guest uses,
//! edge-triggered, telling the guest socket behind it when the host says there is
//! something new (data, room, a connection, an end). It only wakes: the guest's
//! own calls then read and write the host sockets, so the pump never changes guest
//! state and needs no part in a checkpoint's freeze.

use std::collections::HashMap;
use std::os::fd::{AsFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, Weak};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

/// Whoever wants to hear of a host socket's readiness.
pub trait Watcher: Send + Sync {
    fn host_ready(&self);
}

struct Pump {
    epoll: Epoll,
    watchers: Mutex<HashMap<u64, Weak<dyn Watcher>>>,
    next: AtomicU64,
}

static PUMP: OnceLock<Result<Pump, Errno>> = OnceLock::new();

/// The pump, started on first use (after the stub factory is forked: no thread may
/// exist before it).
fn pump() -> Result<&'static Pump, Errno> {
    PUMP.get_or_init(|| {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        std::thread::Builder::new()
            .name("vke0-pump".into())
            .spawn(run)
            .map_err(|_| Errno::EAGAIN)?;
        Ok(Pump {
            epoll,
            watchers: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        })
    })
    .as_ref()
    .map_err(|e| *e)
}

fn run() {
    let Ok(p) = pump() else { return };
    let mut events = vec![EpollEvent::empty(); 64];
    loop {
        let n = match p.epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        for e in &events[..n] {
            let w = p.lock().get(&e.data()).and_then(Weak::upgrade);
            if let Some(w) = w {
                w.host_ready();
            }
        }
    }
}

impl Pump {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<dyn Watcher>>> {
        self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A host fd being watched; dropping it stops the watch (before the fd closes).
pub struct Watch {
    token: u64,
    fd: RawFd,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watch({})", self.fd)
    }
}

/// Watches `fd` for input, output and hang-ups, telling `w`.
pub fn watch(fd: impl AsFd, w: Weak<dyn Watcher>) -> Result<Watch, Errno> {
    let p = pump()?;
    let token = p.next.fetch_add(1, Ordering::Relaxed);
    p.lock().insert(token, w);
    let flags =
        EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET;
    if let Err(e) = p.epoll.add(&fd, EpollEvent::new(flags, token)) {
        p.lock().remove(&token);
        return Err(e);
    }
    use std::os::fd::AsRawFd;
    Ok(Watch {
        token,
        fd: fd.as_fd().as_raw_fd(),
    })
}

impl Drop for Watch {
    fn drop(&mut self) {
        let Ok(p) = pump() else { return };
        p.lock().remove(&self.token);
        // SAFETY: the fd is still open (its owner drops the watch first).
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let _ = p.epoll.delete(fd);
    }
}
