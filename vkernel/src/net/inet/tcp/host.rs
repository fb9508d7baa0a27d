//! TCP through vke0: a connection whose other end is off the guest is a host socket
//! of vkernel's (`Conn::Host`), outbound from a guest connect or inbound from a
//! published port. Received bytes are pulled from the host socket into the receive
//! queue whenever the guest looks (a recv, a poll), up to SO_RCVBUF, so the rules
//! of reading (SO_RCVLOWAT, MSG_WAITALL, MSG_PEEK, end of file) are the loopback
//! ones; sends go straight to the host socket. The pump (`net::nat::pump`) wakes
//! the socket's waiters when the host socket becomes ready.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use nix::errno::Errno;
use nix::sys::socket::Shutdown;

use super::{Conn, SockState, State, TcpSocket, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK};
use crate::net::iface::vke0_traffic;
use crate::net::inet::addr::{is_any, Endpoint};
use crate::net::nat::host::{with_buffer, HostSocket};
use crate::net::nat::pump::Watcher;
use crate::net::nat::{self, publish};
use crate::net::Wait;

/// TCP_MAXSEG of a connection through vke0: its MTU (1500) less the IP and TCP
/// headers.
pub(super) const VKE0_MSS: i32 = 1500 - 20 - 20;

impl Watcher for TcpSocket {
    fn host_ready(&self) {
        self.input_event();
        self.output_event();
    }
}

impl TcpSocket {
    /// A new host socket for this guest socket, watched by the pump.
    fn host_socket(&self, to: &SocketAddr) -> Result<HostSocket, Errno> {
        let me: Weak<dyn Watcher> = self.weak();
        HostSocket::stream(to)?.watched(me)
    }

