//! epoll instances: an interest list of open file descriptions, asked for readiness
//! through the same code as poll(2) (`FileKind::poll`).
//!
//! - Items are keyed by (fd, open file description), as on Linux. An item holds the
//!   description weakly: closing the fd leaves the item in place while a dup (or a
//!   child after fork) keeps the description open, and the item disappears when the
//!   description is released. Holding it strongly would keep a pipe's write end open
//!   for as long as it is watched, so its reader would never see EOF.
//! - Level-triggered items report whenever they are ready. Edge-triggered items report
//!   when something happened since they last looked: a readiness bit appeared, or the
//!   object's input or output event counter moved (`Readiness::ins`/`outs`; Linux
//!   reports each wakeup of the object's wait queue whose key matches the interest).
//!   One-shot items switch themselves off after one report until EPOLL_CTL_MOD.
//! - A wait polls every item; the list is a Vec kept in report order: items that
//!   reported move to the back, so a small maxevents serves all ready items in turn.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::event::Caller;
use super::file::{FileKind, OpenFile, Readiness};
use crate::sched::WaitQueue;

pub const EPOLLIN: u32 = 0x001;
pub const EPOLLPRI: u32 = 0x002;
pub const EPOLLOUT: u32 = 0x004;
pub const EPOLLERR: u32 = 0x008;
pub const EPOLLHUP: u32 = 0x010;
pub const EPOLLRDNORM: u32 = 0x040;
pub const EPOLLRDBAND: u32 = 0x080;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// Flags about the item rather than events (Linux's EP_PRIVATE_BITS).
pub const PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/// What EPOLLEXCLUSIVE may be combined with.
pub const EXCLUSIVE_OK: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// The events an input (or output) wakeup stands for, when matching interest.
const INPUT_KEY: u32 = EPOLLIN | EPOLLRDNORM | EPOLLRDBAND | EPOLLPRI | EPOLLRDHUP;
const OUTPUT_KEY: u32 = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
/// Linux's EP_MAX_NESTS: how deep epoll files may be nested.
pub const MAX_NESTS: usize = 4;

/// One item of the interest list, as a checkpoint records it (the file is found
/// again through `fd`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub fd: i32,
    /// Requested events plus EPOLLERR | EPOLLHUP and the private flags.
    pub events: u32,
    pub data: u64,
    /// What an edge-triggered item saw when it last looked; None: not yet (or MOD).
    pub seen: Option<Readiness>,
}

/// An interest list as a checkpoint records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollState {
    pub items: Vec<ItemState>,
}

/// An interest list as a checkpoint saves it: each item with the checkpoint's index
/// of the open file description it watches, in report order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEpoll {
    pub items: Vec<(ItemState, usize)>,
}

struct Item {
    st: ItemState,
    file: Weak<OpenFile>,
}

impl Item {
    fn is(&self, fd: i32, file: &Arc<OpenFile>) -> bool {
        self.st.fd == fd && std::ptr::eq(self.file.as_ptr(), Arc::as_ptr(file))
    }

    /// The watched file's readiness; None once its description is gone.
    fn readiness(&self, cur: &Caller) -> Option<Readiness> {
        let file = self.file.upgrade()?;
        Some(file.kind.poll(cur).unwrap_or_default())
    }

    /// What the item reports given the file's readiness `now`, if anything.
    /// `consume` is a real epoll_wait: an edge-triggered item records what it saw, a
    /// one-shot item switches off.
    fn report(&mut self, now: Readiness, consume: bool) -> Option<u32> {
        let interest = self.st.events & !PRIVATE_BITS;
        if interest == 0 {
            return None;
        }
        if self.st.events & EPOLLET != 0 {
            let key = edge(self.st.seen, now);
            if consume {
                self.st.seen = Some(now);
            }
            if key & interest == 0 {
                return None;
            }
        }
        let revents = now.mask & interest;
        if revents == 0 {
            return None;
        }
        if consume && self.st.events & EPOLLONESHOT != 0 {
            self.st.events &= PRIVATE_BITS;
        }
        Some(revents)
    }
}

/// The events that happened between two looks at an object (Linux's wakeup key).
fn edge(seen: Option<Readiness>, now: Readiness) -> u32 {
    let Some(old) = seen else {
        // Never looked: whatever is ready counts, as ep_insert queues a ready item.
        return !0;
    };
    let mut key = now.mask & !old.mask;
    if now.ins != old.ins {
        key |= INPUT_KEY;
    }
    if now.outs != old.outs {
        key |= OUTPUT_KEY;
    }
    key
}

#[derive(Default)]
struct Interest {
    items: Vec<Item>,
    /// Grows with every change of the list, so a waiter knows to watch new queues.
    generation: u64,
}

