//! Copy-in/copy-out: guest virtual addresses to physmem frames through the page table,
//! then memcpy through the direct map. A bad pointer is EFAULT, never a crash.

use nix::errno::Errno;

use super::{page_floor, Vmspace, PAGE};
use crate::mm::Prot;

/// A guest virtual address, kept distinct from host pointers by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GuestPtr(pub u64);

impl GuestPtr {
    pub fn add(self, n: u64) -> Result<GuestPtr, Errno> {
        self.0.checked_add(n).map(GuestPtr).ok_or(Errno::EFAULT)
    }
}

/// Plain-old-data types that may be copied to and from guest memory byte for byte.
///
/// # Safety
/// Implementors must be `repr(C)` with no invalid bit patterns (integers only).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: integer-only repr(C) types from libc or primitives.
        unsafe impl Pod for $t {}
    )* };
}
pod!(
    u8,
    u16,
    u32,
    u64,
    i32,
    i64,
    libc::timespec,
    libc::timeval,
    libc::utsname,
    libc::rlimit64,
    libc::iovec,
    libc::stat,
    libc::winsize,
    libc::statfs,
    libc::statx
);

/// Guest memory access for one vmspace.
pub trait UserMem {
    fn read_bytes(&mut self, addr: GuestPtr, buf: &mut [u8]) -> Result<(), Errno>;
    fn write_bytes(&mut self, addr: GuestPtr, data: &[u8]) -> Result<(), Errno>;

    /// Reads a NUL-terminated string of at most `max` bytes (ENAMETOOLONG if longer).
    fn read_cstr(&mut self, addr: GuestPtr, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max {
            let chunk = ((PAGE - at.0 % PAGE) as usize).min(max - out.len());
            let mut buf = vec![0u8; chunk];
            self.read_bytes(at, &mut buf)?;
            if let Some(n) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..n]);
                return Ok(out);
            }
            out.extend_from_slice(&buf);
            at = at.add(chunk as u64)?;
        }
        Err(Errno::ENAMETOOLONG)
    }

    fn read_val<T: Pod>(&mut self, addr: GuestPtr) -> Result<T, Errno> {
        let mut v = std::mem::MaybeUninit::<T>::zeroed();
        // SAFETY: T is Pod, so any bytes form a valid T; the slice covers exactly v.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of::<T>())
        };
        self.read_bytes(addr, bytes)?;
        // SAFETY: fully initialised by read_bytes (or zeroed).
        Ok(unsafe { v.assume_init() })
    }

    fn write_val<T: Pod>(&mut self, addr: GuestPtr, v: &T) -> Result<(), Errno> {
        self.write_bytes(addr, as_bytes(v))
    }
}

/// The bytes of a Pod value.
pub fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod; reading its bytes (padding included, zeroed by callers that
    // construct with zeroed()) is sound for integer-only types.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

impl Vmspace {
    /// Splits `[addr, addr+len)` at page boundaries: (page, offset in page, length).
    fn pieces(addr: GuestPtr, len: usize) -> Result<Vec<(u64, usize, usize)>, Errno> {
        let end = addr.0.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let mut out = Vec::new();
        let mut at = addr.0;
        while at < end {
            let page = page_floor(at);
            let n = (page + PAGE).min(end) - at;
            out.push((page, (at - page) as usize, n as usize));
            at += n;
        }
        Ok(out)
    }

    fn readable_frame(&self, page: u64) -> Result<Option<u64>, Errno> {
        let vma = self.find_vma(page).ok_or(Errno::EFAULT)?;
        if !vma.prot.intersects(Prot::READ | Prot::EXEC) {
            return Err(Errno::EFAULT);
        }
        Ok(self.present_frame(page))
    }
}

impl UserMem for Vmspace {
    fn read_bytes(&mut self, addr: GuestPtr, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0;
        for (page, off, n) in Self::pieces(addr, buf.len())? {
            let dst = &mut buf[done..done + n];
            match self.readable_frame(page)? {
                Some(f) => self.physmem().read_frame(f, off, dst),
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    fn write_bytes(&mut self, addr: GuestPtr, data: &[u8]) -> Result<(), Errno> {
        let pieces = Self::pieces(addr, data.len())?;
        // Check the whole range first so a failed write changes nothing.
        for &(page, _, _) in &pieces {
            let vma = self.find_vma(page).ok_or(Errno::EFAULT)?;
            if !vma.prot.contains(Prot::WRITE) {
                return Err(Errno::EFAULT);
            }
        }
        let mut done = 0;
        for (page, off, n) in pieces {
            let f = self.frame_for(page, true).map_err(|_| Errno::EFAULT)?;
            self.physmem().write_frame(f, off, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mm::{Vma, VmaKind};

    fn vm_with(prot: Prot) -> (Vmspace, u64) {
        let mut v = Vmspace::new(Arc::new(vproc::Physmem::new(64 * PAGE).unwrap()));
        let vma = Vma {
            start: 0,
            end: 0,
            prot,
            shared: false,
            kind: VmaKind::Anon,
        };
        let a = v.map(0, 2 * PAGE, false, vma).unwrap();
        (v, a)
    }

    #[test]
    fn write_then_read_across_pages() {
        let (mut v, a) = vm_with(Prot::READ | Prot::WRITE);
        let at = GuestPtr(a + PAGE - 3);
        v.write_bytes(at, b"hello\0").unwrap();
        assert_eq!(v.read_cstr(at, 100).unwrap(), b"hello");
        let mut z = [1u8; 4];
        v.read_bytes(GuestPtr(a), &mut z).unwrap();
        assert_eq!(z, [0; 4]);
    }

    #[test]
    fn bad_pointers_are_efault() {
        let (mut v, a) = vm_with(Prot::READ);
        assert_eq!(v.write_bytes(GuestPtr(a), b"x"), Err(Errno::EFAULT));
        let mut b = [0u8; 8];
        assert_eq!(v.read_bytes(GuestPtr(1), &mut b), Err(Errno::EFAULT));
        assert_eq!(
            v.read_bytes(GuestPtr(u64::MAX - 2), &mut b),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            v.read_bytes(GuestPtr(a + 2 * PAGE - 4), &mut b),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn unterminated_string_is_too_long() {
        let (mut v, a) = vm_with(Prot::READ | Prot::WRITE);
        v.write_bytes(GuestPtr(a), &[b'x'; 64]).unwrap();
        assert_eq!(v.read_cstr(GuestPtr(a), 16), Err(Errno::ENAMETOOLONG));
    }
}
