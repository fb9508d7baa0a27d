use super::*;

/// A request as a tool sends it: header, then the family byte (struct rtgenmsg) or
/// a struct ifinfomsg.
fn request(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    Msg::new(ty, flags | NLM_F_REQUEST, 42, 0, body).finish()
}

/// Splits a datagram into (header, body) pairs, checking lengths and alignment.
fn messages(d: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < d.len() {
        let h = Header::parse(&d[at..]).expect("header");
        let len = h.len as usize;
        assert!(
            len >= HDR && at + len <= d.len(),
            "message length {len} at {at}"
        );
        out.push((h, d[at + HDR..at + len].to_vec()));
        at += align4(len);
    }
    assert_eq!(at, d.len());
    out
}

/// The attributes after a fixed part of `skip` bytes, as (type, payload).
fn attrs(body: &[u8], skip: usize) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = skip;
    while at + 4 <= body.len() {
        let len = u16::from_ne_bytes([body[at], body[at + 1]]) as usize;
        let ty = u16::from_ne_bytes([body[at + 2], body[at + 3]]);
        assert!(len >= 4 && at + len <= body.len());
        out.push((ty, body[at + 4..at + len].to_vec()));
        at += align4(len);
    }
    out
}

fn attr(list: &[(u16, Vec<u8>)], ty: u16) -> Vec<u8> {
    list.iter()
        .find(|(t, _)| *t == ty)
        .expect("attribute")
        .1
        .clone()
}

#[test]
fn a_link_dump_lists_lo_then_done() {
    let ifs = Interfaces::default();
    let out = answer(&request(RTM_GETLINK, NLM_F_DUMP, &[AF_UNSPEC]), &ifs, 77);
    assert_eq!(out.len(), 1, "one datagram per request");
    let msgs = messages(&out[0]);
    assert_eq!(msgs.len(), 2);
    let (h, body) = &msgs[0];
    assert_eq!(
        (h.ty, h.flags, h.seq, h.pid),
        (RTM_NEWLINK, NLM_F_MULTI, 42, 77)
    );
    assert_eq!(link_index(body), Some(1));
    let a = attrs(body, 16);
    assert_eq!(attr(&a, 3), b"lo\0");
    assert_eq!(attr(&a, 4), 65536u32.to_ne_bytes());
    assert_eq!(msgs[1].0.ty, NLMSG_DONE);
}

#[test]
fn an_address_dump_gives_both_families_or_the_one_asked_for() {
    let ifs = Interfaces::default();
    let dump = |fam| messages(&answer(&request(RTM_GETADDR, NLM_F_DUMP, &[fam]), &ifs, 1)[0]);
    let all = dump(AF_UNSPEC);
    assert_eq!(all.len(), 3);
    let (h, v4) = &all[0];
    assert_eq!(h.ty, RTM_NEWADDR);
    assert_eq!(&v4[..4], &[AF_INET, 8, 0x80, RT_SCOPE_HOST]);
    let a = attrs(v4, 8);
    assert_eq!(attr(&a, 1), [127, 0, 0, 1]);
    assert_eq!(attr(&a, 3), b"lo\0");
    assert_eq!(all[1].1[0], AF_INET6);
    assert_eq!(
        attr(&attrs(&all[1].1, 8), 1),
        std::net::Ipv6Addr::LOCALHOST.octets()
    );
    assert_eq!(dump(AF_INET6).len(), 2);
    assert_eq!(dump(AF_INET6)[0].1[0], AF_INET6);
}

#[test]
fn routes_name_the_loopback_networks() {
    let ifs = Interfaces::default();
    let msgs = messages(&answer(&request(RTM_GETROUTE, NLM_F_DUMP, &[AF_INET]), &ifs, 1)[0]);
    assert_eq!(msgs.len(), 2);
    let a = attrs(&msgs[0].1, 12);
    assert_eq!(attr(&a, 1), [127, 0, 0, 0]);
    assert_eq!(attr(&a, 7), [127, 0, 0, 1]);
    assert_eq!(msgs[0].1[4], 255, "the local table");
}

#[test]
fn one_link_by_index_with_an_ack_and_errors_as_linux() {
    let ifs = Interfaces::default();
    let mut ifinfo = vec![0u8; 16];
    ifinfo[4..8].copy_from_slice(&1i32.to_ne_bytes());
    let msgs = messages(&answer(&request(RTM_GETLINK, NLM_F_ACK, &ifinfo), &ifs, 5)[0]);
    assert_eq!(msgs.len(), 2);
    assert_eq!((msgs[0].0.ty, msgs[0].0.flags), (RTM_NEWLINK, 0));
    assert_eq!(
        (msgs[1].0.ty, &msgs[1].1[..4]),
        (NLMSG_ERROR, &0i32.to_ne_bytes()[..])
    );
    let err_of = |ty, body: &[u8]| {
        let msgs = messages(&answer(&request(ty, 0, body), &ifs, 5)[0]);
        assert_eq!(msgs[0].0.ty, NLMSG_ERROR);
        i32::from_ne_bytes(msgs[0].1[..4].try_into().unwrap())
    };
    ifinfo[4..8].copy_from_slice(&9i32.to_ne_bytes());
    assert_eq!(err_of(RTM_GETLINK, &ifinfo), -libc::ENODEV);
    assert_eq!(err_of(RTM_NEWADDR, &[AF_INET; 8]), -libc::EPERM);
    assert_eq!(err_of(30, &[0; 12]), -libc::EOPNOTSUPP, "RTM_GETNEIGH");
}

#[test]
fn garbage_and_replies_get_no_answer() {
    let ifs = Interfaces::default();
    assert!(answer(&[1, 2, 3], &ifs, 1).is_empty());
    let mut short = request(RTM_GETLINK, NLM_F_DUMP, &[0]);
    short[..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(answer(&short, &ifs, 1).is_empty());
    let not_a_request = Msg::new(RTM_GETLINK, NLM_F_DUMP, 1, 0, &[0]).finish();
    assert!(answer(&not_a_request, &ifs, 1).is_empty());
}
