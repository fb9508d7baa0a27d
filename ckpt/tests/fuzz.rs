//! Fuzz-ish: the reader must return an error, never panic or allocate without bound,
//! whatever the file holds.

mod common;

use std::fs;
use std::path::Path;

use ckpt::Image;
use common::{Fixture, Rng};

/// Opens the file; only the absence of a panic is checked.
fn open(path: &Path) -> bool {
    Image::open(path).is_ok()
}

#[test]
fn random_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random");
    let mut rng = Rng::new(1);
    for i in 0..500 {
        let len = rng.below(if i % 10 == 0 { 20_000 } else { 300 }) as usize;
        let mut bytes = rng.bytes(len);
        if i % 2 == 0 && len >= 20 {
            // A valid-looking ELF64 core x86-64 identity gets past the first checks.
            bytes[..20].copy_from_slice(&[
                0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 62, 0,
            ]);
        }
        fs::write(&path, &bytes).unwrap();
        assert!(!open(&path), "random file {i} accepted");
    }
}

/// Starts from a valid image and scribbles over header fields, lengths and offsets with
/// extreme values: every size and offset the reader trusts comes from here.
#[test]
fn mutated_images_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.elf");
    Fixture::new(false).write(&good);
    let original = fs::read(&good).unwrap();
    let (notes_off, notes_len) = common::note_segment(&good);
    let path = dir.path().join("mutant.elf");
    let mut rng = Rng::new(2);
    let extremes = [
        0u64,
        1,
        3,
        0xfff,
        0x1000,
        0xffff,
        0xffff_ffff,
        1 << 32,
        u64::MAX,
        u64::MAX - 7,
    ];
    for _ in 0..3000 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(3) {
            // Aim at the headers and the note segment most of the time.
            let region = match rng.below(4) {
                0 => 0..64 + 56 * 4,
                1 => notes_off..notes_off + notes_len,
                2 => notes_off..notes_off + 64,
                _ => 0..bytes.len() as u64,
            };
            let at = (region.start + rng.below(region.end - region.start)) as usize;
            let width = [1usize, 2, 4, 8][rng.below(4) as usize];
            let value = if rng.below(2) == 0 {
                extremes[rng.below(10) as usize]
            } else {
                rng.next()
            };
            let end = (at + width).min(bytes.len());
            bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
        }
        if rng.below(8) == 0 {
            bytes.truncate(rng.below(bytes.len() as u64) as usize);
        }
        fs::write(&path, &bytes).unwrap();
        open(&path);
    }
}

/// Hand-made worst cases for allocation: counts and sizes that would need terabytes.
#[test]
fn huge_claimed_sizes_are_refused_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.elf");
    Fixture::new(false).write(&good);
    let original = fs::read(&good).unwrap();
    let path = dir.path().join("huge.elf");
    let patch = |at: usize, v: &[u8]| {
        let mut b = original.clone();
        b[at..at + v.len()].copy_from_slice(v);
        fs::write(&path, b).unwrap();
        Image::open(&path).unwrap_err()
    };
    // e_phnum = PN_XNUM with section header 0 at offset 0: sh_info is read from the
    // ELF header bytes; whatever it says must be bounds-checked.
    patch(56, &0xffffu16.to_le_bytes());
    // PT_NOTE p_filesz = 2^62.
    patch(64 + 32, &(1u64 << 62).to_le_bytes());
    // PT_LOAD p_offset near 2^64 (overflow on offset + size).
    patch(64 + 56 + 8, &(u64::MAX - 4095).to_le_bytes());
}
