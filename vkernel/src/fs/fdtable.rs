//! A process's file descriptor table.
//!
//! Linux's shape: one slot per descriptor up to the table's size (64 at first, then the
//! power of two above the highest descriptor placed, so a guest that raises its limit
//! pays only for what it uses), a bitmap of the open ones for finding the lowest free
//! one, and `next_fd`, below which none is free (sequential opens do not rescan). The
//! table has no limit of its own: RLIMIT_NOFILE belongs to the process that asks (a
//! table shared with CLONE_FILES serves processes with different limits), so every
//! allocation is given one; `Files` is the table as one process sees it.

use std::ops::{Deref, DerefMut, Range};
use std::sync::Arc;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::file::OpenFile;
use crate::process::SharedGuard;

/// Linux's fs.nr_open: no descriptor reaches it, and no RLIMIT_NOFILE exceeds it.
pub const NR_OPEN: usize = 1024 * 1024;

/// Linux's NR_OPEN_DEFAULT: the size of a new table, and the unit of its bitmap.
const MIN_FDS: usize = 64;

#[derive(Clone)]
pub struct FdEntry {
    pub file: Arc<OpenFile>,
    pub cloexec: bool,
}

#[derive(Clone)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    /// Bit `fd % 64` of word `fd / 64` is set when `fd` is open.
    open: Vec<u64>,
    /// Every descriptor below this one is open (Linux's files->next_fd).
    next_fd: usize,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            slots: vec![None; MIN_FDS],
            open: vec![0; MIN_FDS / 64],
            next_fd: 0,
        }
    }
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Result<&FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: i32) -> Result<&mut FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.get(fd).map(|e| e.file.clone())
    }

    /// The table's size (Linux's max_fds): select looks no further.
    pub fn max_fds(&self) -> usize {
        self.slots.len()
    }

    /// The lowest free descriptor in `fds` (Linux's alloc_fd), EMFILE if there is none.
    pub fn free_fd(&self, fds: Range<usize>) -> Result<usize, Errno> {
        let fd = self.first_unset(fds.start.max(self.next_fd));
        if fd < fds.end.min(NR_OPEN) {
            Ok(fd)
        } else {
            Err(Errno::EMFILE)
        }
    }

    /// The first descriptor at or after `from` whose bit is clear; past the bitmap every
    /// one is.
    fn first_unset(&self, from: usize) -> usize {
        let mut word = from / 64;
        // Bits below `from` in its word count as open.
        let mut below = (1u64 << (from % 64)) - 1;
        while let Some(&w) = self.open.get(word) {
            let free = !(w | below);
            if free != 0 {
                return word * 64 + free.trailing_zeros() as usize;
            }
            word += 1;
            below = 0;
        }
        from.max(self.open.len() * 64)
    }

    /// Installs at the lowest free descriptor in `fds`.
    pub fn install(
        &mut self,
        file: Arc<OpenFile>,
        cloexec: bool,
        fds: Range<usize>,
    ) -> Result<i32, Errno> {
        let fd = self.free_fd(fds.clone())?;
        self.set(fd, FdEntry { file, cloexec });
        // As Linux: a search from above next_fd says nothing about the fds below it.
        if fds.start <= self.next_fd {
            self.next_fd = fd + 1;
        }
        Ok(fd as i32)
    }

    /// Puts `e` at exactly `fd` (dup2/dup3), returning what was there; EBADF unless
    /// `fd` is below `limit`.
    pub fn install_at(
        &mut self,
        fd: i32,
        e: FdEntry,
        limit: usize,
    ) -> Result<Option<FdEntry>, Errno> {
        let i = usize::try_from(fd)
            .ok()
            .filter(|&i| i < limit.min(NR_OPEN))
            .ok_or(Errno::EBADF)?;
        let old = self.take(i);
        self.set(i, e);
        Ok(old)
    }

    fn set(&mut self, i: usize, e: FdEntry) {
        if self.slots.len() <= i {
            // Linux's expand_fdtable: the next power of two, so growth is amortised.
            let size = (i + 1).next_power_of_two().min(NR_OPEN);
            self.slots.resize(size, None);
            self.open.resize(size / 64, 0);
        }
        self.slots[i] = Some(e);
        self.open[i / 64] |= 1 << (i % 64);
    }

    /// Empties slot `i`, which becomes the lowest free one if it is below `next_fd`.
    fn take(&mut self, i: usize) -> Option<FdEntry> {
        let e = self.slots.get_mut(i)?.take()?;
        self.open[i / 64] &= !(1 << (i % 64));
        self.next_fd = self.next_fd.min(i);
        Some(e)
    }

    pub fn close(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.take(i))
            .ok_or(Errno::EBADF)
    }

    /// Drops close-on-exec descriptors (execve).
    pub fn close_on_exec(&mut self) {
        let doomed: Vec<usize> = self
            .iter()
            .filter(|(_, e)| e.cloexec)
            .map(|(fd, _)| fd as usize)
            .collect();
        for i in doomed {
            self.take(i);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|e| (i as i32, e)))
    }
}