    /// connect to an address off the guest (NAT): the host socket connects, and
    /// the guest socket waits for it as for a SYN's answer.
    pub(super) fn connect_host(&self, to: Endpoint, w: &Wait) -> Result<(), Errno> {
        let host_to = nat::outbound(to)?;
        self.take_source(&to)?;
        let link = match self.host_socket(&host_to) {
            Ok(s) => s,
            Err(e) => {
                self.disconnect_local();
                return Err(e);
            }
        };
        match link.connect(&host_to) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => {
                self.disconnect_local();
                return Err(e);
            }
        }
        {
            let mut st = self.lock();
            st.conn = Conn::Host {
                link: Arc::new(link),
                addr: to,
                up: false,
            };
            st.sock = SockState::Connecting;
        }
        if w.nonblocking() {
            return Err(Errno::EINPROGRESS);
        }
        self.await_connection(w)
    }

    /// A host connection under way: done, or failed (its error pending).
    pub(super) fn host_progress(st: &mut State) {
        let Conn::Host {
            link,
            up: up @ false,
            ..
        } = &mut st.conn
        else {
            return;
        };
        if link.ready(libc::POLLOUT) == 0 {
            return;
        }
        match link.take_error() {
            None => *up = true,
            Some(e) => {
                st.err = Some(e);
                st.conn = Conn::Closed;
                st.shutdown = SHUTDOWN_MASK;
            }
        }
    }

    /// Moves what the host connection received into the receive queue, while
    /// SO_RCVBUF has room (the host socket keeps the rest); its end of file is our
    /// FIN, its error our reset.
    pub(super) fn host_pull(&self, st: &mut State) {
        Self::host_progress(st);
        let link = match &st.conn {
            Conn::Host { link, up: true, .. } if !st.fin => link.clone(),
            _ => return,
        };
        let rcvbuf = self.common.opts().rcvbuf;
        with_buffer(|buf| {
            while st.rx.len() < rcvbuf {
                let want = (rcvbuf - st.rx.len()).min(buf.len());
                match link.recv(&mut buf[..want]) {
                    Ok((0, _)) => {
                        st.fin = true;
                        st.shutdown |= RCV_SHUTDOWN;
                        return;
                    }
                    Ok((n, _)) => {
                        st.rx.extend(&buf[..n]);
                        vke0_traffic(|s| s.received(n));
                    }
                    Err(Errno::EAGAIN) => return,
                    Err(e) => return Self::host_reset(st, e),
                }
            }
        })
    }

    /// The host connection broke with `e` (a reset, mostly): as a reset by a
    /// guest peer, what was received stays readable.
    fn host_reset(st: &mut State, e: Errno) {
        st.err = Some(match e {
            _ if st.fin => Errno::EPIPE,
            Errno::EPIPE => Errno::ECONNRESET,
            e => e,
        });
        st.conn = Conn::Closed;
        st.shutdown = SHUTDOWN_MASK;
    }

    /// Whether the host connection can take more bytes (or is gone: the send finds
    /// out which).
    pub(super) fn host_writable(st: &State) -> bool {
        match &st.conn {
            Conn::Host { link, up: true, .. } => link.ready(libc::POLLOUT) != 0,
            _ => true,
        }
    }

    /// send on a host connection: what the host socket takes, waiting for room
    /// while the call may wait. Errors as `send_stream`'s.
    pub(super) fn send_host(
        &self,
        link: &HostSocket,
        data: &[u8],
        flags: u32,
        w: &Wait,
    ) -> Result<usize, Errno> {
        let mut sent = 0;
        while sent < data.len() {
            let e = match link.send(&data[sent..], None) {
                Ok(n) => {
                    sent += n;
                    w.moved();
                    vke0_traffic(|s| s.sent(n));
                    continue;
                }
                Err(Errno::EAGAIN) => match self.wait_host_room(w) {
                    Ok(true) => continue,
                    Ok(false) => None,
                    Err(e) => Some(e),
                },
                Err(e) => {
                    Self::host_reset(&mut self.lock(), e);
                    self.input_event();
                    None
                }
            };
            return match e {
                _ if sent > 0 => Ok(sent),
                Some(e) => Err(e),
                None => Err(Self::send_error(&mut self.lock(), flags, w)),
            };
        }
        Ok(sent)
    }

    /// Waits for room on the host connection: false if the connection broke.
    fn wait_host_room(&self, w: &Wait) -> Result<bool, Errno> {
        w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            self.host_pull(&mut st);
            if st.err.is_some() || st.shutdown & SEND_SHUTDOWN != 0 {
                return Some(false);
            }
            match &st.conn {
                Conn::Host { link, .. } => (link.ready(libc::POLLOUT) != 0).then_some(true),
                _ => Some(false),
            }
        })
    }

    /// A listener on a published port takes the host's waiting connections while
    /// its backlog has room, if it listens where they arrive (10.0.2.15, or a
    /// wildcard that takes IPv4).
    pub(super) fn pull_published(&self, st: &mut State) {
        let port = st.bound.port;
        let any4 = is_any(&st.bound.ip) && !self.v6only(st);
        let here = any4 || st.bound.ip == nat::guest_ip();
        if !here || !publish::published(port) {
            return;
        }
        loop {
            let room = match &st.conn {
                Conn::Listening { backlog, queue, .. } => queue.len() <= *backlog as usize,
                _ => false,
            };
            if !room {
                return;
            }
            let Ok(Some((link, from))) = publish::accept(port) else {
                return;
            };
            let to = Endpoint {
                ip: nat::guest_ip(),
                port,
            };
            let e = Self::embryo(self, (&st.bound, &st.opts), to, Conn::Closed);
            let me: Weak<dyn Watcher> = e.weak();
            let Ok(link) = link.watched(me) else {
                e.close(true);
                continue;
            };
            e.lock().conn = Conn::Host {
                link: Arc::new(link),
                addr: nat::inbound(from),
                up: true,
            };
            if let Conn::Listening { queue, .. } = &mut st.conn {
                queue.push_back(e);
            }
        }
    }

    /// shutdown on a host connection: the host socket's, too.
    pub(super) fn host_shutdown(link: &HostSocket, mode: u8) {
        let how = match mode {
            RCV_SHUTDOWN => Shutdown::Read,
            SEND_SHUTDOWN => Shutdown::Write,
            _ => Shutdown::Both,
        };
        link.shutdown(how);
    }
}

/// The pump saw a connection come to published guest port `port`: the listeners
/// there look. With none, it is reset, as Linux answers a SYN to a closed port (the
/// host client would otherwise wait in the host's backlog for a listener).
pub fn published_ready(port: u16) {
    let ip = nat::guest_ip();
    let listeners = super::PORTS.lock().lookup_best(port, &ip, |e| e.listening);
    if listeners.is_empty() {
        publish::refuse(port);
    }
    for l in listeners {
        l.input_event();
    }
}
