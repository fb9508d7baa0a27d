//! /dev: the kernel's device filesystem and its character devices.

use std::sync::Arc;

use nix::errno::Errno;

use super::inode::*;
use super::lower::{major, makedev, minor};
use crate::sched::Block;

/// The character devices the kernel implements, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Null,
    Zero,
    Full,
    Random,
    /// The console: the kernel's own stdin and stdout.
    Console,
    /// The console's error stream: pid 1's fd 2 writes to the kernel's stderr, so a
    /// caller can tell the guest's errors from its output.
    ConsoleErr,
}

const NODES: [(&[u8], u32, u32); 7] = [
    (b"null", 1, 3),
    (b"zero", 1, 5),
    (b"full", 1, 7),
    (b"random", 1, 8),
    (b"urandom", 1, 9),
    (b"tty", 5, 0),
    (b"console", 5, 1),
];

const LINKS: [(&[u8], &[u8]); 4] = [
    (b"fd", b"/proc/self/fd"),
    (b"stdin", b"/proc/self/fd/0"),
    (b"stdout", b"/proc/self/fd/1"),
    (b"stderr", b"/proc/self/fd/2"),
];

/// Builds /dev, hung under `root` (its parent for "..").
pub fn build(root: &Arc<Inode>) -> Arc<Inode> {
    let devdir = new_mount_dir(root);
    {
        let mut st = devdir.lock();
        let Ok(d) = st.dir_mut() else {
            return devdir.clone();
        };
        for (name, ma, mi) in NODES {
            let mut s = InodeState::new(S_IFCHR | 0o666, 0, 0, Body::Special);
            s.rdev = makedev(ma, mi);
            d.entries
                .insert(name.to_vec(), Inode::new(next_ino(), DEV_DEVFS, s));
        }
        for (name, target) in LINKS {
            let s = InodeState::new(S_IFLNK | 0o777, 0, 0, Body::Symlink(target.to_vec()));
            d.entries
                .insert(name.to_vec(), Inode::new(next_ino(), DEV_DEVFS, s));
        }
    }
    devdir
}

fn new_mount_dir(root: &Arc<Inode>) -> Arc<Inode> {
    let body = Body::Dir(DirData {
        entries: Default::default(),
        parent: Arc::downgrade(root),
        name: b"dev".to_vec(),
    });
    let mut st = InodeState::new(S_IFDIR | 0o755, 0, 0, body);
    st.nlink = 2;
    Inode::new_mount_root(next_ino(), DEV_DEVFS, st)
}

impl Device {
    /// The device behind a character device number; ENXIO for ones we do not have.
    pub fn from_rdev(rdev: u64) -> Result<Device, Errno> {
        Ok(match (major(rdev), minor(rdev)) {
            (1, 3) => Device::Null,
            (1, 5) => Device::Zero,
            (1, 7) => Device::Full,
            (1, 8) | (1, 9) => Device::Random,
            (5, 0) | (5, 1) | (4, _) => Device::Console,
            _ => return Err(Errno::ENXIO),
        })
    }

    /// read(2) on the device; console reads may sleep.
    pub fn read(self, buf: &mut [u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        match self {
            Device::Console | Device::ConsoleErr => {
                super::console::console().read(buf, nonblock, b)
            }
            _ => self.read_now(buf),
        }
    }

    /// Reads from a device that never blocks (all but the console).
    pub fn read_now(self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            Device::Null => Ok(0),
            Device::Zero | Device::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Device::Random => {
                crate::host::fill_random(buf);
                Ok(buf.len())
            }
            Device::Console | Device::ConsoleErr => Err(Errno::ESPIPE),
        }
    }

    pub fn write(self, data: &[u8]) -> Result<usize, Errno> {
        match self {
            Device::Null | Device::Zero | Device::Random => Ok(data.len()),
            Device::Full => Err(Errno::ENOSPC),
            Device::Console => super::console::console().write(data, 1),
            Device::ConsoleErr => super::console::console().write(data, 2),
        }
    }

    pub fn is_tty(self) -> bool {
        matches!(self, Device::Console | Device::ConsoleErr)
    }
}
