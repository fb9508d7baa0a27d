//! TCP and UDP sockets as data structures: calls that never wait, checked for the
//! states and errors Linux gives.

use std::sync::{Arc, OnceLock};

use nix::errno::Errno;

use super::addr::{Endpoint, Family, LOOPBACK4};
use super::{TcpSocket, UdpSocket};
use crate::fs::epoll::{EPOLLERR, EPOLLIN, EPOLLOUT};
use crate::fs::Cred;
use crate::net::{Ctx, NoPaths, Outgoing, Socket, Wait};
use crate::sched::testing::Idle;

const CTX: Ctx = Ctx {
    pid: 1,
    cred: Cred::ROOT,
    paths: &NoPaths,
};

/// A wait that never waits.
fn now() -> Wait<'static> {
    static IDLE: OnceLock<Idle> = OnceLock::new();
    Wait::new(IDLE.get_or_init(Idle::new), true, None)
}

fn lo(port: u16) -> Vec<u8> {
    Family::V4.sockaddr(Endpoint {
        ip: LOOPBACK4,
        port,
    })
}

/// The port of a bound socket's name.
fn port(s: &dyn Socket) -> u16 {
    let name = s.name();
    u16::from_be_bytes([name[2], name[3]])
}

fn send(s: &dyn Socket, data: &[u8], to: Option<&[u8]>) -> Result<usize, Errno> {
    let msg = Outgoing {
        data,
        to,
        ..Default::default()
    };
    s.send(msg, &CTX, &now())
}

fn recv(s: &dyn Socket) -> Result<Vec<u8>, Errno> {
    Ok(s.recv(64, 0, &now())?.data)
}

fn listener(backlog: u32) -> (Arc<TcpSocket>, u16) {
    let l = TcpSocket::create(Family::V4);
    l.bind(&lo(0), &CTX).unwrap();
    l.listen(backlog, &CTX).unwrap();
    let p = port(&*l);
    (l, p)
}

#[test]
fn a_full_backlog_holds_the_connection_until_an_accept() {
    let (l, p) = listener(0);
    let c1 = TcpSocket::create(Family::V4);
    let c2 = TcpSocket::create(Family::V4);
    assert_eq!(c1.connect(&lo(p), &CTX, &now()), Err(Errno::EINPROGRESS));
    assert_eq!(c2.connect(&lo(p), &CTX, &now()), Err(Errno::EINPROGRESS));
    assert_ne!(c1.poll().mask & EPOLLOUT, 0, "in the backlog");
    assert_eq!(c2.poll().mask & EPOLLOUT, 0, "waiting for room");
    assert_eq!(c2.connect(&lo(p), &CTX, &now()), Err(Errno::EALREADY));
    assert_eq!(send(&*c1, b"early", None), Ok(5));
    let s1 = l.accept(&now()).unwrap();
    assert_eq!(recv(&*s1), Ok(b"early".to_vec()));
    assert_ne!(c2.poll().mask & EPOLLOUT, 0, "let in by the accept");
    assert_eq!(c2.connect(&lo(p), &CTX, &now()), Ok(()));
    assert_eq!(c2.connect(&lo(p), &CTX, &now()), Err(Errno::EISCONN));
    assert!(l.accept(&now()).is_ok());
    assert_eq!(l.accept(&now()).err(), Some(Errno::EAGAIN));
    for s in [&*c1, &*c2, &*l as &dyn Socket] {
        s.release();
    }
}

#[test]
fn closing_with_unread_data_resets_the_peer() {
    let (l, p) = listener(4);
    let c = TcpSocket::create(Family::V4);
    c.connect(&lo(p), &CTX, &Wait::new(&Idle::new(), false, None))
        .unwrap();
    let s = l.accept(&now()).unwrap();
    assert_eq!(send(&*s, b"for c", None), Ok(5));
    assert_eq!(send(&*c, b"unread", None), Ok(6));
    s.release();
    assert_ne!(c.poll().mask & EPOLLERR, 0);
    assert_eq!(recv(&*c), Ok(b"for c".to_vec()), "what came stays readable");
    assert_eq!(recv(&*c), Err(Errno::ECONNRESET));
    assert_eq!(recv(&*c), Ok(Vec::new()));
    assert_eq!(send(&*c, b"x", None), Err(Errno::EPIPE));
    c.release();
    l.release();
}

#[test]
fn a_fin_then_a_write_meets_the_reset() {
    let (l, p) = listener(4);
    let c = TcpSocket::create(Family::V4);
    let _ = c.connect(&lo(p), &CTX, &now());
    let s = l.accept(&now()).unwrap();
    s.release();
    assert_eq!(recv(&*c), Ok(Vec::new()), "EOF");
    assert_eq!(send(&*c, b"x", None), Ok(1), "the write goes out");
    assert_eq!(c.take_error(), Errno::EPIPE as i32, "the reset comes back");
    c.release();
    l.release();
}

#[test]
fn nobody_listening_is_refused() {
    let (l, p) = listener(1);
    l.release();
    let c = TcpSocket::create(Family::V4);
    let blocking = Idle::new();
    let w = Wait::new(&blocking, false, None);
    assert_eq!(c.connect(&lo(p), &CTX, &w), Err(Errno::ECONNREFUSED));
    assert_eq!(c.peer_name(), Err(Errno::ENOTCONN));
    c.release();
}

#[test]
fn datagrams_carry_their_sender_and_connected_sockets_filter() {
    let r = UdpSocket::create(Family::V4);
    r.bind(&lo(0), &CTX).unwrap();
    let rp = port(&*r);
    let a = UdpSocket::create(Family::V4);
    let b = UdpSocket::create(Family::V4);
    assert_eq!(send(&*a, b"from a", Some(&lo(rp))), Ok(6));
    let got = r.recv(64, 0, &now()).unwrap();
    assert_eq!(got.data, b"from a");
    assert_eq!(got.from, Some(lo(port(&*a))), "127.0.0.1 and a's new port");
    r.connect(&lo(port(&*a)), &CTX, &now()).unwrap();
    assert_eq!(send(&*b, b"from b", Some(&lo(rp))), Ok(6));
    assert_eq!(r.poll().mask & EPOLLIN, 0, "not heard");
    assert_eq!(send(&*a, b"again", Some(&lo(rp))), Ok(5));
    assert_eq!(recv(&*r), Ok(b"again".to_vec()));
    for s in [&r, &a, &b] {
        s.release();
    }
    let gone = UdpSocket::create(Family::V4);
    gone.connect(&lo(rp), &CTX, &now()).unwrap();
    assert_eq!(send(&*gone, b"?", None), Ok(1));
    assert_eq!(recv(&*gone), Err(Errno::ECONNREFUSED));
    gone.release();
}

#[test]
fn proc_net_tcp_lists_listeners_and_connections() {
    let (l, p) = listener(4);
    let c = TcpSocket::create(Family::V4);
    let _ = c.connect(&lo(p), &CTX, &now());
    let text = super::procnet::proc_net(super::procnet::ProcNet::Tcp);
    let want = format!("0100007F:{p:04X} 00000000:0000 0A 00000004:00000001");
    assert!(text.contains(&want), "{text}");
    let established = format!(":{p:04X} 01 ");
    assert!(text.contains(&established), "{text}");
    c.release();
    l.release();
}
