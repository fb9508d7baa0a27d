//! Shared fixtures for the integration tests: a deterministic image with notes of awkward
//! sizes, two threads' CORE notes and several loads, plus a tiny PRNG (no rand crate).
#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;

use ckpt::{
    note_type, prstatus_desc, user_regs, Header, ImageWriter, NT_PRFPREG, NT_PRSTATUS,
    NT_X86_XSTATE, OWNER_CORE, OWNER_VKERNEL,
};

/// xorshift64*: deterministic pseudo-random bytes for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

pub const VERSION_STRING: &str = "vkernel-test 0.1.0 (abcdef0)";

pub fn header() -> Header {
    Header {
        format_version: ckpt::FORMAT_VERSION,
        vkernel_version: VERSION_STRING.into(),
        cpu_features: vec![0x1789_3fbf_bfeb_fbff, 0x7, u64::MAX],
        rootfs_identity: b"size=1048576 xxh3=0123456789abcdef".to_vec(),
        created_secs: 1_700_000_000,
        created_nanos: 123_456_789,
    }
}

/// Registers of a thread whose rip is `rip`.
pub fn regs(rip: u64, rsp: u64) -> [u64; 27] {
    let mut r: [u64; 27] = std::array::from_fn(|i| 0x1000 + i as u64);
    r[user_regs::RIP] = rip;
    r[user_regs::RSP] = rsp;
    r[user_regs::CS] = 0x33;
    r[user_regs::SS] = 0x2b;
    r[user_regs::EFLAGS] = 0x246;
    r
}

/// Everything that goes into a test image, owned so loads can borrow it.
pub struct Fixture {
    pub header: Header,
    pub notes: Vec<(String, u32, Vec<u8>)>,
    pub loads: Vec<(u64, Vec<u8>)>,
}

pub const THREADS: [(i32, u64, u64); 2] = [
    (42, 0x401000, 0x7ffe_0000_1000),
    (43, 0x402abc, 0x7ffe_0000_9000),
];

/// An XSAVE area readers accept: legacy region, XSAVE header, AVX; XCR0 = x87|SSE|AVX
/// in the software-reserved bytes where gdb looks for it.
fn xstate() -> Vec<u8> {
    let mut x = vec![0u8; 832];
    x[464..472].copy_from_slice(&7u64.to_le_bytes());
    x[512..520].copy_from_slice(&7u64.to_le_bytes()); // XSTATE_BV
    x
}

impl Fixture {
    /// The main test image. `big` adds a 3 MiB load.
    pub fn new(big: bool) -> Fixture {
        let mut rng = Rng::new(7);
        let mut notes = Vec::new();
        for (ntype, len) in [
            (note_type::KERNEL, 0),
            (note_type::VMSPACE, 1),
            (note_type::VMSPACE, 3),
            (note_type::CONSOLE, 5),
            (note_type::NETWORK, 4097),
        ] {
            notes.push((OWNER_VKERNEL.to_string(), ntype, rng.bytes(len)));
        }
        for (i, (pid, rip, rsp)) in THREADS.into_iter().enumerate() {
            let signo = if i == 0 { 19 } else { 0 };
            notes.push((
                OWNER_CORE.into(),
                NT_PRSTATUS,
                prstatus_desc(pid, 1, 42, 1, &regs(rip, rsp), signo),
            ));
            notes.push((OWNER_CORE.into(), NT_PRFPREG, rng.bytes(512)));
            notes.push((OWNER_CORE.into(), NT_X86_XSTATE, xstate()));
            notes.push((OWNER_VKERNEL.into(), note_type::THREAD, rng.bytes(37 + i)));
        }
        let mut loads = vec![
            (0x0, rng.bytes(8192)),
            (0x10_0000, rng.bytes(100)),
            (0x8000, rng.bytes(4096 * 3)),
        ];
        if big {
            loads.push((0x20_0000, rng.bytes(3 << 20)));
        }
        Fixture {
            header: header(),
            notes,
            loads,
        }
    }

    pub fn writer(&self) -> ImageWriter<'_> {
        let mut w = ImageWriter::new(&self.header);
        for (owner, ntype, desc) in &self.notes {
            w.add_note(owner, *ntype, desc.clone());
        }
        for (paddr, data) in &self.loads {
            w.add_load(*paddr, data);
        }
        w
    }

    pub fn write(&self, path: &Path) -> u64 {
        self.writer().write_atomic(path).expect("write image")
    }
}

/// Offset and length of the PT_NOTE segment, read straight from the first program header.
pub fn note_segment(path: &Path) -> (u64, u64) {
    let bytes = fs::read(path).unwrap();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    (word(64 + 8), word(64 + 32))
}

/// File offset of the first occurrence of `needle`.
pub fn find(path: &Path, needle: &[u8]) -> u64 {
    let bytes = fs::read(path).unwrap();
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in file") as u64
}

/// XORs one byte of the file in place (calling it twice restores it).
pub fn flip(path: &Path, at: u64) {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x40;
    f.write_all_at(&b, at).unwrap();
}
