//! /dev: the kernel's device filesystem and its character devices.

use std::sync::Arc;

use nix::errno::Errno;

use super::inode::*;
use super::lower::{major, makedev, minor};

/// The character devices the kernel implements, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Device {
    Null,
    Zero,
    Full,
    Random,
}

/// Terminals (/dev/tty, /dev/console, /dev/ptmx) are opened through fs/devpts.rs.
const NODES: [(&[u8], u32, u32); 8] = [
    (b"null", 1, 3),
    (b"zero", 1, 5),
    (b"full", 1, 7),
    (b"random", 1, 8),
    (b"urandom", 1, 9),
    (b"tty", 5, 0),
    (b"console", 5, 1),
    (b"ptmx", 5, 2),
];

const LINKS: [(&[u8], &[u8]); 4] = [
    (b"fd", b"/proc/self/fd"),
    (b"stdin", b"/proc/self/fd/0"),
    (b"stdout", b"/proc/self/fd/1"),
    (b"stderr", b"/proc/self/fd/2"),
];

/// Builds /dev, hung under `root` (its parent for ".."); returns it and /dev/pts.
pub fn build(root: &Arc<Inode>) -> (Arc<Inode>, Arc<Inode>) {
    let devdir = mount_root_dir(next_ino(), DEV_DEVFS, 0o755, root, b"dev");
    let pts = super::devpts::build(&devdir);
    {
        let mut st = devdir.lock();
        let Ok(d) = st.dir_mut() else {
            return (devdir.clone(), pts);
        };
        d.entries.insert(b"pts".to_vec(), pts.clone());
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
    (devdir, pts)
}

impl Device {
    /// The device behind a character device number; ENXIO for ones we do not have.
    pub fn from_rdev(rdev: u64) -> Result<Device, Errno> {
        Ok(match (major(rdev), minor(rdev)) {
            (1, 3) => Device::Null,
            (1, 5) => Device::Zero,
            (1, 7) => Device::Full,
            (1, 8) | (1, 9) => Device::Random,
            _ => return Err(Errno::ENXIO),
        })
    }

    /// read(2) on the device (none of them blocks).
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
        }
    }

    pub fn write(self, data: &[u8]) -> Result<usize, Errno> {
        match self {
            Device::Null | Device::Zero | Device::Random => Ok(data.len()),
            Device::Full => Err(Errno::ENOSPC),
        }
    }
}
