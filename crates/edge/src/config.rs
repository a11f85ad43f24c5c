//! The `[edge]` section, and the [`EdgePolicy`] and shared rate limits built from it.

use crate::geo::{GeoDb, GeoPolicy};
use crate::layer::EdgePolicy;
use crate::waf::{Exclusion, Limits, Mode, PathPattern};
use crate::{IpSet, Rate, RedisRate};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rampart_core::Secret;
use rampart_core::config::{ByteSize, ConfigError, Dur};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Proxies (CIDRs) whose `X-Forwarded-For` / `Forwarded` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The seeds' `WAFAllowedIPv4Ranges`: `["0.0.0.0/0"]` (the default) means off; otherwise
    /// IPv4 clients outside these ranges are refused.
    pub allowed_ipv4_ranges: Vec<Ipv4Net>,
    /// IPv6 clients allowed; default `["::/0"]`. When either list restricts, the other one is
    /// enforced too (set `allowed_ipv6_ranges = []` to refuse IPv6 altogether).
    pub allowed_ipv6_ranges: Vec<Ipv6Net>,
    /// Always refused (IPv4 and IPv6).
    pub denied_ranges: Vec<IpNet>,
    /// SQL-injection / XSS inspection: `block`, `count` or `off`.
    pub waf_mode: Mode,
    /// More routes whose body (or query) is not inspected, besides the built-in ones.
    pub waf_exclusions: Vec<WafExclusionConfig>,
    pub max_header_bytes: ByteSize,
    pub max_headers_total: ByteSize,
    pub max_query_bytes: ByteSize,
    pub max_json_depth: usize,
    pub max_json_string: ByteSize,
    /// Rate-based rule per client address, every path: this many requests per `ip_rate_window`
    /// (0: off). Default 2,000 per 5 minutes, like the seeds' WAF rule.
    pub ip_rate_limit: u32,
    pub ip_rate_window: Dur,
    /// Sign-in, sign-up, MFA and token endpoints, per client address: this many per minute (0: off).
    pub auth_rate_per_minute: u32,
    /// Addresses the two per-address rules do not apply to (default loopback: local probes and
    /// a same-host reverse proxy that is not configured as trusted).
    pub rate_exempt: Vec<IpNet>,
    /// Token bucket per API key (requests per second, burst), as the seeds' API Gateway usage plan.
    pub api_key_rate: u32,
    pub api_key_burst: u32,
    /// Token bucket per signed-in user on other credentials (0: off).
    pub user_rate: u32,
    pub user_burst: u32,
    /// The `X-Origin-Verify` value a fronting CDN adds (as GAIA's CloudFront). When set, every
    /// request but `/healthz` and `/readyz` must carry it.
    pub origin_verify_secret: Option<Secret<String>>,
    /// Browser origins allowed to call the API cross-origin (exact `scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    /// Redis (`redis://[user:password@]host:port/db`, `rediss://` for TLS) to share the
    /// per-address rules and the per-key / per-user buckets across replicas. Unset: every limit
    /// is per process.
    pub redis_url: Option<Secret<String>>,
    /// A PEM CA certificate that `rediss://` is verified against instead of the system's roots
    /// (a private CA).
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of the Redis keys (several deployments on one Redis).
    pub redis_prefix: String,
    /// A MaxMind-format country database (`.mmdb`: GeoLite2/GeoIP2 Country or City, DB-IP…).
    pub geo_database: Option<PathBuf>,
    /// ISO 3166 country codes allowed (empty: no allow-list); others are refused.
    pub geo_allow_countries: Vec<String>,
    /// ISO 3166 country codes refused.
    pub geo_deny_countries: Vec<String>,
    /// Internal ranges (CIDRs) outbound requests to configured endpoints (the meeting-end
    /// webhook) may reach all the same; by default only public addresses are (`outbound`).
    pub outbound_allowed_ranges: Vec<IpNet>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafExclusionConfig {
    /// `*` matches one path segment, a trailing `**` any rest.
    pub path: String,
    /// Default: every method.
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default = "yes")]
    pub body: bool,
    #[serde(default)]
    pub query: bool,
}

fn yes() -> bool {
    true
}

