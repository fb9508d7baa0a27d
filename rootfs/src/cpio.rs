//! cpio images in "newc" format (magic 070701, and 070702 whose checksums are not
//! verified).
//!
//! Each member is a 110-byte header of ASCII-hex fields, the NUL-terminated name padded
//! to a multiple of 4, then the data padded to a multiple of 4; "TRAILER!!!" ends the
//! archive. Like the Linux initramfs loader, further archives concatenated after the
//! trailer (optionally separated by NUL padding) are read too.
//!
//! Hard links: members of one file share (dev, ino) with nlink > 1 and only one of them
//! (the last, as GNU cpio and busybox write them) carries the data. All of them become
//! one key with that member's data and metadata.

use std::collections::HashMap;
use std::fs::File;

use crate::error::{show, Problem};
use crate::read_full_at;
use crate::tree::{normalize, Tree};
use crate::{DataRef, Entry, EntryKind};

const HEADER_LEN: usize = 110;
const TRAILER: &[u8] = b"TRAILER!!!";
/// Longer names are certainly not paths (Linux PATH_MAX is 4096).
const MAX_NAME: u32 = 64 * 1024;
/// Symlink targets longer than a page cannot exist on Linux.
const MAX_TARGET: u32 = 4096;

/// True if `head` starts with a newc or newc-with-checksum magic.
pub(crate) fn has_magic(head: &[u8]) -> bool {
    head.starts_with(b"070701") || head.starts_with(b"070702")
}

/// The numeric fields of a newc header, in on-disk order after the magic.
#[derive(Debug, Clone, Copy)]
struct Header {
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
    devmajor: u32,
    devminor: u32,
    rdevmajor: u32,
    rdevminor: u32,
    namesize: u32,
}

/// One archive member, decoded but not yet turned into an entry.
struct Member {
    name: Vec<u8>,
    header: Header,
    data_offset: u64,
    /// Which of several concatenated archives it came from: hard-link groups do not
    /// span archives.
    archive: u32,
}

fn parse_header(bytes: &[u8], at: u64) -> Result<Header, Problem> {
    if !has_magic(bytes) {
        return Err(Problem::corrupt(format!(
            "no cpio header magic at byte {at}"
        )));
    }
    let mut fields = [0u32; 13];
    for (i, field) in fields.iter_mut().enumerate() {
        let start = 6 + 8 * i;
        let digits = bytes.get(start..start + 8).unwrap_or_default();
        *field = parse_hex(digits).ok_or_else(|| {
            Problem::corrupt(format!(
                "bad cpio header field at byte {}",
                at + start as u64
            ))
        })?;
    }
    let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, _check] =
        fields;
    Ok(Header {
        ino,
        mode,
        uid,
        gid,
        nlink,
        mtime,
        filesize,
        devmajor,
        devminor,
        rdevmajor,
        rdevminor,
        namesize,
    })
}

/// Parses exactly eight hex digits.
fn parse_hex(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16)
        .ok()
        .filter(|_| !text.starts_with('+'))
}

fn align4(offset: u64) -> u64 {
    offset.saturating_add(3) & !3
}

/// Sequential reader over the members of the image.
struct Reader<'a> {
    file: &'a File,
    file_len: u64,
}

impl Reader<'_> {
    /// Reads exactly `len` bytes at `at`, or reports what needed them.
    fn read_exact(
        &self,
        at: u64,
        len: usize,
        what: impl Fn() -> String,
    ) -> Result<Vec<u8>, Problem> {
        let end = at.saturating_add(len as u64);
        if end > self.file_len {
            return Err(Problem::Truncated(format!(
                "{} needs {} bytes past end of file",
                what(),
                end - self.file_len
            )));
        }
        let mut buf = vec![0u8; len];
        if read_full_at(self.file, &mut buf, at)? < len {
            return Err(Problem::Truncated(format!("{} was cut short", what())));
        }
        Ok(buf)
    }

    /// Decodes the member at `at`; returns it and the offset of the next header.
    fn member(&self, at: u64, archive: u32) -> Result<(Member, u64), Problem> {
        let raw = self.read_exact(at, HEADER_LEN, || format!("cpio header at byte {at}"))?;
        let header = parse_header(&raw, at)?;
        let name = self.name(at, &header)?;
        let data_offset = align4(at + HEADER_LEN as u64 + u64::from(header.namesize));
        let data_end = data_offset + u64::from(header.filesize);
        if data_end > self.file_len {
            return Err(Problem::Truncated(format!(
                "cpio entry '{}' needs {} bytes past end of file",
                show(&name),
                data_end - self.file_len
            )));
        }
        let member = Member {
            name,
            header,
            data_offset,
            archive,
        };
        Ok((member, align4(data_end)))
    }

    fn name(&self, at: u64, header: &Header) -> Result<Vec<u8>, Problem> {
        if header.namesize == 0 || header.namesize > MAX_NAME {
            return Err(Problem::corrupt(format!(
                "cpio header at byte {at} has a bad name size {}",
                header.namesize
            )));
        }
        let what = || format!("cpio name at byte {}", at + HEADER_LEN as u64);
        let mut name = self.read_exact(at + HEADER_LEN as u64, header.namesize as usize, what)?;
        if name.pop() != Some(0) || name.contains(&0) {
            return Err(Problem::corrupt(format!(
                "{} is not NUL-terminated",
                what()
            )));
        }
        Ok(name)
    }

    /// After a trailer ending at `end`: the offset of a further concatenated archive,
    /// or `None` if only NUL padding (or nothing, or trailing junk) follows.
    fn next_archive(&self, end: u64) -> Result<Option<u64>, Problem> {
        let mut at = align4(end);
        let mut chunk = vec![0u8; 4096];
        while at < self.file_len {
            let n = read_full_at(self.file, &mut chunk, at)?;
            let got = chunk.get(..n).unwrap_or_default();
            if n == 0 {
                break;
            }
            if let Some(skip) = got.iter().position(|&b| b != 0) {
                let start = at + skip as u64;
                let rest = got.get(skip..).unwrap_or_default();
                return Ok((start & 3 == 0 && rest.starts_with(b"07070")).then_some(start));
            }
            at += n as u64;
        }
        Ok(None)
    }
}

