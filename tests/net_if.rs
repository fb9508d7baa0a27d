//! The guest's network interfaces: the device ioctls and rtnetlink (NETLINK_ROUTE)
//! as a C guest and busybox `ip` use them, the loopback interface as every Linux has
//! it, /proc/net/dev, and a netlink answer kept across a checkpoint and thaw.
//!
//! Guest: netif.c (tests/guests/), each mode compared line by line with the same
//! binary run natively, "value" lines (other interfaces the host has) aside.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["netif"]);

modes! {
    "netif";
    /// SIOCGIFCONF and lo's flags, MTU, index, link type and name; ENODEV, ENOTTY.
    device_ioctls => "ioctl",
    /// Link and address dumps, the autobound port id, bad types and protocols.
    netlink_dumps => "netlink",
}

twins!(only_lo_exists_without_a_network, cc => {
    let vk = GUESTS.check_with(&["--net", "none"], "netif", cc, "netlink");
    assert!(!vk.stdout.contains("value link"), "one link:\n{}", vk.stdout);
    assert!(vk.stdout.contains("value address ::1/128 on interface 1"), "{}", vk.stdout);
});

twins!(a_netlink_answer_survives_a_thaw, cc => {
    checkpoint_and_thaw(&GUESTS, "netif", cc, "asked", &[400]);
});

fn busybox(script: &str) -> Outcome {
    busybox_with(&["--net", "none"], script)
}

fn busybox_with(options: &[&str], script: &str) -> Outcome {
    let vk = Vk::boot(
        &GUESTS.image(),
        options,
        &["/bin/busybox", "sh", "-c", script],
    )
    .timeout(GUEST_TIMEOUT)
    .run();
    vk.assert_status(0);
    vk
}

#[test]
fn busybox_ip_shows_the_loopback_interface() {
    let vk = busybox("ip link; ip addr; ip -4 route show table local; ip -6 route");
    let out = &vk.stdout;
    for want in [
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536",
        "link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
        "inet 127.0.0.1/8 scope host lo",
        "inet6 ::1/128 scope host",
        "local 127.0.0.0/8 dev lo",
        "::1 dev lo",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
}

/// busybox nc over 127.0.0.1, then ifconfig (its ioctls on an AF_INET socket, and
/// /proc/net/dev): the bytes went over `lo` and were counted.
#[test]
fn loopback_traffic_is_counted() {
    let vk = busybox(
        "nc -l -p 7777 > /tmp/got & sleep 0.5; echo hello-lo | nc 127.0.0.1 7777; wait; \
         cat /tmp/got; ifconfig lo",
    );
    let out = &vk.stdout;
    assert!(out.starts_with("hello-lo\n"), "{out}");
    assert!(out.contains("inet addr:127.0.0.1  Mask:255.0.0.0"), "{out}");
    assert!(out.contains("UP LOOPBACK RUNNING  MTU:65536"), "{out}");
    let rx = out
        .split("RX bytes:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(rx.is_some_and(|n| n >= 9), "RX bytes counted: {out}");
}

#[test]
fn proc_net_dev_lists_lo() {
    let vk = busybox("cat /proc/net/dev");
    let lines: Vec<&str> = vk.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", vk.stdout);
    assert!(lines[0].starts_with("Inter-|"), "{}", vk.stdout);
    assert!(lines[2].trim_start().starts_with("lo:"), "{}", vk.stdout);
}
