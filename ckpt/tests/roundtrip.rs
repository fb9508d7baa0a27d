//! Write an image, open it, and get back exactly what went in.

mod common;

use ckpt::{
    decode, encode, note_type, prstatus_regs, CkptError, Image, ImageWriter, NT_PRSTATUS,
    OWNER_CORE, OWNER_VKERNEL,
};
use common::{Fixture, THREADS};
use std::io::Cursor;
use xxhash_rust::xxh3::xxh3_64;

/// An in-memory stream to write an image to.
fn sink() -> Cursor<Vec<u8>> {
    Cursor::new(Vec::new())
}

#[test]
fn round_trip_preserves_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    let fx = Fixture::new(true);
    let written = fx.write(&path);
    let img = Image::open(&path).unwrap();

    assert_eq!(img.header(), &fx.header);
    assert_eq!(written, img.file_size());
    assert_eq!(written, std::fs::metadata(&path).unwrap().len());

    // Notes: the header first, the caller's in order, the checksum table last.
    let notes: Vec<_> = img.notes().collect();
    assert_eq!(notes.len(), fx.notes.len() + 2);
    assert_eq!(
        (notes[0].owner, notes[0].ntype),
        (OWNER_VKERNEL, note_type::HEADER)
    );
    let last = notes[notes.len() - 1];
    assert_eq!(
        (last.owner, last.ntype),
        (OWNER_VKERNEL, note_type::CHECKSUMS)
    );
    for (got, (owner, ntype, desc)) in notes[1..].iter().zip(&fx.notes) {
        assert_eq!(
            (got.owner, got.ntype, got.desc),
            (owner.as_str(), *ntype, desc.as_slice())
        );
    }
    assert_eq!(
        img.find_note(OWNER_VKERNEL, note_type::VMSPACE),
        Some(&[fx.notes[1].2[0]][..])
    );
    assert_eq!(
        img.find_note(OWNER_VKERNEL, note_type::KERNEL),
        Some(&[][..])
    );
    assert_eq!(img.find_note("NOBODY", 1), None);

    // Registers of both threads come back through the standard prstatus layout.
    let threads: Vec<_> = img
        .notes()
        .filter(|n| n.owner == OWNER_CORE && n.ntype == NT_PRSTATUS)
        .map(|n| prstatus_regs(n.desc).unwrap())
        .collect();
    assert_eq!(threads.len(), 2);
    for ((pid, regs), (want_pid, rip, rsp)) in threads.iter().zip(THREADS) {
        assert_eq!(*pid, want_pid);
        assert_eq!(*regs, common::regs(rip, rsp));
    }

    // Loads: same extents, page-aligned in the file, same bytes.
    assert_eq!(img.loads().len(), fx.loads.len());
    for (seg, (paddr, data)) in img.loads().iter().zip(&fx.loads) {
        assert_eq!((seg.paddr, seg.len), (*paddr, data.len() as u64));
        assert_eq!(
            seg.offset % 4096,
            0,
            "PT_LOAD at 0x{paddr:x} offset {}",
            seg.offset
        );
        let mut buf = vec![0; data.len()];
        img.read_load(seg, &mut buf).unwrap();
        assert!(buf == *data, "contents of PT_LOAD at 0x{paddr:x}");
    }
}

#[test]
fn every_load_offset_is_page_aligned_whatever_the_note_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let data = vec![0x5au8; 5000];
    for extra in [0usize, 1, 2, 3, 4, 4095, 4096, 4097] {
        let path = dir.path().join(format!("img{extra}"));
        let mut w = ImageWriter::new(&common::header());
        w.add_note(OWNER_VKERNEL, note_type::KERNEL, vec![1; extra]);
        w.add_load(0x1000, &data[..4096]);
        w.add_load(0x3000, &data[..extra.min(5000)]);
        w.add_load(0x10000, &data);
        w.write_atomic(&path).unwrap();
        let img = Image::open(&path).unwrap();
        assert!(
            img.loads().iter().all(|l| l.offset % 4096 == 0),
            "{:?}",
            img.loads()
        );
    }
}

#[test]
fn write_to_and_write_atomic_produce_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    let fx = Fixture::new(true);
    fx.write(&path);
    // After a prefix: the checksum table is patched in relative to the image's start,
    // and the stream is left at the image's end.
    let mut streamed = Cursor::new(b"prefix".to_vec());
    streamed.set_position(6);
    let n = fx.writer().write_to(&mut streamed).unwrap();
    assert_eq!(streamed.position(), 6 + n);
    assert!(streamed.get_ref()[6..] == std::fs::read(&path).unwrap());
}

