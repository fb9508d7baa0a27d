//! A vmspace: one guest address space.
//!
//! VMAs describe what the guest asked for; the page table maps guest pages to physmem
//! frames. Frames are allocated lazily (on fault or on kernel write) and mapped into the
//! stub lazily too, a window at a time. The vmspace never talks to the stub itself: it
//! queues host calls (and frames to release once those calls have run), and the task
//! flushes the queue before the guest runs again, so a frame is never reused while a
//! stub can still reach it.

use std::collections::BTreeMap;
use std::sync::Arc;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use vproc::layout::{guest_range_ok, GUEST_MMAP_TOP};
use vproc::{HostCall, Physmem};

use super::hostlog::{HostCallLog, SpaceId};
use super::{page_ceil, page_floor, PAGE};

bitflags::bitflags! {
    /// PROT_* bits as the guest passes them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Prot: u32 {
        const READ = 1;
        const WRITE = 2;
        const EXEC = 4;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VmaKind {
    Anon,
    Heap,
    Stack,
    /// Private copy of a file's pages, named for /proc/<pid>/maps. Pages wholly past
    /// `file_end` (the file's size when mapped) raise SIGBUS, as on Linux; ELF
    /// segments use u64::MAX since their bss is meant to run past the file.
    File {
        path: Vec<u8>,
        offset: u64,
        file_end: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    pub shared: bool,
    pub kind: VmaKind,
}

/// One page-table entry: the frame, and whether (and how) the stub maps it now.
#[derive(Debug, Clone, Copy)]
struct Pte {
    frame: u64,
    mapped: bool,
    writable: bool,
}

impl Pte {
    fn new(frame: u64) -> Pte {
        Pte {
            frame,
            mapped: false,
            writable: false,
        }
    }
}

/// What the task does after a guest fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOutcome {
    /// Fixed; run the guest again.
    Resolved,
    /// A real fault: deliver SIGSEGV with this si_code (SEGV_MAPERR / SEGV_ACCERR).
    Segv(i32),
    /// Out of guest memory.
    Oom,
    /// An access past the end of a mapped file: SIGBUS (BUS_ADRERR).
    Bus,
}

/// Pages mapped around a faulting page at once, to cut trap round trips.
const FAULT_WINDOW: u64 = 16;

pub struct Vmspace {
    /// Names the vmspace in private futex keys (unique for the kernel's lifetime).
    id: u64,
    physmem: Arc<Physmem>,
    vmas: BTreeMap<u64, Vma>,
    ptes: BTreeMap<u64, Pte>,
    pub brk_start: u64,
    pub brk: u64,
    pub stack_top: u64,
    log: HostCallLog,
}

impl Vmspace {
    pub fn new(physmem: Arc<Physmem>) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Vmspace {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            physmem,
            vmas: BTreeMap::new(),
            ptes: BTreeMap::new(),
            brk_start: 0,
            brk: 0,
            stack_top: 0,
            log: HostCallLog::default(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn physmem(&self) -> &Arc<Physmem> {
        &self.physmem
    }

    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.values()
    }

    /// Host calls the stub `space` must run before its guest continues.
    pub fn take_pending(&mut self, space: SpaceId) -> Vec<HostCall> {
        self.log.take(space)
    }

    /// Releases frames no stub maps any more (call after the pending calls ran).
    pub fn release_frames(&mut self) {
        self.log.compact(&self.physmem);
    }

    /// Attaches a fresh stub that shares this vmspace (CLONE_VM).
    pub fn join(&mut self, space: SpaceId) {
        self.log.join(space);
    }

    /// Detaches a stub that stops using this vmspace (exit, execve).
    pub fn leave(&mut self, space: SpaceId) {
        self.log.leave(space, &self.physmem);
    }

    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// Whether any VMA overlaps `[start, end)`.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Finds a free range of `len` bytes, top-down below `top`.
    fn find_free(&self, len: u64, top: u64) -> Option<u64> {
        let mut hi = top;
        for v in self.vmas.range(..top).rev() {
            let v = v.1;
            if v.end <= hi && hi - v.end >= len {
                return Some(hi - len);
            }
            hi = hi.min(v.start);
        }
        hi.checked_sub(len).filter(|&a| a >= 0x10000)
    }

    /// Creates a mapping; returns its address. With `fixed`, replaces whatever was there.
    pub fn map(&mut self, hint: u64, len: u64, fixed: bool, vma: Vma) -> Result<u64, Errno> {
        let len = page_ceil(len).filter(|&l| l > 0).ok_or(Errno::EINVAL)?;
        if len > self.physmem.size() && !vma.shared {
            // Heuristic overcommit, as Linux does: refuse what could never fit.
            return Err(Errno::ENOMEM);
        }
        let start = if fixed {
            if !hint.is_multiple_of(PAGE) || !guest_range_ok(hint, len) {
                return Err(Errno::EINVAL);
            }
            self.unmap(hint, len)?;
            hint
        } else {
            self.place(hint, len).ok_or(Errno::ENOMEM)?
        };
        let v = Vma {
            start,
            end: start + len,
            ..vma
        };
        self.vmas.insert(start, v);
        Ok(start)
    }

    /// Picks an address: the hint if it is free, else top-down.
    fn place(&self, hint: u64, len: u64) -> Option<u64> {
        let hint = page_floor(hint);
        if hint != 0 && guest_range_ok(hint, len) && !self.overlaps(hint, hint + len) {
            return Some(hint);
        }
        let top = if self.stack_top > 0 {
            self.mmap_top()
        } else {
            GUEST_MMAP_TOP
        };
        self.find_free(len, top)
    }

    fn mmap_top(&self) -> u64 {
        // Leave room below the stack for it to be the size RLIMIT_STACK allows.
        self.stack_top.saturating_sub(STACK_GAP)
    }

    /// Inserts `vma`, replacing overlapping VMAs but keeping their pages: the loader
    /// uses it when two segments share a page, as Linux's second mmap would.
    pub fn map_keeping_pages(&mut self, vma: Vma) -> Result<(), Errno> {
        if !guest_range_ok(vma.start, vma.end - vma.start) {
            return Err(Errno::EINVAL);
        }
        self.split_at(vma.start);
        self.split_at(vma.end);
        let doomed: Vec<u64> = self
            .vmas
            .range(vma.start..vma.end)
            .map(|(&s, _)| s)
            .collect();
        for s in doomed {
            self.vmas.remove(&s);
        }
        self.vmas.insert(vma.start, vma);
        Ok(())
    }

    /// The frame at `page` for the loader: allocated if absent, regardless of the VMA's
    /// protection (the kernel fills pages the guest may not write).
    pub fn load_page(&mut self, page: u64) -> Option<u64> {
        if let Some(f) = self.present_frame(page) {
            return Some(f);
        }
        let f = self.physmem.alloc(1)?.start;
        self.install(page, f);
        Some(f)
    }

    /// Splits VMAs so that `at` is a boundary.
    fn split_at(&mut self, at: u64) {
        let Some((&s, v)) = self.vmas.range(..at).next_back() else {
            return;
        };
        if v.end <= at {
            return;
        }
        let mut tail = v.clone();
        if let VmaKind::File { offset, .. } = &mut tail.kind {
            *offset += at - s;
        }
        tail.start = at;
        if let Some(head) = self.vmas.get_mut(&s) {
            head.end = at;
        }
        self.vmas.insert(at, tail);
    }

    /// Removes `[start, start+len)` from the address space. Holes are fine.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<(), Errno> {
        let end = self.checked_range(start, len)?;
        self.split_at(start);
        self.split_at(end);
        let doomed: Vec<u64> = self.vmas.range(start..end).map(|(&s, _)| s).collect();
        for s in doomed {
            self.vmas.remove(&s);
        }
        self.drop_pages(start, end);
        Ok(())
    }

    fn checked_range(&self, start: u64, len: u64) -> Result<u64, Errno> {
        let len = page_ceil(len).ok_or(Errno::EINVAL)?;
        if !start.is_multiple_of(PAGE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        start.checked_add(len).ok_or(Errno::EINVAL)
    }

    /// Drops the frames of `[start, end)` and removes them from the stub.
    fn drop_pages(&mut self, start: u64, end: u64) {
        let pages: Vec<u64> = self.ptes.range(start..end).map(|(&a, _)| a).collect();
        let any_mapped = pages.iter().any(|a| self.ptes[a].mapped);
        for a in pages {
            if let Some(p) = self.ptes.remove(&a) {
                self.log.release(p.frame);
            }
        }
        if any_mapped {
            self.log.push(HostCall::unmap(start, end - start));
        }
    }

    /// mprotect: every page of the range must be mapped.
    pub fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        let end = self.checked_range(start, len)?;
        if !self.fully_mapped(start, end) {
            return Err(Errno::ENOMEM);
        }
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.vmas.range_mut(start..end) {
            v.prot = prot;
        }
        // Stub mappings are rebuilt lazily with the new protection on the next fault.
        self.forget_stub_mappings(start, end);
        Ok(())
    }

    fn fully_mapped(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        while at < end {
            match self.find_vma(at) {
                Some(v) => at = v.end,
                None => return false,
            }
        }
        true
    }

    fn forget_stub_mappings(&mut self, start: u64, end: u64) {
        let mut any = false;
        for (_, p) in self.ptes.range_mut(start..end) {
            any |= p.mapped;
            p.mapped = false;
        }
        if any {
            self.log.push(HostCall::unmap(start, end - start));
        }
    }

    /// madvise(MADV_DONTNEED): private pages read back as zeros (or file contents,
    /// which for our private file copies are gone: Linux would re-read the file; we
    /// keep the copy, so only anonymous memory is dropped).
    pub fn discard(&mut self, start: u64, len: u64) -> Result<(), Errno> {
        let end = self.checked_range(start, len)?;
        if !self.fully_mapped(start, end) {
            return Err(Errno::ENOMEM);
        }
        let anon: Vec<(u64, u64)> = self
            .vmas
            .values()
            .filter(|v| v.start < end && v.end > start && !v.shared)
            .filter(|v| !matches!(v.kind, VmaKind::File { .. }))
            .map(|v| (v.start.max(start), v.end.min(end)))
            .collect();
        for (s, e) in anon {
            self.drop_pages(s, e);
        }
        Ok(())
    }

    /// mremap: resize in place when possible, else move (if allowed). Frames move with
    /// the pages; nothing is copied.
    pub fn remap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
    ) -> Result<u64, Errno> {
        let old_end = self.checked_range(old, old_len)?;
        let new_len = page_ceil(new_len).filter(|&l| l > 0).ok_or(Errno::EINVAL)?;
        let vma = self.find_vma(old).cloned().ok_or(Errno::EFAULT)?;
        if old_end > vma.end {
            return Err(Errno::EFAULT);
        }
        let old_len = old_end - old;
        if new_len <= old_len {
            self.unmap(old + new_len, old_len - new_len)?;
            return Ok(old);
        }
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        if old_end == vma.end && guest_range_ok(old, new_len) && !self.overlaps(old_end, grow_end) {
            if let Some(v) = self.vmas.get_mut(&vma.start) {
                v.end = grow_end;
            }
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let dest = self.place(0, new_len).ok_or(Errno::ENOMEM)?;
        self.move_range(old, old_end, dest, &vma, new_len);
        Ok(dest)
    }

    fn move_range(&mut self, old: u64, old_end: u64, dest: u64, vma: &Vma, new_len: u64) {
        let moved: Vec<(u64, Pte)> = self
            .ptes
            .range(old..old_end)
            .map(|(&a, &p)| (a, p))
            .collect();
        let any_mapped = moved.iter().any(|(_, p)| p.mapped);
        for (a, p) in moved {
            self.ptes.remove(&a);
            self.ptes.insert(dest + (a - old), Pte::new(p.frame));
        }
        if any_mapped {
            self.log.push(HostCall::unmap(old, old_end - old));
        }
        self.split_at(old);
        self.split_at(old_end);
        self.vmas.remove(&old);
        let mut kind = vma.kind.clone();
        if let VmaKind::File { offset, .. } = &mut kind {
            *offset += old - vma.start;
        }
        let v = Vma {
            start: dest,
            end: dest + new_len,
            prot: vma.prot,
            shared: vma.shared,
            kind,
        };
        self.vmas.insert(dest, v);
    }

    /// The frame behind a guest page, allocated (zeroed) if the VMA allows and the page
    /// was never touched. `write` also breaks copy-on-write sharing.
    pub fn frame_for(&mut self, page: u64, write: bool) -> Result<u64, Errno> {
        let vma = self.find_vma(page).ok_or(Errno::EFAULT)?;
        let (prot, shared) = (vma.prot, vma.shared);
        let ok = if write {
            prot.contains(Prot::WRITE)
        } else {
            prot.contains(Prot::READ)
        };
        if !ok {
            return Err(Errno::EFAULT);
        }
        match self.ptes.get(&page).copied() {
            Some(p) if write && !shared && self.physmem.frames().refcount(p.frame) > 1 => {
                self.break_cow(page, p)
            }
            Some(p) => Ok(p.frame),
            None => {
                let f = self.physmem.alloc(1).ok_or(Errno::ENOMEM)?.start;
                self.ptes.insert(page, Pte::new(f));
                Ok(f)
            }
        }
    }

    fn break_cow(&mut self, page: u64, old: Pte) -> Result<u64, Errno> {
        let new = self.physmem.alloc(1).ok_or(Errno::ENOMEM)?.start;
        let mut buf = vec![0u8; PAGE as usize];
        self.physmem.read_frame(old.frame, 0, &mut buf);
        self.physmem.write_frame(new, 0, &buf);
        self.ptes.insert(page, Pte::new(new));
        if old.mapped {
            self.log.push(HostCall::unmap(page, PAGE));
        }
        self.log.release(old.frame);
        Ok(new)
    }

    pub fn resident_pages(&self) -> u64 {
        self.ptes.len() as u64
    }

    /// The frame at `page`, if one was ever allocated.
    pub fn present_frame(&self, page: u64) -> Option<u64> {
        self.ptes.get(&page).map(|p| p.frame)
    }

    /// Puts a freshly filled frame at `page` (used by the ELF loader).
    pub fn install(&mut self, page: u64, frame: u64) {
        if let Some(old) = self.ptes.insert(page, Pte::new(frame)) {
            self.log.release(old.frame);
        }
    }

    /// Handles a guest page fault at `addr`; `not_present` when the stub had no
    /// mapping there (SEGV_MAPERR), which under CLONE_VM can happen to a page another
    /// stub of this vmspace has mapped.
    pub fn fault(&mut self, addr: u64, not_present: bool) -> FaultOutcome {
        let page = page_floor(addr);
        let Some(vma) = self.find_vma(page).cloned() else {
            return FaultOutcome::Segv(SEGV_MAPERR);
        };
        if vma.prot.is_empty() {
            return FaultOutcome::Segv(SEGV_ACCERR);
        }
        if page >= file_limit(&vma) {
            return FaultOutcome::Bus;
        }
        if let Some(p) = self.ptes.get(&page).copied() {
            if p.mapped && !not_present {
                return self.protection_fault(page, p, &vma);
            }
        }
        self.map_window(page, &vma)
    }

    /// A fault on a page the stub already maps. A write to a page mapped read-only
    /// in a writable VMA is copy-on-write (or a stale read-only mapping whose sharer
    /// has gone); anything else is a real violation.
    fn protection_fault(&mut self, page: u64, p: Pte, vma: &Vma) -> FaultOutcome {
        if !vma.prot.contains(Prot::WRITE) || p.writable {
            return FaultOutcome::Segv(SEGV_ACCERR);
        }
        if self.frame_for(page, true).is_err() {
            return FaultOutcome::Oom;
        }
        if let Some(p) = self.ptes.get_mut(&page) {
            // MAP_FIXED over the old mapping replaces it; no unmap needed.
            p.mapped = false;
        }
        self.map_window(page, vma)
    }

    /// fork: a copy of this address space sharing every frame copy-on-write. The
    /// parent's writable private pages are write-protected in its stub (queued), so
    /// the first write on either side copies.
    pub fn fork(&mut self) -> Vmspace {
        self.populate_shared();
        let mut child = Vmspace::new(self.physmem.clone());
        child.vmas = self.vmas.clone();
        child.brk_start = self.brk_start;
        child.brk = self.brk;
        child.stack_top = self.stack_top;
        for (&a, p) in &self.ptes {
            self.physmem.frames().get(p.frame);
            child.ptes.insert(a, Pte::new(p.frame));
        }
        let private_writable: Vec<Vma> = self
            .vmas
            .values()
            .filter(|v| !v.shared && v.prot.contains(Prot::WRITE))
            .cloned()
            .collect();
        for v in private_writable {
            self.write_protect(&v);
        }
        child
    }

    /// Shared mappings must have their frames before fork, or parent and child would
    /// each allocate a private frame for a page neither had touched yet. (Best effort:
    /// out of frames, those pages stay private.)
    fn populate_shared(&mut self) {
        let shared: Vec<(u64, u64)> = self
            .vmas
            .values()
            .filter(|v| v.shared)
            .map(|v| (v.start, v.end))
            .collect();
        for (start, end) in shared {
            let _ = self.populate(start, end, start);
        }
    }

    /// Queues mprotect(prot - WRITE) over the runs of pages the stub maps writable.
    /// Stubs sharing the vmspace (CLONE_VM) may each map a different subset of those
    /// pages, and mprotect fails on holes, so then the pages are unmapped instead.
    fn write_protect(&mut self, v: &Vma) {
        let prot = (v.prot - Prot::WRITE).bits() as i32;
        let unmap = self.log.spaces() > 1;
        let mut run: Option<(u64, u64)> = None;
        let pages: Vec<u64> = self
            .ptes
            .range(v.start..v.end)
            .filter(|(_, p)| p.mapped && p.writable)
            .map(|(&a, _)| a)
            .collect();
        for a in pages {
            if let Some(p) = self.ptes.get_mut(&a) {
                p.writable = false;
                p.mapped = !unmap;
            }
            run = match run {
                Some((s, e)) if e == a => Some((s, a + PAGE)),
                Some((s, e)) => {
                    self.log.push(write_protect_call(s, e, prot, unmap));
                    Some((a, a + PAGE))
                }
                None => Some((a, a + PAGE)),
            };
        }
        if let Some((s, e)) = run {
            self.log.push(write_protect_call(s, e, prot, unmap));
        }
    }

    /// The protection the stub may use for a frame: shared private frames are mapped
    /// read-only so the first write traps and copies.
    fn effective_prot(&self, vma: &Vma, frame: u64) -> Prot {
        if !vma.shared && self.physmem.frames().refcount(frame) > 1 {
            vma.prot - Prot::WRITE
        } else {
            vma.prot
        }
    }

    /// Maps a window of pages around `page` (within its VMA), allocating frames for
    /// untouched ones, and queues the host mmaps, merging physically contiguous runs.
    fn map_window(&mut self, page: u64, vma: &Vma) -> FaultOutcome {
        let lo = page_floor(page / PAGE / FAULT_WINDOW * FAULT_WINDOW * PAGE).max(vma.start);
        let hi = (lo + FAULT_WINDOW * PAGE).min(vma.end).min(file_limit(vma));
        if let Err(e) = self.populate(lo, hi, page) {
            return if e == Errno::ENOMEM {
                FaultOutcome::Oom
            } else {
                FaultOutcome::Segv(SEGV_MAPERR)
            };
        }
        let mut run: Option<(u64, u64, u64, Prot)> = None; // vaddr, frame, pages, prot
        for a in (lo..hi).step_by(PAGE as usize) {
            let Some(p) = self.ptes.get(&a).copied() else {
                continue;
            };
            if p.mapped && a != page {
                continue;
            }
            let prot = self.effective_prot(vma, p.frame);
            if let Some(p) = self.ptes.get_mut(&a) {
                p.mapped = true;
                p.writable = prot.contains(Prot::WRITE);
            }
            run = match run {
                Some((va, f, n, pr)) if va + n * PAGE == a && f + n == p.frame && pr == prot => {
                    Some((va, f, n + 1, pr))
                }
                other => {
                    self.flush_run(other);
                    Some((a, p.frame, 1, prot))
                }
            };
        }
        self.flush_run(run);
        FaultOutcome::Resolved
    }

    /// Gives every page of `[lo, hi)` a frame, contiguous where possible. Only the
    /// faulting page must succeed; the others are opportunistic.
    fn populate(&mut self, lo: u64, hi: u64, must: u64) -> Result<(), Errno> {
        let missing: Vec<u64> = (lo..hi)
            .step_by(PAGE as usize)
            .filter(|a| !self.ptes.contains_key(a))
            .collect();
        let mut i = 0;
        while i < missing.len() {
            let Some(run) = self.physmem.alloc((missing.len() - i) as u64) else {
                break;
            };
            for k in 0..run.len {
                self.ptes
                    .insert(missing[i + k as usize], Pte::new(run.start + k));
            }
            i += run.len as usize;
        }
        if self.ptes.contains_key(&must) {
            Ok(())
        } else {
            Err(Errno::ENOMEM)
        }
    }

    fn flush_run(&mut self, run: Option<(u64, u64, u64, Prot)>) {
        if let Some((va, frame, n, prot)) = run {
            let call = HostCall::map(
                &self.physmem,
                va,
                n * PAGE,
                prot.bits() as i32,
                frame * PAGE,
            );
            self.log.push(call);
        }
    }

    /// brk(2): moves the program break within [brk_start, ...). Returns the new break
    /// (the old one when the request cannot be met, as Linux does).
    pub fn set_brk(&mut self, want: u64) -> u64 {
        if want < self.brk_start {
            return self.brk;
        }
        let (Some(old_end), Some(new_end)) = (page_ceil(self.brk), page_ceil(want)) else {
            return self.brk;
        };
        if new_end > old_end {
            let grow = new_end - old_end;
            // The same overcommit heuristic as map(): what could never fit is refused.
            if grow > self.physmem.size()
                || !guest_range_ok(old_end, grow)
                || self.overlaps(old_end, new_end)
            {
                return self.brk;
            }
            self.extend_heap(old_end, new_end);
        } else if new_end < old_end && self.unmap(new_end, old_end - new_end).is_err() {
            return self.brk;
        }
        self.brk = want;
        self.brk
    }

    fn extend_heap(&mut self, old_end: u64, new_end: u64) {
        let heap = Vma {
            start: old_end,
            end: new_end,
            prot: Prot::READ | Prot::WRITE,
            shared: false,
            kind: VmaKind::Heap,
        };
        // Grow the existing heap VMA rather than adding a new one per brk call.
        let prev = self.vmas.range_mut(..old_end).next_back();
        match prev {
            Some((_, v)) if v.end == old_end && v.kind == VmaKind::Heap => v.end = new_end,
            _ => {
                self.vmas.insert(old_end, heap);
            }
        }
    }
}

/// A vmspace as a checkpoint saves it: the VMAs, the page table as guest page -> frame,
/// and the break and stack. What the stub maps is host state and is not saved: a
/// restored vmspace maps nothing in its new stub, and the guest's first touches fault
/// the pages back in. Host calls still queued for the old stub, and frames waiting for
/// them to run, are not saved either: those frames are referenced by no page table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedVmspace {
    pub vmas: Vec<Vma>,
    pub pages: BTreeMap<u64, u64>,
    pub brk_start: u64,
    pub brk: u64,
    pub stack_top: u64,
}

