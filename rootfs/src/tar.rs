//! tar images (ustar, GNU, pax), parsed with the `tar` crate.
//!
//! Only headers are read at open time; the crate seeks over file data, and a regular
//! file's data is recorded as the byte range `raw_file_position() .. + size` of the
//! image. GNU long names and pax `path`/`linkpath`/`size`/`uid`/`gid` are applied by the
//! crate; pax `mtime` is applied here. Sparse files are refused: their data is not one
//! contiguous range.

use std::fs::File;
use std::io::{self, Read};

use crate::error::{show, Problem};
use crate::tree::{normalize, Tree};
use crate::{DataRef, Entry, EntryKind};

const BLOCK: usize = 512;
/// Bytes 148..156 of a header hold its checksum.
const CKSUM_RANGE: std::ops::Range<usize> = 148..156;

/// True if `head` starts with a tar header whose checksum is valid. An all-zero block
/// (an empty archive) is not accepted: it is indistinguishable from a blank file.
pub(crate) fn has_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..BLOCK) else {
        return false;
    };
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if CKSUM_RANGE.contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    tar::Header::from_byte_slice(block).cksum().ok() == Some(sum)
}

/// Lists every member of the tar image `file` (`file_len` bytes long).
pub(crate) fn read_entries(file: &File, file_len: u64) -> Result<Vec<Entry>, Problem> {
    let mut archive = tar::Archive::new(file);
    let mut tree = Tree::new();
    let mut last: Option<(u64, Vec<u8>)> = None;
    for member in archive.entries_with_seek().map_err(tar_problem)? {
        let mut member = member.map_err(tar_problem)?;
        last = Some((member_end(&member), member.path_bytes().into_owned()));
        add_member(&mut tree, &mut member, file_len)?;
    }
    if let Some((end, name)) = last {
        check_end_marker(end, file_len, &name)?;
    }
    tree.finish()
}

/// Offset just past a member's data (padded to a block), where the next header or the
/// end-of-archive marker starts.
fn member_end<R: Read>(member: &tar::Entry<'_, R>) -> u64 {
    let block = BLOCK as u64;
    member
        .raw_file_position()
        .saturating_add(member.size())
        .saturating_add(block - 1)
        / block
        * block
}

/// The `tar` crate takes the end of the file for the end of the archive. Every writer
/// ends an archive with zero blocks, so their absence means the image was cut short at
/// a member boundary, losing the members that followed.
fn check_end_marker(end: u64, file_len: u64, last_name: &[u8]) -> Result<(), Problem> {
    if file_len.saturating_sub(end) < BLOCK as u64 {
        return Err(Problem::Truncated(format!(
            "tar archive ends after entry '{}' without an end-of-archive marker",
            show(last_name)
        )));
    }
    Ok(())
}

/// Classifies an error of the `tar` crate: OS errors stay I/O errors, a header cut
/// short is truncation, anything else is a malformed archive.
fn tar_problem(err: io::Error) -> Problem {
    let message = err.to_string();
    if err.raw_os_error().is_some() {
        Problem::Io(err)
    } else if err.kind() == io::ErrorKind::UnexpectedEof || message.contains("entire block") {
        Problem::Truncated(format!("tar header cut short: {message}"))
    } else {
        Problem::corrupt(format!("tar: {message}"))
    }
}

/// What a member's pax extended header says beyond what the `tar` crate applies.
#[derive(Default)]
struct Pax {
    mtime: Option<i64>,
    sparse: bool,
}

fn read_pax<R: Read>(member: &mut tar::Entry<'_, R>) -> Result<Pax, Problem> {
    let mut pax = Pax::default();
    let Some(extensions) = member.pax_extensions().map_err(tar_problem)? else {
        return Ok(pax);
    };
    for extension in extensions {
        let extension = extension.map_err(tar_problem)?;
        match extension.key_bytes() {
            b"mtime" => pax.mtime = Some(parse_pax_time(extension.value_bytes())?),
            key if key.starts_with(b"GNU.sparse.") => pax.sparse = true,
            _ => {}
        }
    }
    Ok(pax)
}

