//! Terminal system calls, one path for the console and pseudo-terminals: opening
//! terminal devices (and gaining a controlling terminal), job control on reads,
//! writes and settings, and the terminal ioctls.

use std::sync::Arc;

use nix::errno::Errno;
use tty::FlowAction;

use super::SysResult;
use crate::fs::devpts::PTS_MAJOR;
use crate::fs::file::{FileKind, OpenFile, O_ACCMODE, O_NONBLOCK, O_WRONLY};
use crate::fs::tty::{Tty, TtyId};
use crate::fs::{lower_major, lower_minor};
use crate::mm::{GuestPtr, UserMem};
use crate::signal::{SIGTTIN, SIGTTOU, SIG_IGN};
use crate::task::Task;

const O_NOCTTY: u32 = 0o400;
const O_CLOEXEC: u32 = 0o2000000;

pub const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TCSBRK: u64 = 0x5409;
const TCXONC: u64 = 0x540a;
const TCFLSH: u64 = 0x540b;
const TIOCSCTTY: u64 = 0x540e;
const TIOCGPGRP: u64 = 0x540f;
const TIOCSPGRP: u64 = 0x5410;
const TIOCOUTQ: u64 = 0x5411;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
pub const FIONREAD: u64 = 0x541b;
const TIOCNOTTY: u64 = 0x5422;
const TIOCGETD: u64 = 0x5424;
const TCSBRKP: u64 = 0x5425;
const TIOCGSID: u64 = 0x5429;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGPTLCK: u64 = 0x8004_5439;
const TIOCGPTPEER: u64 = 0x5441;

fn put_i32(t: &Task, addr: u64, v: i32) -> SysResult {
    t.process.mm().write_val(GuestPtr(addr), &v)?;
    Ok(0)
}

fn get_i32(t: &Task, addr: u64) -> Result<i32, Errno> {
    t.process.mm().read_val(GuestPtr(addr))
}

/// open(2) of a character device that is a terminal: /dev/tty (the caller's
/// controlling terminal, ENXIO without one), /dev/console and /dev/ttyN (the
/// console), /dev/ptmx (a new pty pair) and /dev/pts/N (a slave). None for other
/// devices.
pub fn open_device(t: &Task, rdev: u64, flags: u32) -> Result<Option<FileKind>, Errno> {
    let tty = match (lower_major(rdev), lower_minor(rdev)) {
        (5, 0) => t.kernel.ctty(&t.process).ok_or(Errno::ENXIO)?,
        (5, 1) | (4, _) => t.kernel.ttys.console.clone(),
        (5, 2) => {
            let host = crate::session::tty_host(&Arc::downgrade(&t.kernel));
            let tty = t.kernel.ttys.open_ptmx(host, t.process.cred())?;
            return Ok(Some(FileKind::PtyMaster(tty)));
        }
        (PTS_MAJOR, n) => {
            let tty = t.kernel.ttys.get(TtyId::Pty(n)).ok_or(Errno::EIO)?;
            tty.open_slave()?;
            acquire_ctty(t, &tty, flags);
            tty
        }
        _ => return Ok(None),
    };
    Ok(Some(FileKind::Tty { tty, stderr: false }))
}

/// Opening a pty slave readable, without O_NOCTTY, makes it the controlling
/// terminal of a session leader that has none, if it controls no session yet
/// (tty_open_proc_set_tty; /dev/tty, /dev/console and masters never do this).
fn acquire_ctty(t: &Task, tty: &Tty, flags: u32) {
    if flags & O_NOCTTY != 0 || flags & O_ACCMODE == O_WRONLY {
        return;
    }
    let free = {
        let tr = t.process.tree();
        tr.sid == t.process.pid && tr.ctty.is_none()
    };
    if free && tty.ctrl().0.is_none() {
        t.kernel.set_ctty(&t.process, tty);
    }
}

/// Whether the caller may act on `tty` now (Linux's tty_check_change): a
/// background group touching its controlling terminal gets `sig` (SIGTTIN for
/// reads, SIGTTOU for writes with TOSTOP and for changing settings) and the call is
/// restarted once the group is continued. If `sig` is ignored or blocked, reads fail
/// with EIO and the rest go ahead; an orphaned group gets EIO.
fn check_change(t: &Task, tty: &Tty, sig: i32) -> Result<(), Errno> {
    if t.process.tree().ctty != Some(tty.id) {
        return Ok(());
    }
    let pgid = t.process.pgid();
    match tty.ctrl().1 {
        Some(fg) if fg != pgid => {}
        _ => return Ok(()),
    }
    let ignored = t.process.sigactions()[(sig - 1) as usize].handler == SIG_IGN
        || t.me.signals().mask & crate::signal::bit(sig) != 0;
    if ignored {
        return if sig == SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(())
        };
    }
    if t.kernel.pgrp_orphaned(pgid, None) {
        return Err(Errno::EIO);
    }
    t.kernel.signal_group(pgid, sig);
    Err(Errno::EINTR)
}

