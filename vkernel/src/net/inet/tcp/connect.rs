//! Making TCP connections: connect finds the listener, joins its backlog (or waits
//! in it, as a dropped SYN), and an accept lets the first waiting connector in.

use std::sync::{Arc, MutexGuard};

use nix::errno::Errno;

use super::{source_for, SHUTDOWN_MASK};
use super::{Binding, Conn, Endpoint, InetOpts, SockState, State, TcpSocket, PORTS};
use crate::net::Wait;

/// What one attempt to get into a listener's backlog came to.
enum Joined {
    Done,
    /// The backlog is full: the connector waits in the listener's `syn`.
    Full,
    Refused,
}

impl TcpSocket {
    /// The listener's end of a new connection to `to`, in state `conn`: it inherits
    /// the listener's options and shares its port (as Linux's inet_inherit_port,
    /// without a conflict check).
    pub(super) fn embryo(
        listener: &TcpSocket,
        lst: (&Binding, &InetOpts),
        to: Endpoint,
        conn: Conn,
    ) -> Arc<TcpSocket> {
        let (lb, lopts) = lst;
        let e = Self::bare(listener.fam);
        e.common.restore(listener.common.opts().clone());
        let mut st = e.lock();
        st.opts = lopts.clone();
        st.sock = SockState::Connected;
        st.conn = conn;
        let mut t = PORTS.lock();
        let id = t.next_id();
        t.insert(
            lb.port,
            crate::net::inet::ports::Entry {
                id,
                ip: to.ip,
                v6only: false,
                share: crate::net::inet::share(&listener.common.opts(), lb.uid),
                listening: false,
                owner: e.weak(),
            },
        );
        st.bound = Binding {
            ip: to.ip,
            port: lb.port,
            addr_locked: lb.addr_locked,
            port_locked: lb.port_locked,
            uid: lb.uid,
            id,
        };
        drop((t, st));
        e
    }

    /// One attempt to get a connection to `to` into `listener`'s backlog.
    fn join(&self, listener: &Arc<TcpSocket>, to: Endpoint) -> Joined {
        let Ok(me) = self.me() else {
            return Joined::Refused;
        };
        if Arc::ptr_eq(listener, &me) {
            return Joined::Refused;
        }
        let (mut lg, mut cg) = lock_two(listener, self);
        if lg.released || cg.released {
            return Joined::Refused;
        }
        let from = cg.bound.endpoint();
        let l: &mut State = &mut lg;
        let Conn::Listening {
            backlog,
            queue,
            syn,
        } = &mut l.conn
        else {
            return Joined::Refused;
        };
        match cg.conn {
            Conn::Closed | Conn::SynSent { .. } => {}
            Conn::Connected { .. } => return Joined::Done,
            Conn::Listening { .. } | Conn::Host { .. } => return Joined::Refused,
        }
        // Linux's sk_acceptq_is_full is ">": one more than the backlog gets in.
        if queue.len() > *backlog as usize {
            if !syn.iter().any(|w| w.ptr_eq(&self.me)) {
                syn.push_back(self.me.clone());
            }
            cg.conn = Conn::SynSent { to };
            return Joined::Full;
        }
        let conn = Conn::Connected {
            peer: Some(me),
            addr: from,
        };
        let e = Self::embryo(listener, (&l.bound, &l.opts), to, conn);
        queue.push_back(e.clone());
        cg.conn = Conn::Connected {
            peer: Some(e),
            addr: to,
        };
        drop((lg, cg));
        listener.input_event();
        self.output_event();
        Joined::Done
    }

    /// After an accept: the first connector waiting for room gets in.
    pub(super) fn admit_waiting(&self) {
        let Ok(me) = self.me() else { return };
        loop {
            let next = match &mut self.lock().conn {
                Conn::Listening { syn, .. } => syn.pop_front(),
                _ => None,
            };
            let Some(c) = next else { return };
            let Some(c) = c.upgrade() else { continue };
            let to = match c.lock().conn {
                Conn::SynSent { to } => to,
                _ => continue,
            };
            c.join(&me, to);
            return;
        }
    }

