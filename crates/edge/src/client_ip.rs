//! The client's address: the socket peer, unless the peer is a trusted proxy, in which case
//! the right-most address in `X-Forwarded-For` (or, without it, in `Forwarded: for=`) that is
//! not itself a trusted proxy. A garbled chain is not believed at all. Addresses come out in
//! canonical form (IPv4-mapped IPv6 as IPv4).

use crate::ipset::canonical;
use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The client address, as the edge layer decided it (in the request's extensions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = match forwarded_for(headers) {
        Some(Ok(h)) => h,
        Some(Err(())) => return peer,
        None => match forwarded(headers) {
            Some(Ok(h)) => h,
            _ => return peer,
        },
    };
    hops.into_iter().map(canonical).rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

fn forwarded_for(headers: &HeaderMap) -> Option<Result<Vec<IpAddr>, ()>> {
    let mut any = false;
    let mut hops = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        any = true;
        let Ok(s) = v.to_str() else { return Some(Err(())) };
        for part in s.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return Some(Err(())),
            }
        }
    }
    any.then_some(Ok(hops))
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`.
fn forwarded(headers: &HeaderMap) -> Option<Result<Vec<IpAddr>, ()>> {
    let mut any = false;
    let mut hops = Vec::new();
    for v in headers.get_all("forwarded") {
        any = true;
        let Ok(s) = v.to_str() else { return Some(Err(())) };
        for element in s.split(',') {
            let Some(node) = element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'))
            else {
                continue;
            };
            let host = if let Some(rest) = node.strip_prefix('[') {
                match rest.split_once(']') {
                    Some((h, _)) => h,
                    None => return Some(Err(())),
                }
            } else {
                // IPv4 with an optional port.
                node.split(':').next().unwrap_or("")
            };
            match host.parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // `unknown` or an obfuscated identifier: the chain cannot be followed.
                Err(_) => return Some(Err(())),
            }
        }
    }
    any.then_some(Ok(hops))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn h(name: &str, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v.parse().unwrap());
        m
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_may_forward() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.1.2.3");
        let xff = |v| h("x-forwarded-for", v);
        assert_eq!(client_ip(peer, &xff("203.0.113.9"), &trusted), ip("203.0.113.9"));
        // A spoofed left-most entry is ignored: the right-most untrusted hop wins.
        assert_eq!(client_ip(peer, &xff("1.1.1.1, 203.0.113.9, 10.0.0.5"), &trusted), ip("203.0.113.9"));
        let outsider = ip("198.51.100.1");
        assert_eq!(client_ip(outsider, &xff("203.0.113.9"), &trusted), outsider);
        assert_eq!(client_ip(peer, &xff("garbage"), &trusted), peer);
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
    }

    #[test]
    fn forwarded_header_and_mapped_addresses() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("::ffff:10.1.2.3");
        let f = |v| h("forwarded", v);
        assert_eq!(client_ip(peer, &f("for=192.0.2.60;proto=http;by=10.0.0.1"), &trusted), ip("192.0.2.60"));
        assert_eq!(client_ip(peer, &f(r#"for=198.51.100.7, for="[2001:db8::1]:4711""#), &trusted), ip("2001:db8::1"));
        assert_eq!(client_ip(peer, &f("for=unknown"), &trusted), ip("10.1.2.3"));
        assert_eq!(
            client_ip(peer, &f("for=\"::ffff:192.0.2.1\""), &trusted),
            ip("10.1.2.3"),
            "unbracketed v6 is malformed"
        );
        assert_eq!(client_ip(peer, &f("for=\"[::ffff:192.0.2.1]\""), &trusted), ip("192.0.2.1"));
        // An untrusted peer's Forwarded is ignored, and the peer comes out canonical.
        assert_eq!(client_ip(ip("::ffff:203.0.113.5"), &f("for=1.2.3.4"), &trusted), ip("203.0.113.5"));
    }
}