/// Job control before a read or write of `f`.
pub fn job_control(t: &Task, f: &OpenFile, writing: bool) -> Result<(), Errno> {
    let FileKind::Tty { tty, .. } = &f.kind else {
        return Ok(());
    };
    if !writing {
        check_change(t, tty, SIGTTIN)
    } else if tty.tostop() {
        check_change(t, tty, SIGTTOU)
    } else {
        Ok(())
    }
}

/// ioctl(2) on a terminal. Through a pty master (`master`), requests act on its
/// slave, except the master's own (TIOCGPTN, TIOCSPTLCK, FIONREAD, ...), as Linux.
pub fn ioctl(
    t: &mut Task,
    f: &OpenFile,
    tty: &Arc<Tty>,
    master: bool,
    req: u64,
    arg: u64,
) -> SysResult {
    if master {
        if let Some(r) = master_ioctl(t, tty, req, arg) {
            return r;
        }
    } else if tty.hung_up() {
        return Err(if req == TIOCSPGRP {
            Errno::ENOTTY
        } else {
            Errno::EIO
        });
    }
    if !tty.is_terminal() {
        return match req {
            FIONREAD => put_i32(t, arg, tty.available() as i32),
            _ => Err(Errno::ENOTTY),
        };
    }
    match req {
        TCGETS | TCSETS | TCSETSW | TCSETSF | TIOCGWINSZ | TIOCSWINSZ => settings(t, tty, req, arg),
        TIOCGPGRP | TIOCSPGRP | TIOCGSID | TIOCSCTTY | TIOCNOTTY => {
            control(t, f, tty, master, req, arg)
        }
        TCFLSH | TCXONC | TCSBRK | TCSBRKP => queues(t, tty, req, arg),
        FIONREAD => put_i32(t, arg, tty.available() as i32),
        // Output goes to the other side at once: nothing waits in a driver.
        TIOCOUTQ => put_i32(t, arg, 0),
        // N_TTY, the only line discipline.
        TIOCGETD => put_i32(t, arg, 0),
        _ => Err(Errno::ENOTTY),
    }
}

/// The master's own requests; None for those that go to the slave.
fn master_ioctl(t: &mut Task, tty: &Arc<Tty>, req: u64, arg: u64) -> Option<SysResult> {
    let TtyId::Pty(n) = tty.id else { return None };
    Some(match req {
        TIOCGPTN => put_i32(t, arg, n as i32),
        TIOCGPTLCK => put_i32(t, arg, i32::from(tty.locked())),
        TIOCSPTLCK => get_i32(t, arg).map(|v| {
            tty.set_locked(v != 0);
            0
        }),
        TIOCGPTPEER => open_peer(t, tty, n, arg as u32),
        FIONREAD => put_i32(t, arg, tty.master_available() as i32),
        TCFLSH => match arg {
            // The master's input is what the slave wrote; its output is already
            // in the slave's line discipline, where Linux's flush does not reach.
            0 | 2 => {
                tty.master_flush_input();
                Ok(0)
            }
            1 => Ok(0),
            _ => Err(Errno::EINVAL),
        },
        _ => return None,
    })
}

/// TIOCGPTPEER: opens the slave without a path lookup, with `flags`.
fn open_peer(t: &Task, tty: &Arc<Tty>, n: u32, flags: u32) -> SysResult {
    let allowed = O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux takes the descriptor before it opens: a full table leaves the slave
    // unopened and the caller without a new controlling terminal.
    t.process.files().room()?;
    let name = n.to_string().into_bytes();
    let inode = {
        let dir = t.kernel.ttys.dir.lock();
        dir.dir()?.entries.get(&name).cloned().ok_or(Errno::EIO)?
    };
    tty.open_slave()?;
    acquire_ctty(t, tty, flags);
    let mut path = b"/dev/pts/".to_vec();
    path.extend_from_slice(&name);
    let kind = FileKind::Tty {
        tty: tty.clone(),
        stderr: false,
    };
    let file = OpenFile::new(inode, path, kind, flags & !(O_NOCTTY | O_CLOEXEC));
    let fd = t.process.files().install(file, flags & O_CLOEXEC != 0, 0)?;
    Ok(fd as u64)
}

