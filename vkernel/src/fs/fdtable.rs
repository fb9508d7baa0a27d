//! A process's file descriptor table.

use std::sync::Arc;

use nix::errno::Errno;

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