/// Lists every member of the cpio image `file` (`file_len` bytes long).
pub(crate) fn read_entries(file: &File, file_len: u64) -> Result<Vec<Entry>, Problem> {
    let members = read_members(&Reader { file, file_len })?;
    build_tree(&members, file)
}

fn read_members(reader: &Reader<'_>) -> Result<Vec<Member>, Problem> {
    let mut members = Vec::new();
    let mut at = 0;
    let mut archive = 0;
    loop {
        if at >= reader.file_len {
            return Err(Problem::Truncated(
                "cpio archive ends without a TRAILER!!! record".to_string(),
            ));
        }
        let (member, next) = reader.member(at, archive)?;
        if member.name != TRAILER {
            members.push(member);
            at = next;
            continue;
        }
        match reader.next_archive(next)? {
            Some(start) => {
                at = start;
                archive += 1;
            }
            None => return Ok(members),
        }
    }
}

/// Identity of a hard-linked file within the image.
type LinkId = (u32, u32, u32, u32);

fn link_id(member: &Member) -> Option<LinkId> {
    let h = &member.header;
    let is_regular = h.mode & S_IFMT == S_IFREG;
    (is_regular && h.nlink > 1).then_some((member.archive, h.devmajor, h.devminor, h.ino))
}

/// For every hard-link group, the index of the member carrying its data: the last one
/// with data, or the last one if the file is empty.
fn link_carriers(members: &[Member]) -> HashMap<LinkId, usize> {
    let mut carriers: HashMap<LinkId, usize> = HashMap::new();
    for (i, member) in members.iter().enumerate() {
        let Some(id) = link_id(member) else { continue };
        let has_data = member.header.filesize > 0;
        carriers
            .entry(id)
            .and_modify(|best| {
                let best_has_data = members.get(*best).is_some_and(|m| m.header.filesize > 0);
                if has_data || !best_has_data {
                    *best = i;
                }
            })
            .or_insert(i);
    }
    carriers
}

fn build_tree(members: &[Member], file: &File) -> Result<Vec<Entry>, Problem> {
    let carriers = link_carriers(members);
    let mut keys: HashMap<LinkId, u64> = HashMap::new();
    let mut tree = Tree::new();
    for member in members {
        let id = link_id(member);
        let source = id
            .and_then(|id| carriers.get(&id))
            .and_then(|&i| members.get(i))
            .unwrap_or(member);
        let key = match id {
            Some(id) => *keys.entry(id).or_insert_with(|| tree.new_key()),
            None => tree.new_key(),
        };
        let (kind, size) = member_kind(source, file)?;
        let h = &source.header;
        tree.insert(Entry {
            path: normalize(&member.name)?,
            key,
            kind,
            mode: h.mode & 0o7777,
            uid: h.uid,
            gid: h.gid,
            mtime: i64::from(h.mtime),
            size,
        });
    }
    tree.finish()
}

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;

/// Decodes a member's file type, with the entry's size.
fn member_kind(member: &Member, file: &File) -> Result<(EntryKind, u64), Problem> {
    let h = &member.header;
    let size = u64::from(h.filesize);
    let kind = match h.mode & S_IFMT {
        S_IFREG => {
            return Ok((
                EntryKind::Regular(DataRef::bytes(member.data_offset, size)),
                size,
            ))
        }
        S_IFLNK => return Ok((EntryKind::Symlink(symlink_target(member, file)?), size)),
        S_IFDIR => EntryKind::Directory,
        S_IFCHR => EntryKind::CharDevice {
            major: h.rdevmajor,
            minor: h.rdevminor,
        },
        S_IFBLK => EntryKind::BlockDevice {
            major: h.rdevmajor,
            minor: h.rdevminor,
        },
        S_IFIFO => EntryKind::Fifo,
        S_IFSOCK => EntryKind::Socket,
        other => {
            return Err(Problem::corrupt(format!(
                "cpio entry '{}' has unknown file type {other:#o}",
                show(&member.name)
            )))
        }
    };
    Ok((kind, 0))
}