#[derive(Default)]
pub struct Epoll {
    list: Mutex<Interest>,
    /// Notified when the interest list changes (an added item may be ready).
    pub wq: WaitQueue,
}

impl std::fmt::Debug for Epoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Epoll")
    }
}

/// Adding one epoll file to another is serialised, so two racing adds cannot build
/// a cycle that each loop check missed (Linux's epnested_mutex).
static NESTING: Mutex<()> = Mutex::new(());

impl Epoll {
    pub fn new() -> Arc<Epoll> {
        Arc::new(Epoll::default())
    }

    /// The interest list, without items whose file description is gone.
    fn lock(&self) -> MutexGuard<'_, Interest> {
        let mut g = self.list.lock().unwrap_or_else(|e| e.into_inner());
        g.items.retain(|i| i.file.strong_count() > 0);
        g
    }

    fn changed(&self, mut g: MutexGuard<'_, Interest>) {
        g.generation += 1;
        drop(g);
        self.wq.notify_all();
    }

    /// EPOLL_CTL_ADD. `events` gets EPOLLERR | EPOLLHUP, which are always reported.
    pub fn insert(
        &self,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let _nesting = matches!(file.kind, FileKind::Epoll(_))
            .then(|| NESTING.lock().unwrap_or_else(|e| e.into_inner()));
        if let FileKind::Epoll(inner) = &file.kind {
            self.check_nesting(inner)?;
        }
        let mut g = self.lock();
        if g.items.iter().any(|i| i.is(fd, file)) {
            return Err(Errno::EEXIST);
        }
        g.items.push(Item {
            st: ItemState {
                fd,
                events: events | EPOLLERR | EPOLLHUP,
                data,
                seen: None,
            },
            file: Arc::downgrade(file),
        });
        self.changed(g);
        Ok(())
    }

    /// EPOLL_CTL_MOD: new events and data; re-arms one-shot and edge-triggered items
    /// (Linux queues the item again if it is ready).
    pub fn modify(
        &self,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let mut g = self.lock();
        let item = g
            .items
            .iter_mut()
            .find(|i| i.is(fd, file))
            .ok_or(Errno::ENOENT)?;
        if item.st.events & EPOLLEXCLUSIVE != 0 {
            return Err(Errno::EINVAL);
        }
        item.st.events = events | EPOLLERR | EPOLLHUP;
        item.st.data = data;
        item.st.seen = None;
        self.changed(g);
        Ok(())
    }

    /// EPOLL_CTL_DEL.
    pub fn remove(&self, fd: i32, file: &Arc<OpenFile>) -> Result<(), Errno> {
        let mut g = self.lock();
        let at = g
            .items
            .iter()
            .position(|i| i.is(fd, file))
            .ok_or(Errno::ENOENT)?;
        g.items.remove(at);
        self.changed(g);
        Ok(())
    }

    /// The events epoll_wait returns now, at most `max`, as (events, data). Items that
    /// report go to the back of the list.
    pub fn take_events(&self, cur: &Caller, max: usize) -> Vec<(u32, u64)> {
        let mut g = self.lock();
        let mut out = Vec::new();
        let mut reported = vec![false; g.items.len()];
        for (item, reported) in g.items.iter_mut().zip(reported.iter_mut()) {
            if out.len() == max {
                break;
            }
            let Some(now) = item.readiness(cur) else {
                continue;
            };
            if let Some(ev) = item.report(now, true) {
                out.push((ev, item.st.data));
                *reported = true;
            }
        }
        // Reported items go to the back in their order, as Linux requeues them.
        let items = std::mem::take(&mut g.items);
        let (mut order, back): (Vec<_>, Vec<_>) =
            items.into_iter().zip(reported).partition(|(_, r)| !r);
        order.extend(back);
        g.items = order.into_iter().map(|(item, _)| item).collect();
        out
    }

    /// The epoll file's own readiness (poll, or an epoll it is nested in): readable
    /// while some item would report. Looking does not consume edges.
    pub fn poll(&self, cur: &Caller) -> Readiness {
        let mut g = self.lock();
        let mut ready = 0u64;
        let mut events = g.generation;
        for item in g.items.iter_mut() {
            let Some(now) = item.readiness(cur) else {
                continue;
            };
            if item.report(now, false).is_some() {
                ready += 1;
            }
            events = events.wrapping_add(now.ins).wrapping_add(now.outs);
        }
        Readiness {
            mask: if ready > 0 { EPOLLIN | EPOLLRDNORM } else { 0 },
            // Linux wakes an epoll file's pollers on any event of its items.
            ins: events,
            outs: events,
        }
    }

    /// The kinds of every watched file, nested epolls' items included: their queues
    /// are what a waiter sleeps on.
    pub fn watch(&self, out: &mut Vec<FileKind>) {
        let kinds: Vec<FileKind> = self
            .lock()
            .items
            .iter()
            .filter_map(|i| i.file.upgrade().map(|f| f.kind.clone()))
            .collect();
        out.extend(expand(kinds));
    }

    /// Changes of this interest list and of nested ones: a waiter that sees it move
    /// collects its queues again.
    pub fn generation(&self) -> u64 {
        let (mut gen, inner) = {
            let g = self.lock();
            let inner: Vec<Arc<Epoll>> = g.items.iter().filter_map(|i| nested(&i.file)).collect();
            (g.generation, inner)
        };
        for ep in inner {
            gen = gen.wrapping_add(ep.generation());
        }
        gen
    }

    /// ELOOP if watching `inner` from `self` would close a cycle or nest epoll files
    /// deeper than Linux allows.
    fn check_nesting(&self, inner: &Arc<Epoll>) -> Result<(), Errno> {
        if self.reachable_from(inner, 0) {
            Err(Errno::ELOOP)
        } else {
            Ok(())
        }
    }

    /// Whether `self` is among the epolls below `ep` (or they go too deep).
    fn reachable_from(&self, ep: &Epoll, depth: usize) -> bool {
        let children: Vec<Arc<Epoll>> = ep
            .lock()
            .items
            .iter()
            .filter_map(|i| nested(&i.file))
            .collect();
        children.iter().any(|c| {
            std::ptr::eq(Arc::as_ptr(c), self)
                || depth >= MAX_NESTS
                || self.reachable_from(c, depth + 1)
        })
    }

    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the checkpoint's API (issue 5)")
    )]
    pub fn state(&self) -> EpollState {
        EpollState {
            items: self.lock().items.iter().map(|i| i.st).collect(),
        }
    }
}

