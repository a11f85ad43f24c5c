//! The identity service: one value holding what every flow needs.

use crate::config::IdentityConfig;
use crate::error::{IdentityError, Result};
use crate::external::ExternalIssuers;
use crate::tokens::KeyStore;
use rampart_core::AuditOutcome;
use rampart_core::clock::SharedClock;
use rampart_core::{AuthMethod, Principal, Scope, Timestamp, UserId};
use rampart_crypto::{Keyring, PasswordHasher};
use rampart_storage::Db;
use rampart_storage::repo::audit::AuditEntry;
use rampart_storage::repo::users::{NewUser, UserRecord};
use std::sync::Arc;

/// Where a request came from, for throttling and the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
}

/// A validated, hashed local account not yet stored.
pub(crate) struct LocalUser {
    pub email: String,
    pub name: String,
    pub hash: String,
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
    pub auth_cache: crate::authorize::AuthCache,
    /// Sends password reset links; `None`: reset by email is off.
    pub mailer: Option<Arc<dyn rampart_core::mail::Mailer>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity")
    }
}

impl Identity {
    /// Builds the service and loads (or creates) the signing key. With a `mailer`, users can
    /// reset a forgotten password by email.
    pub async fn new(
        db: Db,
        keyring: Keyring,
        clock: SharedClock,
        config: IdentityConfig,
        mailer: Option<Arc<dyn rampart_core::mail::Mailer>>,
    ) -> Result<Identity> {
        let hasher =
            PasswordHasher::new(config.password_hashing).map_err(|e| IdentityError::Internal(e.to_string()))?;
        let keys = KeyStore::load_or_create(&db, &keyring, config.signing_alg, clock.now()).await?;
        let external = ExternalIssuers::new(config.external_issuers.clone(), config.jwks_refresh_min_interval)?;
        let auth_cache = crate::authorize::AuthCache::new(config.session_cache_ttl);
        Ok(Identity {
            inner: Arc::new(Inner { db, keyring, hasher, clock, config, keys, external, auth_cache, mailer }),
        })
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

    /// The one place a `Principal` is built from a user record.
    pub(crate) fn principal(
        user: UserRecord,
        groups: Vec<String>,
        scopes: Vec<Scope>,
        auth_method: AuthMethod,
    ) -> Principal {
        Principal {
            user_id: user.id,
            email: user.email,
            display_name: user.display_name,
            groups,
            scopes,
            auth_method,
            mfa_enabled: user.mfa_enabled,
        }
    }

    /// Validates a new local account's email, display name and password, and hashes the
    /// password: everything short of storing it.
    pub(crate) fn prepare_local_user(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<LocalUser> {
        let email = crate::validate::normalize_email(email)?;
        let name = crate::validate::display_name(display_name, &email)?;
        crate::validate::check_password(&self.config().password_policy, password, &email)?;
        let hash = self.inner.hasher.hash(password);
        Ok(LocalUser { email, name, hash })
    }

    pub(crate) async fn insert_local_user(
        &self,
        u: &LocalUser,
        groups: &[String],
    ) -> std::result::Result<UserRecord, rampart_storage::StorageError> {
        self.db()
            .create_user(
                &NewUser {
                    email: &u.email,
                    display_name: &u.name,
                    password_hash: Some(&u.hash),
                    groups,
                    external: None,
                },
                self.now(),
            )
            .await
    }

    /// Writes an audit entry. A failure to audit is logged, never silently dropped.
    pub(crate) async fn audit(
        &self,
        meta: &RequestMeta,
        actor: Option<(UserId, &str)>,
        action: &str,
        target: Option<String>,
        outcome: AuditOutcome,
        detail: Option<&str>,
    ) {
        let e = AuditEntry {
            actor_id: actor.map(|a| a.0),
            actor: actor.map(|a| a.1.to_owned()),
            action: action.to_owned(),
            target,
            outcome,
            client_ip: meta.client_ip.clone(),
            request_id: meta.request_id.clone(),
            detail: detail.map(str::to_owned),
        };
        if let Err(err) = self.inner.db.audit(&e, self.now()).await {
            tracing::error!(action, error = %err, "failed to write audit entry");
        }
    }
}
