//! The table of live AF_UNIX sockets, as Linux's unix socket table: a socket is in
//! it from its creation (or its thaw) until its release. One table for the whole
//! kernel, holding its sockets weakly (it never keeps one alive). It bounds how many
//! sockets may exist, and /proc/net/unix lists it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::{Conn, UnixSocket};
use crate::net::addr::UnixAddr;

/// How many AF_UNIX sockets may exist at once (pending connections included); more is
/// ENFILE. Linux allows twice its file limit; this bounds what a flood of connections
/// can make the kernel hold. No socket holds a host descriptor.
const MAX_SOCKETS: usize = 65536;

/// The live sockets by the key each got when it entered: in order of arrival.
struct Table {
    live: BTreeMap<u64, Weak<UnixSocket>>,
    next: u64,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    live: BTreeMap::new(),
    next: 1,
});

fn table() -> MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every live socket, in order of arrival.
pub(super) fn all() -> Vec<Arc<UnixSocket>> {
    table().live.values().filter_map(Weak::upgrade).collect()
}

/// Linux's socket states (socket_state), as /proc/net/unix shows them.
const SS_UNCONNECTED: u8 = 1;
const SS_CONNECTING: u8 = 2;
const SS_CONNECTED: u8 = 3;
const SS_DISCONNECTING: u8 = 4;
/// The Flags column of a listener.
const SO_ACCEPTCON: u32 = 1 << 16;

/// /proc/net/unix: every live socket in Linux's layout (unix_seq_show).
pub fn proc_net_unix() -> Vec<u8> {
    let sockets = all();
    let mut out = b"Num       RefCount Protocol Flags    Type St Inode Path\n".to_vec();
    for s in &sockets {
        line(s, &mut out);
    }
    out
}

/// A socket's line. Num is its address, which Linux hides as 0 (kptr_restrict).
/// RefCount is Linux's sk_refcnt: the references to the socket, with ours standing
/// for the table's (Linux's table holds one). That counts what Linux counts (the
/// file, a peer's pointer, a listener's queue: 2 for an open socket, 3 for a
/// connected one, as Linux) and, unlike Linux, one more per queued message it sent
/// (a message names its sender; Linux's uses its send buffer instead).
fn line(s: &Arc<UnixSocket>, out: &mut Vec<u8>) {
    let st = s.lock();
    if s.is_closed() {
        return;
    }
    let ino = s.common.ino();
    let flags = match st.conn {
        Conn::Listening { .. } => SO_ACCEPTCON,
        _ => 0,
    };
    // Linux's: by whether a file holds it and whether it is established.
    let state = match (ino != 0, matches!(st.conn, Conn::Connected)) {
        (true, true) => SS_CONNECTED,
        (true, false) => SS_UNCONNECTED,
        (false, true) => SS_CONNECTING,
        (false, false) => SS_DISCONNECTING,
    };
    let refs = Arc::strong_count(s);
    let ty = s.ty.number();
    let head =
        format!("0000000000000000: {refs:08X} 00000000 {flags:08X} {ty:04X} {state:02X} {ino:5}");
    out.extend_from_slice(head.as_bytes());
    if let Some(a) = &st.addr {
        out.push(b' ');
        out.extend(shown(a));
    }
    out.push(b'\n');
}

/// A name as the Path column shows it: an abstract one with '@' for its leading
/// NUL, and for every other NUL in it.
fn shown(a: &UnixAddr) -> impl Iterator<Item = u8> + '_ {
    let (UnixAddr::Path(b) | UnixAddr::Abstract(b)) = a;
    b.iter().map(|&c| if c == 0 { b'@' } else { c })
}

impl UnixSocket {
    /// Enters this socket in the table (ENFILE when it is full).
    pub(super) fn claim(&self) -> Result<(), Errno> {
        // A full table may be full of garbage: collect it before saying ENFILE.
        if table().live.len() >= MAX_SOCKETS {
            super::gc::collect();
        }
        let mut t = table();
        if t.live.len() >= MAX_SOCKETS {
            return Err(Errno::ENFILE);
        }
        let key = t.next;
        t.next += 1;
        t.live.insert(key, self.me.clone());
        self.key.store(key, Ordering::SeqCst);
        Ok(())
    }

    /// Takes this socket out of the table, if it is there.
    pub(super) fn unclaim(&self) {
        let key = self.key.swap(0, Ordering::SeqCst);
        if key != 0 {
            table().live.remove(&key);
        }
    }
}