/// Loopback, IPv4 and IPv6 (checked when compiled).
const LOOPBACK: [ipnet::IpNet; 2] = [
    ipnet::IpNet::V4(ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::new(127, 0, 0, 0), 8)),
    ipnet::IpNet::V6(ipnet::Ipv6Net::new_assert(std::net::Ipv6Addr::LOCALHOST, 128)),
];

impl Default for EdgeConfig {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            trusted_proxies: Vec::new(),
            allowed_ipv4_ranges: vec![Ipv4Net::default()],
            allowed_ipv6_ranges: vec![Ipv6Net::default()],
            denied_ranges: Vec::new(),
            waf_mode: Mode::Block,
            waf_exclusions: Vec::new(),
            max_header_bytes: ByteSize(l.max_header_bytes),
            max_headers_total: ByteSize(l.max_headers_total),
            max_query_bytes: ByteSize(l.max_query_bytes),
            max_json_depth: l.max_json_depth,
            max_json_string: ByteSize(l.max_json_string),
            ip_rate_limit: 2000,
            ip_rate_window: Dur::secs(300),
            auth_rate_per_minute: 60,
            rate_exempt: LOOPBACK.to_vec(),
            api_key_rate: 100,
            api_key_burst: 50,
            user_rate: 100,
            user_burst: 50,
            origin_verify_secret: None,
            cors_origins: Vec::new(),
            redis_url: None,
            redis_ca_file: None,
            redis_prefix: "rampart".into(),
            geo_database: None,
            geo_allow_countries: Vec::new(),
            geo_deny_countries: Vec::new(),
            outbound_allowed_ranges: Vec::new(),
        }
    }
}

/// Routes whose request bodies are data, not queries: they keep the JSON depth limit but are
/// not scanned for injections (a user may well ask the assistant about `UNION SELECT`).
const BODY_EXCLUSIONS: &[&str] = &[
    "/v1/chat/completions",
    "/v1/jobs",
    "/event",
    "/v1/feedback",
    "/v1/knowledge-bases/*/retrieve",
    "/v1/bot-management/interruptions",
    "/v1/admin/assistants/**",
    "/v1/admin/models/**",
    "/v1/me/prompts/**",
    "/v1/sessions/*",
    "/mcp",
];

/// Routes whose query strings are data: searching one's own conversations for `DROP TABLE`
/// is a question, not an attack (the WAF still inspects the path and headers).
const QUERY_EXCLUSIONS: &[&str] = &["/v1/sessions/search"];

/// Paths the per-address sign-in limit covers.
const AUTH_PATHS: &[&str] = &[
    "/v1/auth/login",
    "/v1/auth/challenge",
    "/v1/auth/register",
    "/v1/auth/bootstrap",
    "/v1/auth/refresh",
    "/v1/auth/mfa/**",
    "/oauth2/token",
    "/oauth2/authorize",
];

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

/// ISO 3166 alpha-2 codes, upper case.
fn country_codes(key: &str, v: &[String]) -> Result<Vec<String>, ConfigError> {
    v.iter()
        .map(|c| {
            if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(c.to_ascii_uppercase())
            } else {
                Err(err(key, format!("{c:?} is not an ISO 3166 alpha-2 country code")))
            }
        })
        .collect()
}

/// The HTTP method of a WAF exclusion (`None`: every method).
fn exclusion_method(x: &WafExclusionConfig) -> Result<Option<http::Method>, ConfigError> {
    x.method.as_ref().map(|m| m.parse().map_err(|_| err("waf_exclusions", format!("bad method {m:?}")))).transpose()
}

impl EdgeConfig {
    /// What the SSRF-safe outbound client may reach.
    pub fn outbound_policy(&self) -> crate::OutboundPolicy {
        crate::OutboundPolicy { allowed: self.outbound_allowed_ranges.clone() }
    }

