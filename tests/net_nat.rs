//! vke0, the guest's way out to the host (vkernel's NAT): TCP, UDP and DNS from the
//! guest to servers this test runs on the host's loopback (the guest's gateway
//! 10.0.2.2), busybox wget fetching from the host, busybox httpd in the guest served
//! to the host through `--publish`, the host-socket budget (ENFILE), and what a
//! thaw does: host connections are reset, published ports are bound again.
//!
//! Guest: nat.c (tests/guests/), vkernel only (its addresses are the guest's).

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["nat"]);

/// A TCP server on the host's 127.0.0.1, each connection served by `serve` on a
/// thread of its own; returns its port.
fn tcp_server(serve: fn(TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || serve(c));
        }
    });
    port
}

/// Echoes every line back until the client's end of file, then closes.
fn echo(c: TcpStream) {
    let mut w = c.try_clone().expect("clone");
    for line in BufReader::new(c).lines().map_while(Result::ok) {
        let _ = writeln!(w, "{line}");
    }
}

/// Greets, then holds the connection open until the client goes.
fn greet(mut c: TcpStream) {
    let _ = c.write_all(b"hi\n");
    let _ = c.read_to_end(&mut Vec::new());
}

/// A file of `n` bytes that no run of bytes repeats in (a checksum sees every one).
fn payload(n: usize) -> Vec<u8> {
    let mut x: u32 = 2463534242;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const BIG: usize = 3 << 20;

/// HTTP/1.0: the payload for any GET.
fn http(mut c: TcpStream) {
    let mut req = Vec::new();
    let mut b = [0u8; 1];
    while !req.ends_with(b"\r\n\r\n") && c.read(&mut b).is_ok_and(|n| n == 1) {
        req.push(b[0]);
    }
    let body = payload(BIG);
    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let _ = c.write_all(head.as_bytes());
    let _ = c.write_all(&body);
}

fn nat(options: &[&str], cc: Cc, args: &[&str]) -> Outcome {
    let vk = GUESTS.run_with(options, "nat", cc, args);
    vk.assert_status(0);
    vk
}

fn busybox(options: &[&str], script: &str) -> Outcome {
    Vk::boot(
        &GUESTS.image(),
        options,
        &["/bin/busybox", "sh", "-c", script],
    )
    .timeout(GUEST_TIMEOUT)
    .run()
}

twins!(tcp_through_the_gateway, cc => {
    let port = tcp_server(echo).to_string();
    let vk = nat(&[], cc, &["-echo", &port]);
    let want = [
        "local 10.0.2.15 ephemeral 1".to_string(),
        format!("peer 10.0.2.2:{port}"),
        "mss 1460".into(),
        "echo hello through vke0".into(),
        "non-blocking connect EINPROGRESS".into(),
        "SO_ERROR 0".into(),
        "echo again".into(),
    ];
    let got: Vec<&str> = vk.stdout.lines().collect();
    assert_eq!(got, want, "{}", vk.stdout);
});

twins!(nobody_listening_is_refused, cc => {
    // A port that was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let vk = nat(&[], cc, &["-refused", &port.to_string()]);
    assert_eq!(vk.stdout, "blocking ECONNREFUSED\nnon-blocking ECONNREFUSED\n");
});

#[test]
fn wget_fetches_from_the_host() {
    let port = tcp_server(http);
    let url = format!("http://10.0.2.2:{port}/big");
    let vk = busybox(&[], &format!("wget -q -O /tmp/f {url} && md5sum /tmp/f"));
    vk.assert_status(0);
    let file = scratch_path("big");
    std::fs::write(&file, payload(BIG)).unwrap();
    let host = std::process::Command::new("md5sum")
        .arg(&file)
        .output()
        .unwrap();
    let sum = |s: &str| s.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(
        sum(&vk.stdout),
        sum(&String::from_utf8_lossy(&host.stdout)),
        "{}",
        vk.stdout
    );
}

/// A UDP server answering each datagram with it, to where it came from.
fn udp_echo() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    port
}

twins!(udp_through_the_gateway, cc => {
    let port = udp_echo().to_string();
    let vk = nat(&[], cc, &["-udp", &port]);
    let want = format!("got ping from 10.0.2.2:{port}\ngot pong from 10.0.2.2:{port}\nlocal 10.0.2.15\n");
    assert_eq!(vk.stdout, want);
});

