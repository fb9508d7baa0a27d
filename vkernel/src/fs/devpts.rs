//! The kernel's terminals: the console, and the pseudo-terminals with their devpts
//! directory (/dev/pts). Opening /dev/ptmx allocates the lowest free number N and
//! makes /dev/pts/N (a character device 136:N owned by the opener, mode 0600, as
//! devpts without mount options); the node goes when the master closes, the number
//! when both sides have.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::inode::*;
use super::lower::makedev;
use super::tty::{SavedTty, Tty, TtyHost, TtyId};
use super::Cred;

/// The pty slaves' character device major.
pub const PTS_MAJOR: u32 = 136;
/// Linux's default limit (/proc/sys/kernel/pty/max).
const PTY_MAX: u32 = 4096;
/// st_dev of /dev/pts (its own filesystem on Linux).
pub const DEV_DEVPTS: u64 = 0x17;

pub struct Ttys {
    pub console: Arc<Tty>,
    ptys: Mutex<BTreeMap<u32, Weak<Tty>>>,
    /// /dev/pts.
    pub dir: Arc<Inode>,
}

impl Ttys {
    pub fn new(console: Arc<Tty>, dir: Arc<Inode>) -> Ttys {
        Ttys {
            console,
            ptys: Mutex::new(BTreeMap::new()),
            dir,
        }
    }

    fn ptys(&self) -> MutexGuard<'_, BTreeMap<u32, Weak<Tty>>> {
        self.ptys.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, id: TtyId) -> Option<Arc<Tty>> {
        match id {
            TtyId::Console => Some(self.console.clone()),
            TtyId::Pty(n) => self.ptys().get(&n).and_then(Weak::upgrade),
        }
    }

    /// open("/dev/ptmx"): a new pair with the lowest free number, and its node.
    pub fn open_ptmx(&self, host: Arc<dyn TtyHost>, cred: Cred) -> Result<Arc<Tty>, Errno> {
        let mut ptys = self.ptys();
        let n = (0..PTY_MAX)
            .find(|n| ptys.get(n).is_none_or(|w| w.strong_count() == 0))
            .ok_or(Errno::ENOSPC)?;
        let tty = Tty::new_pty(n, host);
        ptys.insert(n, Arc::downgrade(&tty));
        drop(ptys);
        let mut st = InodeState::new(S_IFCHR | 0o600, cred.euid, cred.egid, Body::Special);
        st.rdev = makedev(PTS_MAJOR, n);
        // devpts numbers its nodes N + 3 (1 is the root, 2 is ptmx).
        let node = Inode::new(u64::from(n) + 3, DEV_DEVPTS, st);
        if let Ok(d) = self.dir.lock().dir_mut() {
            d.entries.insert(n.to_string().into_bytes(), node);
        }
        Ok(tty)
    }

    /// The master of pty `n` closed: its node goes (open file descriptions of the
    /// slave keep working until they close).
    pub fn remove_node(&self, n: u32) {
        if let Ok(d) = self.dir.lock().dir_mut() {
            d.entries.remove(n.to_string().as_bytes());
        }
    }
}

/// The terminal table as a checkpoint saves it: the console and every pty still
/// open. Their /dev/pts/N nodes are saved with the filesystem, as ordinary device
/// inodes of the tree (`fs::save`), which gives them back to the table's directory.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedTtys {
    pub console: SavedTty,
    pub ptys: Vec<SavedTty>,
}

/// Restored terminals, for the open files that name them (`fs::save::RestoreEnv`)
/// and then for the table ([`RestoredTtys::into_table`]).
pub struct RestoredTtys {
    pub console: Arc<Tty>,
    pub ptys: BTreeMap<u32, Arc<Tty>>,
}

impl Ttys {
    pub fn save(&self) -> SavedTtys {
        let ptys: Vec<Arc<Tty>> = self.ptys().values().filter_map(Weak::upgrade).collect();
        SavedTtys {
            console: self.console.save(),
            ptys: ptys.iter().map(|t| t.save()).collect(),
        }
    }

    /// Rebuilds the terminals of a saved table, before the filesystem whose open
    /// files hold them. A console saved as a pty (or the reverse), a pty number past
    /// the limit or one saved twice is a corrupt image.
    pub fn restore(
        saved: SavedTtys,
        host: Arc<dyn TtyHost>,
    ) -> Result<RestoredTtys, ckpt::CkptError> {
        let bad = |what: String| Err(ckpt::CkptError::Decode(what));
        if saved.console.id != TtyId::Console {
            return bad(format!("the console saved as {:?}", saved.console.id));
        }
        let console = Tty::restore(saved.console, host.clone())?;
        let mut ptys = BTreeMap::new();
        for s in saved.ptys {
            let n = match s.id {
                TtyId::Pty(n) if n < PTY_MAX && !ptys.contains_key(&n) => n,
                id => return bad(format!("a pseudo-terminal saved as {id:?}")),
            };
            ptys.insert(n, Tty::restore(s, host.clone())?);
        }
        Ok(RestoredTtys { console, ptys })
    }
}

impl RestoredTtys {
    pub fn get(&self, id: TtyId) -> Option<Arc<Tty>> {
        match id {
            TtyId::Console => Some(self.console.clone()),
            TtyId::Pty(n) => self.ptys.get(&n).cloned(),
        }
    }

    /// The table, with /dev/pts from the restored filesystem (`RestoredFs::vfs.pts`).
    /// It holds ptys weakly, as at run time: the restored open files keep them.
    pub fn into_table(self, dir: Arc<Inode>) -> Ttys {
        let t = Ttys::new(self.console, dir);
        *t.ptys() = self
            .ptys
            .iter()
            .map(|(n, tty)| (*n, Arc::downgrade(tty)))
            .collect();
        t
    }
}

/// Builds /dev/pts under `dev`, with its `ptmx` node (mode 0, as devpts's default
/// ptmxmode).
pub fn build(dev: &Arc<Inode>) -> Arc<Inode> {
    let dir = mount_root_dir(1, DEV_DEVPTS, 0o755, dev, b"pts");
    let mut ptmx = InodeState::new(S_IFCHR, 0, 0, Body::Special);
    ptmx.rdev = makedev(5, 2);
    if let Ok(d) = dir.lock().dir_mut() {
        d.entries
            .insert(b"ptmx".to_vec(), Inode::new(2, DEV_DEVPTS, ptmx));
    }
    dir
}
