//! Networking.

pub mod iface;
pub mod netlink;
