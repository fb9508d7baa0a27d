//! AF_UNIX sockets: socketpair, stream, datagram and seqpacket sockets named by paths
//! and abstract names, listen/accept/connect with their backlog, shutdown, SCM_RIGHTS
//! and SCM_CREDENTIALS, the common socket options, readiness and interrupted waits,
//! Linux's errno for bad input, a flood of connections ending in EMFILE (no socket
//! holds a host descriptor); busybox syslogd and logger talking through /dev/log;
//! and sockets of every kind checkpointed and thawed: a stream mid-transfer, a
//! connection waiting in a backlog, queued datagrams, a pipe end and a socket in
//! flight, waits in accept and connect.
//!
//! Guest: unix.c (tests/guests/), each mode compared line by line with the same binary
//! run natively (see support/posix.rs), in both libc flavours (`<test>::glibc`,
//! `<test>::musl`). The thaw tests compare what the guest printed before the
//! checkpoint and after the thaw with a native run (support/ckpt.rs).

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["unix"]);

modes! {
    "unix";
    /// Data both ways, names, options, shutdown, EPIPE with SIGPIPE, ECONNRESET.
    socketpair_stream => "pair",
    /// A path name: bind, listen, connect, accept, SO_PEERCRED, the errors.
    stream_by_path => "stream",
    /// Abstract names, one namespace per type, autobind.
    abstract_names => "abstract",
    /// listen's backlog, a connect that waits, accept4, a reset pending connection.
    listen_backlog => "backlog",
    /// 8 MiB in odd chunks with MSG_WAITALL reads.
    big_stream_transfer => "big",
    /// Addresses, boundaries, MSG_TRUNC/PEEK, connect, a full receiver, EMSGSIZE.
    datagrams => "dgram",
    /// Records over socketpair and over listen/connect.
    seqpacket => "seqpacket",
    /// SCM_RIGHTS: pipes, files and sockets in flight, MSG_CTRUNC, MSG_CMSG_CLOEXEC.
    scm_rights => "rights",
    /// SO_PASSCRED and SCM_CREDENTIALS, checked credentials, a setuid sender.
    scm_credentials => "creds",
    /// Buffer sizes, timeouts, boolean options, SO_RCVLOWAT, ENOPROTOOPT.
    socket_options => "options",
    /// poll/select/epoll, signals and restarts, non-blocking modes, sendmmsg/recvmmsg.
    readiness_and_waits => "wait",
    /// Linux's errno for bad families, types, lengths and descriptors.
    bad_input => "errors",
}

twins!(connection_flood_ends_in_emfile, cc => {
    let vk = GUESTS.check("unix", cc, "flood");
    let n: usize = value(&vk, "connections").parse().expect("a count");
    assert!(n > 500, "{n} connections before EMFILE");
});

twins!(no_msg_oob_on_af_unix, cc => {
    let vk = GUESTS.check("unix", cc, "errors");
    assert_eq!(value(&vk, "oob"), "EOPNOTSUPP");
});

/// busybox syslogd binds /dev/log (a datagram socket); logger sends to it.
#[test]
fn syslogd_and_logger_over_dev_log() {
    let image = GUESTS.image();
    let script = "syslogd -n -O /tmp/log & sleep 0.5; \
                  logger -t vk hello over AF_UNIX; sleep 0.5; \
                  kill -9 $!; wait; ls -l /dev/log | cut -c1; cat /tmp/log";
    let vk = Vk::boot(&image, &[], &["/bin/busybox", "sh", "-c", script])
        .timeout(GUEST_TIMEOUT)
        .run();
    vk.assert_status(0);
    let out = &vk.stdout;
    assert!(
        out.lines().next() == Some("s"),
        "/dev/log is a socket:\n{out}"
    );
    assert!(
        out.contains("vk: hello over AF_UNIX"),
        "the message was logged:\n{out}"
    );
}

twins!(stream_mid_transfer_thawed, cc => {
    checkpoint_and_thaw(&GUESTS, "unix", cc, "xfer", &[400]);
});

twins!(pending_connection_thawed, cc => {
    checkpoint_and_thaw(&GUESTS, "unix", cc, "pending", &[400]);
});

twins!(queued_datagrams_thawed, cc => {
    checkpoint_and_thaw(&GUESTS, "unix", cc, "dgrams", &[400]);
});

twins!(files_in_flight_thawed, cc => {
    checkpoint_and_thaw(&GUESTS, "unix", cc, "inflight", &[400]);
});

twins!(accept_and_connect_waits_thawed, cc => {
    checkpoint_and_thaw(&GUESTS, "unix", cc, "blocked", &[400]);
});

/// Two checkpoints in one transfer: the second from the thawed system.
#[test]
fn stream_transfer_through_two_thaws() {
    checkpoint_and_thaw(&GUESTS, "unix", Cc::Glibc, "xfer", &[300, 500]);
}