impl Epoll {
    /// `file_index` gives the checkpoint's index of a watched description. Items whose
    /// description is gone are left out, as the next look at the list would drop them.
    pub fn save(&self, mut file_index: impl FnMut(&Arc<OpenFile>) -> usize) -> SavedEpoll {
        let live: Vec<(ItemState, Arc<OpenFile>)> = self
            .lock()
            .items
            .iter()
            .filter_map(|i| Some((i.st, i.file.upgrade()?)))
            .collect();
        SavedEpoll {
            items: live
                .into_iter()
                .map(|(st, f)| (st, file_index(&f)))
                .collect(),
        }
    }

    /// Fills a restored (empty) instance's interest list, once every description it
    /// watches exists. The caller has checked that the epoll files do not nest in a
    /// cycle.
    pub fn restore_items(&self, items: Vec<(ItemState, &Arc<OpenFile>)>) {
        let mut g = self.lock();
        g.items = items
            .into_iter()
            .map(|(st, f)| Item {
                st,
                file: Arc::downgrade(f),
            })
            .collect();
        self.changed(g);
    }
}

/// `kinds` plus everything the epoll files among them watch: the files whose events
/// can end a wait on `kinds`.
pub fn expand(kinds: Vec<FileKind>) -> Vec<FileKind> {
    let mut out = Vec::with_capacity(kinds.len());
    for k in kinds {
        if let FileKind::Epoll(ep) = &k {
            ep.watch(&mut out);
        }
        out.push(k);
    }
    out
}

/// The wait queues of `kinds`, each once.
pub fn queues<'a>(kinds: &'a [FileKind], cur: &Caller<'a>) -> Vec<&'a WaitQueue> {
    let mut qs: Vec<&WaitQueue> = Vec::new();
    for q in kinds.iter().filter_map(|k| k.wait_queue(cur)) {
        if !qs.iter().any(|x| std::ptr::eq(*x, q)) {
            qs.push(q);
        }
    }
    qs
}