/// A symlink's target is its data.
fn symlink_target(member: &Member, file: &File) -> Result<Vec<u8>, Problem> {
    let len = member.header.filesize;
    if len == 0 || len > MAX_TARGET {
        return Err(Problem::corrupt(format!(
            "cpio symlink '{}' has a bad target length {len}",
            show(&member.name)
        )));
    }
    let mut target = vec![0u8; len as usize];
    if read_full_at(file, &mut target, member.data_offset)? < target.len() {
        return Err(Problem::Truncated(format!(
            "cpio symlink '{}' was cut short",
            show(&member.name)
        )));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, Expect, NewcMember};
    use crate::{open, Format, ImageError};

    #[test]
    fn reads_busybox_cpio_of_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let fixture = testutil::build_fixture(&src, true);
        let img = dir.path().join("rootfs.img");
        testutil::busybox_cpio(&src, &img);
        let image = open(&img).unwrap();
        assert_eq!(image.format(), Format::Cpio);
        testutil::check_image(&image, &fixture, Expect::archive());
    }

    #[test]
    fn hard_link_data_on_last_member() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.cpio");
        let members = [
            NewcMember::file(b"a", 7, 2, b""),
            NewcMember::file(b"other", 8, 1, b"unrelated"),
            NewcMember::file(b"b", 7, 2, b"linked data"),
        ];
        std::fs::write(&img, testutil::newc(&members)).unwrap();
        let image = open(&img).unwrap();
        let a = testutil::find(&image, b"/a");
        let b = testutil::find(&image, b"/b");
        let other = testutil::find(&image, b"/other");
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, other.key);
        assert_eq!(a.size, 11);
        assert_eq!(testutil::read_all(&image, a), b"linked data");
        assert_eq!(testutil::read_all(&image, b), b"linked data");
    }

    #[test]
    fn same_ino_without_links_stays_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.cpio");
        let members = [
            NewcMember::file(b"a", 0, 1, b"one"),
            NewcMember::file(b"b", 0, 1, b"two"),
        ];
        std::fs::write(&img, testutil::newc(&members)).unwrap();
        let image = open(&img).unwrap();
        assert_ne!(
            testutil::find(&image, b"/a").key,
            testutil::find(&image, b"/b").key
        );
    }

    #[test]
    fn concatenated_archives_and_escaping_names() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.cpio");
        let mut raw = testutil::newc(&[NewcMember::file(b"../../etc/x", 1, 1, b"first")]);
        raw.extend([0u8; 512]);
        raw.extend(testutil::newc(&[NewcMember::file(
            b"etc/x", 1, 1, b"second",
        )]));
        std::fs::write(&img, raw).unwrap();
        let image = open(&img).unwrap();
        let paths: Vec<&[u8]> = image.entries().iter().map(|e| &e.path[..]).collect();
        assert_eq!(paths, vec![&b"/"[..], b"/etc", b"/etc/x"]);
        assert_eq!(
            testutil::read_all(&image, testutil::find(&image, b"/etc/x")),
            b"second"
        );
    }

    #[test]
    fn missing_trailer_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.cpio");
        let mut raw = testutil::newc(&[NewcMember::file(b"f", 1, 1, b"data")]);
        let trailer_len = 112 + 12;
        raw.truncate(raw.len() - trailer_len);
        std::fs::write(&img, raw).unwrap();
        let err = open(&img).err().unwrap();
        assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("TRAILER"), "{err}");
    }

    #[test]
    fn truncated_data_names_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("rootfs.img");
        let raw = testutil::newc(&[NewcMember::file(b"bin/ls", 1, 1, &[7; 1000])]);
        // Header (110) + name "bin/ls\0" (7) padded to 120, then 400 of 1000 data bytes.
        std::fs::write(&img, &raw[..520]).unwrap();
        let err = open(&img).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: truncated (cpio entry 'bin/ls' needs 600 bytes past end of file)",
                img.display()
            )
        );
    }

    #[test]
    fn rejects_bad_hex() {
        let mut raw = testutil::newc(&[NewcMember::file(b"f", 1, 1, b"x")]);
        raw[6] = b'g';
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.cpio");
        std::fs::write(&img, raw).unwrap();
        assert!(matches!(open(&img), Err(ImageError::Corrupt { .. })));
        assert_eq!(parse_hex(b"+0000001"), None);
        assert_eq!(parse_hex(b"0000001F"), Some(31));
    }
}
