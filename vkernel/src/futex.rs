//! Futexes: the kernel side of guest mutexes, condition variables, joins and
//! barriers. A waiter sleeps on a key that names the futex word; wakers find waiters
//! by key.
//!
//! Keys follow Linux's get_futex_key: a word in a private mapping is named by its
//! vmspace and address (so a fork child's copy is a different futex even while the
//! frame is still shared copy-on-write); a word in a shared mapping by its physmem
//! frame and offset, which every process mapping that memory agrees on.
//!
//! Lock order: the futex table, then a vmspace (the value check of a wait and the
//! read-modify-write of WAKE_OP happen under the table lock, so no wake is lost
//! between the check and the sleep).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use nix::errno::Errno;

use crate::mm::{page_floor, GuestPtr, Prot, UserMem, Vmspace, PAGE};
use crate::sched::{wait_on, Waker};
use crate::task::Task;

/// FUTEX_BITSET_MATCH_ANY: what plain WAIT and WAKE use.
pub const BITSET_ANY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FutexKey {
    Private { vmspace: u64, addr: u64 },
    Shared { frame: u64, offset: u64 },
}

struct Waiter {
    key: Mutex<FutexKey>,
    bitset: u32,
    woken: AtomicBool,
    waker: Arc<Waker>,
}

impl Waiter {
    fn wake(&self) {
        self.woken.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// Every futex with a waiter, by key; waiters in arrival order.
#[derive(Default)]
pub struct FutexTable {
    queues: Mutex<HashMap<FutexKey, Vec<Arc<Waiter>>>>,
}

type Queues = HashMap<FutexKey, Vec<Arc<Waiter>>>;

impl FutexTable {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `w` out of the table; false if a waker already did.
    fn remove(&self, w: &Arc<Waiter>) -> bool {
        let mut q = self.lock();
        let key = *w.key.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = q.get_mut(&key) else {
            return false;
        };
        let before = list.len();
        list.retain(|x| !Arc::ptr_eq(x, w));
        let removed = list.len() != before;
        if list.is_empty() {
            q.remove(&key);
        }
        removed
    }
}

/// Wakes up to `n` waiters on `key` whose bitset meets `bitset`; returns how many.
fn wake_locked(q: &mut Queues, key: FutexKey, n: u32, bitset: u32) -> u32 {
    let Some(list) = q.get_mut(&key) else {
        return 0;
    };
    let mut woken = 0;
    list.retain(|w| {
        if woken < n && w.bitset & bitset != 0 {
            w.wake();
            woken += 1;
            false
        } else {
            true
        }
    });
    if list.is_empty() {
        q.remove(&key);
    }
    woken
}

/// The key of the futex word at `addr` (EINVAL if misaligned, EFAULT if unmapped).
fn key_of(mm: &mut Vmspace, addr: u64) -> Result<FutexKey, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let vma = mm.find_vma(addr).ok_or(Errno::EFAULT)?;
    if !vma.shared {
        return Ok(FutexKey::Private {
            vmspace: mm.id(),
            addr,
        });
    }
    let frame = mm.frame_for(page_floor(addr), false)?;
    Ok(FutexKey::Shared {
        frame,
        offset: addr % PAGE,
    })
}

/// How a futex wait ends early.
pub struct WaitSpec {
    pub val: u32,
    pub bitset: u32,
    pub deadline: Option<Instant>,
}

/// FUTEX_WAIT(_BITSET): sleeps while the word at `addr` holds `spec.val`.
pub fn wait(t: &Task, addr: u64, spec: WaitSpec) -> Result<u64, Errno> {
    if spec.bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let table = &t.kernel.futexes;
    let me = Arc::new(Waiter {
        key: Mutex::new(FutexKey::Private { vmspace: 0, addr }),
        bitset: spec.bitset,
        woken: AtomicBool::new(false),
        waker: t.me.waker.clone(),
    });
    {
        let mut q = table.lock();
        let (key, cur) = {
            let mut mm = t.process.mm();
            let key = key_of(&mut mm, addr)?;
            (key, mm.read_val::<u32>(GuestPtr(addr))?)
        };
        if cur != spec.val {
            return Err(Errno::EAGAIN);
        }
        *me.key.lock().unwrap_or_else(|e| e.into_inner()) = key;
        q.entry(key).or_default().push(me.clone());
    }
    let woken = || me.woken.load(Ordering::SeqCst).then_some(());
    let interrupted = || crate::sched::Block::interrupted(t);
    match wait_on(&t.me.waker, &[], spec.deadline, &interrupted, woken) {
        Ok(()) => Ok(0),
        // A wake that raced with the timeout or the signal still counts as a wake.
        Err(_) if !table.remove(&me) => Ok(0),
        Err(crate::sched::WaitError::TimedOut) => Err(Errno::ETIMEDOUT),
        Err(crate::sched::WaitError::Interrupted) => Err(Errno::EINTR),
    }
}

/// FUTEX_WAKE(_BITSET): wakes up to `n` waiters on the word at `addr`.
pub fn wake(t: &Task, addr: u64, n: u32, bitset: u32) -> Result<u64, Errno> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let mut q = t.kernel.futexes.lock();
    let key = key_of(&mut t.process.mm(), addr)?;
    Ok(u64::from(wake_locked(&mut q, key, n, bitset)))
}

/// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wakes up to `n` waiters on `addr` and moves up
/// to `n2` of the rest to `addr2`. With `expect`, the word at `addr` must still hold
/// it (EAGAIN otherwise). Returns the woken plus (for CMP_REQUEUE) the moved.
pub fn requeue(
    t: &Task,
    (addr, addr2): (u64, u64),
    (n, n2): (u32, u32),
    expect: Option<u32>,
) -> Result<u64, Errno> {
    let mut q = t.kernel.futexes.lock();
    let (k1, k2) = {
        let mut mm = t.process.mm();
        let keys = (key_of(&mut mm, addr)?, key_of(&mut mm, addr2)?);
        if let Some(v) = expect {
            if mm.read_val::<u32>(GuestPtr(addr))? != v {
                return Err(Errno::EAGAIN);
            }
        }
        keys
    };
    let woken = wake_locked(&mut q, k1, n, BITSET_ANY);
    let moved: Vec<Arc<Waiter>> = match q.get_mut(&k1) {
        Some(list) => {
            let take = list.len().min(n2 as usize);
            list.drain(..take).collect()
        }
        None => Vec::new(),
    };
    if q.get(&k1).is_some_and(|l| l.is_empty()) {
        q.remove(&k1);
    }
    let count = moved.len() as u64;
    for w in &moved {
        *w.key.lock().unwrap_or_else(|e| e.into_inner()) = k2;
    }
    if !moved.is_empty() {
        q.entry(k2).or_default().extend(moved);
    }
    Ok(u64::from(woken) + if expect.is_some() { count } else { 0 })
}

/// FUTEX_WAKE_OP: atomically applies `op` to the word at `addr2`, wakes up to `n` on
/// `addr`, and up to `n2` on `addr2` if the old value passes `op`'s comparison.
pub fn wake_op(
    t: &Task,
    (addr, addr2): (u64, u64),
    (n, n2): (u32, u32),
    op: u32,
) -> Result<u64, Errno> {
    let op = WakeOp::decode(op)?;
    let mut q = t.kernel.futexes.lock();
    let (k1, k2, old) = {
        let mut mm = t.process.mm();
        let keys = (key_of(&mut mm, addr)?, key_of(&mut mm, addr2)?);
        (
            keys.0,
            keys.1,
            atomic_update(&mut mm, addr2, |v| op.apply(v))?,
        )
    };
    let mut woken = wake_locked(&mut q, k1, n, BITSET_ANY);
    if op.test(old) {
        woken += wake_locked(&mut q, k2, n2, BITSET_ANY);
    }
    Ok(u64::from(woken))
}

/// Runs `f` on the word at `addr` as one atomic update (guest threads may be changing
/// it on other CPUs); returns the old value.
fn atomic_update(mm: &mut Vmspace, addr: u64, f: impl Fn(u32) -> u32) -> Result<u32, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let vma = mm.find_vma(addr).ok_or(Errno::EFAULT)?;
    if !vma.prot.contains(Prot::WRITE) {
        return Err(Errno::EFAULT);
    }
    let frame = mm.frame_for(page_floor(addr), true)?;
    // SAFETY: the vmspace (locked by the caller) holds the frame; the word is 4-byte
    // aligned inside it, and guest writes to it are atomic on x86 as ours are.
    let word = unsafe {
        let page = mm.physmem().frame_mut(frame);
        AtomicU32::from_ptr(page.as_mut_ptr().add((addr % PAGE) as usize).cast())
    };
    Ok(
        match word.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(f(v))) {
            Ok(v) | Err(v) => v,
        },
    )
}

/// FUTEX_WAKE_OP's encoded operation: `*addr2 = old OP oparg`, then `old CMP cmparg`.
struct WakeOp {
    op: u32,
    oparg: u32,
    cmp: u32,
    cmparg: u32,
}