/// A DNS server answering every A question with 192.0.2.99, every other with
/// no records; returns its address.
fn dns_server() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            if let Some(answer) = dns_answer(&buf[..n]) {
                let _ = s.send_to(&answer, from);
            }
        }
    });
    addr
}

fn dns_answer(q: &[u8]) -> Option<Vec<u8>> {
    // The question: labels to the root, then QTYPE and QCLASS.
    let mut at = 12;
    while *q.get(at)? != 0 {
        at += usize::from(q[at]) + 1;
    }
    let question = q.get(12..at + 5)?;
    let a = question[question.len() - 4..question.len() - 2] == [0, 1];
    let mut r = q[..2].to_vec();
    r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(a), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if a {
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
    }
    Some(r)
}

twins!(names_resolve_through_the_hosts_resolver, cc => {
    let dns = dns_server().to_string();
    let vk = nat(&["--dns", &dns], cc, &["-resolve", "service.example"]);
    assert_eq!(vk.stdout, "address 192.0.2.99:80\n");
});

#[test]
fn busybox_nslookup_asks_10_0_2_3() {
    let dns = dns_server().to_string();
    let vk = busybox(&["--dns", &dns], "nslookup service.example");
    assert!(vk.stdout.contains("Address: 192.0.2.99"), "{}", vk.stdout);
    assert!(vk.stdout.contains("10.0.2.3"), "{}", vk.stdout);
}

#[test]
fn a_flood_of_connections_gets_enfile() {
    let port = tcp_server(greet).to_string();
    let vk = nat(
        &["--max-host-sockets", "5"],
        Cc::Glibc,
        &["-flood", &port, "50"],
    );
    assert_eq!(vk.stdout, "opened 5, then Too many open files in system\n");
}

/// The script that serves /www/index.html with busybox httpd on guest port 80.
const HTTPD: &str = "mkdir -p /www && echo served by the guest > /www/index.html && \
                     httpd -p 80 -h /www && echo listening && sleep 30";

/// GET / from the host's `port`, retrying while nothing answers yet.
fn fetch(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(20)));
            let _ = c.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
            let mut got = String::new();
            if c.read_to_string(&mut got).is_ok() && !got.is_empty() {
                return got;
            }
        }
        assert!(Instant::now() < deadline, "nothing answered on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A host port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn boot_httpd(port: u16, target: &Path) -> Running {
    boot_httpd_after(port, target, "")
}

/// [`boot_httpd`], the shell running `first` before httpd.
fn boot_httpd_after(port: u16, target: &Path, first: &str) -> Running {
    let publish = format!("{port}:80");
    let script = format!("{first}{HTTPD}");
    let image = GUESTS.image();
    let args = [
        "boot".as_ref(),
        "--ckpt-file".as_ref(),
        target.as_os_str(),
        "--publish".as_ref(),
        publish.as_ref(),
        image.as_os_str(),
        "--".as_ref(),
        "/bin/busybox".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        script.as_ref(),
    ];
    background(&args, image_dir_of(target))
}

#[test]
fn httpd_in_the_guest_is_published_to_the_host() {
    let port = free_port();
    let mut vk = boot_httpd(port, &image_dir().join("ckpt.elf"));
    vk.read_until("listening");
    let got = fetch(port);
    assert!(
        got.lines().next().is_some_and(|l| l.ends_with(" 200 OK")),
        "{got}"
    );
    assert!(got.ends_with("served by the guest\n"), "{got}");
    vk.signal(libc::SIGTERM);
    vk.finish();
}

/// Nothing listens on the guest port yet: the host client is reset, not left
/// waiting.
#[test]
fn a_published_port_nobody_listens_on_resets() {
    let port = free_port();
    let mut vk = boot_httpd_after(port, &image_dir().join("ckpt.elf"), "echo up; sleep 2; ");
    vk.read_until("up");
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("the host port is bound");
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let r = c.read_to_end(&mut got);
    let ended = match &r {
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(n) => *n == 0,
    };
    assert!(ended, "{r:?}");
    vk.read_until("listening");
    assert!(fetch(port).ends_with("served by the guest\n"));
    vk.signal(libc::SIGTERM);
    vk.finish();
}

#[test]
fn a_taken_host_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let vk = busybox(&["--publish", &format!("{port}:80")], "true");
    assert_eq!(vk.status, 2);
    let want = format!("vkernel: cannot publish host port 127.0.0.1:{port} (guest port 80)");
    assert!(vk.stderr.starts_with(&want), "{}", vk.stderr);
}

