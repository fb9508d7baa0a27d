//! Damaged images are refused with the right error and never crash the reader.

mod common;

use std::fs::{self, File};
use std::path::Path;

use ckpt::{CkptError, Image, ImageWriter};
use common::{find, flip, note_segment, Fixture, Rng};

fn write_big(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("ckpt.elf");
    Fixture::new(true).write(&path);
    path
}

/// The one-line message, checked to name the file.
fn message(err: &CkptError, path: &Path) -> String {
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(
        msg.starts_with(&path.display().to_string()),
        "names the file: {msg}"
    );
    msg
}

fn checksum_error(path: &Path) -> String {
    match Image::open(path) {
        Err(e @ CkptError::Checksum { .. }) => message(&e, path),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

#[test]
fn truncation_anywhere_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_big(dir.path());
    let img = Image::open(&path).unwrap();
    let size = img.file_size();
    let (notes_off, notes_len) = note_segment(&path);
    let mut cuts = vec![
        0,
        1,
        3,
        4,
        10,
        63,
        64,
        65,
        64 + 56 + 3,
        notes_off - 1,
        notes_off,
        notes_off + 1,
    ];
    cuts.extend([
        notes_off + 13,
        notes_off + notes_len / 2,
        notes_off + notes_len - 1,
        notes_off + notes_len,
    ]);
    for seg in img.loads() {
        cuts.extend([
            seg.offset,
            seg.offset + 1,
            seg.offset + seg.len / 2,
            seg.offset + seg.len - 1,
        ]);
    }
    cuts.extend((0..size).step_by(65_537));
    cuts.retain(|&c| c < size);
    cuts.sort_unstable();
    cuts.dedup();
    drop(img);

    // Cut from the end backwards, shrinking one file in place.
    let file = File::options().write(true).open(&path).unwrap();
    let loads = Image::open(&path).unwrap().loads().to_vec();
    for &cut in cuts.iter().rev() {
        file.set_len(cut).unwrap();
        let err = Image::open(&path).expect_err(&format!("cut at {cut} must fail"));
        let msg = message(&err, &path);
        match &err {
            CkptError::NotElf { .. } => assert!(cut < 4, "cut at {cut}: {msg}"),
            CkptError::Truncated { .. } => {}
            other => panic!("cut at {cut}: expected Truncated, got {other:?}"),
        }
        // The message names the part that is cut short.
        if let Some(k) = loads
            .iter()
            .position(|l| l.offset < cut && cut < l.offset + l.len)
        {
            assert!(
                msg.contains(&format!("PT_LOAD {k} ends at")),
                "cut at {cut}: {msg}"
            );
            assert!(msg.contains(&format!("file has {cut} bytes")), "{msg}");
        } else if cut > notes_off && cut < notes_off + notes_len {
            assert!(msg.contains("PT_NOTE ends at"), "cut at {cut}: {msg}");
        } else if (64..64 + 56 * (loads.len() as u64 + 1)).contains(&cut) {
            assert!(msg.contains("program headers"), "cut at {cut}: {msg}");
        }
    }
}

#[test]
fn flipped_byte_in_a_load_names_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_big(dir.path());
    let seg = *Image::open(&path)
        .unwrap()
        .loads()
        .iter()
        .find(|l| l.paddr == 0x20_0000)
        .unwrap();
    for at in [
        seg.offset,
        seg.offset + seg.len / 2 + 7,
        seg.offset + seg.len - 1,
    ] {
        flip(&path, at);
        let msg = checksum_error(&path);
        assert!(
            msg.ends_with("checksum mismatch in PT_LOAD at 0x200000"),
            "{msg}"
        );
        flip(&path, at);
    }
    Image::open(&path).unwrap();
}

#[test]
fn flipped_byte_in_a_note_names_the_note() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::new(true);
    let path = dir.path().join("ckpt.elf");
    fx.write(&path);
    let network = &fx.notes[4].2; // 4097 bytes, VKERNEL network
    let at = find(&path, &network[..32]) + 4000;
    flip(&path, at);
    let msg = checksum_error(&path);
    assert!(
        msg.ends_with("checksum mismatch in note 5 (VKERNEL network)"),
        "{msg}"
    );
    flip(&path, at);

    // The owner name is covered too, not only the descriptor.
    let (notes_off, _) = note_segment(&path);
    let at = notes_off + 12; // first byte of the header note's name
    flip(&path, at);
    assert!(Image::open(&path).is_err());
    flip(&path, at);
    Image::open(&path).unwrap();
}

