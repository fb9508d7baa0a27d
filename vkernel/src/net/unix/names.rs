//! The AF_UNIX namespaces: sockets bound to filesystem nodes, found through the inode
//! a path leads to (so a renamed or hard-linked node still reaches its socket, and an
//! unlinked one is gone), and sockets bound to abstract names, one namespace per
//! socket type (Linux hashes the type into the name, so a stream and a datagram
//! socket may hold the same abstract name). One table for the whole kernel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::UnixSocket;
use crate::fs::inode::S_IFSOCK;
use crate::net::addr::UnixAddr;
use crate::net::{Ctx, SockType};

struct Table {
    /// By the inode number of the node (unique: bind always makes a new inode).
    nodes: BTreeMap<u64, Weak<UnixSocket>>,
    abstract_names: BTreeMap<(SockType, Vec<u8>), Weak<UnixSocket>>,
    /// Where the next autobind name search starts.
    next_auto: u32,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    nodes: BTreeMap::new(),
    abstract_names: BTreeMap::new(),
    next_auto: 0,
});

/// Autobind names are "\0" and five hex digits: 2^20 of them.
const AUTO_NAMES: u32 = 1 << 20;

fn table() -> MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A socket in the table, unless it is being released. (The table is never held
/// while waiting for a socket's lock: bind holds its socket's lock to come here.)
fn live(w: &Weak<UnixSocket>) -> Option<Arc<UnixSocket>> {
    w.upgrade().filter(|s| !s.is_closed())
}

/// A socket now holds the node numbered `ino`.
pub fn bind_node(ino: u64, s: &Arc<UnixSocket>) {
    table().nodes.insert(ino, Arc::downgrade(s));
}

/// A socket takes an abstract name; EADDRINUSE if a live socket of its type holds it.
pub fn bind_abstract(ty: SockType, name: &[u8], s: &Arc<UnixSocket>) -> Result<(), Errno> {
    let mut t = table();
    let key = (ty, name.to_vec());
    if t.abstract_names.get(&key).and_then(live).is_some() {
        return Err(Errno::EADDRINUSE);
    }
    t.abstract_names.insert(key, Arc::downgrade(s));
    Ok(())
}

/// A free abstract name for a socket that binds without one (Linux's unix_autobind);
/// ENOSPC when all are taken.
pub fn autobind(ty: SockType, s: &Arc<UnixSocket>) -> Result<Vec<u8>, Errno> {
    let mut t = table();
    for _ in 0..AUTO_NAMES {
        let n = t.next_auto;
        t.next_auto = (n + 1) % AUTO_NAMES;
        let name = format!("\0{n:05x}").into_bytes();
        let key = (ty, name.clone());
        if t.abstract_names.get(&key).and_then(live).is_none() {
            t.abstract_names.insert(key, Arc::downgrade(s));
            return Ok(name);
        }
    }
    Err(Errno::ENOSPC)
}

/// The socket gives up its name (it was released).
pub fn forget(s: &UnixSocket, ty: SockType, addr: &UnixAddr, node: Option<u64>) {
    let mut t = table();
    let mine = |w: &Weak<UnixSocket>| std::ptr::eq(w.as_ptr(), s);
    match (addr, node) {
        (UnixAddr::Path(_), Some(ino)) => {
            if t.nodes.get(&ino).is_some_and(mine) {
                t.nodes.remove(&ino);
            }
        }
        (UnixAddr::Abstract(n), _) => {
            let key = (ty, n.clone());
            if t.abstract_names.get(&key).is_some_and(mine) {
                t.abstract_names.remove(&key);
            }
        }
        (UnixAddr::Path(_), None) => {}
    }
}

/// The live socket of type `ty` an address names (Linux's unix_find_other): for a
/// path, ENOENT and the like from the lookup, EACCES without write permission,
/// ECONNREFUSED for a node that is no socket or that no socket holds, EPROTOTYPE for
/// a socket of another type; for an abstract name, ECONNREFUSED if nobody holds it.
pub fn find(addr: &UnixAddr, ty: SockType, ctx: &Ctx) -> Result<Arc<UnixSocket>, Errno> {
    match addr {
        UnixAddr::Path(p) => {
            let inode = ctx.paths.find(p)?;
            if inode.file_type() != S_IFSOCK {
                return Err(Errno::ECONNREFUSED);
            }
            let s = table().nodes.get(&inode.ino).and_then(live);
            let s = s.ok_or(Errno::ECONNREFUSED)?;
            if s.ty != ty {
                return Err(Errno::EPROTOTYPE);
            }
            Ok(s)
        }
        UnixAddr::Abstract(n) => {
            let s = table().abstract_names.get(&(ty, n.clone())).and_then(live);
            s.ok_or(Errno::ECONNREFUSED)
        }
    }
}