/// The epoll instance behind a watched file, if it is one.
fn nested(file: &Weak<OpenFile>) -> Option<Arc<Epoll>> {
    match &file.upgrade()?.kind {
        FileKind::Epoll(ep) => Some(ep.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::event::{anon_inode, EventFd, EventFdState};
    use crate::process::Thread;
    use crate::sched::testing::{process, Idle};

    fn eventfd(count: u64) -> (Arc<EventFd>, Arc<OpenFile>) {
        let e = EventFd::new(EventFdState {
            count,
            ..Default::default()
        });
        let f = file(FileKind::EventFd(e.clone()));
        (e, f)
    }

    fn data(events: Vec<(u32, u64)>) -> Vec<u64> {
        events.into_iter().map(|(_, d)| d).collect()
    }

    fn file(kind: FileKind) -> Arc<OpenFile> {
        OpenFile::new(anon_inode(), b"anon_inode:[test]".to_vec(), kind, 2)
    }

    #[test]
    fn edge_rules() {
        let r = |mask, ins, outs| Readiness { mask, ins, outs };
        assert_eq!(edge(None, r(0, 0, 0)), !0);
        assert_eq!(edge(Some(r(EPOLLIN, 1, 0)), r(EPOLLIN, 1, 0)), 0);
        assert_eq!(
            edge(Some(r(EPOLLIN, 1, 0)), r(EPOLLIN, 2, 0)) & EPOLLIN,
            EPOLLIN
        );
        assert_eq!(edge(Some(r(EPOLLIN, 1, 0)), r(EPOLLIN, 1, 1)) & EPOLLIN, 0);
        assert_eq!(edge(Some(r(0, 1, 0)), r(EPOLLHUP, 1, 0)), EPOLLHUP);
    }

    #[test]
    fn state_roundtrips_through_bincode() {
        let st = EpollState {
            items: vec![ItemState {
                fd: 4,
                events: EPOLLIN | EPOLLET | EPOLLERR | EPOLLHUP,
                data: 0xdead_beef,
                seen: Some(Readiness {
                    mask: EPOLLIN,
                    ins: 3,
                    outs: 1,
                }),
            }],
        };
        let cfg = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&st, cfg).expect("encode");
        let back: EpollState = bincode::serde::decode_from_slice(&bytes, cfg)
            .expect("decode")
            .0;
        assert_eq!(back, st);
    }

    #[test]
    fn items_are_keyed_and_released_with_the_description() {
        let e = EventFd::new(EventFdState {
            count: 1,
            ..Default::default()
        });
        let f = file(FileKind::EventFd(e));
        let ep = Epoll::new();
        ep.insert(3, &f, EPOLLIN | EPOLLET, 7).expect("add");
        assert_eq!(ep.insert(3, &f, EPOLLIN, 7), Err(Errno::EEXIST));
        assert_eq!(ep.modify(4, &f, EPOLLIN, 7), Err(Errno::ENOENT));
        ep.modify(3, &f, EPOLLOUT, 8).expect("mod");
        let items = ep.state().items;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].events, EPOLLOUT | EPOLLERR | EPOLLHUP);
        assert_eq!(items[0].data, 8);
        drop(f);
        assert!(
            ep.state().items.is_empty(),
            "released description leaves the list"
        );
    }

    #[test]
    fn nesting_loops_are_refused() {
        let (a, b) = (Epoll::new(), Epoll::new());
        let fa = file(FileKind::Epoll(a.clone()));
        let fb = file(FileKind::Epoll(b.clone()));
        a.insert(5, &fb, EPOLLIN, 0).expect("b in a");
        assert_eq!(b.insert(4, &fa, EPOLLIN, 0), Err(Errno::ELOOP));
    }

    #[test]
    fn level_items_take_turns() {
        let (thread, process) = (Thread::new(1), process());
        let cur = Caller {
            thread: &thread,
            process: &process,
        };
        let ep = Epoll::new();
        let fds: Vec<_> = (0..3).map(|_| eventfd(1)).collect();
        for (i, (_, f)) in fds.iter().enumerate() {
            ep.insert(i as i32, f, EPOLLIN, i as u64).expect("add");
        }
        assert_eq!(data(ep.take_events(&cur, 2)), [0, 1]);
        assert_eq!(data(ep.take_events(&cur, 2)), [2, 0]);
        assert_eq!(ep.poll(&cur).mask, EPOLLIN | EPOLLRDNORM);
    }

    #[test]
    fn edge_and_oneshot_items() {
        let (thread, process) = (Thread::new(1), process());
        let cur = Caller {
            thread: &thread,
            process: &process,
        };
        let b = Idle::new();
        let ep = Epoll::new();
        let (e, f) = eventfd(0);
        let (_, g) = eventfd(1);
        ep.insert(3, &f, EPOLLIN | EPOLLET, 3).expect("add et");
        ep.insert(4, &g, EPOLLIN | EPOLLONESHOT, 4)
            .expect("add oneshot");
        assert_eq!(data(ep.take_events(&cur, 8)), [4]);
        assert!(ep.take_events(&cur, 8).is_empty(), "one-shot is off");
        e.write(&1u64.to_ne_bytes(), true, &b).expect("write");
        assert_eq!(
            ep.poll(&cur).mask,
            EPOLLIN | EPOLLRDNORM,
            "looking keeps the edge"
        );
        assert_eq!(data(ep.take_events(&cur, 8)), [3]);
        assert!(ep.take_events(&cur, 8).is_empty(), "no new edge");
        e.write(&0u64.to_ne_bytes(), true, &b).expect("write 0");
        assert_eq!(
            data(ep.take_events(&cur, 8)),
            [3],
            "every write is an event"
        );
        ep.modify(4, &g, EPOLLIN | EPOLLONESHOT, 5).expect("re-arm");
        assert_eq!(data(ep.take_events(&cur, 8)), [5]);
    }
}
