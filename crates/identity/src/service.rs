//! The identity service: one value holding what every flow needs.

use crate::config::IdentityConfig;
use crate::error::{IdentityError, Result};
use crate::external::ExternalIssuers;
use crate::tokens::KeyStore;
use rampart_core::clock::SharedClock;
use rampart_core::{Timestamp, UserId};
use rampart_crypto::{Keyring, PasswordHasher};
use rampart_storage::Db;
use rampart_storage::repo::audit::AuditEntry;
use std::sync::Arc;

/// Where a request came from, for throttling and the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
}

/// Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct Identity {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: Db,
    pub keyring: Keyring,
    pub hasher: PasswordHasher,
    pub clock: SharedClock,
    pub config: IdentityConfig,
    pub keys: KeyStore,
    pub external: ExternalIssuers,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity")
    }
}

impl Identity {
    /// Builds the service and loads (or creates) the signing key.
    pub async fn new(db: Db, keyring: Keyring, clock: SharedClock, config: IdentityConfig) -> Result<Identity> {
        let hasher =
            PasswordHasher::new(config.password_hashing).map_err(|e| IdentityError::Internal(e.to_string()))?;
        let keys = KeyStore::load_or_create(&db, &keyring, config.signing_alg, clock.now()).await?;
        let external = ExternalIssuers::new(config.external_issuers.clone(), config.jwks_refresh_min_interval)?;
        Ok(Identity { inner: Arc::new(Inner { db, keyring, hasher, clock, config, keys, external }) })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }
    pub fn config(&self) -> &IdentityConfig {
        &self.inner.config
    }
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }
    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// Writes an audit entry. A failure to audit is logged, never silently dropped.
    pub(crate) async fn audit(
        &self,
        meta: &RequestMeta,
        actor: Option<(UserId, &str)>,
        action: &str,
        target: Option<String>,
        outcome: &str,
        detail: Option<&str>,
    ) {
        let e = AuditEntry {
            actor_id: actor.map(|a| a.0),
            actor: actor.map(|a| a.1.to_owned()),
            action: action.to_owned(),
            target,
            outcome: outcome.to_owned(),
            client_ip: meta.client_ip.clone(),
            request_id: meta.request_id.clone(),
            detail: detail.map(str::to_owned),
        };
        if let Err(err) = self.inner.db.audit(&e, self.now()).await {
            tracing::error!(action, error = %err, "failed to write audit entry");
        }
    }
}