    /// A SYN found nobody listening (or its listener went away): ECONNREFUSED.
    pub(super) fn refuse(&self) {
        let mut st = self.lock();
        st.conn = Conn::Closed;
        st.err = Some(Errno::ECONNREFUSED);
        st.shutdown = SHUTDOWN_MASK;
        drop(st);
        self.input_event();
        self.output_event();
    }

    /// Binds an unbound connector to an ephemeral port, and a wildcard one to the
    /// address its packets to `to` go out from.
    pub(super) fn take_source(&self, to: &Endpoint) -> Result<(), Errno> {
        let mut st = self.lock();
        let src = source_for(&st.bound.ip, &to.ip);
        if st.bound.port == 0 {
            let hold = self.hold(&st);
            PORTS
                .bind(&mut st.bound, src, 0, hold)
                .map_err(|_| Errno::EADDRNOTAVAIL)?;
        } else {
            PORTS.fix_source(&mut st.bound, src);
        }
        Ok(())
    }

    /// connect on a socket that has connected or tried to (inet_stream_connect's
    /// first switch): None if this is a new attempt.
    pub(super) fn connect_again(&self, w: &Wait) -> Option<Result<(), Errno>> {
        let mut st = self.lock();
        Self::host_progress(&mut st);
        match (st.sock, &st.conn) {
            (SockState::Connected, _) => Some(Err(Errno::EISCONN)),
            _ if Self::connecting(&st) && w.nonblocking() => Some(Err(Errno::EALREADY)),
            _ if Self::connecting(&st) => {
                drop(st);
                Some(self.await_connection(w))
            }
            (SockState::Connecting, Conn::Connected { .. } | Conn::Host { .. }) => {
                st.sock = SockState::Connected;
                Some(Ok(()))
            }
            (SockState::Connecting, _) => {
                let e = st.err.take().unwrap_or(Errno::ECONNABORTED);
                drop(st);
                self.disconnect_local();
                Some(Err(e))
            }
            (SockState::Unconnected, Conn::Closed) => None,
            (SockState::Unconnected, _) => Some(Err(Errno::EISCONN)),
        }
    }

    /// A blocking connect waits in a full backlog until it is let in or refused (or
    /// for the host's connection through vke0).
    pub(super) fn await_connection(&self, w: &Wait) -> Result<(), Errno> {
        self.lock().sock = SockState::Connecting;
        let done = w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            Self::host_progress(&mut st);
            if Self::connecting(&st) {
                return None;
            }
            match st.conn {
                Conn::Connected { .. } | Conn::Host { .. } => {
                    st.sock = SockState::Connected;
                    Some(Ok(()))
                }
                _ => Some(Err(st.err.take().unwrap_or(Errno::ECONNABORTED))),
            }
        })?;
        if done.is_err() {
            self.disconnect_local();
        }
        done
    }

    pub(super) fn connect_to(&self, to: Endpoint, w: &Wait) -> Result<(), Errno> {
        self.take_source(&to)?;
        // A SO_REUSEPORT group spreads connections by the client's port.
        let group = PORTS.lock().lookup_best(to.port, &to.ip, |e| e.listening);
        let from = self.lock().bound.port;
        let listener = group.get(usize::from(from) % group.len().max(1)).cloned();
        let joined = match listener {
            Some(l) => self.join(&l, to),
            None => Joined::Refused,
        };
        if let Joined::Refused = joined {
            self.refuse();
        }
        if w.nonblocking() {
            self.lock().sock = SockState::Connecting;
            return Err(Errno::EINPROGRESS);
        }
        match joined {
            Joined::Done => {
                self.lock().sock = SockState::Connected;
                Ok(())
            }
            Joined::Full => self.await_connection(w),
            Joined::Refused => {
                // The call reports the error itself.
                let e = self.lock().err.take().unwrap_or(Errno::ECONNREFUSED);
                self.disconnect_local();
                Err(e)
            }
        }
    }
}

/// Locks two different sockets' states in address order.
fn lock_two<'a>(
    a: &'a TcpSocket,
    b: &'a TcpSocket,
) -> (MutexGuard<'a, State>, MutexGuard<'a, State>) {
    if (a as *const TcpSocket) < (b as *const TcpSocket) {
        let ga = a.lock();
        (ga, b.lock())
    } else {
        let gb = b.lock();
        (a.lock(), gb)
    }
}
