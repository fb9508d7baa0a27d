//! The initial process stack, laid out as Linux's exec does:
//!
//! ```text
//! stack_top -> [ execfn | "x86_64" | 16 random bytes | argv strings | envp strings ]
//!              [ padding to 16 ]
//!              [ auxv pairs ... AT_NULL ] [ NULL ] [ envp ptrs ] [ NULL ] [ argv ptrs ]
//! rsp ->       [ argc ]
//! ```

use nix::errno::Errno;

use super::ElfImage;
use crate::mm::{GuestPtr, Prot, UserMem, Vma, VmaKind, Vmspace};

/// Stack size reserved for the initial thread (RLIMIT_STACK's default).
pub const STACK_SIZE: u64 = 8 * 1024 * 1024;
/// Linux's limit on argv + envp (a quarter of the stack, at most).
const MAX_ARG_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Credentials {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

pub struct StackInfo {
    pub sp: u64,
}

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;

/// Creates the stack VMA below `top` and writes the initial frame into it.
pub fn build_stack(
    vm: &mut Vmspace,
    top: u64,
    img: &ElfImage,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    creds: Credentials,
) -> Result<StackInfo, Errno> {
    let total: usize = argv.iter().chain(envp).map(|s| s.len() + 1).sum();
    if total > MAX_ARG_BYTES {
        return Err(Errno::E2BIG);
    }
    let prot = if img.exec_stack {
        Prot::all()
    } else {
        Prot::READ | Prot::WRITE
    };
    let vma = Vma {
        start: 0,
        end: 0,
        prot,
        shared: false,
        kind: VmaKind::Stack,
    };
    vm.map(top - STACK_SIZE, STACK_SIZE, true, vma)?;
    vm.stack_top = top;
    let mut w = Writer { vm, sp: top };
    let execfn_at = w.push_str(execfn)?;
    let platform_at = w.push_str(b"x86_64")?;
    let random_at = w.push_bytes(&random16())?;
    let argv_at: Vec<u64> = argv
        .iter()
        .map(|s| w.push_str(s))
        .collect::<Result<_, _>>()?;
    let envp_at: Vec<u64> = envp
        .iter()
        .map(|s| w.push_str(s))
        .collect::<Result<_, _>>()?;
    let auxv = [
        (AT_PHDR, img.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, img.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, img.entry),
        (AT_UID, u64::from(creds.uid)),
        (AT_EUID, u64::from(creds.euid)),
        (AT_GID, u64::from(creds.gid)),
        (AT_EGID, u64::from(creds.egid)),
        (AT_SECURE, 0),
        (AT_RANDOM, random_at),
        (AT_HWCAP, hwcap()),
        (AT_HWCAP2, 0),
        (AT_CLKTCK, 100),
        (AT_EXECFN, execfn_at),
        (AT_PLATFORM, platform_at),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u64> = vec![argv.len() as u64];
    words.extend(&argv_at);
    words.push(0);
    words.extend(&envp_at);
    words.push(0);
    for (k, v) in auxv {
        words.extend([k, v]);
    }
    // rsp must be 16-byte aligned at argc.
    w.sp &= !15;
    if words.len() % 2 == 1 {
        w.sp -= 8;
    }
    let bytes: Vec<u8> = words.iter().flat_map(|x| x.to_le_bytes()).collect();
    let sp = w.push_bytes(&bytes)?;
    Ok(StackInfo { sp })
}

struct Writer<'a> {
    vm: &'a mut Vmspace,
    sp: u64,
}

impl Writer<'_> {
    fn push_bytes(&mut self, b: &[u8]) -> Result<u64, Errno> {
        self.sp -= b.len() as u64;
        self.vm.write_bytes(GuestPtr(self.sp), b)?;
        Ok(self.sp)
    }

    fn push_str(&mut self, s: &[u8]) -> Result<u64, Errno> {
        let mut v = s.to_vec();
        v.push(0);
        self.push_bytes(&v)
    }
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    // getrandom(2) on a 16-byte buffer does not fail short; on error keep zeros.
    crate::host::fill_random(&mut b);
    b
}

/// CPUID leaf 1 EDX, which Linux passes as AT_HWCAP on x86.
fn hwcap() -> u64 {
    let r = std::arch::x86_64::__cpuid(1);
    u64::from(r.edx)
}
