//! The virtual filesystem: one in-memory tree (the root image plus everything written
//! since boot), with /dev and /proc grafted in as mount roots.

pub mod console;
pub mod dev;
pub mod devpts;
pub mod epoll;
pub mod event;
pub mod fdtable;
pub mod file;
pub mod inode;
pub mod lock;
mod lower;
pub mod pipe;
pub mod procfs;
pub mod save;
pub mod tty;

use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;

pub use fdtable::{FdEntry, FdTable};
pub use file::{FileKind, OpenFile};
use inode::*;
use procfs::ProcView;

/// Linux's limit on symlinks followed in one lookup.
const MAX_SYMLINKS: u32 = 40;
pub const PATH_MAX: usize = 4096;

/// Who is asking, for permission checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
}

impl Cred {
    pub const ROOT: Cred = Cred {
        uid: 0,
        gid: 0,
        euid: 0,
        egid: 0,
        suid: 0,
        sgid: 0,
    };
}

pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

/// Unix permission check: owner, group or other bits; root may read and write
/// anything and execute anything with at least one execute bit (or any directory).
pub fn permitted(inode: &Inode, cred: Cred, mask: u32) -> bool {
    let st = inode.lock();
    if cred.euid == 0 {
        let dir = st.mode & S_IFMT == S_IFDIR;
        return mask & MAY_EXEC == 0 || dir || st.mode & 0o111 != 0;
    }
    let bits = if st.uid == cred.euid {
        st.mode >> 6
    } else if st.gid == cred.egid {
        st.mode >> 3
    } else {
        st.mode
    } & 7;
    bits & mask == mask
}

pub struct Vfs {
    pub root: Arc<Inode>,
    /// /dev/pts, where pseudo-terminals appear.
    pub pts: Arc<Inode>,
    /// Serialises changes to the namespace (create, link, unlink, rename), so each
    /// sees a consistent tree; lookups only lock one directory at a time.
    namespace: Mutex<()>,
    /// POSIX lock waits across all inodes, for deadlock detection.
    pub lock_waits: lock::LockWaits,
}

/// A lookup's starting point and what is `/` for it.
pub struct Walk<'a> {
    pub root: &'a Arc<Inode>,
    pub cred: Cred,
    pub view: &'a dyn ProcView,
}

impl Vfs {
    pub fn boot(image: &Arc<rootfs::Image>) -> Vfs {
        let root = lower::build_tree(image);
        let (devdir, pts) = dev::build(&root);
        for (name, sub) in [(&b"dev"[..], devdir), (&b"proc"[..], procfs::build(&root))] {
            if let Ok(d) = root.lock().dir_mut() {
                d.entries.insert(name.to_vec(), sub);
            }
        }
        Vfs {
            root,
            pts,
            namespace: Mutex::new(()),
            lock_waits: lock::LockWaits::default(),
        }
    }

    fn lock_ns(&self) -> MutexGuard<'_, ()> {
        self.namespace.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lookup_child(dir: &Arc<Inode>, name: &[u8], view: &dyn ProcView) -> Result<Arc<Inode>, Errno> {
    if dir.dev == DEV_PROCFS {
        return procfs::lookup(dir, name, view);
    }
    dir.lock()
        .dir()?
        .entries
        .get(name)
        .cloned()
        .ok_or(Errno::ENOENT)
}

/// The target of a symlink inode.
pub fn readlink(inode: &Inode, view: &dyn ProcView) -> Result<Vec<u8>, Errno> {
    match &inode.lock().body {
        Body::Symlink(t) => Ok(t.clone()),
        Body::Proc(n) => procfs::readlink(n, view),
        _ => Err(Errno::EINVAL),
    }
}

impl Walk<'_> {
    /// Resolves `path` from `start` (the cwd or a dirfd's directory).
    pub fn resolve(
        &self,
        start: &Arc<Inode>,
        path: &[u8],
        follow: bool,
    ) -> Result<Arc<Inode>, Errno> {
        self.walk(start, path, follow, 0)
    }

