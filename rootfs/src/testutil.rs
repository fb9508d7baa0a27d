//! Test helpers: a sample tree built on the host, image builders (system tar, busybox
//! cpio, mke2fs, hand-made headers) and checks that an opened image matches the tree.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::tree::parent;
use crate::{Entry, EntryKind, Image};

/// Deterministic, non-repeating-looking content of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// What one path of the fixture should look like in an image.
#[derive(Debug, Clone)]
pub struct Expected {
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// `None` where the host cannot set it (symlinks, device nodes).
    pub mtime: Option<i64>,
    /// Paths with the same group name are hard links to one file.
    pub link_group: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

/// What a format can represent, so one check serves every reader.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// ext4-view does not expose device numbers.
    pub device_numbers: bool,
    /// Paths the format adds on its own (mke2fs creates /lost+found).
    pub extra_paths: &'static [&'static [u8]],
}

impl Expect {
    pub fn archive() -> Self {
        Expect {
            device_numbers: true,
            extra_paths: &[],
        }
    }

    pub fn ext() -> Self {
        Expect {
            device_numbers: false,
            extra_paths: &[b"/lost+found"],
        }
    }
}

/// Whether tests may chown and mknod: files we create are owned by our euid.
fn is_root() -> bool {
    let probe = tempfile::NamedTempFile::new().expect("temp file");
    probe.as_file().metadata().is_ok_and(|m| m.uid() == 0)
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|err| panic!("{command:?}: {err}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Builds the sample tree under `root` (created) and returns what it contains.
/// `long_names` adds names and a symlink target too long for plain ustar. Device
/// nodes and foreign owners are only created when running as root.
pub fn build_fixture(root: &Path, long_names: bool) -> Vec<Expected> {
    let root_user = is_root();
    let mut fixture = Fixture {
        root,
        items: Vec::new(),
        next_mtime: 1_600_000_000,
    };
    fixture.dir(b"", 0o755);
    fixture.dir(b"bin", 0o755);
    fixture.file(b"bin/hello", &pattern(10_000), 0o755, Some("hello"));
    fixture.hard_link(b"bin/hello-link", b"bin/hello");
    fixture.symlink(b"bin/sh", b"hello");
    fixture.dir(b"etc", 0o755);
    fixture.file(b"etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644, None);
    fixture.file(b"empty", b"", 0o600, None);
    fixture.file(b"setuid", b"x", 0o4755, None);
    fixture.dir(b"tmp", 0o1777);
    fixture.file(b"caf\xe9", b"non-utf8 name", 0o644, None);
    fixture.fifo(b"fifo", 0o644);
    if long_names {
        let long_dir = [b"usr/share/".as_slice(), &[b'd'; 120]].concat();
        fixture.dir(b"usr", 0o755);
        fixture.dir(b"usr/share", 0o755);
        fixture.dir(&long_dir, 0o700);
        let long_file = [&long_dir[..], b"/", &[b'f'; 150]].concat();
        fixture.file(&long_file, b"deep", 0o644, None);
        fixture.symlink(b"long-link", &[b"/".as_slice(), &long_file].concat());
    }
    if root_user {
        fixture.dir(b"dev", 0o755);
        fixture.device(b"dev/null", 'c', 1, 3, 0o666);
        fixture.device(b"dev/sda", 'b', 8, 0, 0o660);
        fixture.chown(b"etc/passwd", 1000, 100);
        fixture.chown(b"bin/sh", 5, 6);
    }
    fixture.finish()
}

struct Fixture<'a> {
    root: &'a Path,
    items: Vec<Expected>,
    next_mtime: i64,
}

impl Fixture<'_> {
    fn host(&self, rel: &[u8]) -> std::path::PathBuf {
        self.root.join(OsStr::from_bytes(rel))
    }

    fn push(&mut self, rel: &[u8], kind: Kind, mode: u32, settable_mtime: bool) {
        let path = if rel.is_empty() {
            b"/".to_vec()
        } else {
            [b"/", rel].concat()
        };
        let mtime = settable_mtime.then(|| {
            self.next_mtime += 1000;
            self.next_mtime
        });
        self.items.push(Expected {
            path,
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime,
            link_group: None,
        });
    }

    fn dir(&mut self, rel: &[u8], mode: u32) {
        fs::create_dir_all(self.host(rel)).unwrap();
        self.push(rel, Kind::Dir, mode, true);
    }

    fn file(&mut self, rel: &[u8], content: &[u8], mode: u32, group: Option<&'static str>) {
        fs::write(self.host(rel), content).unwrap();
        self.push(rel, Kind::File(content.to_vec()), mode, true);
        if let Some(item) = self.items.last_mut() {
            item.link_group = group;
        }
    }

    fn hard_link(&mut self, rel: &[u8], target: &[u8]) {
        fs::hard_link(self.host(target), self.host(rel)).unwrap();
        let target_path = [b"/", target].concat();
        let original = self
            .items
            .iter()
            .find(|i| i.path == target_path)
            .unwrap()
            .clone();
        self.items.push(Expected {
            path: [b"/", rel].concat(),
            ..original
        });
    }

    fn symlink(&mut self, rel: &[u8], target: &[u8]) {
        std::os::unix::fs::symlink(OsStr::from_bytes(target), self.host(rel)).unwrap();
        self.push(rel, Kind::Symlink(target.to_vec()), 0o777, false);
    }

    fn fifo(&mut self, rel: &[u8], mode: u32) {
        run(Command::new("mkfifo").arg(self.host(rel)));
        self.push(rel, Kind::Fifo, mode, false);
    }

    fn device(&mut self, rel: &[u8], kind: char, major: u32, minor: u32, mode: u32) {
        let host = self.host(rel);
        run(Command::new("mknod")
            .arg(&host)
            .arg(kind.to_string())
            .arg(major.to_string())
            .arg(minor.to_string()));
        let kind = if kind == 'c' {
            Kind::Char(major, minor)
        } else {
            Kind::Block(major, minor)
        };
        self.push(rel, kind, mode, false);
    }

    fn chown(&mut self, rel: &[u8], uid: u32, gid: u32) {
        lchown(self.host(rel), Some(uid), Some(gid)).unwrap();
        let path = [b"/", rel].concat();
        for item in self.items.iter_mut().filter(|i| i.path == path) {
            (item.uid, item.gid) = (uid, gid);
        }
    }

    /// Applies modes (after chown, which clears setuid) and mtimes, deepest first so
    /// that setting a child does not change its directory's mtime afterwards.
    fn finish(self) -> Vec<Expected> {
        let mut items = self.items;
        for item in items.iter().rev() {
            let host = self
                .root
                .join(OsStr::from_bytes(item.path.strip_prefix(b"/").unwrap()));
            if !matches!(item.kind, Kind::Symlink(_)) {
                fs::set_permissions(&host, fs::Permissions::from_mode(item.mode)).unwrap();
            }
            if let Some(mtime) = item.mtime {
                run(Command::new("touch")
                    .arg("-h")
                    .arg("-d")
                    .arg(format!("@{mtime}"))
                    .arg(&host));
            }
        }
        items.sort_by(|a, b| a.path.cmp(&b.path));
        items
    }
}

pub fn find<'a>(image: &'a Image, path: &[u8]) -> &'a Entry {
    image
        .entries()
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no entry {}", String::from_utf8_lossy(path)))
}

