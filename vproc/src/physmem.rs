//! Guest RAM: one memfd, sparse, mapped once into the kernel (the direct map).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{check, VprocError};
use crate::frames::{FrameAllocator, FrameRun};

pub const PAGE_SIZE: u64 = 4096;

pub struct Physmem {
    fd: OwnedFd,
    base: *mut u8,
    size: u64,
    frames: FrameAllocator,
}

// SAFETY: the direct map is a plain shared mapping; all access goes through methods that
// copy bytes in and out of frames the caller owns a reference to.
unsafe impl Send for Physmem {}
// SAFETY: as above; concurrent access to distinct frames is ordinary shared memory, and
// guests racing on the same frame is the same as on real hardware.
unsafe impl Sync for Physmem {}

impl Physmem {
    /// Creates guest RAM of `size` bytes. Untouched pages cost no host memory.
    pub fn new(size: u64) -> Result<Self, VprocError> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) || size > (1 << 40) {
            return Err(VprocError::BadPhysmemSize(size));
        }
        // SAFETY: the name is a valid NUL-terminated string.
        let raw = unsafe { libc::memfd_create(c"vkernel-physmem".as_ptr(), libc::MFD_CLOEXEC) };
        check("memfd_create", raw as libc::c_long)?;
        // SAFETY: memfd_create returned a fresh descriptor we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: plain syscall on our own descriptor.
        check(
            "ftruncate physmem",
            unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } as libc::c_long,
        )?;
        // SAFETY: mapping a descriptor we own; the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(VprocError::last("mmap physmem"));
        }
        Ok(Physmem {
            fd,
            base: base.cast(),
            size,
            frames: FrameAllocator::new(size / PAGE_SIZE),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn frames(&self) -> &FrameAllocator {
        &self.frames
    }

    /// The direct-map view of one frame.
    ///
    /// # Safety
    /// The caller must hold a reference on `frame` for as long as the slice lives, and
    /// must accept that guest threads may write the frame concurrently (as on real RAM).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn frame_mut(&self, frame: u64) -> &mut [u8] {
        assert!(frame < self.size / PAGE_SIZE, "frame {frame} out of range");
        // SAFETY: in range of the direct map, which lives as long as self.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.add((frame * PAGE_SIZE) as usize),
                PAGE_SIZE as usize,
            )
        }
    }

    /// A read-only view of a run of frames (for checkpoint writing while frozen).
    ///
    /// # Safety
    /// The frames must stay allocated and unmodified while the slice lives.
    pub unsafe fn run_slice(&self, run: FrameRun) -> &[u8] {
        assert!(run.start + run.len <= self.size / PAGE_SIZE);
        // SAFETY: in range of the direct map, which lives as long as self.
        unsafe {
            std::slice::from_raw_parts(
                self.base.add((run.start * PAGE_SIZE) as usize),
                (run.len * PAGE_SIZE) as usize,
            )
        }
    }

    /// A writable view of a run of frames (for a thaw filling guest RAM in one go).
    ///
    /// # Safety
    /// The caller must own the frames (freshly claimed, not mapped by any stub) for
    /// as long as the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn run_slice_mut(&self, run: FrameRun) -> &mut [u8] {
        assert!(run.start + run.len <= self.size / PAGE_SIZE);
        // SAFETY: in range of the direct map, which lives as long as self.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.add((run.start * PAGE_SIZE) as usize),
                (run.len * PAGE_SIZE) as usize,
            )
        }
    }

    /// Copies `src` into `frame` at `offset` (bounded by the frame).
    pub fn write_frame(&self, frame: u64, offset: usize, src: &[u8]) {
        // SAFETY: callers pass frames they hold; the slice is bounds-checked below.
        let f = unsafe { self.frame_mut(frame) };
        f[offset..offset + src.len()].copy_from_slice(src);
    }

    /// Copies bytes out of `frame` at `offset` into `dst`.
    pub fn read_frame(&self, frame: u64, offset: usize, dst: &mut [u8]) {
        // SAFETY: as in write_frame.
        let f = unsafe { self.frame_mut(frame) };
        dst.copy_from_slice(&f[offset..offset + dst.len()]);
    }

    /// Allocates zeroed frames (see [`FrameAllocator::alloc`]).
    pub fn alloc(&self, want: u64) -> Option<FrameRun> {
        self.frames.alloc(want)
    }

    /// Drops a reference to `frame`; a frame that becomes free has its host memory
    /// released, which also makes it read as zeros when it is allocated again.
    pub fn put(&self, frame: u64) {
        if self.frames.put(frame) {
            // Scrub before freeing: once free, another thread may allocate and fill it.
            self.punch(frame, 1);
            self.frames.free(FrameRun {
                start: frame,
                len: 1,
            });
        }
    }

    fn punch(&self, frame: u64, len: u64) {
        // SAFETY: plain syscall on our own descriptor. Failure only costs host memory
        // and zeroing, so fall back to clearing the frame by hand.
        let r = unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                (frame * PAGE_SIZE) as libc::off_t,
                (len * PAGE_SIZE) as libc::off_t,
            )
        };
        if r != 0 {
            for f in frame..frame + len {
                // SAFETY: the frame is free; nobody else references it.
                unsafe { self.frame_mut(f) }.fill(0);
            }
        }
    }

    /// Guest RAM in use, in bytes.
    pub fn used_bytes(&self) -> u64 {
        (self.frames.total() - self.frames.free_frames()) * PAGE_SIZE
    }
}

impl Drop for Physmem {
    fn drop(&mut self) {
        // SAFETY: unmapping the direct map we created; no references outlive self.
        unsafe { libc::munmap(self.base.cast(), self.size as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_frames_read_back_zero() {
        let pm = Physmem::new(64 * PAGE_SIZE).unwrap();
        let r = pm.alloc(1).unwrap();
        pm.write_frame(r.start, 100, b"hello");
        let mut buf = [0u8; 5];
        pm.read_frame(r.start, 100, &mut buf);
        assert_eq!(&buf, b"hello");
        pm.put(r.start);
        let r2 = pm.alloc(1).unwrap();
        assert_eq!(r2.start, r.start);
        pm.read_frame(r2.start, 100, &mut buf);
        assert_eq!(buf, [0; 5]);
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(Physmem::new(0).is_err());
        assert!(Physmem::new(4097).is_err());
    }
}