/// The exact bytes of the big fixture image: the one-pass writer writes what the
/// two-pass writer before it did, so images written before and after read the same.
/// Change them only with the fixture or with [`ckpt::FORMAT_VERSION`] (last: 3, the
/// kernel note's network setup).
#[test]
fn image_bytes_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    Fixture::new(true).write(&path);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        (bytes.len(), xxh3_64(&bytes)),
        (3_182_592, 0x902c_eb9d_147a_ce43)
    );
}

#[test]
fn empty_image_has_only_header_and_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.elf");
    ImageWriter::new(&common::header())
        .write_atomic(&path)
        .unwrap();
    let img = Image::open(&path).unwrap();
    assert_eq!(img.notes().count(), 2);
    assert!(img.loads().is_empty());
}

#[test]
fn more_than_65534_segments_use_extended_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.elf");
    let data = [0xabu8; 4096];
    let mut w = ImageWriter::new(&common::header());
    let count = 70_000u64;
    for i in 0..count {
        // Empty extents keep the file small; three real ones check the offsets.
        let len = if i % 30_000 == 0 { 4096 } else { 0 };
        w.add_load(i * 4096, &data[..len]);
    }
    w.write_atomic(&path).unwrap();
    let img = Image::open(&path).unwrap();
    assert_eq!(img.loads().len() as u64, count);
    let full: Vec<_> = img.loads().iter().filter(|l| l.len > 0).collect();
    assert_eq!(full.len(), 3);
    for seg in full {
        let mut buf = [0u8; 4096];
        img.read_load(seg, &mut buf).unwrap();
        assert_eq!(buf, data);
    }
    let out = std::process::Command::new("readelf")
        .arg("-h")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(70001)"),
        "readelf -h should show the real count:\n{text}"
    );
}

#[test]
fn writer_refuses_what_the_reader_would_refuse() {
    let data = [0u8; 8192];
    let invalid = |w: ImageWriter| matches!(w.write_to(sink()), Err(CkptError::Invalid(_)));

    let mut w = ImageWriter::new(&common::header());
    w.add_load(0x1000, &data);
    w.add_load(0x2000, &data[..4096]);
    assert!(invalid(w), "overlapping loads");

    let mut w = ImageWriter::new(&common::header());
    w.add_load(u64::MAX - 10, &data);
    assert!(invalid(w), "wrapping load");

    for ntype in [note_type::HEADER, note_type::CHECKSUMS] {
        let mut w = ImageWriter::new(&common::header());
        w.add_note(OWNER_VKERNEL, ntype, vec![]);
        assert!(invalid(w), "reserved note 0x{ntype:x}");
    }

    let mut w = ImageWriter::new(&common::header());
    w.add_note("BAD\0NAME", 1, vec![]);
    assert!(invalid(w), "NUL in owner");

    // Adjacent extents and empty extents are fine.
    let mut w = ImageWriter::new(&common::header());
    w.add_load(0x1000, &data[..4096]);
    w.add_load(0x2000, &data[..4096]);
    w.add_load(0x1800, &data[..0]);
    assert!(w.write_to(sink()).is_ok());
}

#[test]
fn read_load_checks_buffer_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    let fx = Fixture::new(false);
    fx.write(&path);
    let img = Image::open(&path).unwrap();
    let seg = img.loads()[0];
    let mut small = vec![0; seg.len as usize - 1];
    assert!(matches!(
        img.read_load(&seg, &mut small),
        Err(CkptError::Invalid(_))
    ));
    let mut tail = [0u8; 16];
    img.read_load_at(&seg, seg.len - 16, &mut tail).unwrap();
    assert_eq!(tail[..], fx.loads[0].1[fx.loads[0].1.len() - 16..]);
    assert!(img.read_load_at(&seg, seg.len - 15, &mut tail).is_err());
    assert!(img.read_load_at(&seg, u64::MAX, &mut tail).is_err());
}

#[test]
fn kernel_state_round_trips_through_a_note() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Proc {
        pid: i32,
        cwd: String,
        fds: Vec<(i32, u64)>,
        umask: Option<u32>,
    }
    let state = vec![
        Proc {
            pid: 1,
            cwd: "/".into(),
            fds: vec![(0, 1), (1, 1)],
            umask: Some(0o22),
        },
        Proc {
            pid: 7,
            cwd: "/tmp".into(),
            fds: vec![],
            umask: None,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    let mut w = ImageWriter::new(&common::header());
    w.add_note(OWNER_VKERNEL, note_type::KERNEL, encode(&state).unwrap());
    w.write_atomic(&path).unwrap();
    let img = Image::open(&path).unwrap();
    let back: Vec<Proc> = decode(img.find_note(OWNER_VKERNEL, note_type::KERNEL).unwrap()).unwrap();
    assert_eq!(back, state);
    // The wrong type is an error, not a panic.
    assert!(
        decode::<Vec<String>>(img.find_note(OWNER_VKERNEL, note_type::KERNEL).unwrap()).is_err()
    );
}