impl Vmspace {
    pub fn save(&self) -> SavedVmspace {
        SavedVmspace {
            vmas: self.vmas.values().cloned().collect(),
            pages: self.ptes.iter().map(|(&a, p)| (a, p.frame)).collect(),
            brk_start: self.brk_start,
            brk: self.brk,
            stack_top: self.stack_top,
        }
    }

    /// Rebuilds a saved vmspace on `physmem`, taking one frame reference
    /// ([`FrameAllocator::get`](vproc::FrameAllocator::get)) per page-table entry.
    ///
    /// The contract, so that frames shared by several vmspaces (fork's copy-on-write)
    /// end with the right reference counts whatever the order of the restores:
    /// 1. the caller first claims every frame the checkpoint saved
    ///    ([`FrameAllocator::claim`](vproc::FrameAllocator::claim), which sets each
    ///    count to 1: a temporary reference the caller holds);
    /// 2. it restores every vmspace (and every other holder of frame references), each
    ///    adding its own references;
    /// 3. it drops its temporary reference to every claimed frame
    ///    ([`Physmem::put`]).
    ///
    /// Each frame then has one reference per page-table entry naming it, across all
    /// vmspaces, and a claimed frame nobody names is freed. A page naming a frame
    /// outside physmem or one not claimed is a corrupt image (or a caller that skipped
    /// step 1): the error leaves every reference count as it was.
    pub fn restore(physmem: Arc<Physmem>, saved: SavedVmspace) -> Result<Vmspace, ckpt::CkptError> {
        let frames = physmem.frames();
        if let Some((&page, &frame)) = saved
            .pages
            .iter()
            .find(|(_, &f)| f >= frames.total() || frames.refcount(f) == 0)
        {
            return Err(ckpt::CkptError::Decode(format!(
                "page {page:#x} refers to frame {frame}, which the image does not hold"
            )));
        }
        let mut vm = Vmspace::new(physmem);
        vm.vmas = saved.vmas.into_iter().map(|v| (v.start, v)).collect();
        for (page, frame) in saved.pages {
            vm.physmem.frames().get(frame);
            vm.ptes.insert(page, Pte::new(frame));
        }
        vm.brk_start = saved.brk_start;
        vm.brk = saved.brk;
        vm.stack_top = saved.stack_top;
        Ok(vm)
    }
}

