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

// Sockets that only hold each other through SCM_RIGHTS are collected: more such
// cycles than the kernel has sockets, and none runs out.
twins!(socket_cycles_in_flight_are_collected, cc => {
    GUESTS.check("unix", cc, "cycles");
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

// /proc/net/unix lists every kind of socket as Linux does (the guest finds each by
// the inode /proc/self/fd/N names): flags, type, state, path and reference count,
// and a closed socket no longer. Num is a hidden pointer: zeros, as Linux's with
// kptr_restrict.
twins!(proc_net_unix_lists_sockets, cc => {
    let vk = GUESTS.check("unix", cc, "procnet");
    assert_eq!(value(&vk, "nonzero-num"), "0");
});

// After a checkpoint and a thaw /proc/net/unix lists the same sockets, by the same
// inodes, in the same states.
twins!(proc_net_unix_thawed, cc => {
    let listed = Stage {
        input: Input::NONE,
        stop: Some(Stop::Line("listed; waiting")),
    };
    let end = Stage {
        input: Input::NONE,
        stop: None,
    };
    chain(&GUESTS, "unix", cc, "procnet-thaw", &[listed, end]);
});

/// busybox netstat -ax and -x over /proc/net/unix, while the guest's procnet-thaw
/// mode holds its sockets: every row, its inode named by the guest's fd whose
/// /proc link says socket:[that inode] (the connection not accepted yet has none),
/// in the order the sockets were made; -x leaves the listeners out.
#[test]
fn busybox_netstat_lists_unix_sockets() {
    let script = "/bin/unix-musl procnet-thaw | { \
                  while read -r l && [ \"$l\" != 'listed; waiting' ]; do :; done; \
                  echo \"== pid $(pidof unix-musl)\"; ls -l /proc/$(pidof unix-musl)/fd; \
                  echo '== -ax'; netstat -ax; echo '== -x'; netstat -x; cat >/dev/null; }";
    let vk = Vk::boot(&GUESTS.image(), &[], &["/bin/busybox", "sh", "-c", script])
        .timeout(GUEST_TIMEOUT)
        .run();
    vk.assert_status(0);
    let ax = netstat_rows(&vk.stdout, "-ax");
    let expected = [
        "unix 2 [ ACC ] STREAM LISTENING fd3 DIR/listen",
        "unix 3 [ ] STREAM CONNECTED fd4",
        "unix 3 [ ] STREAM CONNECTED fd5 DIR/listen",
        "unix 3 [ ] STREAM CONNECTED fd6",
        "unix 3 [ ] STREAM CONNECTING 0 DIR/listen",
        "unix 2 [ ACC ] SEQPACKET LISTENING fd7 @vk-PID-pn@x",
        "unix 3 [ ] STREAM CONNECTED fd8",
        "unix 3 [ ] STREAM CONNECTED fd9",
        "unix 3 [ ] DGRAM CONNECTED fd10 DIR/dgram",
        "unix 2 [ ] DGRAM CONNECTED fd11",
        "unix 2 [ ] DGRAM fd12",
    ];
    assert_eq!(ax, expected, "netstat -ax:\n{}", vk.stdout);
    let servers = |r: &&String| r.contains("LISTENING");
    let without: Vec<&String> = ax.iter().filter(|r| !servers(r)).collect();
    let x = netstat_rows(&vk.stdout, "-x");
    assert_eq!(
        x.iter().collect::<Vec<_>>(),
        without,
        "netstat -x:\n{}",
        vk.stdout
    );
}

/// The socket rows of the netstat run printed after "== `which`", words single-spaced,
/// each inode replaced by the guest's fd that names it, the guest's directory by DIR
/// and its pid by PID.
fn netstat_rows(out: &str, which: &str) -> Vec<String> {
    let mut lines = out.lines();
    let pid = lines
        .find_map(|l| l.strip_prefix("== pid "))
        .expect("the guest's pid");
    let fds: Vec<(String, String)> = lines
        .by_ref()
        .take_while(|l| !l.starts_with("== "))
        .filter_map(|l| {
            let (fd, ino) = l.split_once(" -> socket:[")?;
            let fd = fd.rsplit(' ').next()?;
            Some((ino.trim_end_matches(']').to_string(), format!("fd{fd}")))
        })
        .collect();
    let header = format!("== {which}");
    let word = |w: &str| {
        if let Some((_, fd)) = fds.iter().find(|(ino, _)| ino == w) {
            return fd.clone();
        }
        match w.strip_prefix("/tmp/vkt-") {
            Some(rest) => format!("DIR{}", &rest[rest.find('/').unwrap_or(0)..]),
            None => w.replace(&format!("@vk-{pid}-"), "@vk-PID-"),
        }
    };
    out.lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .filter(|l| l.starts_with("unix "))
        .map(|l| l.split_whitespace().map(word).collect::<Vec<_>>().join(" "))
        .collect()
}