    fn walk(
        &self,
        start: &Arc<Inode>,
        path: &[u8],
        follow: bool,
        depth: u32,
    ) -> Result<Arc<Inode>, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut cur = if path[0] == b'/' {
            self.root.clone()
        } else {
            start.clone()
        };
        let comps: Vec<&[u8]> = path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let trailing_slash = path.ends_with(b"/");
        for (i, c) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            cur = self.step(&cur, c, follow || !last || trailing_slash, depth)?;
        }
        if trailing_slash && !cur.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// One component of a walk from the directory `cur`.
    fn step(
        &self,
        cur: &Arc<Inode>,
        name: &[u8],
        follow: bool,
        depth: u32,
    ) -> Result<Arc<Inode>, Errno> {
        if !cur.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        if !permitted(cur, self.cred, MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        match name {
            b"." => return Ok(cur.clone()),
            b".." if Arc::ptr_eq(cur, self.root) => return Ok(cur.clone()),
            b".." => return Ok(cur.parent()),
            _ => {}
        }
        let child = lookup_child(cur, name, self.view)?;
        if !follow || child.file_type() != S_IFLNK {
            return Ok(child);
        }
        if depth >= MAX_SYMLINKS {
            return Err(Errno::ELOOP);
        }
        // /proc/<pid>/fd/N leads to the open file itself, even one with no name left.
        if let Some(procfs::ProcNode::Fd(who, fd)) = child.proc_node() {
            return self.view.fd_inode(who.pid, fd).ok_or(Errno::ENOENT);
        }
        let target = readlink(&child, self.view)?;
        self.walk(cur, &target, true, depth + 1)
    }

    /// Resolves everything but the last component: (parent directory, last name).
    pub fn resolve_parent(
        &self,
        start: &Arc<Inode>,
        path: &[u8],
    ) -> Result<(Arc<Inode>, Vec<u8>), Errno> {
        let trimmed = trim_trailing_slashes(path);
        if trimmed.is_empty() {
            return Err(Errno::ENOENT);
        }
        let (dir_part, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => (&trimmed[..i.max(1)], &trimmed[i + 1..]),
            None => (&b"."[..], trimmed),
        };
        let dir = if name.is_empty() {
            self.root.clone()
        } else {
            self.resolve(start, dir_part, true)?
        };
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let name = if name.is_empty() {
            b"/".to_vec()
        } else {
            name.to_vec()
        };
        Ok((dir, name))
    }
}

fn trim_trailing_slashes(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p[end - 1] == b'/' {
        end -= 1;
    }
    &p[..end]
}

