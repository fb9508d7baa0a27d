use super::*;
use crate::net::MSG_TRUNC;
use crate::sched::testing::Idle;

struct NoPaths;

impl super::super::Paths for NoPaths {
    fn make_node(&self, _: &[u8]) -> Result<Arc<crate::fs::inode::Inode>, Errno> {
        Err(Errno::EINVAL)
    }
    fn remove_node(&self, _: &[u8]) {}
    fn find(&self, _: &[u8]) -> Result<Arc<crate::fs::inode::Inode>, Errno> {
        Err(Errno::EINVAL)
    }
}

fn ctx(pid: i32) -> Ctx<'static> {
    Ctx {
        pid,
        cred: crate::fs::Cred::ROOT,
        paths: &NoPaths,
    }
}

/// An RTM_GETADDR dump request, as glibc sends it.
fn getaddr() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&20u32.to_ne_bytes());
    m.extend_from_slice(&22u16.to_ne_bytes());
    m.extend_from_slice(&0x301u16.to_ne_bytes());
    m.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    m
}

fn send(s: &NetlinkSocket, pid: i32, data: &[u8]) -> Result<usize, Errno> {
    let idle = Idle::new();
    let msg = Outgoing {
        data,
        ..Default::default()
    };
    s.send(msg, &ctx(pid), &Wait::new(&idle, true, None))
}

fn recv(s: &NetlinkSocket, len: usize, flags: u32) -> Result<Incoming, Errno> {
    let idle = Idle::new();
    s.recv(len, flags, &Wait::new(&idle, true, None))
}

#[test]
fn only_route_sockets_of_datagram_types_exist() {
    assert!(NetlinkSocket::create(3, NETLINK_ROUTE).is_ok());
    assert!(NetlinkSocket::create(2, NETLINK_ROUTE).is_ok());
    assert_eq!(
        NetlinkSocket::create(1, 0).err(),
        Some(Errno::ESOCKTNOSUPPORT)
    );
    assert_eq!(
        NetlinkSocket::create(3, 9).err(),
        Some(Errno::EPROTONOSUPPORT)
    );
}

#[test]
fn a_request_is_answered_in_the_queue_and_read_once() {
    let s = NetlinkSocket::create(3, NETLINK_ROUTE).unwrap();
    assert_eq!(recv(&s, 100, 0).err(), Some(Errno::EAGAIN));
    assert_eq!(send(&s, 4242, &getaddr()), Ok(20));
    assert_eq!(s.name(), sockaddr(4242, 0), "autobound to the pid");
    assert_ne!(s.poll().mask & 1, 0);
    let peek = recv(&s, 8, MSG_PEEK | MSG_TRUNC).unwrap();
    assert!(peek.len > 8 && peek.flags & MSG_TRUNC != 0);
    let got = recv(&s, 65536, 0).unwrap();
    assert_eq!(got.len, peek.len);
    assert_eq!(got.from, Some(sockaddr(0, 0)));
    assert_eq!(recv(&s, 100, 0).err(), Some(Errno::EAGAIN));
    s.release();
}

#[test]
fn ports_are_unique_and_freed_on_release() {
    let a = NetlinkSocket::create(3, NETLINK_ROUTE).unwrap();
    let b = NetlinkSocket::create(3, NETLINK_ROUTE).unwrap();
    assert_eq!(a.bind(&sockaddr(9001, 0), &ctx(1)), Ok(()));
    assert_eq!(b.bind(&sockaddr(9001, 0), &ctx(1)), Err(Errno::EADDRINUSE));
    assert_eq!(b.bind(&[16, 0, 0], &ctx(1)), Err(Errno::EINVAL));
    // Autobind with a pid whose port is taken falls back to another id.
    send(&b, 9001, &getaddr()).unwrap();
    assert_ne!(b.name(), sockaddr(9001, 0));
    a.release();
    let c = NetlinkSocket::create(3, NETLINK_ROUTE).unwrap();
    assert_eq!(c.bind(&sockaddr(9001, 0), &ctx(1)), Ok(()));
    b.release();
    c.release();
}

#[test]
fn a_socket_round_trips_with_its_queue_and_options() {
    let s = NetlinkSocket::create(3, NETLINK_ROUTE).unwrap();
    s.bind(&sockaddr(7007, 1), &ctx(1)).unwrap();
    s.setsockopt(SOL_NETLINK, 11, &1i32.to_ne_bytes()).unwrap();
    send(&s, 1, &getaddr()).unwrap();
    let SavedSocket::Netlink(saved) = s.save(&mut NoIndex) else {
        panic!("a netlink socket saves as one");
    };
    let back: SavedNetlink = ckpt::decode(&ckpt::encode(&saved).unwrap()).unwrap();
    assert_eq!(back, saved);
    s.release();
    let t = NetlinkSocket::bare();
    t.restore(&back).unwrap();
    assert_eq!(t.name(), sockaddr(7007, 1));
    assert_eq!(
        t.getsockopt(SOL_NETLINK, 11),
        Ok(1i32.to_ne_bytes().to_vec())
    );
    assert!(recv(&t, 65536, 0).unwrap().len > 0);
    t.release();
}

struct NoIndex;

impl SaveIndex for NoIndex {
    fn file(&mut self, _: &Arc<crate::fs::OpenFile>) -> usize {
        unreachable!()
    }
    fn inode(&mut self, _: &Arc<crate::fs::inode::Inode>) -> usize {
        unreachable!()
    }
    fn socket(&mut self, _: &Arc<dyn Socket>) -> usize {
        unreachable!()
    }
}
