//! Sessions and their terminals: controlling terminals, hangups, and orphaned
//! process groups (Linux's drivers/tty/tty_jobctrl.c and the job-control parts of
//! kernel/exit.c).

use std::sync::{Arc, Weak};

use crate::fs::tty::{Tty, TtyHost, TtyId};
use crate::kernel::Kernel;
use crate::process::Process;
use crate::signal::SIGCONT;

const SIGHUP: i32 = libc::SIGHUP;

/// The kernel as its terminals see it.
struct KernelTtyHost(Weak<Kernel>);

impl TtyHost for KernelTtyHost {
    fn signal_group(&self, pgid: i32, sig: i32) {
        if let Some(k) = self.0.upgrade() {
            k.signal_group(pgid, sig);
        }
    }

    fn hangup(&self, id: TtyId, sid: i32, pgrp: Option<i32>) {
        if let Some(k) = self.0.upgrade() {
            k.hangup_session(id, sid, pgrp);
        }
    }

    fn pty_closed(&self, index: u32) {
        if let Some(k) = self.0.upgrade() {
            k.ttys.remove_node(index);
        }
    }

    fn deliver_input(&self, deliver: &mut dyn FnMut()) {
        match self.0.upgrade() {
            Some(k) => k.freezer.deliver_input(deliver),
            None => deliver(),
        }
    }
}

pub fn tty_host(kernel: &Weak<Kernel>) -> Arc<dyn TtyHost> {
    Arc::new(KernelTtyHost(kernel.clone()))
}

impl Kernel {
    /// The caller's controlling terminal, if it has one.
    pub fn ctty(&self, p: &Process) -> Option<Arc<Tty>> {
        let id = p.tree().ctty?;
        self.ttys.get(id)
    }

    /// `tty` becomes the controlling terminal of `p`'s session, with `p`'s group in
    /// the foreground (Linux's __proc_set_tty).
    pub fn set_ctty(&self, p: &Process, tty: &Tty) {
        let (sid, pgid) = {
            let mut tr = p.tree();
            tr.ctty = Some(tty.id);
            (tr.sid, tr.pgid)
        };
        tty.set_ctrl(sid, pgid);
    }

    fn session_members(&self, sid: i32) -> Vec<Arc<Process>> {
        let all = self.all_processes();
        all.into_iter().filter(|p| p.tree().sid == sid).collect()
    }

    /// Every process of session `sid` loses its controlling terminal
    /// (session_clear_tty).
    pub fn session_clear_tty(&self, sid: i32) {
        for p in self.session_members(sid) {
            p.tree().ctty = None;
        }
    }

    /// Terminal `id` hung up (its pty master closed) while controlling session
    /// `sid` with `pgrp` in the foreground: the session's processes lose it, and
    /// the leader gets SIGHUP and SIGCONT and remembers the group, which hears
    /// SIGHUP when the leader exits (tty_signal_session_leader).
    fn hangup_session(&self, id: TtyId, sid: i32, pgrp: Option<i32>) {
        for p in self.session_members(sid) {
            let leader = {
                let mut tr = p.tree();
                if tr.ctty == Some(id) {
                    tr.ctty = None;
                }
                let leader = p.pid == sid;
                if leader {
                    tr.tty_old_pgrp = pgrp;
                }
                leader
            };
            if leader && p.life().exit.is_none() {
                self.signal_process(&p, SIGHUP);
                self.signal_process(&p, SIGCONT);
            }
        }
    }

    fn signal_process(&self, p: &Arc<Process>, sig: i32) {
        let info = crate::signal::SigInfo::kernel(sig);
        crate::signal::deliver::send_to_process(self, p, info);
    }

    /// A session leader gives up its controlling terminal (Linux's
    /// disassociate_ctty): at exit (`on_exit`) the foreground group gets SIGHUP, with
    /// TIOCNOTTY SIGHUP and SIGCONT; the terminal then controls no session. A leader
    /// whose terminal hung up earlier signals the group that was in the foreground
    /// then. Other processes do nothing here.
    pub fn disassociate_ctty(&self, p: &Process, on_exit: bool) {
        let sid = p.tree().sid;
        if sid != p.pid {
            return;
        }
        let Some(tty) = self.ctty(p) else {
            let old = p.tree().tty_old_pgrp.take();
            if let (true, Some(pg)) = (on_exit, old) {
                self.signal_group(pg, SIGHUP);
                self.signal_group(pg, SIGCONT);
            }
            return;
        };
        if let (_, Some(pg)) = tty.ctrl() {
            self.signal_group(pg, SIGHUP);
            if !on_exit {
                self.signal_group(pg, SIGCONT);
            }
        }
        p.tree().tty_old_pgrp = None;
        tty.clear_ctrl();
        self.session_clear_tty(sid);
    }
}

/// Orphaned process groups: POSIX wants a group that loses its last link to a
/// parent in another group of the same session, and has stopped members, to get
/// SIGHUP and SIGCONT, since no job-control shell can ever continue it.
impl Kernel {
    /// Whether group `pgid` is (or, without `ignored`, will be) orphaned: no live
    /// member has a parent in another group of the same session; children of pid 1
    /// do not count (Linux's will_become_orphaned_pgrp).
    pub fn pgrp_orphaned(&self, pgid: i32, ignored: Option<i32>) -> bool {
        let members = self
            .all_processes()
            .into_iter()
            .filter(|p| p.pgid() == pgid && Some(p.pid) != ignored && p.life().exit.is_none());
        for m in members {
            let (ppid, sid) = {
                let tr = m.tree();
                (tr.ppid, tr.sid)
            };
            let Some(parent) = self.process(ppid).filter(|_| ppid != 1) else {
                continue;
            };
            let tr = parent.tree();
            if tr.pgid != pgid && tr.sid == sid {
                return false;
            }
        }
        true
    }

    /// The session of process group `pgid`, or of the process with that pid when
    /// no group has that number (Linux's session_of_pgrp); None if neither exists.
    pub fn session_of_pgrp(&self, pgid: i32) -> Option<i32> {
        let all = self.all_processes();
        let member = all
            .iter()
            .find(|p| p.pgid() == pgid && p.life().exit.is_none());
        member
            .or_else(|| all.iter().find(|p| p.pid == pgid))
            .map(|p| p.tree().sid)
    }

    fn has_stopped_jobs(&self, pgid: i32) -> bool {
        let all = self.all_processes();
        all.iter()
            .any(|p| p.pgid() == pgid && p.life().stopped.is_some())
    }

    /// `p`'s group may just have become orphaned: because `p` exits (`father`
    /// None), or because `p`'s parent `father` exited and `p` went to pid 1
    /// (kill_orphaned_pgrp).
    pub fn kill_orphaned_pgrp(&self, p: &Process, father: Option<&Arc<Process>>) {
        let (pgid, sid, ppid) = {
            let tr = p.tree();
            (tr.pgid, tr.sid, tr.ppid)
        };
        let (parent, ignored) = match father {
            Some(f) => (Some(f.clone()), None),
            None => (self.process(ppid), Some(p.pid)),
        };
        let Some(parent) = parent else { return };
        let (ppg, psid) = {
            let tr = parent.tree();
            (tr.pgid, tr.sid)
        };
        if ppg != pgid
            && psid == sid
            && self.pgrp_orphaned(pgid, ignored)
            && self.has_stopped_jobs(pgid)
        {
            self.signal_group(pgid, SIGHUP);
            self.signal_group(pgid, SIGCONT);
        }
    }
}