/// The absolute path of a directory, for getcwd and /proc links.
pub fn path_of(dir: &Arc<Inode>, root: &Arc<Inode>) -> Vec<u8> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut cur = dir.clone();
    while !Arc::ptr_eq(&cur, root) {
        let parent = cur.parent();
        if Arc::ptr_eq(&parent, &cur) {
            break;
        }
        if let Ok(d) = cur.lock().dir() {
            parts.push(d.name.clone());
        }
        cur = parent;
    }
    let mut out = Vec::new();
    for p in parts.iter().rev() {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Namespace changes. `dir` is a directory resolved by the caller; `name` its entry.
impl Vfs {
    fn check_writable_dir(dir: &Arc<Inode>, cred: Cred) -> Result<(), Errno> {
        if dir.dev == DEV_PROCFS {
            return Err(Errno::EACCES);
        }
        if !permitted(dir, cred, MAY_WRITE | MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    fn check_name(name: &[u8]) -> Result<(), Errno> {
        match name {
            b"." | b".." | b"/" => Err(Errno::EEXIST),
            n if n.len() > 255 => Err(Errno::ENAMETOOLONG),
            _ => Ok(()),
        }
    }

    /// Links a new inode made by `make` under `dir/name`; EEXIST if taken.
    pub fn create(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        cred: Cred,
        make: impl FnOnce() -> Arc<Inode>,
    ) -> Result<Arc<Inode>, Errno> {
        Self::check_name(name)?;
        let _ns = self.lock_ns();
        Self::check_writable_dir(dir, cred)?;
        let mut st = dir.lock();
        let d = st.dir_mut()?;
        if d.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let inode = make();
        d.entries.insert(name.to_vec(), inode.clone());
        if inode.is_dir() {
            st.nlink += 1;
        }
        touch(&mut st);
        Ok(inode)
    }

    /// unlink (dir=false) or rmdir (dir=true).
    pub fn remove(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        want_dir: bool,
        cred: Cred,
    ) -> Result<(), Errno> {
        match name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            b"/" => return Err(Errno::EBUSY),
            _ => {}
        }
        let _ns = self.lock_ns();
        Self::check_writable_dir(dir, cred)?;
        let victim = dir
            .lock()
            .dir()?
            .entries
            .get(name)
            .cloned()
            .ok_or(Errno::ENOENT)?;
        check_sticky(dir, &victim, cred)?;
        check_removable(&victim, want_dir)?;
        let mut st = dir.lock();
        st.dir_mut()?.entries.remove(name);
        if want_dir {
            st.nlink -= 1;
        }
        touch(&mut st);
        drop(st);
        let mut v = victim.lock();
        v.nlink = v.nlink.saturating_sub(if want_dir { 2 } else { 1 });
        v.ctime = Timespec::now();
        Ok(())
    }

    /// link(2): another name for a non-directory.
    pub fn link(
        &self,
        inode: &Arc<Inode>,
        dir: &Arc<Inode>,
        name: &[u8],
        cred: Cred,
    ) -> Result<(), Errno> {
        if inode.is_dir() {
            return Err(Errno::EPERM);
        }
        if inode.dev != dir.dev {
            return Err(Errno::EXDEV);
        }
        self.create(dir, name, cred, || inode.clone())?;
        let mut st = inode.lock();
        st.nlink += 1;
        st.ctime = Timespec::now();
        Ok(())
    }

    /// rename(2) with RENAME_NOREPLACE / RENAME_EXCHANGE.
    pub fn rename(
        &self,
        from: (&Arc<Inode>, &[u8]),
        to: (&Arc<Inode>, &[u8]),
        flags: u32,
        cred: Cred,
    ) -> Result<(), Errno> {
        let ((odir, oname), (ndir, nname)) = (from, to);
        for n in [oname, nname] {
            if matches!(n, b"." | b".." | b"/") {
                return Err(Errno::EBUSY);
            }
        }
        let _ns = self.lock_ns();
        Self::check_writable_dir(odir, cred)?;
        Self::check_writable_dir(ndir, cred)?;
        if odir.dev != ndir.dev {
            return Err(Errno::EXDEV);
        }
        let src = odir
            .lock()
            .dir()?
            .entries
            .get(oname)
            .cloned()
            .ok_or(Errno::ENOENT)?;
        let dst = ndir.lock().dir()?.entries.get(nname).cloned();
        check_sticky(odir, &src, cred)?;
        if let Some(d) = &dst {
            check_sticky(ndir, d, cred)?;
        }
        if src.mount_root || dst.as_ref().is_some_and(|d| d.mount_root) {
            return Err(Errno::EBUSY);
        }
        if src.is_dir() && is_ancestor(&src, ndir) {
            return Err(Errno::EINVAL);
        }
        if let Some(d) = &dst {
            if Arc::ptr_eq(d, &src) {
                return Ok(());
            }
        }
        match (flags, &dst) {
            (RENAME_EXCHANGE, None) => return Err(Errno::ENOENT),
            (RENAME_EXCHANGE, Some(d)) => {
                if d.is_dir() && is_ancestor(d, odir) {
                    return Err(Errno::EINVAL);
                }
            }
            (RENAME_NOREPLACE, Some(_)) => return Err(Errno::EEXIST),
            (0, Some(d)) => check_replace(&src, d)?,
            (0 | RENAME_NOREPLACE, None) => {}
            _ => return Err(Errno::EINVAL),
        }
        move_entry(odir, oname, ndir, nname, &src);
        if flags == RENAME_EXCHANGE {
            if let Some(d) = dst {
                // ndir/nname already names src, so this only links d at oname.
                move_entry(ndir, nname, odir, oname, &d);
            }
        } else if let Some(d) = dst {
            let mut v = d.lock();
            v.nlink = v
                .nlink
                .saturating_sub(if v.mode & S_IFMT == S_IFDIR { 2 } else { 1 });
            drop(v);
            if d.is_dir() {
                ndir.lock().nlink -= 1;
            }
        }
        Ok(())
    }
}

pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;

fn touch(st: &mut InodeState) {
    let now = Timespec::now();
    st.mtime = now;
    st.ctime = now;
}

/// In a sticky directory (like /tmp) only the owner of an entry, the owner of the
/// directory or root may remove or rename it.
fn check_sticky(dir: &Inode, victim: &Inode, cred: Cred) -> Result<(), Errno> {
    let (mode, dir_uid) = {
        let st = dir.lock();
        (st.mode, st.uid)
    };
    let owner = victim.lock().uid;
    if mode & 0o1000 != 0 && cred.euid != 0 && cred.euid != owner && cred.euid != dir_uid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn check_removable(victim: &Arc<Inode>, want_dir: bool) -> Result<(), Errno> {
    if victim.mount_root {
        return Err(Errno::EBUSY);
    }
    match (want_dir, victim.is_dir()) {
        (true, false) => Err(Errno::ENOTDIR),
        (false, true) => Err(Errno::EISDIR),
        (true, true) if !victim.lock().dir()?.entries.is_empty() => Err(Errno::ENOTEMPTY),
        _ => Ok(()),
    }
}

fn check_replace(src: &Arc<Inode>, dst: &Arc<Inode>) -> Result<(), Errno> {
    match (src.is_dir(), dst.is_dir()) {
        (true, false) => Err(Errno::ENOTDIR),
        (false, true) => Err(Errno::EISDIR),
        (true, true) if !dst.lock().dir()?.entries.is_empty() => Err(Errno::ENOTEMPTY),
        _ => Ok(()),
    }
}

/// Whether `a` is `b` or one of `b`'s ancestors.
fn is_ancestor(a: &Arc<Inode>, b: &Arc<Inode>) -> bool {
    let mut cur = b.clone();
    loop {
        if Arc::ptr_eq(&cur, a) {
            return true;
        }
        let p = cur.parent();
        if Arc::ptr_eq(&p, &cur) {
            return false;
        }
        cur = p;
    }
}

fn set_entry(dir: &Arc<Inode>, name: &[u8], inode: &Arc<Inode>) {
    let mut st = dir.lock();
    if let Ok(d) = st.dir_mut() {
        d.entries.insert(name.to_vec(), inode.clone());
    }
    touch(&mut st);
}

/// Moves `inode` from `odir/oname` to `ndir/nname`, fixing a directory's way up.
fn move_entry(
    odir: &Arc<Inode>,
    oname: &[u8],
    ndir: &Arc<Inode>,
    nname: &[u8],
    inode: &Arc<Inode>,
) {
    {
        let mut st = odir.lock();
        if let Ok(d) = st.dir_mut() {
            if d.entries.get(oname).is_some_and(|i| Arc::ptr_eq(i, inode)) {
                d.entries.remove(oname);
            }
        }
        if inode.is_dir() {
            st.nlink -= 1;
        }
        touch(&mut st);
    }
    set_entry(ndir, nname, inode);
    let mut st = inode.lock();
    if let Body::Dir(d) = &mut st.body {
        d.parent = Arc::downgrade(ndir);
        d.name = nname.to_vec();
    }
    let is_dir = st.mode & S_IFMT == S_IFDIR;
    st.ctime = Timespec::now();
    drop(st);
    if is_dir {
        ndir.lock().nlink += 1;
    }
}

pub use lower::{major as lower_major, minor as lower_minor};