/// termios and the window size.
fn settings(t: &mut Task, tty: &Tty, req: u64, arg: u64) -> SysResult {
    match req {
        TCGETS => {
            let bytes = tty.termios()?.to_bytes();
            t.process.mm().write_bytes(GuestPtr(arg), &bytes)?;
        }
        TIOCGWINSZ => {
            let bytes = tty.winsize()?.to_bytes();
            t.process.mm().write_bytes(GuestPtr(arg), &bytes)?;
        }
        TIOCSWINSZ => {
            let mut b = [0u8; 8];
            t.process.mm().read_bytes(GuestPtr(arg), &mut b)?;
            tty.set_winsize(tty::Winsize::from_bytes(&b))?;
        }
        _ => {
            check_change(t, tty, SIGTTOU)?;
            let mut b = [0u8; tty::Termios::SIZE];
            t.process.mm().read_bytes(GuestPtr(arg), &mut b)?;
            tty.set_termios(tty::Termios::from_bytes(&b), req == TCSETSF)?;
        }
    }
    Ok(0)
}

/// TCFLSH, TCXONC, and the drain/break requests (tcdrain, tcsendbreak).
fn queues(t: &mut Task, tty: &Tty, req: u64, arg: u64) -> SysResult {
    check_change(t, tty, SIGTTOU)?;
    match req {
        TCFLSH if arg <= 2 => tty.flush(arg != 1, arg != 0)?,
        TCXONC => {
            let action = match arg {
                0 => FlowAction::OutputOff,
                1 => FlowAction::OutputOn,
                2 => FlowAction::SendStop,
                3 => FlowAction::SendStart,
                _ => return Err(Errno::EINVAL),
            };
            tty.flow(action)?;
        }
        // Output is never held back on its way out, so there is nothing to drain,
        // and a break means nothing to a terminal without a line.
        TCSBRK | TCSBRKP => {}
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// Sessions and process groups: TIOCGPGRP, TIOCSPGRP, TIOCGSID, TIOCSCTTY,
/// TIOCNOTTY.
fn control(t: &mut Task, f: &OpenFile, tty: &Tty, master: bool, req: u64, arg: u64) -> SysResult {
    let mine = t.process.tree().ctty == Some(tty.id);
    let (session, pgrp) = tty.ctrl();
    match req {
        // Through the master anyone may ask; on the terminal itself only its session.
        TIOCGPGRP if master || mine => put_i32(t, arg, pgrp.unwrap_or(0)),
        TIOCGSID if master || mine => put_i32(t, arg, session.ok_or(Errno::ENOTTY)?),
        TIOCSPGRP => set_pgrp(t, tty, arg),
        TIOCSCTTY => set_ctty(t, f, tty, arg),
        TIOCNOTTY if mine && !master => {
            t.kernel.disassociate_ctty(&t.process, false);
            t.process.tree().ctty = None;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// TIOCSPGRP (Linux's tiocspgrp): only for the caller's controlling terminal, to
/// a group of its session.
fn set_pgrp(t: &Task, tty: &Tty, arg: u64) -> SysResult {
    match check_change(t, tty, SIGTTOU) {
        Err(Errno::EIO) => return Err(Errno::ENOTTY),
        r => r?,
    }
    let pgrp = get_i32(t, arg)?;
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    let (sid, ctty) = {
        let tr = t.process.tree();
        (tr.sid, tr.ctty)
    };
    if ctty != Some(tty.id) || tty.ctrl().0 != Some(sid) {
        return Err(Errno::ENOTTY);
    }
    if t.kernel.session_of_pgrp(pgrp).ok_or(Errno::ESRCH)? != sid {
        return Err(Errno::EPERM);
    }
    tty.set_pgrp(pgrp);
    Ok(0)
}

/// TIOCSCTTY (Linux's tiocsctty): a session leader without a controlling terminal
/// takes this one; root may steal it from another session with arg 1.
fn set_ctty(t: &Task, f: &OpenFile, tty: &Tty, arg: u64) -> SysResult {
    let (sid, ctty) = {
        let tr = t.process.tree();
        (tr.sid, tr.ctty)
    };
    let leader = sid == t.process.pid;
    let owner = tty.ctrl().0;
    if leader && owner == Some(sid) {
        return Ok(0);
    }
    if !leader || ctty.is_some() {
        return Err(Errno::EPERM);
    }
    let root = t.process.cred().euid == 0;
    match owner {
        Some(other) if arg == 1 && root => t.kernel.session_clear_tty(other),
        Some(_) => return Err(Errno::EPERM),
        None => {}
    }
    if !f.readable() && !root {
        return Err(Errno::EPERM);
    }
    t.kernel.set_ctty(&t.process, tty);
    Ok(0)
}