    /// Checks the section on its own (the country database is opened by [`EdgeConfig::policy`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_limits()?;
        for o in &self.cors_origins {
            let u = url::Url::parse(o).map_err(|_| err("cors_origins", format!("{o:?} is not an origin")))?;
            if u.origin().ascii_serialization() != o.trim_end_matches('/') {
                return Err(err(
                    "cors_origins",
                    format!("{o:?} must be an exact origin such as https://app.example.com (no wildcard, no path)"),
                ));
            }
        }
        for x in &self.waf_exclusions {
            if !x.path.starts_with('/') {
                return Err(err("waf_exclusions", format!("path {:?} must start with /", x.path)));
            }
            exclusion_method(x)?;
        }
        let allow = country_codes("geo_allow_countries", &self.geo_allow_countries)?;
        let deny = country_codes("geo_deny_countries", &self.geo_deny_countries)?;
        if self.geo_database.is_none() && (!allow.is_empty() || !deny.is_empty()) {
            return Err(err(
                "geo_database",
                "is needed by geo_allow_countries / geo_deny_countries (a .mmdb country database)",
            ));
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.max_json_depth < 4 {
            return Err(err("max_json_depth", "too small: use at least 4"));
        }
        if self.max_header_bytes.0 < 1024 {
            return Err(err("max_header_bytes", "too small: use at least 1024"));
        }
        if self.max_headers_total < self.max_header_bytes {
            return Err(err("max_headers_total", "too small: use at least max_header_bytes"));
        }
        if self.ip_rate_limit > 0 && self.ip_rate_window.0 < Duration::from_secs(1) {
            return Err(err("ip_rate_window", "must be at least 1s"));
        }
        if self.api_key_rate == 0 || self.api_key_burst == 0 {
            let key = if self.api_key_rate == 0 { "api_key_rate" } else { "api_key_burst" };
            return Err(err(key, "api_key_rate and api_key_burst must be at least 1"));
        }
        if self.origin_verify_secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
            return Err(err("origin_verify_secret", "must be at least 16 characters"));
        }
        Ok(())
    }

    /// What the edge layer enforces; `max_body_bytes` is `server.max_body_bytes`. Opens the
    /// country database when country rules are set. `shared_rates` is left for
    /// [`EdgeConfig::shared_rates`].
    pub fn policy(&self, max_body_bytes: usize) -> Result<EdgePolicy, ConfigError> {
        self.validate()?;
        let v4_all = self.allowed_ipv4_ranges.iter().any(|n| n.prefix_len() == 0);
        let v6_all = self.allowed_ipv6_ranges.iter().any(|n| n.prefix_len() == 0);
        let allow = (!(v4_all && v6_all)).then(|| {
            IpSet::new(
                self.allowed_ipv4_ranges
                    .iter()
                    .map(|n| IpNet::V4(*n))
                    .chain(self.allowed_ipv6_ranges.iter().map(|n| IpNet::V6(*n))),
            )
        });
        let per = |n: u32, window: Duration| (n > 0).then_some(Rate { n, window, burst: n });
        Ok(EdgePolicy {
            trusted_proxies: self.trusted_proxies.clone(),
            allow,
            deny: IpSet::new(self.denied_ranges.iter().copied()),
            ip_rate: per(self.ip_rate_limit, self.ip_rate_window.0),
            auth_rate: per(self.auth_rate_per_minute, Duration::from_secs(60)),
            auth_paths: AUTH_PATHS.iter().map(|s| PathPattern::new(s)).collect(),
            rate_exempt: IpSet::new(self.rate_exempt.iter().copied()),
            origin_secret: self.origin_verify_secret.clone(),
            origin_exempt: vec![PathPattern::new("/healthz"), PathPattern::new("/readyz")],
            waf_mode: self.waf_mode,
            limits: Limits {
                max_header_bytes: self.max_header_bytes.0,
                max_headers_total: self.max_headers_total.0,
                max_query_bytes: self.max_query_bytes.0,
                max_json_depth: self.max_json_depth,
                max_json_string: self.max_json_string.0,
            },
            exclusions: self.exclusions()?,
            max_body_bytes,
            shared_rates: None,
            geo: self.geo_policy()?,
        })
    }

    /// The built-in body and query exclusions, then `waf_exclusions`.
    fn exclusions(&self) -> Result<Vec<Exclusion>, ConfigError> {
        let builtin = BODY_EXCLUSIONS
            .iter()
            .map(|p| Ok(Exclusion { method: None, path: PathPattern::new(p), body: true, query: false }))
            .chain(
                QUERY_EXCLUSIONS
                    .iter()
                    .map(|p| Ok(Exclusion { method: None, path: PathPattern::new(p), body: false, query: true })),
            );
        let configured = self.waf_exclusions.iter().map(|x| {
            Ok(Exclusion {
                method: exclusion_method(x)?,
                path: PathPattern::new(&x.path),
                body: x.body,
                query: x.query,
            })
        });
        builtin.chain(configured).collect()
    }

    /// The country rules, with their database opened.
    fn geo_policy(&self) -> Result<Option<Arc<GeoPolicy>>, ConfigError> {
        let allow = country_codes("geo_allow_countries", &self.geo_allow_countries)?;
        let deny = country_codes("geo_deny_countries", &self.geo_deny_countries)?;
        let Some(path) = &self.geo_database else { return Ok(None) };
        if allow.is_empty() && deny.is_empty() {
            return Ok(None);
        }
        let db = GeoDb::open(path).map_err(|e| err("geo_database", e))?;
        Ok(Some(Arc::new(GeoPolicy { db, allow, deny })))
    }

    /// The Redis connection that shares the rate limits between replicas, when `redis_url` is
    /// set. Warns when it is plain `redis://` to another host.
    pub async fn shared_rates(&self) -> Result<Option<Arc<RedisRate>>, ConfigError> {
        let Some(url) = &self.redis_url else { return Ok(None) };
        let ca = match &self.redis_ca_file {
            Some(f) => Some(std::fs::read(f).map_err(|e| err("redis_ca_file", format!("{}: {e}", f.display())))?),
            None => None,
        };
        if plain_redis_off_host(url.expose()) {
            tracing::warn!(
                "edge.redis_url is plain redis:// to another host: its password and the rate keys cross the network in the clear; use rediss://"
            );
        }
        RedisRate::connect(url.expose(), &self.redis_prefix, ca).await.map(Some).map_err(|e| err("redis_url", e))
    }
}