/// Parses a pax time ("1700000000", "1700000000.5", "-1.25") to whole seconds, rounding
/// down like `stat` does for times before the epoch.
fn parse_pax_time(value: &[u8]) -> Result<i64, Problem> {
    let bad = || Problem::corrupt(format!("bad pax mtime '{}'", show(value)));
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: i64 = whole.parse().map_err(|_| bad())?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let has_fraction = fraction.bytes().any(|b| b != b'0');
    if whole.starts_with('-') && has_fraction {
        return seconds.checked_sub(1).ok_or_else(bad);
    }
    Ok(seconds)
}

/// Metadata common to all member types.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

fn read_meta(header: &tar::Header, pax: &Pax, name: &[u8]) -> Result<Meta, Problem> {
    let bad = |what: &str| Problem::corrupt(format!("tar entry '{}' has a bad {what}", show(name)));
    let old = header.as_old();
    let mode = number(&old.mode, header.mode()).ok_or_else(|| bad("mode"))?;
    let uid = number(&old.uid, header.uid()).ok_or_else(|| bad("uid"))?;
    let gid = number(&old.gid, header.gid()).ok_or_else(|| bad("gid"))?;
    let mtime = match pax.mtime {
        Some(mtime) => mtime,
        // Base-256 encoded negative times come back as huge u64s: reinterpret.
        None => number(&old.mtime, header.mtime()).ok_or_else(|| bad("mtime"))? as i64,
    };
    Ok(Meta {
        mode: mode & 0o7777,
        uid: u32::try_from(uid).map_err(|_| bad("uid"))?,
        gid: u32::try_from(gid).map_err(|_| bad("gid"))?,
        mtime,
    })
}

/// A numeric header field as the `tar` crate parsed it, except that a blank field (all
/// NULs or spaces) means 0: writers, the `tar` crate among them, leave unused fields
/// blank, and GNU tar reads them as 0.
fn number<T: Default>(raw: &[u8], parsed: io::Result<T>) -> Option<T> {
    if raw.iter().all(|&b| b == 0 || b == b' ') {
        Some(T::default())
    } else {
        parsed.ok()
    }
}

/// Adds one archive member to the tree (or skips it if it carries no file).
fn add_member<R: Read>(
    tree: &mut Tree,
    member: &mut tar::Entry<'_, R>,
    file_len: u64,
) -> Result<(), Problem> {
    let name = member.path_bytes().into_owned();
    let typeflag = member.header().entry_type().as_byte();
    if is_ignored(typeflag) {
        return Ok(());
    }
    let pax = read_pax(member)?;
    if typeflag == b'S' || pax.sparse {
        return Err(Problem::Unsupported(format!(
            "tar entry '{}' is a sparse file",
            show(&name)
        )));
    }
    let path = normalize(&name)?;
    if typeflag == b'1' {
        return add_hard_link(tree, path, member, &name);
    }
    let meta = read_meta(member.header(), &pax, &name)?;
    let (kind, size) = member_kind(member, typeflag, &name, file_len)?;
    let key = tree.new_key();
    tree.insert(Entry {
        path,
        key,
        kind,
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        mtime: meta.mtime,
        size,
    });
    Ok(())
}

/// Members that describe no file: pax global headers, GNU volume labels, and
/// extension headers the crate left alone because they sit in pre-POSIX headers.
fn is_ignored(typeflag: u8) -> bool {
    matches!(typeflag, b'g' | b'V' | b'x' | b'L' | b'K')
}

/// Decodes the file type of a non-link member, with the entry's size.
fn member_kind<R: Read>(
    member: &tar::Entry<'_, R>,
    typeflag: u8,
    name: &[u8],
    file_len: u64,
) -> Result<(EntryKind, u64), Problem> {
    let kind = match typeflag {
        b'2' => {
            let target = symlink_target(member, name)?;
            let len = target.len() as u64;
            return Ok((EntryKind::Symlink(target), len));
        }
        b'3' => {
            let (major, minor) = device(member.header(), name)?;
            EntryKind::CharDevice { major, minor }
        }
        b'4' => {
            let (major, minor) = device(member.header(), name)?;
            EntryKind::BlockDevice { major, minor }
        }
        // 'D' is a GNU incremental-dump directory; its data (a name list) is ignored.
        b'5' | b'D' => EntryKind::Directory,
        b'6' => EntryKind::Fifo,
        b'M' | b'N' => {
            return Err(Problem::Unsupported(format!(
                "tar entry '{}' uses GNU multi-volume or old long-name type '{}'",
                show(name),
                typeflag as char
            )))
        }
        // '0', '\0', '7' (contiguous) and, as POSIX says, any unknown type: a regular file.
        _ => return regular(member, name, file_len),
    };
    Ok((kind, 0))
}