/// After a thaw the published port is bound again and served by the thawed httpd;
/// a thaw finding the port taken says so and starts nothing, and one told
/// `--publish` forwards that port instead.
#[test]
fn published_ports_are_bound_again_by_a_thaw() {
    let port = free_port();
    let dir = image_dir();
    let mut vk = boot_httpd(port, &dir.join("ckpt.elf"));
    vk.read_until("listening");
    assert!(fetch(port).ends_with("served by the guest\n"));
    vk.signal(libc::SIGUSR2);
    let (status, _, err) = vk.finish();
    assert_eq!(status, 0, "{err}");
    let image = dir.join("ckpt.elf");

    let taken = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    let (status, _, err) = thaw(&image, &dir.join("next.elf")).finish();
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains(&format!("cannot publish host port 127.0.0.1:{port}")),
        "{err}"
    );
    let other = free_port();
    let publish = format!("{other}:80");
    let next = dir.join("next.elf");
    let args = [
        "thaw".as_ref(),
        "--ckpt-file".as_ref(),
        next.as_os_str(),
        "--publish".as_ref(),
        publish.as_ref(),
        image.as_os_str(),
    ];
    let moved = background(&args, dir.clone());
    assert!(fetch(other).ends_with("served by the guest\n"));
    moved.signal(libc::SIGTERM);
    moved.finish();
    drop(taken);

    let thawed = thaw(&image, &dir.join("next.elf"));
    let got = fetch(port);
    assert!(got.ends_with("served by the guest\n"), "{got}");
    thawed.signal(libc::SIGTERM);
    thawed.finish();
}

/// `vkernel boot --ckpt-file TARGET IMG -- /bin/nat-<cc> ARGS...` in the background,
/// with `input` on stdin.
fn boot_nat(target: &Path, cc: Cc, args: &[&str], input: Input) -> Running {
    let image = GUESTS.image();
    let prog = guest_path("nat", cc);
    let mut argv: Vec<&std::ffi::OsStr> = vec![
        "boot".as_ref(),
        "--ckpt-file".as_ref(),
        target.as_os_str(),
        image.as_os_str(),
        "--".as_ref(),
        prog.as_ref(),
    ];
    argv.extend(args.iter().map(std::ffi::OsStr::new));
    background_fed(&argv, image_dir_of(target), input)
}

/// The directory a checkpoint target is in.
fn image_dir_of(target: &Path) -> std::path::PathBuf {
    target.parent().map(Path::to_owned).unwrap_or_default()
}

/// A UDP socket that talked through vke0 keeps the echo it had queued across a
/// thaw, then gets a new host socket for its next round trip; vke0's counters go on
/// from the checkpoint's.
#[test]
fn a_udp_flow_goes_on_after_a_thaw() {
    let port = udp_echo().to_string();
    let target = image_dir().join("ckpt.elf");
    let open = Input {
        bytes: b"",
        eof: false,
    };
    let mut vk = boot_nat(&target, Cc::Musl, &["-udp-thaw", &port], open);
    let dir = image_dir_of(&target);
    vk.read_until("queued");
    vk.signal(libc::SIGUSR2);
    let (status, _, err) = vk.finish();
    assert_eq!(status, 0, "{err}");
    let go = Input {
        bytes: b"go\n",
        eof: true,
    };
    let (status, out, err) = thaw_fed(&target, &dir.join("next.elf"), go).finish();
    assert_eq!(status, 0, "{err}");
    let want = format!(
        "kept ping from 10.0.2.2:{port}\ngot pong from 10.0.2.2:{port}\nrx grew by the echo\n"
    );
    assert_eq!(out, want, "{err}");
}

/// A connection to a host server cannot be saved: after the thaw, the guest's read
/// fails with a reset, and a write after it with EPIPE.
#[test]
fn host_connections_are_reset_by_a_thaw() {
    let port = tcp_server(greet).to_string();
    let target = image_dir().join("ckpt.elf");
    let mut vk = boot_nat(&target, Cc::Glibc, &["-reset", &port], Input::NONE);
    let dir = image_dir_of(&target);
    vk.read_until("connected");
    vk.signal(libc::SIGUSR2);
    let (status, out, err) = vk.finish();
    assert_eq!(
        (status, out.as_str()),
        (0, "greeting hi\nconnected\n"),
        "{err}"
    );
    let (status, out, err) = thaw(&target, &dir.join("next.elf")).finish();
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        out, "read -1 Connection reset by peer\nwrite -1 Broken pipe\n",
        "{err}"
    );
}