/// Whether a Redis URL is unencrypted and not to this machine.
fn plain_redis_off_host(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else { return false };
    u.scheme() == "redis"
        && match u.host() {
            // `redis:` is not a special scheme: its IPv4 hosts parse as names.
            Some(url::Host::Domain(d)) => {
                d != "localhost" && !d.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_redis_to_another_host_is_flagged() {
        for (url, flagged) in [
            ("redis://10.0.0.5:6379/0", true),
            ("redis://:pw@redis.internal:6379", true),
            ("redis://127.0.0.1:6379/0", false),
            ("redis://localhost/0", false),
            ("redis://[::1]:6379", false),
            ("rediss://redis.internal:6380/0", false),
            ("not a url", false),
        ] {
            assert_eq!(plain_redis_off_host(url), flagged, "{url}");
        }
    }

    #[test]
    fn the_default_policy_is_the_documented_one() {
        let c = EdgeConfig::default();
        assert_eq!(c.rate_exempt, vec!["127.0.0.0/8".parse::<IpNet>().unwrap(), "::1/128".parse().unwrap()]);
        let p = c.policy(1024 * 1024).unwrap();
        assert!(p.allow.is_none());
        assert_eq!(p.waf_mode, Mode::Block);
        assert_eq!(p.exclusions.len(), BODY_EXCLUSIONS.len() + QUERY_EXCLUSIONS.len());
        assert_eq!(p.ip_rate.map(|r| (r.n, r.window)), Some((2000, Duration::from_secs(300))));
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |c: EdgeConfig| c.validate().unwrap_err().key;
        assert_eq!(key(EdgeConfig { max_json_depth: 2, ..Default::default() }), "max_json_depth");
        assert_eq!(key(EdgeConfig { api_key_burst: 0, ..Default::default() }), "api_key_burst");
        assert_eq!(
            key(EdgeConfig { cors_origins: vec!["https://a.example/x".into()], ..Default::default() }),
            "cors_origins"
        );
        assert_eq!(key(EdgeConfig { geo_deny_countries: vec!["US".into()], ..Default::default() }), "geo_database");
        let x = WafExclusionConfig { path: "/x".into(), method: Some("GE T".into()), body: true, query: false };
        assert_eq!(key(EdgeConfig { waf_exclusions: vec![x], ..Default::default() }), "waf_exclusions");
        let e: Result<EdgeConfig, _> = serde_json::from_value(serde_json::json!({"waf_mode": "loud"}));
        assert!(e.unwrap_err().to_string().contains("unknown variant"));
    }
}
