//! Sets of IPv4 and IPv6 networks. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are treated as
//! the IPv4 address they carry, on both sides, so a rule written for `192.0.2.0/24` also holds for a
//! client that reaches a dual-stack socket.

use ipnet::IpNet;
use std::net::IpAddr;

/// The IPv4 address inside an IPv4-mapped IPv6 address, or the address as it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn canonical_net(n: IpNet) -> IpNet {
    match n {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(n, IpNet::V4),
            None => n,
        },
        n => n.trunc(),
    }
}

#[derive(Clone, Debug, Default)]
pub struct IpSet {
    nets: Vec<IpNet>,
}

impl IpSet {
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut nets: Vec<IpNet> = nets.into_iter().map(canonical_net).collect();
        nets.sort();
        nets.dedup();
        Self { nets }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &[&str]) -> IpSet {
        IpSet::new(s.iter().map(|n| n.parse::<IpNet>().unwrap()))
    }

    #[test]
    fn v4_v6_and_mapped_forms() {
        let s = set(&["192.0.2.0/24", "2001:db8::/32"]);
        assert!(s.contains("192.0.2.77".parse().unwrap()));
        assert!(s.contains("::ffff:192.0.2.77".parse().unwrap()));
        assert!(!s.contains("192.0.3.1".parse().unwrap()));
        assert!(s.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!s.contains("2001:db9::5".parse().unwrap()));
        // A mapped network in the set is the IPv4 network.
        let m = set(&["::ffff:198.51.100.0/120"]);
        assert!(m.contains("198.51.100.9".parse().unwrap()));
        assert!(!m.contains("198.51.101.9".parse().unwrap()));
        assert!(set(&["0.0.0.0/0"]).contains("203.0.113.1".parse().unwrap()));
        assert!(!set(&["0.0.0.0/0"]).contains("2001:db8::1".parse().unwrap()));
    }
}
