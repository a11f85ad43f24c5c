//! Rate limits as token buckets (GCRA, `governor`), keyed by client address, API key or user.
//!
//! A limit of `n` per `window` admits a burst of `burst` at once and then refills at `n/window`.
//! A refused request learns when to come back (`Retry-After`, whole seconds, rounded up) and
//! gets the IETF `RateLimit-*` fields (draft-ietf-httpapi-ratelimit-headers):
//! `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
//!
//! These buckets are per process; [`crate::shared`] shares them between replicas through Redis
//! (and falls back to these when Redis does not answer).

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

/// `n` requests per `window`, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub n: u32,
    pub window: Duration,
    pub burst: u32,
}

impl Rate {
    pub fn per_second(n: u32, burst: u32) -> Self {
        Self { n, window: Duration::from_secs(1), burst }
    }
}

/// What a check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until a request would be admitted again (0 when allowed).
    pub retry_after: u64,
    /// Seconds until the bucket is full again.
    pub reset: u64,
}

impl Decision {
    /// The `RateLimit-*` (and, when refused, `Retry-After`) header fields.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset.to_string()),
        ];
        if !self.allowed {
            h.push(("retry-after", self.retry_after.to_string()));
        }
        h
    }
}

type Limiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

pub struct KeyedRate<K: Hash + Eq + Clone> {
    burst: u32,
    limiter: Limiter<K>,
    clock: DefaultClock,
    /// Seconds to refill one request.
    per_request: Duration,
    checks: std::sync::atomic::AtomicU64,
}

const SWEEP_AT: usize = 50_000;

impl<K: Hash + Eq + Clone> KeyedRate<K> {
    pub fn new(rate: Rate) -> Self {
        let n = NonZeroU32::new(rate.n).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(n);
        let per_request = (rate.window / n.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(per_request).unwrap_or_else(|| Quota::per_second(n)).allow_burst(burst);
        Self {
            burst: burst.get(),
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            clock: DefaultClock::default(),
            per_request,
            checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s bucket.
    pub fn check(&self, key: &K) -> Decision {
        // Counting the keys locks every shard of the store: look only every 1,024th check.
        if self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(1024)
            && self.limiter.len() > SWEEP_AT
        {
            // Keys whose buckets are full again carry no state worth keeping.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let limit = self.burst;
        match self.limiter.check_key(key) {
            Ok(snap) => {
                let remaining = snap.remaining_burst_capacity();
                let used = limit.saturating_sub(remaining);
                Decision { allowed: true, limit, remaining, retry_after: 0, reset: ceil_secs(self.per_request * used) }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    retry_after: ceil_secs(wait).max(1),
                    reset: ceil_secs(self.per_request * limit),
                }
            }
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_retry_after() {
        let r = KeyedRate::new(Rate { n: 3, window: Duration::from_secs(30), burst: 3 });
        for left in [2, 1, 0] {
            let d = r.check(&"a");
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let d = r.check(&"a");
        assert!(!d.allowed);
        // One request refills every 10 s.
        assert!((9..=10).contains(&d.retry_after), "{d:?}");
        assert_eq!(d.headers().last().unwrap().0, "retry-after");
        // Other keys are unaffected.
        assert!(r.check(&"b").allowed);
    }
}