#[test]
fn flipped_byte_in_the_header_note_is_a_checksum_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_big(dir.path());
    let at = find(&path, common::VERSION_STRING.as_bytes()) + 3;
    flip(&path, at);
    let msg = checksum_error(&path);
    assert!(msg.ends_with("checksum mismatch in header note"), "{msg}");
}

#[test]
fn flipped_byte_in_program_headers_or_table_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_big(dir.path());
    // p_flags of the second PT_LOAD: structurally fine, caught by the header checksum.
    let at = 64 + 56 * 2 + 4;
    flip(&path, at);
    assert!(checksum_error(&path).ends_with("checksum mismatch in ELF header and program headers"));
    flip(&path, at);
    // e_ident padding: not validated by structure, still covered.
    flip(&path, 12);
    assert!(checksum_error(&path).ends_with("ELF header and program headers"));
    flip(&path, 12);
    // A hash inside the checksum table (the last bytes of the note segment).
    let (off, len) = note_segment(&path);
    flip(&path, off + len - 20);
    assert!(checksum_error(&path).ends_with("checksum mismatch in checksum note"));
    flip(&path, off + len - 20);
    Image::open(&path).unwrap();
}

#[test]
fn nonzero_padding_and_trailing_bytes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_big(dir.path());
    let (off, len) = note_segment(&path);
    flip(&path, off + len + 1); // padding before the first PT_LOAD
    assert!(matches!(
        Image::open(&path),
        Err(CkptError::Malformed { .. })
    ));
    flip(&path, off + len + 1);
    let size = fs::metadata(&path).unwrap().len();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(size + 1)
        .unwrap();
    assert!(matches!(
        Image::open(&path),
        Err(CkptError::Malformed { .. })
    ));
}

/// The strongest property: in a small image, changing any single byte is detected.
/// The image is tiny but has every kind of part: headers, the header note, CORE and
/// VKERNEL notes, padding after the notes and between loads, two loads, the table.
#[test]
fn every_single_byte_flip_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.elf");
    let data = Rng::new(5).bytes(96);
    let mut w = ImageWriter::new(&common::header());
    w.add_note(
        ckpt::OWNER_VKERNEL,
        ckpt::note_type::KERNEL,
        vec![1, 2, 3, 4, 5],
    );
    let (pid, rip, rsp) = common::THREADS[0];
    let prstatus = ckpt::prstatus_desc(pid, 1, pid, 1, &common::regs(rip, rsp), 0);
    w.add_note(ckpt::OWNER_CORE, ckpt::NT_PRSTATUS, prstatus);
    w.add_load(0x1000, &data[..64]);
    w.add_load(0x5000, &data[64..]);
    let size = w.write_atomic(&path).unwrap();
    for at in 0..size {
        flip(&path, at);
        if let Ok(img) = Image::open(&path) {
            panic!(
                "flip at byte {at} of {size} went unnoticed ({} loads)",
                img.loads().len()
            );
        }
        flip(&path, at);
    }
    Image::open(&path).unwrap();
}

#[test]
fn wrong_format_version_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.elf");
    let own = ckpt::FORMAT_VERSION;
    for found in [0, own - 1, own + 1, u32::MAX] {
        let mut header = common::header();
        header.format_version = found;
        ImageWriter::new(&header).write_atomic(&path).unwrap();
        match Image::open(&path) {
            Err(e @ CkptError::Version { .. }) => {
                let msg = message(&e, &path);
                assert!(
                    msg.ends_with(&format!(
                        "image format version {found}, this vkernel reads version {own}"
                    )),
                    "{msg}"
                );
            }
            other => panic!("version {found}: expected a version error, got {other:?}"),
        }
    }
}

#[test]
fn garbage_and_other_elf_files_are_not_elf_cores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage");
    let mut rng = Rng::new(99);
    for len in [0, 1, 3, 4, 63, 64, 65, 1000, 100_000] {
        fs::write(&path, rng.bytes(len)).unwrap();
        match Image::open(&path) {
            Err(e @ CkptError::NotElf { .. }) => {
                let msg = message(&e, &path);
                assert!(msg.contains("not an ELF core file"), "{msg}");
            }
            other => panic!("{len} random bytes: {other:?}"),
        }
    }
    // This test's own executable is an ELF file, but not a core.
    let exe = std::env::current_exe().unwrap();
    let err = Image::open(&exe).unwrap_err();
    assert!(matches!(err, CkptError::NotElf { .. }), "{err}");
    assert!(err.to_string().contains("not ET_CORE"), "{err}");
    // A missing file is an I/O error naming the file.
    let missing = dir.path().join("missing.elf");
    let err = Image::open(&missing).unwrap_err();
    assert!(matches!(err, CkptError::Io { .. }));
    message(&err, &missing);
}