impl WakeOp {
    fn decode(v: u32) -> Result<WakeOp, Errno> {
        let shift = v >> 31 != 0;
        let mut oparg = (v >> 12) & 0xfff;
        if shift {
            if oparg > 31 {
                return Err(Errno::EINVAL);
            }
            oparg = 1 << oparg;
        }
        let w = WakeOp {
            op: (v >> 28) & 7,
            oparg,
            cmp: (v >> 24) & 0xf,
            cmparg: v & 0xfff,
        };
        if w.op > 4 || w.cmp > 5 {
            return Err(Errno::ENOSYS);
        }
        Ok(w)
    }

    fn apply(&self, old: u32) -> u32 {
        match self.op {
            0 => self.oparg,
            1 => old.wrapping_add(self.oparg),
            2 => old | self.oparg,
            3 => old & !self.oparg,
            _ => old ^ self.oparg,
        }
    }

    fn test(&self, old: u32) -> bool {
        // Linux compares the old value and the (sign-extended 12-bit) argument as ints.
        let (a, b) = (old as i32, ((self.cmparg << 20) as i32) >> 20);
        match self.cmp {
            0 => a == b,
            1 => a != b,
            2 => a < b,
            3 => a <= b,
            4 => a > b,
            _ => a >= b,
        }
    }
}

/// Robust futexes held by a thread that exits are marked FUTEX_OWNER_DIED and one
/// waiter of each is woken (Linux's exit_robust_list), so other threads can recover
/// the lock with EOWNERDEAD.
pub fn exit_robust_list(t: &mut Task) {
    let head = std::mem::take(&mut t.robust_list);
    if head == 0 {
        return;
    }
    let read = |a: u64| t.process.mm().read_val::<u64>(GuestPtr(a)).ok();
    // struct robust_list_head { next, futex_offset, list_op_pending }
    let (Some(mut entry), Some(offset), Some(pending)) =
        (read(head), read(head + 8), read(head + 16))
    else {
        return;
    };
    // Bounded as Linux bounds it (ROBUST_LIST_LIMIT): a corrupt list cannot loop.
    for _ in 0..2048 {
        if entry == head {
            break;
        }
        // The low bit marks a PI futex in the entry pointer.
        let node = entry & !1;
        let next = read(node);
        if node != pending {
            owner_died(t, node.wrapping_add(offset));
        }
        match next {
            Some(n) => entry = n,
            None => return,
        }
    }
    if pending != 0 {
        owner_died(t, (pending & !1).wrapping_add(offset));
    }
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// Marks the robust futex word at `addr` owner-dead if this thread holds it.
fn owner_died(t: &Task, addr: u64) {
    let tid = t.tid as u32;
    let mark = |v: u32| {
        if v & FUTEX_TID_MASK == tid {
            (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED
        } else {
            v
        }
    };
    let old = {
        let _q = t.kernel.futexes.lock();
        atomic_update(&mut t.process.mm(), addr, mark)
    };
    if matches!(old, Ok(v) if v & FUTEX_TID_MASK == tid && v & FUTEX_WAITERS != 0) {
        let _ = wake(t, addr, 1, BITSET_ANY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_op_decodes_as_linux_defines_it() {
        // FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0): glibc's condvar signal.
        let op = WakeOp::decode((1 << 28) | (1 << 12) | (4 << 24)).unwrap();
        assert_eq!(op.apply(5), 6);
        assert!(op.test(1) && !op.test(0));
        // OPARG_SHIFT: the argument is a bit number.
        let op = WakeOp::decode((1 << 31) | (2 << 28) | (3 << 12)).unwrap();
        assert_eq!(op.apply(0), 8);
        // A negative comparison argument is sign-extended.
        let op = WakeOp::decode((2 << 24) | 0xfff).unwrap();
        assert!(op.test(-2i32 as u32) && !op.test(0));
        assert!(WakeOp::decode(7 << 28).is_err());
    }

    #[test]
    fn waiters_wake_in_order_and_by_bitset() {
        let mut q = Queues::new();
        let key = FutexKey::Private {
            vmspace: 1,
            addr: 8,
        };
        let ws: Vec<Arc<Waiter>> = [1u32, 2, 1]
            .iter()
            .map(|&b| {
                Arc::new(Waiter {
                    key: Mutex::new(key),
                    bitset: b,
                    woken: AtomicBool::new(false),
                    waker: Waker::new(),
                })
            })
            .collect();
        q.entry(key).or_default().extend(ws.iter().cloned());
        assert_eq!(wake_locked(&mut q, key, 1, 1), 1);
        assert!(ws[0].woken.load(Ordering::SeqCst));
        assert_eq!(wake_locked(&mut q, key, 5, 2), 1);
        assert!(ws[1].woken.load(Ordering::SeqCst) && !ws[2].woken.load(Ordering::SeqCst));
        assert_eq!(wake_locked(&mut q, key, 5, BITSET_ANY), 1);
        assert!(q.is_empty());
    }
}
