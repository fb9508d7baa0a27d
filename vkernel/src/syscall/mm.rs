//! Memory system calls: brk, the mmap family, madvise.

use nix::errno::Errno;

use super::{fd_arg, SysResult};
use crate::fs::dev::Device;
use crate::fs::FileKind;
use crate::mm::{page_ceil, Prot, Vma, VmaKind, PAGE};
use crate::task::Task;

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
const MREMAP_MAYMOVE: u64 = 1;
const MADV_DONTNEED: u64 = 4;

pub fn brk(t: &mut Task, a: [u64; 6]) -> SysResult {
    Ok(t.process.mm().set_brk(a[0]))
}

fn prot_arg(p: u64) -> Result<Prot, Errno> {
    Prot::from_bits(u32::try_from(p).map_err(|_| Errno::EINVAL)?).ok_or(Errno::EINVAL)
}

pub fn mmap(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [addr, len, prot, flags, fd, off] = a;
    let prot = prot_arg(prot)?;
    if len == 0 || off % PAGE != 0 || page_ceil(len).is_none() {
        return Err(Errno::EINVAL);
    }
    let shared = match flags & MAP_TYPE {
        MAP_SHARED | MAP_SHARED_VALIDATE => true,
        MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    let source = if flags & MAP_ANONYMOUS != 0 {
        None
    } else {
        Some(t.process.files().file(fd_arg(fd))?)
    };
    let kind = match &source {
        None => VmaKind::Anon,
        Some(f) if matches!(f.kind, FileKind::Device(Device::Zero)) => VmaKind::Anon,
        Some(f) if !matches!(f.kind, FileKind::Regular) => return Err(Errno::ENODEV),
        // Shared file mappings need the page cache, which is not there yet.
        Some(_) if shared => return Err(Errno::ENODEV),
        Some(f) if !f.readable() => return Err(Errno::EACCES),
        Some(f) => VmaKind::File {
            path: f.path.clone(),
            offset: off,
            file_end: f.inode.size(),
        },
    };
    let noreplace = flags & MAP_FIXED_NOREPLACE != 0;
    let fixed = flags & MAP_FIXED != 0 || noreplace;
    let mut mm = t.process.mm();
    if noreplace
        && (addr..addr.saturating_add(len))
            .step_by(PAGE as usize)
            .any(|p| mm.find_vma(p).is_some())
    {
        return Err(Errno::EEXIST);
    }
    let vma = Vma {
        start: 0,
        end: 0,
        prot,
        shared,
        kind,
    };
    let start = mm.map(addr, len, fixed, vma)?;
    if let Some(f) = source.filter(|f| matches!(f.kind, FileKind::Regular)) {
        // A private file mapping is a private copy of the file's pages, made now.
        let mut buf = vec![0u8; PAGE as usize];
        for page in (0..len).step_by(PAGE as usize) {
            let n = f.read_at(off + page, &mut buf)?;
            if n == 0 {
                break;
            }
            let frame = mm.load_page(start + page).ok_or(Errno::ENOMEM)?;
            mm.physmem().write_frame(frame, 0, &buf[..n]);
        }
    }
    Ok(start)
}

pub fn munmap(t: &mut Task, a: [u64; 6]) -> SysResult {
    t.process.mm().unmap(a[0], a[1])?;
    Ok(0)
}

pub fn mprotect(t: &mut Task, a: [u64; 6]) -> SysResult {
    let prot = prot_arg(a[2] & !0x0300_0000)?; // PROT_GROWSDOWN/UP: accepted, not needed
    t.process.mm().protect(a[0], a[1], prot)?;
    Ok(0)
}

pub fn mremap(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [old, old_len, new_len, flags, ..] = a;
    if flags & !MREMAP_MAYMOVE != 0 {
        // MREMAP_FIXED and MREMAP_DONTUNMAP are not implemented yet.
        return Err(Errno::EINVAL);
    }
    t.process
        .mm()
        .remap(old, old_len, new_len, flags & MREMAP_MAYMOVE != 0)
}

pub fn madvise(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [start, len, advice, ..] = a;
    if start % PAGE != 0 {
        return Err(Errno::EINVAL);
    }
    match advice {
        MADV_DONTNEED => t.process.mm().discard(start, len).map(|_| 0),
        // Advice that only tunes paging has nothing to tune here.
        0..=3 | 8..=19 | 100 | 101 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