impl Drop for Vmspace {
    fn drop(&mut self) {
        for (_, p) in std::mem::take(&mut self.ptes) {
            self.physmem.put(p.frame);
        }
        self.log.release_all(&self.physmem);
    }
}

fn write_protect_call(start: u64, end: u64, prot: i32, unmap: bool) -> HostCall {
    if unmap {
        HostCall::unmap(start, end - start)
    } else {
        HostCall::protect(start, end - start, prot)
    }
}

/// The first address of a file VMA that lies wholly past the file's end.
fn file_limit(vma: &Vma) -> u64 {
    match &vma.kind {
        VmaKind::File {
            offset, file_end, ..
        } => page_ceil(*file_end)
            .and_then(|end| end.checked_sub(*offset))
            .and_then(|len| vma.start.checked_add(len))
            .unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
}

pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
/// Room kept free below the stack top for the stack to use (RLIMIT_STACK's default
/// 8 MiB plus Linux's guard gap).
pub const STACK_GAP: u64 = 8 * 1024 * 1024 + 256 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    const SPACE: SpaceId = 1;

    fn vm() -> Vmspace {
        Vmspace::new(Arc::new(Physmem::new(1024 * PAGE).unwrap()))
    }

    fn anon(prot: Prot) -> Vma {
        Vma {
            start: 0,
            end: 0,
            prot,
            shared: false,
            kind: VmaKind::Anon,
        }
    }

    #[test]
    fn map_places_top_down_and_faults_in_windows() {
        let mut v = vm();
        let a = v
            .map(0, 3 * PAGE, false, anon(Prot::READ | Prot::WRITE))
            .unwrap();
        assert_eq!(a + 3 * PAGE, GUEST_MMAP_TOP);
        assert_eq!(v.fault(a + PAGE + 5, false), FaultOutcome::Resolved);
        let calls = v.take_pending(SPACE);
        assert_eq!(calls.len(), 1, "3 fresh contiguous frames: one mmap");
        assert_eq!(calls[0].args[1], 3 * PAGE);
        assert_eq!(
            v.fault(a, false),
            FaultOutcome::Segv(SEGV_ACCERR),
            "mapped + writable = real"
        );
        assert_eq!(v.fault(a - PAGE, false), FaultOutcome::Segv(SEGV_MAPERR));
    }

    #[test]
    fn unmap_splits_and_releases_after_flush() {
        let mut v = vm();
        let pm = v.physmem().clone();
        let a = v
            .map(0, 4 * PAGE, false, anon(Prot::READ | Prot::WRITE))
            .unwrap();
        v.fault(a, false);
        v.take_pending(SPACE);
        let used = pm.used_bytes();
        v.unmap(a + PAGE, 2 * PAGE).unwrap();
        assert_eq!(v.vmas().count(), 2);
        assert_eq!(pm.used_bytes(), used, "frames held until the stub unmaps");
        assert_eq!(v.take_pending(SPACE).len(), 1);
        v.release_frames();
        assert_eq!(pm.used_bytes(), used - 2 * PAGE);
    }

    #[test]
    fn protect_requires_mapping_and_remaps_lazily() {
        let mut v = vm();
        let a = v.map(0, 2 * PAGE, false, anon(Prot::READ)).unwrap();
        assert_eq!(v.protect(a, 3 * PAGE, Prot::READ), Err(Errno::ENOMEM));
        v.protect(a, PAGE, Prot::READ | Prot::WRITE).unwrap();
        assert_eq!(v.find_vma(a).unwrap().prot, Prot::READ | Prot::WRITE);
        assert_eq!(v.find_vma(a + PAGE).unwrap().prot, Prot::READ);
    }

    #[test]
    fn brk_grows_and_shrinks() {
        let mut v = vm();
        v.brk_start = 0x60_0000;
        v.brk = 0x60_0000;
        assert_eq!(v.set_brk(0x60_2001), 0x60_2001);
        assert_eq!(v.find_vma(0x60_2000).unwrap().kind, VmaKind::Heap);
        assert_eq!(v.set_brk(0x60_1000), 0x60_1000);
        assert!(v.find_vma(0x60_1000).is_none());
        assert_eq!(v.set_brk(0x10), 0x60_1000, "below start: unchanged");
    }

    #[test]
    fn remap_moves_frames_without_copying() {
        let mut v = vm();
        let a = v
            .map(0x1000_0000, PAGE, true, anon(Prot::READ | Prot::WRITE))
            .unwrap();
        let f = v.frame_for(a, true).unwrap();
        v.map(a - PAGE, PAGE, true, anon(Prot::READ)).unwrap();
        v.map(a + PAGE, PAGE, true, anon(Prot::READ)).unwrap();
        let b = v.remap(a, PAGE, 2 * PAGE, true).unwrap();
        assert_ne!(a, b);
        assert_eq!(v.frame_for(b, false).unwrap(), f);
        assert!(v.find_vma(a).is_none());
    }

    #[test]
    fn a_second_stub_on_the_vmspace_faults_in_pages_the_first_maps() {
        let mut v = vm();
        let a = v
            .map(0, PAGE, false, anon(Prot::READ | Prot::WRITE))
            .unwrap();
        assert_eq!(v.fault(a, false), FaultOutcome::Resolved);
        v.take_pending(SPACE);
        v.join(SPACE + 1);
        // Mapped in the first stub, absent in the second: mapped again, not a SIGSEGV.
        assert_eq!(v.fault(a, true), FaultOutcome::Resolved);
        assert_eq!(v.take_pending(SPACE + 1).len(), 1);
        // fork now unmaps instead of write-protecting: the stubs' mappings differ.
        let _child = v.fork();
        for space in [SPACE, SPACE + 1] {
            let calls = v.take_pending(space);
            assert_eq!(calls.last().map(|c| c.nr), Some(libc::SYS_munmap as u64));
        }
    }

    #[test]
    fn fork_shares_frames_and_copies_on_write() {
        let mut parent = vm();
        let pm = parent.physmem().clone();
        let a = parent
            .map(0, PAGE, false, anon(Prot::READ | Prot::WRITE))
            .unwrap();
        assert_eq!(parent.fault(a, false), FaultOutcome::Resolved);
        parent.take_pending(SPACE);
        let f = parent.frame_for(a, false).unwrap();
        let mut child = parent.fork();
        assert_eq!(pm.frames().refcount(f), 2);
        let protect = parent.take_pending(SPACE);
        assert_eq!(
            protect.len(),
            1,
            "the parent's writable page is write-protected"
        );
        assert_eq!(protect[0].nr, libc::SYS_mprotect as u64);
        // The child reads first: the shared frame is mapped read-only.
        assert_eq!(child.fault(a, false), FaultOutcome::Resolved);
        assert_eq!(
            child.take_pending(SPACE)[0].args[2],
            (Prot::READ).bits() as u64
        );
        // The parent writes: a copy-on-write fault gives it a new frame.
        assert_eq!(parent.fault(a, false), FaultOutcome::Resolved);
        assert_ne!(parent.frame_for(a, false).unwrap(), f);
        parent.take_pending(SPACE);
        parent.release_frames();
        assert_eq!(pm.frames().refcount(f), 1);
        // The child writes: its frame is private now, so the mapping is just refreshed.
        assert_eq!(child.fault(a, false), FaultOutcome::Resolved);
        let remap = child.take_pending(SPACE);
        assert_eq!(remap[0].args[2], (Prot::READ | Prot::WRITE).bits() as u64);
        assert_eq!(child.frame_for(a, false).unwrap(), f, "no copy");
        assert_eq!(
            child.fault(a, false),
            FaultOutcome::Segv(SEGV_ACCERR),
            "now a real fault"
        );
    }

    #[test]
    fn overcommit_refuses_impossible_sizes() {
        let mut v = vm();
        assert_eq!(
            v.map(0, 2048 * PAGE, false, anon(Prot::READ)),
            Err(Errno::ENOMEM)
        );
    }

    fn round_trip(s: &SavedVmspace) -> SavedVmspace {
        let back = ckpt::decode(&ckpt::encode(s).unwrap()).unwrap();
        assert_eq!(&back, s);
        back
    }

    #[test]
    fn vmspace_round_trips_through_a_checkpoint() {
        let mut v = vm();
        let pm = v.physmem().clone();
        let rw = Prot::READ | Prot::WRITE;
        let text = Vma {
            kind: VmaKind::File {
                path: b"/bin/busybox".to_vec(),
                offset: 0x2000,
                file_end: u64::MAX,
            },
            ..anon(Prot::READ | Prot::EXEC)
        };
        v.map(0x40_0000, 2 * PAGE, true, text).unwrap();
        v.load_page(0x40_1000).unwrap();
        v.brk_start = 0x60_0000;
        v.brk = 0x60_0000;
        v.set_brk(0x60_2800);
        v.frame_for(0x60_0000, true).unwrap();
        let stack = Vma {
            kind: VmaKind::Stack,
            ..anon(rw)
        };
        v.stack_top = 0x7000_0000;
        v.map(0x7000_0000 - 4 * PAGE, 4 * PAGE, true, stack)
            .unwrap();
        v.frame_for(0x7000_0000 - PAGE, true).unwrap();
        let a = v.map(0, 3 * PAGE, false, anon(rw)).unwrap();
        assert_eq!(v.fault(a, false), FaultOutcome::Resolved);
        v.take_pending(SPACE);

        let saved = v.save();
        assert_eq!(saved.vmas.len(), 4);
        assert_eq!(saved.pages.len(), 6, "1 text + 1 heap + 1 stack + 3 anon");
        let mut r = Vmspace::restore(pm.clone(), round_trip(&saved)).unwrap();
        assert_eq!(r.save(), saved);
        assert!(saved.pages.values().all(|&f| pm.frames().refcount(f) == 2));
        // Nothing is mapped in the new stub: the first touch maps the window again.
        assert_eq!(r.fault(a, false), FaultOutcome::Resolved);
        assert_eq!(r.take_pending(SPACE).len(), 1);
        drop((v, r));
        assert_eq!(pm.used_bytes(), 0);
    }

    #[test]
    fn restore_gives_frames_shared_after_fork_their_reference_counts() {
        let mut parent = vm();
        let pm = parent.physmem().clone();
        let a = parent
            .map(0, 4 * PAGE, false, anon(Prot::READ | Prot::WRITE))
            .unwrap();
        assert_eq!(parent.fault(a, false), FaultOutcome::Resolved);
        parent.take_pending(SPACE);
        let child = parent.fork();
        parent.take_pending(SPACE);
        parent.frame_for(a, true).unwrap(); // copy-on-write: the parent's own copy
        parent.take_pending(SPACE);
        parent.release_frames();

        // The checkpoint: allocated frames and each vmspace, encoded.
        let runs = pm.frames().allocated_runs();
        let refs = |pm: &Physmem| -> Vec<u32> {
            let frames = runs.iter().flat_map(|r| r.start..r.start + r.len);
            frames.map(|f| pm.frames().refcount(f)).collect()
        };
        let before = refs(&pm);
        assert_eq!(before.iter().filter(|&&n| n == 2).count(), 3);
        let (sp, sc) = (round_trip(&parent.save()), round_trip(&child.save()));

        // The thaw, on a fresh physmem: claim, restore (in any order), drop the claim.
        let pm2 = Arc::new(Physmem::new(pm.size()).unwrap());
        assert!(
            Vmspace::restore(pm2.clone(), sc.clone()).is_err(),
            "frames must be claimed first"
        );
        for &r in &runs {
            assert!(pm2.frames().claim(r));
        }
        let child2 = Vmspace::restore(pm2.clone(), sc).unwrap();
        let parent2 = Vmspace::restore(pm2.clone(), sp).unwrap();
        for r in &runs {
            (r.start..r.start + r.len).for_each(|f| pm2.put(f));
        }
        assert_eq!(refs(&pm2), before);
        assert_eq!(pm2.used_bytes(), pm.used_bytes());
        drop((parent2, child2));
        assert_eq!(pm2.used_bytes(), 0);
    }
}
