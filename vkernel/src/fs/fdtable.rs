//! A process's file descriptor table.

use std::sync::Arc;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::file::OpenFile;

/// RLIMIT_NOFILE's default soft limit.
pub const NOFILE: usize = 1024;

#[derive(Clone)]
pub struct FdEntry {
    pub file: Arc<OpenFile>,
    pub cloexec: bool,
}

#[derive(Clone, Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
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

    /// Installs at the lowest free descriptor >= `min`.
    pub fn install(
        &mut self,
        file: Arc<OpenFile>,
        cloexec: bool,
        min: usize,
    ) -> Result<i32, Errno> {
        let fd = (min..NOFILE)
            .find(|&i| self.slots.get(i).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)?;
        self.set(fd, FdEntry { file, cloexec });
        Ok(fd as i32)
    }

    /// Puts `e` at exactly `fd` (dup2/dup3), returning what was there.
    pub fn install_at(&mut self, fd: i32, e: FdEntry) -> Result<Option<FdEntry>, Errno> {
        let i = usize::try_from(fd)
            .ok()
            .filter(|&i| i < NOFILE)
            .ok_or(Errno::EBADF)?;
        let old = self.slots.get_mut(i).and_then(Option::take);
        self.set(i, e);
        Ok(old)
    }

    fn set(&mut self, i: usize, e: FdEntry) {
        if self.slots.len() <= i {
            self.slots.resize(i + 1, None);
        }
        self.slots[i] = Some(e);
    }

    pub fn close(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)
            .ok_or(Errno::EBADF)
    }

    /// Drops close-on-exec descriptors (execve).
    pub fn close_on_exec(&mut self) {
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|e| e.cloexec) {
                *s = None;
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|e| (i as i32, e)))
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
            t.install_at(s.fd, e)
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
        t.install(a.clone(), false, 0).unwrap();
        t.install(b.clone(), true, 0).unwrap();
        t.install_at(
            9,
            FdEntry {
                file: a.clone(),
                cloexec: true,
            },
        )
        .unwrap();
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
        assert_eq!(shape, [(0, 0, false), (1, 1, true), (9, 0, true)]);
    }

    fn index_in(files: &[Arc<OpenFile>], f: &Arc<OpenFile>) -> usize {
        files.iter().position(|x| Arc::ptr_eq(x, f)).unwrap()
    }

    #[test]
    fn restore_refuses_an_fd_out_of_range() {
        let saved = SavedFdTable {
            fds: vec![SavedFd {
                fd: NOFILE as i32,
                file: 0,
                cloexec: false,
            }],
        };
        assert!(FdTable::restore(saved, |_| Ok(open(b"a"))).is_err());
    }
}
