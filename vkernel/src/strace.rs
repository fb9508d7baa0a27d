//! `--strace`: every guest system call with decoded arguments and result, on stderr.

use crate::mm::{GuestPtr, UserMem, Vmspace};
use crate::process::Shared;
use crate::task::Task;

/// The guest's memory as the strace formatter reads it.
struct Mem<'a>(&'a Shared<Vmspace>);

impl abi::GuestMemory for Mem<'_> {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut vm = self.0.lock();
        vm.read_bytes(GuestPtr(addr), &mut buf).ok()?;
        Some(buf)
    }

    fn read_cstr(&self, addr: u64, max: usize) -> Option<(Vec<u8>, bool)> {
        let mut vm = self.0.lock();
        match vm.read_cstr(GuestPtr(addr), max) {
            Ok(s) => Some((s, false)),
            Err(nix::errno::Errno::ENAMETOOLONG) => {
                let mut buf = vec![0u8; max];
                vm.read_bytes(GuestPtr(addr), &mut buf).ok()?;
                Some((buf, true))
            }
            Err(_) => None,
        }
    }
}

/// Formats the call before it runs (its input arguments may change or vanish).
pub fn entry(task: &Task, nr: u64, args: &[u64; 6]) -> String {
    abi::format_entry(nr, args, &Mem(&task.process.mm))
}

pub fn exit(task: &Task, nr: u64, args: &[u64; 6], ret: i64, entry: &str) {
    let tail = abi::format_exit(nr, args, ret, &Mem(&task.process.mm));
    eprintln!("[pid {}] {entry}{tail}", task.tid);
}