/// A locked descriptor table as one process sees it: its allocations stop at that
/// process's RLIMIT_NOFILE (read when the table was locked).
pub struct Files {
    table: SharedGuard<FdTable>,
    limit: usize,
}

impl Files {
    pub fn new(table: SharedGuard<FdTable>, limit: usize) -> Self {
        Files { table, limit }
    }

    /// The soft RLIMIT_NOFILE, as a descriptor bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Installs at the lowest free descriptor >= `min` and below the limit.
    pub fn install(
        &mut self,
        file: Arc<OpenFile>,
        cloexec: bool,
        min: usize,
    ) -> Result<i32, Errno> {
        self.table.install(file, cloexec, min..self.limit)
    }

    /// dup2/dup3: EBADF for a descriptor at or above the limit.
    pub fn install_at(&mut self, fd: i32, e: FdEntry) -> Result<Option<FdEntry>, Errno> {
        self.table.install_at(fd, e, self.limit)
    }

    /// EMFILE when no descriptor is free. For the calls that, in Linux, take their
    /// descriptor before anything else (open, accept): a full table fails them first.
    pub fn room(&self) -> Result<(), Errno> {
        self.table.free_fd(0..self.limit).map(drop)
    }
}

impl Deref for Files {
    type Target = FdTable;
    fn deref(&self) -> &FdTable {
        &self.table
    }
}

impl DerefMut for Files {
    fn deref_mut(&mut self) -> &mut FdTable {
        &mut self.table
    }
}

/// A descriptor table as a checkpoint saves it: each open fd with the checkpoint's index
/// of its open file description. fds that share a description share its index, so they
/// share one description (and its offset) again after the thaw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFdTable {
    pub fds: Vec<SavedFd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFd {
    pub fd: i32,
    pub file: usize,
    pub cloexec: bool,
}

impl FdTable {
    /// `file_index` gives the checkpoint's index of an open file description; it must
    /// return the same index for every fd on one description.
    pub fn save(&self, mut file_index: impl FnMut(&Arc<OpenFile>) -> usize) -> SavedFdTable {
        let fds = self
            .iter()
            .map(|(fd, e)| SavedFd {
                fd,
                file: file_index(&e.file),
                cloexec: e.cloexec,
            })
            .collect();
        SavedFdTable { fds }
    }

