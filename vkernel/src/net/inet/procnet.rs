//! /proc/net/tcp, tcp6, udp and udp6: the sockets in each port table in Linux's
//! layout, as netstat and ss read them, with each socket's inode (netstat -p finds
//! the process holding it). Unknown here, so zero: the owner's uid, timers and
//! congestion figures.

use std::fmt::Write;
use std::net::Ipv6Addr;
use std::sync::Arc;

use super::addr::{Endpoint, Family};
use super::tcp::{self, Conn, State, TcpSocket};
use super::udp::{self, UdpSocket};
use super::{RCV_SHUTDOWN, SEND_SHUTDOWN};

/// Which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcNet {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
}

/// TCP states as Linux numbers them.
const ESTABLISHED: u8 = 1;
const SYN_SENT: u8 = 2;
const FIN_WAIT2: u8 = 5;
const CLOSE: u8 = 7;
const CLOSE_WAIT: u8 = 8;
const LISTEN: u8 = 10;

/// An address as /proc/net shows it: each 32-bit word as the host reads it.
fn hex(fam: Family, ip: &Ipv6Addr) -> String {
    let words: Vec<u32> = match (fam, ip.to_ipv4_mapped()) {
        (Family::V4, Some(v4)) => vec![u32::from_le_bytes(v4.octets())],
        (Family::V4, None) => vec![0],
        (Family::V6, _) => ip
            .octets()
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect(),
    };
    words.iter().map(|w| format!("{w:08X}")).collect()
}

fn endpoint(fam: Family, ep: Option<Endpoint>) -> String {
    let ep = ep.unwrap_or(Endpoint {
        ip: fam.any(),
        port: 0,
    });
    format!("{}:{:04X}", hex(fam, &ep.ip), ep.port)
}

/// What a line says of a TCP socket.
struct TcpLine {
    state: u8,
    remote: Option<Endpoint>,
    /// The queues; a connection's tx_queue is counted at its peer, once our lock is let go.
    tx: usize,
    rx: usize,
    peer: Option<Arc<TcpSocket>>,
}

/// A TCP socket's line, or None if Linux would not list it (closed or only bound:
/// not in its lookup tables).
fn tcp_line(st: &State) -> Option<TcpLine> {
    let line = |state, remote, tx, rx| TcpLine {
        state,
        remote,
        tx,
        rx,
        peer: None,
    };
    match &st.conn {
        Conn::Listening { backlog, queue, .. } => {
            Some(line(LISTEN, None, *backlog as usize, queue.len()))
        }
        Conn::SynSent { to }
        | Conn::Host {
            addr: to,
            up: false,
            ..
        } => Some(line(SYN_SENT, Some(*to), 0, 0)),
        Conn::Connected { addr, .. } | Conn::Host { addr, .. } => {
            let fin = st.shutdown & RCV_SHUTDOWN != 0 && st.fin;
            let state = match (fin, st.shutdown & SEND_SHUTDOWN != 0) {
                (false, false) => ESTABLISHED,
                (true, false) => CLOSE_WAIT,
                (false, true) => FIN_WAIT2,
                (true, true) => CLOSE,
            };
            Some(TcpLine {
                peer: TcpSocket::peer_of(st),
                ..line(state, Some(*addr), 0, st.rx.len())
            })
        }
        Conn::Closed => None,
    }
}

/// The file's text.
pub fn proc_net(which: ProcNet) -> String {
    match which {
        ProcNet::Tcp => tcp_table(Family::V4),
        ProcNet::Tcp6 => tcp_table(Family::V6),
        ProcNet::Udp => udp_table(Family::V4),
        ProcNet::Udp6 => udp_table(Family::V6),
    }
}

/// Linux pads each line of the IPv4 files to a fixed width.
fn padded(out: &mut String, line: &str, width: usize) {
    let _ = writeln!(out, "{line:<width$}");
}

fn tcp_table(fam: Family) -> String {
    let mut out = String::new();
    let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
    if fam == Family::V4 {
        padded(&mut out, head, 149);
    } else {
        out += "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    }
    let sockets = tcp::PORTS.lock().owners();
    let mut n = 0;
    for s in sockets.iter().filter(|s| s.fam == fam) {
        let (line, local) = {
            let st = s.lock();
            (tcp_line(&st), st.bound)
        };
        let Some(TcpLine {
            state,
            remote,
            tx,
            rx,
            peer,
        }) = line
        else {
            continue;
        };
        let tx = tx + TcpSocket::unsent_to(peer);
        let local = local.endpoint();
        let line = format!(
            "{n:4}: {} {} {state:02X} {tx:08X}:{rx:08X} 00:00000000 00000000 {:5} {:8} {} 1 {:016X} 20 4 0 10 -1",
            endpoint(fam, Some(local)),
            endpoint(fam, remote),
            0,
            0,
            s.common.ino(),
            0
        );
        match fam {
            Family::V4 => padded(&mut out, &line, 149),
            Family::V6 => out += &(line + "\n"),
        }
        n += 1;
    }
    out
}

fn udp_table(fam: Family) -> String {
    let mut out = String::new();
    let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
    if fam == Family::V4 {
        padded(&mut out, &format!(" {head}"), 127);
    } else {
        out += "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
    }
    let sockets: Vec<Arc<UdpSocket>> = udp::PORTS.lock().owners();
    for (n, s) in sockets.iter().filter(|s| s.fam == fam).enumerate() {
        let (local, peer, rx) = s.table_view();
        let state = if peer.is_some() { ESTABLISHED } else { CLOSE };
        let line = format!(
            "{n:5}: {} {} {state:02X} {:08X}:{rx:08X} 00:00000000 00000000 {:5} {:8} {} 2 {:016X} 0",
            endpoint(fam, Some(local)),
            endpoint(fam, peer),
            0,
            0,
            0,
            s.common.ino(),
            0
        );
        match fam {
            Family::V4 => padded(&mut out, &line, 127),
            Family::V6 => out += &(line + "\n"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::inet::addr::LOOPBACK4;

    #[test]
    fn addresses_read_as_the_host_reads_them() {
        assert_eq!(hex(Family::V4, &LOOPBACK4), "0100007F");
        assert_eq!(
            hex(Family::V6, &Ipv6Addr::LOCALHOST),
            "00000000000000000000000001000000"
        );
        assert_eq!(
            hex(Family::V6, &LOOPBACK4),
            "0000000000000000FFFF00000100007F"
        );
        let ep = Endpoint {
            ip: LOOPBACK4,
            port: 8080,
        };
        assert_eq!(endpoint(Family::V4, Some(ep)), "0100007F:1F90");
        assert_eq!(endpoint(Family::V4, None), "00000000:0000");
    }
}
