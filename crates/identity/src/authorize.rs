//! The authorizer: every credential → one `Principal`, or a refusal.
//!
//! Verified credentials are remembered for a short time (`auth.session_cache_ttl`, default 5 s),
//! keyed by the SHA-256 of the exact credential and never past the credential's own expiry.
//! Any identity change made through this process (disable, delete, groups, MFA, logout,
//! key revocation…) empties the cache at once; a change made by another replica takes effect
//! here within the TTL. Without it every request pays two database round trips, which on
//! SQLite means thread hand-offs to sqlx's connection workers (bench/RESULTS.md).

use crate::error::{IdentityError, Result};
use crate::external::{peek_exp, peek_issuer};
use crate::service::Identity;
use rampart_core::{Principal, Timestamp};
use rampart_crypto::sha256;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use rampart_core::credential::Credential;

/// Bounded so a flood of distinct valid credentials cannot grow memory without limit.
const MAX_ENTRIES: usize = 20_000;

struct Entry {
    principal: Principal,
    epoch: u64,
    until: Instant,
}

pub(crate) struct AuthCache {
    ttl: Duration,
    epoch: AtomicU64,
    map: RwLock<HashMap<[u8; 32], Entry>>,
}

impl AuthCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, epoch: AtomicU64::new(0), map: RwLock::new(HashMap::new()) }
    }

    fn get(&self, key: &[u8; 32]) -> Option<Principal> {
        let map = self.map.read().ok()?;
        let e = map.get(key)?;
        (e.epoch == self.epoch.load(Ordering::Acquire) && e.until > Instant::now()).then(|| e.principal.clone())
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Stores a principal verified while the cache was at `epoch`. If anything changed since
    /// (the epoch moved), the verification may have read data that is already stale: drop it.
    fn put(&self, key: [u8; 32], epoch: u64, principal: &Principal, expires_in: Option<Duration>) {
        let life = expires_in.map_or(self.ttl, |e| e.min(self.ttl));
        if life.is_zero() || epoch != self.epoch() {
            return;
        }
        if let Ok(mut map) = self.map.write() {
            if map.len() >= MAX_ENTRIES {
                let now = Instant::now();
                map.retain(|_, e| e.until > now && e.epoch == epoch);
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
            }
            map.insert(key, Entry { principal: principal.clone(), epoch, until: Instant::now() + life });
        }
    }

    /// Forgets every cached credential (cheap: bumps the epoch, entries age out).
    pub(crate) fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

fn until(now: Timestamp, exp_secs: Option<i64>) -> Option<Duration> {
    exp_secs.map(|e| Duration::from_millis(u64::try_from(e.saturating_mul(1000) - now.millis()).unwrap_or(0)))
}

impl Identity {
    /// Resolves a credential for Rampart's API. Tokens bound to a resource (RFC 8707: a client's
    /// MCP token) are refused: they are for that resource alone.
    pub async fn authenticate(&self, cred: Credential<'_>) -> Result<Principal> {
        self.authenticate_at(cred, None).await
    }

    /// Resolves a credential presented at `resource` (`None`: the API): a token bound to a
    /// resource is accepted at that one only. Then applies the group policy (`allowed_groups`).
    pub async fn authenticate_at(&self, cred: Credential<'_>, resource: Option<&str>) -> Result<Principal> {
        let p = self.resolve(cred).await?;
        match p.auth_method.resource() {
            Some(bound) if Some(bound) != resource => Err(IdentityError::InvalidToken("token for another resource")),
            _ => Ok(p),
        }
    }

    async fn resolve(&self, cred: Credential<'_>) -> Result<Principal> {
        let key = sha256(cred.as_bytes());
        if let Some(p) = self.inner.auth_cache.get(&key) {
            return Ok(p);
        }
        let epoch = self.inner.auth_cache.epoch();
        let now = self.now();
        let (p, expires_in) = match cred {
            Credential::ApiKey(k) => self.api_key_principal(k, now).await?,
            Credential::Bearer(t) if cred.is_api_key() => self.api_key_principal(t, now).await?,
            Credential::Bearer(t) => {
                if t.len() > 16 * 1024 {
                    return Err(IdentityError::InvalidToken("too long"));
                }
                let iss = peek_issuer(t).ok_or(IdentityError::InvalidToken("malformed"))?;
                let p = if iss == self.config().issuer {
                    self.verify_access_token(t).await?
                } else if self.inner.external.knows(&iss) {
                    self.verify_external_token(t).await?
                } else {
                    return Err(IdentityError::InvalidToken("unknown issuer"));
                };
                (p, until(now, peek_exp(t)).or(Some(Duration::ZERO)))
            }
        };
        let allowed = &self.config().allowed_groups;
        if !allowed.is_empty()
            && !p.in_group(rampart_core::principal::ADMIN_GROUP)
            && !allowed.iter().any(|g| p.in_group(g))
        {
            return Err(IdentityError::Forbidden("not in an allowed group"));
        }
        self.inner.auth_cache.put(key, epoch, &p, expires_in);
        Ok(p)
    }

    async fn api_key_principal(&self, key: &str, now: Timestamp) -> Result<(Principal, Option<Duration>)> {
        let (p, expires_at) = self.verify_api_key(key).await?;
        Ok((p, expires_at.map(|e| Duration::from_millis(u64::try_from(e.millis() - now.millis()).unwrap_or(0)))))
    }

    /// Forgets every remembered credential, so the next request re-reads the database.
    /// Called after every identity change made here; other replicas see the change within
    /// `auth.session_cache_ttl`.
    pub fn invalidate_auth_cache(&self) {
        self.inner.auth_cache.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{AuthMethod, UserId};

    fn p() -> Principal {
        Principal {
            user_id: UserId::new(),
            email: "a@b.cd".into(),
            display_name: "a".into(),
            groups: vec![],
            scopes: vec![],
            auth_method: AuthMethod::ApiKey { key: rampart_core::ApiKeyId::new() },
            mfa_enabled: false,
        }
    }

    #[test]
    fn entries_respect_epoch_ttl_and_expiry() {
        let c = AuthCache::new(Duration::from_secs(60));
        c.put([1; 32], c.epoch(), &p(), None);
        assert!(c.get(&[1; 32]).is_some());
        c.invalidate();
        assert!(c.get(&[1; 32]).is_none(), "invalidated");
        let before = c.epoch();
        c.invalidate(); // a change lands while a verification is in flight
        c.put([5; 32], before, &p(), None);
        assert!(c.get(&[5; 32]).is_none(), "a verification that raced a change is not cached");
        c.put([2; 32], c.epoch(), &p(), Some(Duration::ZERO));
        assert!(c.get(&[2; 32]).is_none(), "an expired credential is not cached");
        c.put([3; 32], c.epoch(), &p(), Some(Duration::from_millis(1)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.get(&[3; 32]).is_none(), "never past the credential's expiry");
        let off = AuthCache::new(Duration::ZERO);
        off.put([4; 32], off.epoch(), &p(), None);
        assert!(off.get(&[4; 32]).is_none(), "ttl 0 disables the cache");
    }
}
