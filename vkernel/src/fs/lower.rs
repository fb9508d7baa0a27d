//! Building the in-memory tree from a root filesystem image.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use rootfs::{Entry, EntryKind, Image};

use super::inode::*;

/// Loads every entry of `image` into a fresh tree and returns its root.
pub fn build_tree(image: &Arc<Image>) -> Arc<Inode> {
    let entries = image.entries();
    let root = make_root(entries.first());
    let mut dirs: HashMap<&[u8], Arc<Inode>> = HashMap::new();
    dirs.insert(b"/", root.clone());
    let mut by_key: HashMap<u64, Arc<Inode>> = HashMap::new();
    let mut next = 2u64;
    for e in entries.iter().filter(|e| e.path != b"/") {
        let (parent_path, name) = split_path(&e.path);
        let Some(parent) = dirs.get(parent_path).cloned() else {
            continue; // the reader guarantees parents come first; skip if not
        };
        let inode = match by_key.get(&e.key) {
            Some(existing) if !matches!(e.kind, EntryKind::Directory) => {
                existing.lock().nlink += 1;
                existing.clone()
            }
            _ => {
                next += 1;
                let i = make_inode(image, e, next, &parent, name);
                by_key.insert(e.key, i.clone());
                i
            }
        };
        if inode.is_dir() {
            dirs.insert(&e.path, inode.clone());
            parent.lock().nlink += 1;
        }
        let mut st = parent.lock();
        if let Ok(d) = st.dir_mut() {
            d.entries.insert(name.to_vec(), inode);
        }
    }
    root
}

fn split_path(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (b"/", p),
    }
}

fn make_root(first: Option<&Entry>) -> Arc<Inode> {
    let (mode, uid, gid, mtime) = first
        .filter(|e| e.path == b"/")
        .map_or((0o755, 0, 0, 0), |e| (e.mode, e.uid, e.gid, e.mtime));
    let body = Body::Dir(DirData {
        entries: BTreeMap::new(),
        parent: Weak::new(),
        name: Vec::new(),
    });
    let mut st = InodeState::new(S_IFDIR | mode, uid, gid, body);
    st.nlink = 2;
    set_times(&mut st, mtime);
    Inode::new(2, DEV_ROOTFS, st)
}

fn set_times(st: &mut InodeState, mtime: i64) {
    let t = Timespec {
        sec: mtime,
        nsec: 0,
    };
    st.atime = t;
    st.mtime = t;
    st.ctime = t;
}

fn make_inode(
    image: &Arc<Image>,
    e: &Entry,
    ino: u64,
    parent: &Arc<Inode>,
    name: &[u8],
) -> Arc<Inode> {
    let (ftype, body, rdev) = match &e.kind {
        EntryKind::Regular(data) => (
            S_IFREG,
            Body::Regular(FileData::Lower {
                image: image.clone(),
                data: *data,
            }),
            0,
        ),
        EntryKind::Directory => {
            let d = DirData {
                entries: BTreeMap::new(),
                parent: Arc::downgrade(parent),
                name: name.to_vec(),
            };
            (S_IFDIR, Body::Dir(d), 0)
        }
        EntryKind::Symlink(t) => (S_IFLNK, Body::Symlink(t.clone()), 0),
        EntryKind::CharDevice { major, minor } => (S_IFCHR, Body::Special, makedev(*major, *minor)),
        EntryKind::BlockDevice { major, minor } => {
            (S_IFBLK, Body::Special, makedev(*major, *minor))
        }
        EntryKind::Fifo => (S_IFIFO, Body::Special, 0),
        EntryKind::Socket => (S_IFSOCK, Body::Special, 0),
    };
    let mut st = InodeState::new(ftype | e.mode, e.uid, e.gid, body);
    st.rdev = rdev;
    if ftype == S_IFDIR {
        st.nlink = 2;
    }
    set_times(&mut st, e.mtime);
    Inode::new(ino, DEV_ROOTFS, st)
}

/// Linux's encoding of a device number (new_encode_dev in 64-bit form).
pub fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (u64::from(major), u64::from(minor));
    ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff)
}

pub fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff)) as u32
}

pub fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffffff00) | (dev & 0xff)) as u32
}
