//! Standard tools read the image: readelf lists the segments and every note, with the sizes
//! we wrote and no complaint about alignment, and gdb (when installed) finds each thread's
//! registers in NT_PRSTATUS.

mod common;

use std::path::Path;
use std::process::Command;

use ckpt::{note_type_name, Image, OWNER_VKERNEL};
use common::{Fixture, THREADS};

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not hex: {s}"))
}

fn readelf(path: &Path) -> String {
    let out = Command::new("readelf")
        .args(["-h", "-l", "-n", "--wide"])
        .arg(path)
        .output()
        .expect("readelf (binutils) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "readelf failed: {stderr}");
    assert!(stderr.trim().is_empty(), "readelf complained: {stderr}");
    for word in ["Warning", "warning", "Error", "error", "corrupt"] {
        assert!(!stdout.contains(word), "readelf says {word}:\n{stdout}");
    }
    stdout
}

#[test]
fn readelf_reads_header_segments_and_notes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    Fixture::new(true).write(&path);
    let img = Image::open(&path).unwrap();
    let out = readelf(&path);

    assert!(out.contains("CORE (Core file)"), "{out}");
    assert!(out.contains("Advanced Micro Devices X86-64"), "{out}");

    // Program headers, one line each with --wide:
    // Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg Align
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| matches!(w.first(), Some(&"NOTE") | Some(&"LOAD")) && w.len() >= 7)
        .collect();
    let (notes, loads): (Vec<_>, Vec<_>) = rows.iter().partition(|w| w[0] == "NOTE");
    assert_eq!(notes.len(), 1, "one PT_NOTE:\n{out}");
    assert_eq!(loads.len(), img.loads().len(), "{out}");
    for (w, seg) in loads.iter().zip(img.loads()) {
        assert_eq!(hex(w[1]), seg.offset, "offset of {seg:?}");
        assert_eq!(hex(w[2]), seg.paddr, "vaddr of {seg:?}");
        assert_eq!(
            (hex(w[4]), hex(w[5])),
            (seg.len, seg.len),
            "sizes of {seg:?}"
        );
        assert_eq!((w[6], w[7]), ("RW", "0x1000"), "flags and align of {seg:?}");
        assert_eq!(hex(w[1]) % 4096, 0);
    }

    // Notes: readelf must walk every entry (4-byte padding) and agree on owner and size.
    let listed: Vec<(String, u64, String)> = out
        .lines()
        .skip_while(|l| !l.contains("Owner") || !l.contains("Data size"))
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (owner, size) = (w.next()?, w.next()?);
            size.starts_with("0x")
                .then(|| (owner.to_string(), hex(size), l.to_string()))
        })
        .collect();
    let ours: Vec<_> = img.notes().collect();
    assert_eq!(listed.len(), ours.len(), "readelf lists every note:\n{out}");
    for ((owner, size, line), note) in listed.iter().zip(&ours) {
        assert_eq!(
            (owner.as_str(), *size),
            (note.owner, note.desc.len() as u64),
            "{line}"
        );
        match note_type_name(note.owner, note.ntype) {
            Some("NT_PRSTATUS") => {
                assert!(line.contains("NT_PRSTATUS (prstatus structure)"), "{line}")
            }
            Some("NT_PRFPREG") => assert!(line.contains("NT_FPREGSET"), "{line}"),
            Some("NT_X86_XSTATE") => assert!(line.contains("NT_X86_XSTATE"), "{line}"),
            _ => assert_eq!(note.owner, OWNER_VKERNEL),
        }
        if note.owner == OWNER_VKERNEL {
            assert!(
                line.contains(&format!("0x{:08x}", note.ntype)),
                "type shown: {line}"
            );
        }
    }
    let prstatus = listed
        .iter()
        .filter(|(_, _, l)| l.contains("NT_PRSTATUS (prstatus structure)"));
    assert_eq!(prstatus.count(), THREADS.len());
}

/// gdb can open a core without an executable; when it is installed, it must find both
/// threads and the rip each one stopped at.
#[test]
fn gdb_reads_thread_registers() {
    if Command::new("gdb").arg("--version").output().is_err() {
        eprintln!("gdb not installed: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    Fixture::new(false).write(&path);
    let out = Command::new("gdb")
        .args(["-batch", "-nx", "-c"])
        .arg(&path)
        .args([
            "-ex",
            "info threads",
            "-ex",
            "info registers rip",
            "-ex",
            "thread 2",
            "-ex",
            "info registers rip",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let rips: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("rip"))
        .filter_map(|rest| rest.split_whitespace().next().map(hex))
        .collect();
    if rips.is_empty() {
        eprintln!("gdb could not load the core without an executable: skipping\n{text}");
        return;
    }
    let want: Vec<u64> = THREADS.iter().map(|t| t.1).collect();
    assert_eq!(rips, want, "{text}");
    for (pid, _, _) in THREADS {
        assert!(
            text.contains(&format!("LWP {pid}")),
            "thread {pid} listed:\n{text}"
        );
    }
}