fn regular<R: Read>(
    member: &tar::Entry<'_, R>,
    name: &[u8],
    file_len: u64,
) -> Result<(EntryKind, u64), Problem> {
    let offset = member.raw_file_position();
    let size = member.size();
    let end = offset.saturating_add(size);
    if end > file_len {
        return Err(Problem::Truncated(format!(
            "tar entry '{}' needs {} bytes past end of file",
            show(name),
            end - file_len
        )));
    }
    Ok((EntryKind::Regular(DataRef::bytes(offset, size)), size))
}

fn symlink_target<R: Read>(member: &tar::Entry<'_, R>, name: &[u8]) -> Result<Vec<u8>, Problem> {
    match member.link_name_bytes() {
        Some(target) if !target.is_empty() => Ok(target.into_owned()),
        _ => Err(Problem::corrupt(format!(
            "tar symlink '{}' has no target",
            show(name)
        ))),
    }
}

/// Offsets of the device number fields, the same in ustar and GNU headers.
const DEV_MAJOR: std::ops::Range<usize> = 329..337;
const DEV_MINOR: std::ops::Range<usize> = 337..345;

fn device(header: &tar::Header, name: &[u8]) -> Result<(u32, u32), Problem> {
    let bad = || {
        Problem::corrupt(format!(
            "tar device '{}' has a bad device number",
            show(name)
        ))
    };
    let raw = header.as_bytes();
    let major = number(
        raw.get(DEV_MAJOR).unwrap_or_default(),
        header.device_major(),
    );
    let minor = number(
        raw.get(DEV_MINOR).unwrap_or_default(),
        header.device_minor(),
    );
    Ok((
        major.ok_or_else(bad)?.unwrap_or(0),
        minor.ok_or_else(bad)?.unwrap_or(0),
    ))
}