    /// `file` gives the restored description for a checkpoint index (the same `Arc` for
    /// the same index; `RestoredFs::file`), or the error of an index it does not
    /// know. An fd outside the table's range is a corrupt image.
    pub fn restore(
        saved: SavedFdTable,
        mut file: impl FnMut(usize) -> Result<Arc<OpenFile>, ckpt::CkptError>,
    ) -> Result<FdTable, ckpt::CkptError> {
        let mut t = FdTable::default();
        for s in saved.fds {
            let e = FdEntry {
                file: file(s.file)?,
                cloexec: s.cloexec,
            };
            t.install_at(s.fd, e, NR_OPEN)
                .map_err(|_| ckpt::CkptError::Decode(format!("fd {} out of range", s.fd)))?;
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::file::FileKind;
    use crate::fs::pipe::pipe_inode;

    fn open(path: &[u8]) -> Arc<OpenFile> {
        OpenFile::new(pipe_inode(), path.to_vec(), FileKind::Path, 0)
    }

    #[test]
    fn fd_table_round_trips_through_a_checkpoint_keeping_shared_descriptions() {
        let (a, b) = (open(b"a"), open(b"b"));
        let mut t = FdTable::default();
        t.install(a.clone(), false, 0..NR_OPEN).unwrap();
        t.install(b.clone(), true, 0..NR_OPEN).unwrap();
        let e = FdEntry {
            file: a.clone(),
            cloexec: true,
        };
        t.install_at(5000, e, NR_OPEN).unwrap();
        let files = [a, b];

        let saved = t.save(|f| index_in(&files, f));
        let back: SavedFdTable = ckpt::decode(&ckpt::encode(&saved).unwrap()).unwrap();
        assert_eq!(back, saved);

        let thawed = [open(b"a"), open(b"b")];
        let r = FdTable::restore(back, |i| Ok(thawed[i].clone())).unwrap();
        let shape: Vec<(i32, usize, bool)> = r
            .iter()
            .map(|(fd, e)| (fd, index_in(&thawed, &e.file), e.cloexec))
            .collect();
        assert_eq!(shape, [(0, 0, false), (1, 1, true), (5000, 0, true)]);
    }

    fn entry() -> FdEntry {
        FdEntry {
            file: open(b"f"),
            cloexec: false,
        }
    }

    #[test]
    fn allocation_takes_the_lowest_free_fd_below_the_limit() {
        let mut t = FdTable::default();
        for want in 0..10 {
            assert_eq!(t.install(open(b"f"), false, 0..10), Ok(want));
        }
        assert_eq!(t.install(open(b"f"), false, 0..10), Err(Errno::EMFILE));
        t.close(7).unwrap();
        t.close(3).unwrap();
        assert_eq!(t.install(open(b"f"), false, 0..10), Ok(3));
        // A search from above the hole leaves it for the next search from 0.
        assert_eq!(t.install(open(b"f"), false, 8..20), Ok(10));
        assert_eq!(t.install(open(b"f"), false, 0..20), Ok(7));
        assert_eq!(t.install(open(b"f"), false, 0..20), Ok(11));
        assert_eq!(t.install(open(b"f"), false, 30..30), Err(Errno::EMFILE));
    }

    #[test]
    fn the_table_grows_in_powers_of_two_and_finds_holes_across_words() {
        let mut t = FdTable::default();
        assert_eq!(t.max_fds(), 64);
        t.install_at(5000, entry(), NR_OPEN).unwrap();
        assert_eq!(t.max_fds(), 8192);
        assert_eq!(t.install(open(b"f"), false, 4990..8192), Ok(4990));
        for _ in 4991..5000 {
            t.install(open(b"f"), false, 4990..8192).unwrap();
        }
        assert_eq!(t.install(open(b"f"), false, 4990..8192), Ok(5001));
        assert_eq!(t.install(open(b"f"), false, 8191..NR_OPEN), Ok(8191));
        assert_eq!(t.install(open(b"f"), false, 8191..NR_OPEN), Ok(8192));
        assert_eq!(t.max_fds(), 16384);
    }

    #[test]
    fn install_at_refuses_fds_at_or_above_the_limit_and_returns_what_was_there() {
        let mut t = FdTable::default();
        assert_eq!(t.install_at(64, entry(), 64).err(), Some(Errno::EBADF));
        assert_eq!(t.install_at(-1, entry(), 64).err(), Some(Errno::EBADF));
        assert!(t.install_at(63, entry(), 64).unwrap().is_none());
        assert!(t.install_at(63, entry(), 64).unwrap().is_some());
        assert_eq!(
            t.install_at(NR_OPEN as i32, entry(), usize::MAX).err(),
            Some(Errno::EBADF)
        );
    }

    #[test]
    fn close_on_exec_frees_the_slots_for_reuse() {
        let mut t = FdTable::default();
        t.install(open(b"a"), false, 0..64).unwrap();
        t.install(open(b"b"), true, 0..64).unwrap();
        t.install(open(b"c"), false, 0..64).unwrap();
        t.close_on_exec();
        assert_eq!(t.iter().map(|(fd, _)| fd).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(t.install(open(b"d"), false, 0..64), Ok(1));
        assert_eq!(t.install(open(b"e"), false, 0..64), Ok(3));
    }

    fn index_in(files: &[Arc<OpenFile>], f: &Arc<OpenFile>) -> usize {
        files.iter().position(|x| Arc::ptr_eq(x, f)).unwrap()
    }

    #[test]
    fn restore_refuses_an_fd_out_of_range() {
        let saved = SavedFdTable {
            fds: vec![SavedFd {
                fd: NR_OPEN as i32,
                file: 0,
                cloexec: false,
            }],
        };
        assert!(FdTable::restore(saved, |_| Ok(open(b"a"))).is_err());
    }
}