/// The whole content of a regular file, read in odd-sized chunks.
pub fn read_all(image: &Image, entry: &Entry) -> Vec<u8> {
    let EntryKind::Regular(data) = entry.kind else {
        panic!("not a regular file: {entry:?}");
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 777];
    loop {
        let n = image.read_at(&data, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Reads every regular file, ignoring errors: used on corrupt images, which must
/// not make reads panic either.
pub fn read_every_file(image: &Image) {
    let mut buf = vec![0u8; 4096];
    for entry in image.entries() {
        if let EntryKind::Regular(data) = entry.kind {
            let mut offset = 0;
            while let Ok(n) = image.read_at(&data, offset, &mut buf) {
                if n == 0 {
                    break;
                }
                offset += n as u64;
            }
        }
    }
}

/// Checks the invariants every entry list has, whatever the image.
pub fn check_invariants(entries: &[Entry]) {
    let first = entries.first().expect("at least the root");
    assert_eq!(first.path, b"/");
    assert_eq!(first.kind, EntryKind::Directory);
    let mut seen: HashMap<&[u8], &Entry> = HashMap::new();
    for entry in entries {
        assert!(entry.mode <= 0o7777, "{entry:?}");
        if let Some(up) = parent(&entry.path) {
            assert!(!entry.path.ends_with(b"/"), "{entry:?}");
            let dir = seen
                .get(up)
                .unwrap_or_else(|| panic!("parent missing or later: {entry:?}"));
            assert_eq!(dir.kind, EntryKind::Directory);
            for part in entry.path.split(|&c| c == b'/').skip(1) {
                assert!(!matches!(part, b"" | b"." | b".."), "{entry:?}");
            }
        }
        assert!(
            seen.insert(&entry.path, entry).is_none(),
            "duplicate {entry:?}"
        );
    }
}

/// Checks that `image` holds exactly the fixture.
pub fn check_image(image: &Image, fixture: &[Expected], expect: Expect) {
    let entries = image.entries();
    check_invariants(entries);
    let mut got: Vec<&[u8]> = entries
        .iter()
        .map(|e| &e.path[..])
        .filter(|path| !expect.extra_paths.contains(path))
        .collect();
    got.sort();
    let want: Vec<&[u8]> = fixture.iter().map(|e| &e.path[..]).collect();
    assert_eq!(got, want, "paths differ");
    for item in fixture {
        check_entry(image, find(image, &item.path), item, expect);
    }
    check_keys(image, fixture);
}

fn check_entry(image: &Image, entry: &Entry, item: &Expected, expect: Expect) {
    let what = String::from_utf8_lossy(&item.path).to_string();
    if item.path != b"/" {
        if !matches!(item.kind, Kind::Symlink(_)) {
            assert_eq!(entry.mode, item.mode, "{what} mode {:o}", entry.mode);
        }
        assert_eq!((entry.uid, entry.gid), (item.uid, item.gid), "{what} owner");
        if let Some(mtime) = item.mtime {
            assert_eq!(entry.mtime, mtime, "{what} mtime");
        }
    }
    match (&item.kind, &entry.kind) {
        (Kind::Dir, EntryKind::Directory) | (Kind::Fifo, EntryKind::Fifo) => {}
        (Kind::File(content), EntryKind::Regular(data)) => {
            assert_eq!(entry.size, content.len() as u64, "{what} size");
            assert_eq!(data.len(), content.len() as u64, "{what} data len");
            assert_eq!(data.is_empty(), content.is_empty());
            check_content(image, entry, content);
        }
        (Kind::Symlink(target), EntryKind::Symlink(got)) => {
            assert_eq!(got, target, "{what} target");
            assert_eq!(entry.size, target.len() as u64, "{what} size");
        }
        (
            Kind::Char(major, minor),
            EntryKind::CharDevice {
                major: ma,
                minor: mi,
            },
        )
        | (
            Kind::Block(major, minor),
            EntryKind::BlockDevice {
                major: ma,
                minor: mi,
            },
        ) => {
            if expect.device_numbers {
                assert_eq!((ma, mi), (major, minor), "{what} device");
            }
        }
        (want, got) => panic!("{what}: expected {want:?}, got {got:?}"),
    }
}

/// Reads the content whole and at awkward offsets.
fn check_content(image: &Image, entry: &Entry, content: &[u8]) {
    assert_eq!(read_all(image, entry), content);
    let EntryKind::Regular(data) = entry.kind else {
        unreachable!()
    };
    let len = content.len();
    for offset in [
        0,
        1,
        511,
        512,
        1023,
        4095,
        4096,
        4097,
        len.saturating_sub(1),
        len,
        len + 10,
    ] {
        let mut buf = vec![0u8; 1000];
        let n = image.read_at(&data, offset as u64, &mut buf).unwrap();
        let want = content
            .get(offset..)
            .map_or(&[][..], |rest| &rest[..rest.len().min(1000)]);
        assert_eq!(&buf[..n], want, "offset {offset}");
    }
    let n = image.read_at(&data, 0, &mut []).unwrap();
    assert_eq!(n, 0);
}

/// Hard links share a key; everything else has keys of its own.
fn check_keys(image: &Image, fixture: &[Expected]) {
    let mut by_key: HashMap<u64, Vec<&Expected>> = HashMap::new();
    for item in fixture {
        by_key
            .entry(find(image, &item.path).key)
            .or_default()
            .push(item);
    }
    for items in by_key.values() {
        if items.len() > 1 {
            let group = items[0].link_group;
            assert!(group.is_some(), "distinct files share a key: {items:?}");
            assert!(items.iter().all(|i| i.link_group == group), "{items:?}");
        }
    }
    let groups = fixture
        .iter()
        .filter_map(|i| i.link_group)
        .collect::<std::collections::HashSet<_>>();
    for group in groups {
        let keys: Vec<u64> = fixture
            .iter()
            .filter(|i| i.link_group == Some(group))
            .map(|i| find(image, &i.path).key)
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] == w[1]),
            "hard links {group} differ: {keys:?}"
        );
    }
}