/// A hard link member names an earlier member; the link becomes another name of that
/// file (same key, data and metadata), as extraction would make it.
fn add_hard_link<R: Read>(
    tree: &mut Tree,
    path: Vec<u8>,
    member: &tar::Entry<'_, R>,
    name: &[u8],
) -> Result<(), Problem> {
    let raw_target = member.link_name_bytes().unwrap_or_default().into_owned();
    let target_path = normalize(&raw_target)?;
    let missing = || {
        Problem::corrupt(format!(
            "tar hard link '{}' points to '{}', which is not an earlier file of the archive",
            show(name),
            show(&raw_target)
        ))
    };
    let target = tree.get(&target_path).ok_or_else(missing)?;
    if target.kind == EntryKind::Directory {
        return Err(missing());
    }
    let link = Entry {
        path,
        ..target.clone()
    };
    tree.insert(link);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, Expect};
    use crate::{open, Format, ImageError};
    use std::process::Command;

    fn gnu_tar(src: &std::path::Path, out: &std::path::Path, format: &str) {
        let status = Command::new("tar")
            .arg(format!("--format={format}"))
            .arg("-C")
            .arg(src)
            .arg("-cf")
            .arg(out)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn reads_gnu_tar_of_fixture() {
        for format in ["gnu", "pax", "ustar"] {
            let dir = tempfile::tempdir().unwrap();
            let src = dir.path().join("src");
            let fixture = testutil::build_fixture(&src, format != "ustar");
            let img = dir.path().join("rootfs.img");
            gnu_tar(&src, &img, format);
            let image = open(&img).unwrap();
            assert_eq!(image.format(), Format::Tar);
            testutil::check_image(&image, &fixture, Expect::archive());
        }
    }

    #[test]
    fn pax_times_and_big_ids() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let file = src.join("f");
        std::fs::write(&file, b"x").unwrap();
        // Too large for the 7 octal digits of a ustar uid field: pax stores it.
        std::os::unix::fs::chown(&file, Some(3_000_000), Some(4_000_000)).unwrap();
        let img = dir.path().join("a.tar");
        gnu_tar(&src, &img, "pax");
        let image = open(&img).unwrap();
        let entry = testutil::find(&image, b"/f");
        assert_eq!((entry.uid, entry.gid), (3_000_000, 4_000_000));
    }

    #[test]
    fn parses_pax_times() {
        assert_eq!(parse_pax_time(b"1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_pax_time(b"1700000000.999").unwrap(), 1_700_000_000);
        assert_eq!(parse_pax_time(b"-1.5").unwrap(), -2);
        assert_eq!(parse_pax_time(b"-3.000").unwrap(), -3);
        assert!(parse_pax_time(b"soon").is_err());
        assert!(parse_pax_time(b"1.2x").is_err());
    }

    #[test]
    fn hard_links_share_key_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.tar");
        let mut builder = tar::Builder::new(File::create(&img).unwrap());
        testutil::append_file(&mut builder, "a/target", b"shared data", 0o640);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Link);
        header.set_size(0);
        builder
            .append_link(&mut header, "b/link", "a/target")
            .unwrap();
        builder.into_inner().unwrap();

        let image = open(&img).unwrap();
        let target = testutil::find(&image, b"/a/target");
        let link = testutil::find(&image, b"/b/link");
        assert_eq!(target.key, link.key);
        assert_eq!(target.kind, link.kind);
        assert_eq!(link.mode, 0o640);
        assert_eq!(testutil::read_all(&image, link), b"shared data");
        // "/b" was not in the archive: synthesized.
        assert_eq!(testutil::find(&image, b"/b").mode, 0o755);
    }

    #[test]
    fn hard_link_to_missing_file_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.tar");
        let mut builder = tar::Builder::new(File::create(&img).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Link);
        header.set_size(0);
        builder.append_link(&mut header, "link", "nowhere").unwrap();
        builder.into_inner().unwrap();
        let err = open(&img).err().unwrap();
        assert!(matches!(err, ImageError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn escaping_paths_are_clamped_and_duplicates_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.tar");
        let mut raw = Vec::new();
        raw.extend(testutil::raw_tar_header(
            b"../../etc/passwd",
            b'0',
            b"first",
        ));
        raw.extend(testutil::raw_tar_header(b"/etc/passwd", b'0', b"second!"));
        raw.extend([0u8; 1024]);
        std::fs::write(&img, raw).unwrap();
        let image = open(&img).unwrap();
        let paths: Vec<&[u8]> = image.entries().iter().map(|e| &e.path[..]).collect();
        assert_eq!(paths, vec![&b"/"[..], b"/etc", b"/etc/passwd"]);
        let passwd = testutil::find(&image, b"/etc/passwd");
        assert_eq!(testutil::read_all(&image, passwd), b"second!");
    }

    #[test]
    fn truncated_data_names_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("rootfs.img");
        let data = testutil::pattern(3000);
        testutil::make_tar_with(&img, &[("bin/ls", &data[..])]);
        let full = std::fs::read(&img).unwrap();
        std::fs::write(&img, &full[..512 + 1000]).unwrap();
        let err = open(&img).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: truncated (tar entry 'bin/ls' needs 2000 bytes past end of file)",
                img.display()
            )
        );
    }

    #[test]
    fn missing_end_marker_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.tar");
        testutil::make_tar_with(&img, &[("a", b"1"), ("b", b"2")]);
        let full = std::fs::read(&img).unwrap();
        // Cut right after the first member: "b" and the end marker are gone.
        std::fs::write(&img, &full[..1024]).unwrap();
        let err = open(&img).err().unwrap();
        assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("after entry 'a'"), "{err}");
    }

    #[test]
    fn sparse_files_are_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let sparse = std::fs::File::create(src.join("sparse")).unwrap();
        sparse.set_len(1 << 20).unwrap();
        drop(sparse);
        let img = dir.path().join("a.tar");
        let status = Command::new("tar")
            .args(["--sparse", "-C"])
            .arg(&src)
            .arg("-cf")
            .arg(&img)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        let err = open(&img).err().unwrap();
        assert!(matches!(err, ImageError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("sparse"), "{err}");
    }

    #[test]
    fn recognizes_tar_header_checksum() {
        let header = testutil::raw_tar_header(b"f", b'0', b"");
        assert!(has_header(&header));
        let mut bad = header.clone();
        bad[0] ^= 1;
        assert!(!has_header(&bad));
        assert!(!has_header(&[0; 512]));
        assert!(!has_header(&header[..511]));
    }
}
