//! Collecting sockets that only files in flight keep alive (Linux's unix_gc).
//!
//! A socket sent over SCM_RIGHTS into its own queue, or two sent into each other's,
//! stay open after every descriptor is closed: each holds the other's last file, so
//! neither is ever released. The collector finds them as Linux's does:
//!
//! - Every AF_UNIX socket file in a queued message is in the registry, with how many
//!   queued messages hold it and a version that every arrival or departure bumps.
//! - A candidate is one whose every reference is such a message.
//! - Scanning the candidates' queues counts the references candidates hold to each
//!   other; a candidate with more references than that is held from outside (a live
//!   socket's queue, a call in progress) and alive, and so is what its queue holds.
//! - The rest is garbage: emptying their queues lets their files go, which releases
//!   them.
//!
//! Queues are read under their own locks, never with the registry's held (arrivals
//! and departures are recorded under a queue's lock). A look is good if no
//! candidate's version moved while the queues were read: garbage cannot move (nobody
//! can reach it), so only live candidates spoil a look, and the next release looks
//! again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::{io, UnixSocket};
use crate::fs::file::{FileKind, OpenFile};

/// A socket file in flight.
struct Entry {
    file: Weak<OpenFile>,
    socket: Weak<UnixSocket>,
    /// Queued messages holding it.
    queued: usize,
    version: u64,
}

/// The socket files in flight, by the file's address.
static REGISTRY: Mutex<Option<HashMap<usize, Entry>>> = Mutex::new(None);
/// Releases since the last look.
static RELEASES: AtomicUsize = AtomicUsize::new(0);
/// Versions are unique across entries: one that leaves and comes back is new.
static VERSIONS: AtomicU64 = AtomicU64::new(1);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, Ordering::Relaxed)
}
static RUNNING: Mutex<()> = Mutex::new(());

fn registry() -> MutexGuard<'static, Option<HashMap<usize, Entry>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(f: &Arc<OpenFile>) -> usize {
    Arc::as_ptr(f) as usize
}

/// The AF_UNIX socket an open file is, if it is one.
fn unix_of(f: &OpenFile) -> Option<Arc<UnixSocket>> {
    match &f.kind {
        FileKind::Socket(s) => s.clone().as_any().downcast::<UnixSocket>().ok(),
        _ => None,
    }
}

/// A message carrying `rights` entered a queue (called under its lock).
pub(super) fn entered(rights: &[Arc<OpenFile>]) {
    let socks: Vec<(&Arc<OpenFile>, Arc<UnixSocket>)> = rights
        .iter()
        .filter_map(|f| unix_of(f).map(|s| (f, s)))
        .collect();
    if socks.is_empty() {
        return;
    }
    let mut reg = registry();
    let reg = reg.get_or_insert_with(HashMap::new);
    for (f, s) in socks {
        let e = reg.entry(key(f)).or_insert_with(|| Entry {
            file: Arc::downgrade(f),
            socket: Arc::downgrade(&s),
            queued: 0,
            version: 0,
        });
        e.queued += 1;
        e.version = next_version();
    }
}

/// A message's `rights` left its queue (called under its lock, or before they are
/// dropped).
pub(super) fn left(rights: &[Arc<OpenFile>]) {
    if rights.is_empty() {
        return;
    }
    let mut reg = registry();
    let Some(reg) = reg.as_mut() else { return };
    for f in rights {
        let k = key(f);
        if let Some(e) = reg.get_mut(&k) {
            e.queued -= 1;
            e.version = next_version();
            if e.queued == 0 {
                reg.remove(&k);
            }
        }
    }
}

/// After a socket's release, while socket files are in flight: look, once the
/// releases since the last look are an eighth of the files in flight (so a long
/// chain of sockets let go one by one costs a constant per release).
pub(super) fn after_release() {
    let in_flight = registry().as_ref().map_or(0, HashMap::len);
    if in_flight == 0 {
        return;
    }
    if RELEASES.fetch_add(1, Ordering::SeqCst) + 1 >= in_flight / 8 {
        collect();
    }
}

/// A candidate: its file (our reference), socket, references and version.
struct Candidate {
    _file: Arc<OpenFile>,
    socket: Arc<UnixSocket>,
    queued: usize,
    version: u64,
}

/// The files whose every reference is a queued message (besides ours, now).
fn candidates() -> HashMap<usize, Candidate> {
    let reg = registry();
    let Some(reg) = reg.as_ref() else {
        return HashMap::new();
    };
    reg.iter()
        .filter_map(|(&k, e)| {
            let file = e.file.upgrade()?;
            let socket = e.socket.upgrade()?;
            (Arc::strong_count(&file) == e.queued + 1).then_some((
                k,
                Candidate {
                    _file: file,
                    socket,
                    queued: e.queued,
                    version: e.version,
                },
            ))
        })
        .collect()
}

/// Each candidate's queue's references to candidates (by file address).
fn edges(cands: &HashMap<usize, Candidate>) -> HashMap<usize, Vec<usize>> {
    cands
        .iter()
        .map(|(&k, c)| {
            let st = c.socket.lock();
            let held = st
                .queue
                .iter()
                .flat_map(|m| &m.rights)
                .map(key)
                .filter(|f| cands.contains_key(f))
                .collect();
            (k, held)
        })
        .collect()
}

/// Whether no candidate moved while the queues were read.
fn unmoved(cands: &HashMap<usize, Candidate>) -> bool {
    let reg = registry();
    let Some(reg) = reg.as_ref() else {
        return cands.is_empty();
    };
    cands
        .iter()
        .all(|(k, c)| reg.get(k).is_some_and(|e| e.version == c.version))
}

/// The candidates nothing outside them reaches.
fn garbage(cands: &HashMap<usize, Candidate>, held: &HashMap<usize, Vec<usize>>) -> Vec<usize> {
    let mut inside: HashMap<usize, usize> = HashMap::new();
    for f in held.values().flatten() {
        *inside.entry(*f).or_default() += 1;
    }
    let mut alive: Vec<usize> = cands
        .iter()
        .filter(|(k, c)| c.queued > inside.get(*k).copied().unwrap_or(0))
        .map(|(&k, _)| k)
        .collect();
    let mut seen: std::collections::HashSet<usize> = alive.iter().copied().collect();
    while let Some(k) = alive.pop() {
        for &f in held.get(&k).into_iter().flatten() {
            if seen.insert(f) {
                alive.push(f);
            }
        }
    }
    cands
        .keys()
        .filter(|k| !seen.contains(k))
        .copied()
        .collect()
}

/// Looks for garbage and empties its queues; false if there was none, the look was
/// spoilt, or another look is under way.
pub(super) fn collect() -> bool {
    let Ok(_one) = RUNNING.try_lock() else {
        return false;
    };
    RELEASES.store(0, Ordering::SeqCst);
    let cands = candidates();
    if cands.is_empty() {
        return false;
    }
    let held = edges(&cands);
    if !unmoved(&cands) {
        return false;
    }
    let dead: Vec<Arc<UnixSocket>> = garbage(&cands, &held)
        .iter()
        .filter_map(|k| cands.get(k).map(|c| c.socket.clone()))
        .collect();
    drop(cands);
    for s in &dead {
        let queue = std::mem::take(&mut s.lock().queue);
        io::discard(queue);
    }
    !dead.is_empty()
}