/// Writes a tar (via the `tar` crate) holding regular files.
pub fn make_tar_with(path: &Path, files: &[(&str, &[u8])]) {
    let mut builder = tar::Builder::new(File::create(path).unwrap());
    for (name, data) in files {
        append_file(&mut builder, name, data, 0o644);
    }
    builder.into_inner().unwrap();
}

pub fn append_file<W: std::io::Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mode: u32,
) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    builder.append_data(&mut header, name, data).unwrap();
}

/// A ustar header block for any name bytes (the `tar` crate refuses ".." and absolute
/// names), followed by `data` padded to a block.
pub fn raw_tar_header(name: &[u8], typeflag: u8, data: &[u8]) -> Vec<u8> {
    let mut block = vec![0u8; 512];
    block[..name.len()].copy_from_slice(name);
    block[100..108].copy_from_slice(b"0000644\0");
    block[108..116].copy_from_slice(b"0000000\0");
    block[116..124].copy_from_slice(b"0000000\0");
    block[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    block[136..148].copy_from_slice(b"00000000000\0");
    block[156] = typeflag;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    block.extend_from_slice(data);
    block.resize(block.len().div_ceil(512) * 512, 0);
    block
}

/// One member for [`newc`].
pub struct NewcMember<'a> {
    pub name: &'a [u8],
    pub ino: u32,
    pub mode: u32,
    pub nlink: u32,
    pub data: &'a [u8],
}

