//! AF_INET and AF_INET6 on the guest's loopback: TCP between processes (echo, names,
//! sendmsg/recvmsg, MSG_PEEK, MSG_DONTWAIT, a 4 MiB transfer), half-close, resets,
//! non-blocking connects, the listen backlog, ECONNREFUSED, bind conflicts and
//! SO_REUSEADDR, ephemeral ports, UDP with sender addresses and connected filters,
//! IPv6 over ::1 and v4-mapped addresses, poll/epoll readiness, the inet options,
//! Linux's errno for bad input; busybox nc, httpd, wget and netstat (/proc/net/tcp);
//! and TCP and UDP sockets checkpointed and thawed: a transfer mid-stream, connections
//! in a backlog and a half-closed one, queued datagrams, a server in accept and a
//! client in connect.
//!
//! Guest: inet.c (tests/guests/), each mode compared line by line with the same binary
//! run natively on the host's loopback (see support/posix.rs), in both libc flavours
//! (`<test>::glibc`, `<test>::musl`). The thaw tests compare what the guest printed
//! before the checkpoint and after the thaw with a native run (support/ckpt.rs).

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["inet"]);

modes! {
    "inet";
    /// Echo between processes over 127.0.0.1: names, sendmsg/recvmsg, MSG_PEEK,
    /// MSG_DONTWAIT, MSG_WAITALL, FIONREAD, 4 MiB with its checksum.
    tcp_echo => "tcp",
    /// shutdown(SHUT_WR) and SHUT_RD: EOF for the peer, EPIPE with SIGPIPE.
    half_close => "halfclose",
    /// Resets: unread data at close, SO_LINGER 0, a write to a closed peer, a
    /// listener shut down with a connection in its backlog.
    resets => "reset",
    /// Non-blocking connect, ECONNREFUSED, EALREADY, EISCONN, listen(1)'s backlog.
    connects => "connect",
    /// EADDRINUSE, SO_REUSEADDR, ports held by connections, ephemeral ports.
    binds => "bind",
    /// Datagrams with addresses, MSG_PEEK/MSG_TRUNC, connected UDP, ECONNREFUSED.
    udp => "udp",
    /// ::1, a dual-stack listener, v4-mapped addresses, IPV6_V6ONLY.
    ipv6 => "ipv6",
    /// IP_PKTINFO, IP_RECVTTL, IP_RECVTOS and the IPv6 ones on received datagrams.
    control_messages => "cmsg",
    /// poll and epoll readiness (level and edge), select on a connecting socket.
    readiness => "epoll",
    /// SOL_SOCKET, SOL_TCP, SOL_IP and SOL_IPV6 options and their errors.
    options => "options",
    /// socket(), bind, connect and sendto given bad input.
    bad_input => "errors",
    /// Blocked recv, write, accept and connect: signals, SA_RESTART, SO_RCVTIMEO,
    /// woken by another process.
    waits => "wait",
    /// 16 clients at once, each echoed by a server process of its own.
    many_clients => "many",
}

/// A guest booted with `--net none` has only lo: anywhere else is unreachable
/// (natively this would send packets out, so it runs under vkernel only).
#[test]
fn no_route_off_lo() {
    let vk = GUESTS.run_with(&["--net", "none"], "inet", Cc::Glibc, &["-offlink"]);
    vk.assert_status(0);
    for key in ["tcp_far", "tcp6_far", "udp_far", "udp_connect_far"] {
        assert_eq!(value(&vk, key), "ENETUNREACH", "{key}");
    }
}

/// busybox nc as a server and a client in the guest, over 127.0.0.1.
#[test]
fn busybox_nc_over_loopback() {
    let image = GUESTS.image();
    let script = "nc -l -p 7777 > /tmp/got & sleep 0.3; \
                  echo hello over tcp | nc 127.0.0.1 7777; wait; cat /tmp/got";
    let vk = Vk::boot(&image, &[], &["/bin/busybox", "sh", "-c", script])
        .timeout(GUEST_TIMEOUT)
        .run();
    vk.assert_status(0);
    assert_eq!(vk.stdout, "hello over tcp\n", "what the server got");
}

twins!(tcp_mid_transfer_thawed, cc => {
    chain(&GUESTS, "inet", cc, "xfer", &[
        Stage { input: Input::NONE, stop: Some(Stop::Line("transfer started")) },
        Stage { input: Input::NONE, stop: None },
    ]);
});

twins!(one_big_write_thawed, cc => {
    chain(&GUESTS, "inet", cc, "xfer1", &[
        Stage { input: Input::NONE, stop: Some(Stop::Line("transfer started")) },
        Stage { input: Input::NONE, stop: None },
    ]);
});

twins!(backlog_and_half_closed_thawed, cc => {
    chain(&GUESTS, "inet", cc, "pending", &[
        Stage { input: Input::NONE, stop: Some(Stop::Line(
            "two connections in the backlog, one waiting, a half-closed one over ::1; waiting")) },
        Stage { input: Input::NONE, stop: None },
    ]);
});

twins!(queued_datagrams_thawed, cc => {
    chain(&GUESTS, "inet", cc, "dgrams", &[
        Stage { input: Input::NONE, stop: Some(Stop::Line("five datagrams queued; waiting")) },
        Stage { input: Input::NONE, stop: None },
    ]);
});

twins!(accept_and_connect_waits_thawed, cc => {
    chain(&GUESTS, "inet", cc, "blocked", &[
        Stage { input: Input::NONE, stop: Some(Stop::Line(
            "one server in accept, one client in connect; waiting")) },
        Stage { input: Input::NONE, stop: None },
    ]);
});

/// Two checkpoints in one transfer: the second from the thawed system.
#[test]
fn tcp_transfer_through_two_thaws() {
    checkpoint_and_thaw(&GUESTS, "inet", Cc::Glibc, "xfer", &[300, 500]);
}

/// busybox httpd serves a page to busybox wget over 127.0.0.1, and netstat (from
/// /proc/net/tcp) shows the listener with its backlog; its line's inode is the one
/// httpd's fd links to (what netstat -p and ss -p match).
#[test]
fn busybox_httpd_wget_and_netstat() {
    let image = GUESTS.image();
    let script = "mkdir -p /tmp/www; echo served by httpd > /tmp/www/index.html; \
                  httpd -f -h /tmp/www -p 127.0.0.1:8080 & sleep 0.5; \
                  wget -q -O - http://127.0.0.1:8080/; netstat -tln | tail -n 1; \
                  awk 'NR == 2 { print \"socket:[\" $10 \"]\" }' /proc/net/tcp; \
                  readlink /proc/$!/fd/3; \
                  kill $!; wait";
    let vk = Vk::boot(&image, &[], &["/bin/busybox", "sh", "-c", script])
        .timeout(GUEST_TIMEOUT)
        .run();
    vk.assert_status(0);
    let lines: Vec<&str> = vk.stdout.lines().map(str::trim_end).collect();
    let listener = "tcp        0      9 127.0.0.1:8080          0.0.0.0:*               LISTEN";
    assert_eq!(lines.len(), 4, "{}", vk.stdout);
    assert_eq!(lines[..2], ["served by httpd", listener]);
    assert!(
        lines[2].starts_with("socket:[") && lines[2] != "socket:[0]",
        "{}",
        vk.stdout
    );
    assert_eq!(lines[2], lines[3], "{}", vk.stdout);
}
