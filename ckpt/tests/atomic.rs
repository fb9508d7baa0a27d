//! write_atomic never destroys the previous image and never leaves a temporary file.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ckpt::{CkptError, Image, ImageWriter};
use common::Fixture;

/// Names of the entries of a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn replaces_the_previous_image_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    Fixture::new(false).write(&path);
    let first = fs::read(&path).unwrap();
    Fixture::new(true).write(&path);
    assert_eq!(entries(dir.path()), ["ckpt.elf"]);
    assert_ne!(fs::read(&path).unwrap(), first);
    assert_eq!(Image::open(&path).unwrap().loads().len(), 4);
}

#[test]
fn invalid_input_leaves_the_previous_image_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.elf");
    Fixture::new(false).write(&path);
    let before = fs::read(&path).unwrap();
    let data = [0u8; 8192];
    let mut w = ImageWriter::new(&common::header());
    w.add_load(0, &data);
    w.add_load(4096, &data);
    assert!(matches!(w.write_atomic(&path), Err(CkptError::Invalid(_))));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), ["ckpt.elf"]);
}

#[test]
fn missing_directory_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/ckpt.elf");
    let err = Fixture::new(false)
        .writer()
        .write_atomic(&path)
        .unwrap_err();
    assert!(matches!(err, CkptError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
}

/// A tmpfs mounted for the test, unmounted on drop (even when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A real ENOSPC in the middle of a write: the old image survives, intact and readable,
/// and the partial temporary file is gone.
#[test]
fn enospc_keeps_the_previous_image() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&mnt, "1m") else {
        eprintln!("cannot mount a tmpfs here (not root?): skipping the ENOSPC test");
        return;
    };
    let path = mnt.join("ckpt.elf");
    Fixture::new(false).write(&path);
    let before = fs::read(&path).unwrap();

    let err = Fixture::new(true).writer().write_atomic(&path).unwrap_err(); // 3 MiB into 1 MiB
    match &err {
        CkptError::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(28), "{err}"),
        other => panic!("expected ENOSPC, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with(&path.display().to_string()) && !msg.contains('\n'),
        "{msg}"
    );

    assert_eq!(entries(&mnt), ["ckpt.elf"], "temporary file removed");
    assert_eq!(fs::read(&path).unwrap(), before, "previous image untouched");
    Image::open(&path).unwrap();
}