impl<'a> NewcMember<'a> {
    pub fn file(name: &'a [u8], ino: u32, nlink: u32, data: &'a [u8]) -> Self {
        NewcMember {
            name,
            ino,
            mode: 0o100644,
            nlink,
            data,
        }
    }
}

/// A newc archive of `members` plus the trailer, without padding after it.
pub fn newc(members: &[NewcMember<'_>]) -> Vec<u8> {
    let trailer = NewcMember {
        name: b"TRAILER!!!",
        ino: 0,
        mode: 0,
        nlink: 1,
        data: b"",
    };
    let mut out = Vec::new();
    for member in members.iter().chain([&trailer]) {
        let fields = [
            member.ino,
            member.mode,
            0,
            0,
            member.nlink,
            1_000_000,
            member.data.len() as u32,
            0,
            0,
            0,
            0,
            member.name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for field in fields {
            out.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        out.extend_from_slice(member.name);
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(member.data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

/// `find . | busybox cpio -o -H newc` run in `src`.
pub fn busybox_cpio(src: &Path, img: &Path) {
    let script = "find . | busybox cpio -o -H newc > \"$1\"";
    run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(img)
        .current_dir(src));
}

/// `mke2fs -t TYPE -d SRC IMG 8M`.
pub fn mke2fs(src: &Path, img: &Path, fs_type: &str) {
    run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", fs_type, "-d"])
        .arg(src)
        .arg(img)
        .arg("8M"));
}
