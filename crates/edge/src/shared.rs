//! Rate limits shared by every replica through Redis.
//!
//! The same GCRA as the in-process buckets ([`crate::rate`]), run as one Lua script per check
//! so that the read, the decision and the write are atomic on the Redis server, with the
//! server's clock (`TIME`) so replicas' clocks do not matter. A key holds the bucket's
//! "theoretical arrival time" in microseconds and expires when the bucket is full again.
//!
//! Redis is a dependency for availability too: a check that fails or takes longer than
//! [`TIMEOUT`] falls back to this process's own bucket (logged at most once a minute and
//! counted), so an outage loosens limits to per-replica instead of refusing or admitting all.

use crate::rate::{Decision, KeyedRate, Rate};
use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The longest a check waits for Redis before deciding locally.
pub const TIMEOUT: Duration = Duration::from_millis(100);

const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local span = interval * burst
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > span then
  return {0, 0, ahead - span, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
return {1, math.floor((span - ahead) / interval), 0, ahead}
";

/// A Redis connection (reconnecting) and the script.
pub struct RedisRate {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    script: redis::Script,
    /// Checks decided locally because Redis failed.
    pub fallbacks: AtomicU64,
    last_warning: AtomicI64,
}

impl std::fmt::Debug for RedisRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisRate({})", self.prefix)
    }
}

impl RedisRate {
    /// Connects (and checks the connection) to `url` (`redis://[user:password@]host:port/db`, or
    /// `rediss://` for TLS, verified against the system's roots or, given `ca_pem`, that CA's).
    pub async fn connect(url: &str, prefix: &str, ca_pem: Option<Vec<u8>>) -> Result<Arc<Self>, String> {
        // redis builds its TLS configuration on the process-wide rustls provider: the tree's one
        // (aws-lc-rs), unless something installed one already.
        if url.starts_with("rediss://") && rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = match ca_pem {
            None => redis::Client::open(url),
            Some(ca) => {
                if !url.starts_with("rediss://") {
                    return Err("edge.redis_ca_file is set but edge.redis_url is not rediss://".into());
                }
                redis::Client::build_with_tls(url, redis::TlsCertificates { client_tls: None, root_cert: Some(ca) })
            }
        }
        .map_err(|e| format!("edge.redis_url: {e}"))?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let mut conn =
            tokio::time::timeout(Duration::from_secs(5), redis::aio::ConnectionManager::new_with_config(client, cfg))
                .await
                .map_err(|_| "edge.redis_url: no answer within 5 s".to_owned())?
                .map_err(|e| format!("edge.redis_url: {e}"))?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(|e| format!("edge.redis_url: {e}"))?;
        Ok(Arc::new(Self {
            conn,
            prefix: prefix.to_owned(),
            script: redis::Script::new(GCRA),
            fallbacks: AtomicU64::new(0),
            last_warning: AtomicI64::new(0),
        }))
    }

    /// One request from `rule`'s bucket for `key`; `None` when Redis did not answer in time.
    pub async fn check(&self, rule: &str, key: &str, rate: Rate) -> Option<Decision> {
        let n = rate.n.max(1);
        let interval_us = u64::try_from((rate.window / n).as_micros()).unwrap_or(u64::MAX).max(1);
        let burst = rate.burst.max(1);
        let mut conn = self.conn.clone();
        let mut inv = self.script.key(format!("{}:rl:{rule}:{key}", self.prefix));
        inv.arg(interval_us).arg(burst);
        let r: Result<Result<(i64, i64, i64, i64), _>, _> =
            tokio::time::timeout(TIMEOUT, inv.invoke_async(&mut conn)).await;
        match r {
            Ok(Ok((allowed, remaining, retry_us, reset_us))) => Some(Decision {
                allowed: allowed == 1,
                limit: burst,
                remaining: u32::try_from(remaining).unwrap_or(0),
                retry_after: if allowed == 1 { 0 } else { ceil_secs_us(retry_us).max(1) },
                reset: ceil_secs_us(reset_us),
            }),
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("timed out");
                None
            }
        }
    }

    fn failed(&self, why: &str) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        let last = self.last_warning.load(Ordering::Relaxed);
        if now - last >= 60
            && self.last_warning.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(error = why, "shared rate limits: Redis failed; deciding per replica until it answers");
        }
    }
}

fn ceil_secs_us(us: i64) -> u64 {
    u64::try_from(us.max(0)).unwrap_or(0).div_ceil(1_000_000)
}

/// A limit shared through Redis when one is configured, with this process's bucket as the
/// fallback (and as the whole limit without Redis).
pub struct SharedRate<K: Hash + Eq + Clone> {
    rule: &'static str,
    rate: Rate,
    local: KeyedRate<K>,
    redis: Option<Arc<RedisRate>>,
}

impl<K: Hash + Eq + Clone + Display> SharedRate<K> {
    pub fn new(rule: &'static str, rate: Rate, redis: Option<Arc<RedisRate>>) -> Self {
        Self { rule, rate, local: KeyedRate::new(rate), redis }
    }

    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// This process's bucket only (no I/O).
    pub fn check_local(&self, key: &K) -> Decision {
        self.local.check(key)
    }

    pub async fn check(&self, key: &K) -> Decision {
        if let Some(r) = &self.redis
            && let Some(d) = r.check(self.rule, &key.to_string(), self.rate).await
        {
            return d;
        }
        self.local.check(key)
    }
}
