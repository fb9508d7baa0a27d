//! Turning an archive's member list into the entry list the kernel loads.
//!
//! Shared by the tar and cpio readers, which only decode members: path normalisation,
//! "later member wins" for duplicate paths, synthesis of parent directories that the
//! archive omits, and the parent-before-child ordering all live here, once.
//!
//! Paths that try to leave the root ("../../etc") are *clamped*, not rejected: ".." is
//! resolved lexically and never goes above "/", exactly as a process chrooted into the
//! root would see it. So "../../etc/passwd" becomes "/etc/passwd". This keeps odd but
//! harmless archives bootable while guaranteeing that every entry lies inside the root.

use std::collections::HashMap;

use crate::error::{show, Problem};
use crate::{Entry, EntryKind};

/// Normalises an archive member name into an absolute path without ".", ".." or
/// empty components ("./bin//ls/" → "/bin/ls", "" or "." → "/").
pub(crate) fn normalize(raw: &[u8]) -> Result<Vec<u8>, Problem> {
    if raw.contains(&0) {
        return Err(Problem::corrupt(format!(
            "path '{}' contains a NUL byte",
            show(raw)
        )));
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&c| c == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    Ok(join(&parts))
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    out
}

/// The parent of a normalised path ("/a/b" → "/a", "/a" → "/"), `None` for "/".
pub(crate) fn parent(path: &[u8]) -> Option<&[u8]> {
    if path == b"/" {
        return None;
    }
    match path.iter().rposition(|&c| c == b'/')? {
        0 => Some(b"/"),
        i => path.get(..i),
    }
}

/// Orders entries so that "/" comes first and every directory precedes its contents
/// (component-wise order, i.e. a depth-first walk with sorted names).
pub(crate) fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        let a = a.path.split(|&c| c == b'/');
        let b = b.path.split(|&c| c == b'/');
        a.cmp(b)
    });
}

/// Collects an archive's members by normalised path; see the module docs.
pub(crate) struct Tree {
    entries: HashMap<Vec<u8>, Entry>,
    next_key: u64,
}

impl Tree {
    pub(crate) fn new() -> Self {
        Tree {
            entries: HashMap::new(),
            next_key: 1,
        }
    }

    /// A key no other file of this tree has.
    pub(crate) fn new_key(&mut self) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    /// Adds an entry (its path already normalised). A later entry for the same path
    /// replaces the earlier one, as extracting the archive would.
    pub(crate) fn insert(&mut self, entry: Entry) {
        self.entries.insert(entry.path.clone(), entry);
    }

    /// The entry currently at `path` (normalised), if any.
    pub(crate) fn get(&self, path: &[u8]) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Adds the root and missing parent directories, checks that every parent is a
    /// directory, and returns the entries in kernel load order.
    pub(crate) fn finish(mut self) -> Result<Vec<Entry>, Problem> {
        self.add_root()?;
        let paths: Vec<Vec<u8>> = self.entries.keys().cloned().collect();
        for path in &paths {
            self.add_parents(path)?;
        }
        let mut entries: Vec<Entry> = self.entries.into_values().collect();
        sort_entries(&mut entries);
        Ok(entries)
    }

    fn add_root(&mut self) -> Result<(), Problem> {
        match self.entries.get(&b"/"[..]) {
            Some(root) if root.kind != EntryKind::Directory => Err(Problem::corrupt(
                "the archive's root '.' is not a directory",
            )),
            Some(_) => Ok(()),
            None => {
                let root = self.synthesized_dir(b"/");
                self.insert(root);
                Ok(())
            }
        }
    }

    /// Walks up from `path` until an existing directory, creating missing ones.
    fn add_parents(&mut self, path: &[u8]) -> Result<(), Problem> {
        let mut current = path;
        while let Some(up) = parent(current) {
            match self.entries.get(up) {
                Some(dir) if dir.kind == EntryKind::Directory => return Ok(()),
                Some(_) => {
                    return Err(Problem::corrupt(format!(
                        "'{}' is inside '{}', which is not a directory",
                        show(path),
                        show(up)
                    )))
                }
                None => {
                    let dir = self.synthesized_dir(up);
                    self.insert(dir);
                }
            }
            current = up;
        }
        Ok(())
    }

    /// A directory the archive implies but does not contain.
    fn synthesized_dir(&mut self, path: &[u8]) -> Entry {
        Entry {
            path: path.to_vec(),
            key: self.new_key(),
            kind: EntryKind::Directory,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &[u8], key: u64) -> Entry {
        Entry {
            path: path.to_vec(),
            key,
            kind: EntryKind::Fifo,
            mode: 0o644,
            uid: 1,
            gid: 2,
            mtime: 3,
            size: 0,
        }
    }

    fn paths(entries: &[Entry]) -> Vec<&[u8]> {
        entries.iter().map(|e| &e.path[..]).collect()
    }

    #[test]
    fn normalize_clamps_and_cleans() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b"/"),
            (b".", b"/"),
            (b"./", b"/"),
            (b"/", b"/"),
            (b"bin/ls", b"/bin/ls"),
            (b"./bin//ls/", b"/bin/ls"),
            (b"/abs/path", b"/abs/path"),
            (b"../../etc", b"/etc"),
            (b"a/../../b/./c/..", b"/b"),
            (b"caf\xe9", b"/caf\xe9"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw).unwrap(), *want, "{}", show(raw));
        }
        assert!(normalize(b"a\0b").is_err());
    }

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent(b"/"), None);
        assert_eq!(parent(b"/a"), Some(&b"/"[..]));
        assert_eq!(parent(b"/a/b"), Some(&b"/a"[..]));
    }

    #[test]
    fn finish_synthesizes_parents_and_orders() {
        let mut tree = Tree::new();
        tree.insert(file(b"/b/c/d", 10));
        tree.insert(file(b"/a-b", 11));
        tree.insert(file(b"/a/x", 12));
        let entries = tree.finish().unwrap();
        assert_eq!(
            paths(&entries),
            vec![
                &b"/"[..],
                b"/a",
                b"/a/x",
                b"/a-b",
                b"/b",
                b"/b/c",
                b"/b/c/d"
            ]
        );
        let synth = &entries[1];
        assert_eq!(synth.kind, EntryKind::Directory);
        assert_eq!(
            (synth.mode, synth.uid, synth.gid, synth.mtime),
            (0o755, 0, 0, 0)
        );
        let mut keys: Vec<u64> = entries.iter().map(|e| e.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), entries.len(), "keys are distinct");
    }

    #[test]
    fn later_duplicate_wins() {
        let mut tree = Tree::new();
        tree.insert(file(b"/f", 1));
        let mut second = file(b"/f", 2);
        second.mode = 0o600;
        tree.insert(second);
        let entries = tree.finish().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[1].key, entries[1].mode), (2, 0o600));
    }

    #[test]
    fn child_of_non_directory_is_corrupt() {
        let mut tree = Tree::new();
        tree.insert(file(b"/f", 1));
        tree.insert(file(b"/f/g", 2));
        let err = tree.finish().unwrap_err();
        assert!(matches!(err, Problem::Corrupt(ref m) if m.contains("not a directory")));

        let mut tree = Tree::new();
        tree.insert(file(b"/", 1));
        assert!(tree.finish().is_err());
    }
}
