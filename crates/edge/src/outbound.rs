//! The SSRF-safe outbound HTTP client: requests to URLs that are not the server's own upstreams
//! (webhooks that post-process meetings, and whatever else sends to a configured endpoint on
//! someone's behalf) go through [`SafeClient`], which only connects to public addresses.
//!
//! Every address a name resolves to is checked when the connection is made (the client's own
//! resolver drops internal ones), so a name that resolves to a public address when it is
//! checked and to an internal one when it is used (DNS rebinding) still cannot reach inside. A
//! URL naming an address directly is checked before the request. Redirects are not followed
//! (a redirect could lead anywhere) and no proxy from the environment is used (it would connect
//! for us, unchecked). Internal: loopback, private (RFC 1918, IPv6 unique-local), link-local
//! (cloud metadata at 169.254.169.254 among them), carrier-grade NAT, unspecified, broadcast,
//! multicast, documentation, benchmarking and reserved ranges, and IPv6 forms that embed an
//! IPv4 address (mapped, NAT64) are judged by that address. `edge.outbound_allowed_ranges`
//! lets an administrator open ranges on purpose (an internal post-processing service).

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Why an outbound request was not made or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not one we send to (scheme, credentials in it, an internal address).
    #[error("refused: {0}")]
    Refused(String),
    #[error("outbound request: {0}")]
    Http(#[from] reqwest::Error),
}

/// Which addresses outbound requests may reach.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Internal ranges opened on purpose.
    pub allowed: Vec<IpNet>,
}

const fn v4net(a: u8, b: u8, c: u8, d: u8, len: u8) -> (Ipv4Addr, u8) {
    (Ipv4Addr::new(a, b, c, d), len)
}

/// IPv4 ranges no outbound request goes to (besides what `Ipv4Addr`'s own predicates cover).
const INTERNAL_V4: [(Ipv4Addr, u8); 8] = [
    v4net(0, 0, 0, 0, 8),       // "this network"
    v4net(100, 64, 0, 0, 10),   // carrier-grade NAT
    v4net(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4net(192, 0, 2, 0, 24),    // documentation
    v4net(198, 18, 0, 0, 15),   // benchmarking
    v4net(198, 51, 100, 0, 24), // documentation
    v4net(203, 0, 113, 0, 24),  // documentation
    v4net(240, 0, 0, 0, 4),     // reserved, broadcast
];

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Whether an address is internal (see the module's list).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_multicast()
                || INTERNAL_V4.iter().any(|r| in_v4(v, *r))
        }
        IpAddr::V6(v) => internal_v6(v),
    }
}

fn internal_v6(v: Ipv6Addr) -> bool {
    if let Some(v4) = v.to_ipv4_mapped() {
        return is_internal(IpAddr::V4(v4));
    }
    let s = v.segments();
    let last32 = Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7]));
    // NAT64 (64:ff9b::/96) and IPv4-translated addresses (::ffff:0:a.b.c.d, RFC 2765) carry an
    // IPv4 address in their last 32 bits; 6to4 (2002::/16) in bits 16-47.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return is_internal(IpAddr::V4(last32));
    }
    if s[0] == 0x2002 {
        return is_internal(IpAddr::V4(Ipv4Addr::from(u32::from(s[1]) << 16 | u32::from(s[2]))));
    }
    // NAT64's local-use prefix (64:ff9b:1::/48, RFC 8215) translates to the operator's own
    // (often internal) IPv4 space wherever the address sits; Teredo (2001::/32) tunnels to an
    // address it hides. Neither is judged by what it embeds: both are refused.
    if s[..3] == [0x64, 0xff9b, 1] || (s[0], s[1]) == (0x2001, 0) {
        return true;
    }
    v.is_loopback()
        || v.is_unspecified()
        || v.is_multicast()
        || v.is_unique_local()
        || v.is_unicast_link_local()
        || s[0] & 0xffc0 == 0xfec0 // site-local (deprecated)
        || (s[0], s[1]) == (0x2001, 0x0db8) // documentation
        || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

impl OutboundPolicy {
    /// Whether a request may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.iter().any(|n| n.contains(&ip))
    }
}

/// The client's resolver: the system's, with the addresses the policy refuses left out.
struct GuardedResolver(Arc<OutboundPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| policy.permits(a.ip())).collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no address outbound requests may reach").into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client that only reaches addresses its policy permits.
#[derive(Clone)]
pub struct SafeClient {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl std::fmt::Debug for SafeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeClient").field("allowed", &self.policy.allowed).finish()
    }
}

impl SafeClient {
    /// A client whose requests take at most `timeout` each (connecting included).
    pub fn new(policy: OutboundPolicy, timeout: Duration) -> Result<Self, OutboundError> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .dns_resolver(GuardedResolver(policy.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()?;
        Ok(Self { http, policy })
    }

    /// Checks what can be checked of a URL before any connection: an http(s) URL without
    /// credentials, whose host, if it is an address, is one the policy permits.
    pub fn check(&self, url: &url::Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Refused("only http and https URLs".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::Refused("credentials in the URL".into()));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v)) => IpAddr::V4(v),
            Some(url::Host::Ipv6(v)) => IpAddr::V6(v),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(OutboundError::Refused("no host".into())),
        };
        if self.policy.permits(ip) { Ok(()) } else { Err(OutboundError::Refused("an internal address".into())) }
    }

    /// A `POST` to `url`, once the URL passed [`SafeClient::check`].
    pub fn post(&self, url: &url::Url) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.check(url)?;
        Ok(self.http.post(url.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_permitted() {
        let p = OutboundPolicy::default();
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::808:808",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!p.permits(ip(s)), "{s} must be refused");
        }
        for s in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(p.permits(ip(s)), "{s} must be permitted");
        }
        let open = OutboundPolicy { allowed: vec!["10.0.0.0/8".parse().unwrap()] };
        assert!(open.permits(ip("10.9.9.9")) && !open.permits(ip("192.168.0.1")));
    }

    #[tokio::test]
    async fn urls_are_checked_before_and_names_when_connecting() {
        let c = SafeClient::new(OutboundPolicy::default(), Duration::from_secs(2)).unwrap();
        let url = |s: &str| url::Url::parse(s).unwrap();
        for bad in ["ftp://example.com/", "http://u:p@example.com/", "http://127.0.0.1:9/", "http://[::1]:9/"] {
            assert!(matches!(c.check(&url(bad)), Err(OutboundError::Refused(_))), "{bad}");
        }
        assert!(c.check(&url("https://example.com/hook")).is_ok());
        // `localhost` is a name: checked at connection time, where it resolves to loopback only.
        let sent = c.post(&url("http://localhost:9/")).unwrap().send().await;
        let e = format!("{:?}", sent.unwrap_err());
        assert!(e.contains("no address outbound requests may reach"), "{e}");
    }
}
