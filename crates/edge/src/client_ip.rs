//! The client's address: the socket peer, unless the peer is a trusted proxy, in which case
//! the right-most address in `X-Forwarded-For` that is not itself a trusted proxy.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(s) = v.to_str() else { return peer };
        for part in s.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer, // a garbled chain is not trusted at all
            }
        }
    }
    hops.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn h(xff: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("x-forwarded-for", xff.parse().unwrap());
        m
    }
    #[test]
    fn only_trusted_peers_may_forward() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(client_ip(peer, &h("203.0.113.9"), &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        // A spoofed left-most entry is ignored: the right-most untrusted hop wins.
        assert_eq!(
            client_ip(peer, &h("1.1.1.1, 203.0.113.9, 10.0.0.5"), &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let outsider: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(outsider, &h("203.0.113.9"), &trusted), outsider);
        assert_eq!(client_ip(peer, &h("garbage"), &trusted), peer);
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
    }
}
