//! Guest memory: vmspaces (VMAs + page tables of physmem frames) and copy-in/copy-out.

mod hostlog;
mod uaccess;
mod vmspace;

pub use hostlog::SpaceId;
pub use uaccess::{as_bytes, GuestPtr, Pod, UserMem};
pub use vmspace::{FaultOutcome, Prot, SavedVmspace, Vma, VmaKind, Vmspace, SEGV_MAPERR};

pub const PAGE: u64 = vproc::PAGE_SIZE;

pub fn page_floor(a: u64) -> u64 {
    a & !(PAGE - 1)
}

/// Rounds up to a page boundary; None on overflow.
pub fn page_ceil(a: u64) -> Option<u64> {
    a.checked_add(PAGE - 1).map(page_floor)
}

/// /proc/<pid>/maps text, total mapped bytes and resident bytes.
pub fn maps_text(vm: &Vmspace) -> (String, u64, u64) {
    use std::fmt::Write;
    let mut s = String::new();
    let mut total = 0;
    for v in vm.vmas() {
        total += v.end - v.start;
        let perm = |p: Prot, c: char| if v.prot.contains(p) { c } else { '-' };
        let (off, name) = match &v.kind {
            VmaKind::File { path, offset, .. } => {
                (*offset, String::from_utf8_lossy(path).into_owned())
            }
            VmaKind::Heap => (0, "[heap]".into()),
            VmaKind::Stack => (0, "[stack]".into()),
            VmaKind::Anon => (0, String::new()),
        };
        let _ = writeln!(
            s,
            "{:08x}-{:08x} {}{}{}{} {:08x} 00:00 0 {}",
            v.start,
            v.end,
            perm(Prot::READ, 'r'),
            perm(Prot::WRITE, 'w'),
            perm(Prot::EXEC, 'x'),
            if v.shared { 's' } else { 'p' },
            off,
            name
        );
    }
    (s, total, vm.resident_pages() * PAGE)
}
