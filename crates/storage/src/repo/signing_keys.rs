//! JWT signing keys (private key sealed by `crypto` before it arrives here).

use super::{ts, ts_opt};
use crate::{Db, StorageError};
use rampart_core::Timestamp;
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub sealed_private_key: Vec<u8>,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
    pub publish_until: Option<Timestamp>,
}

impl Db {
    pub async fn insert_signing_key(
        &self,
        kid: &str,
        alg: &str,
        sealed: &[u8],
        now: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO signing_keys (kid, alg, private_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(kid)
            .bind(alg)
            .bind(sealed.to_vec())
            .bind(now.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Keys still published in the JWKS (the active one first).
    pub async fn published_signing_keys(&self, now: Timestamp) -> Result<Vec<SigningKeyRecord>, StorageError> {
        let rows = sqlx::query("SELECT kid, alg, private_key, created_at, retired_at, publish_until FROM signing_keys WHERE publish_until IS NULL OR publish_until > $1 ORDER BY created_at DESC, kid")
            .bind(now.millis())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRecord {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    sealed_private_key: r.try_get("private_key")?,
                    created_at: ts(r, "created_at")?,
                    retired_at: ts_opt(r, "retired_at")?,
                    publish_until: ts_opt(r, "publish_until")?,
                })
            })
            .collect()
    }

    /// Retires every active key, keeping its public half published until `publish_until`.
    pub async fn retire_signing_keys(&self, now: Timestamp, publish_until: Timestamp) -> Result<u64, StorageError> {
        Ok(sqlx::query("UPDATE signing_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL")
            .bind(now.millis())
            .bind(publish_until.millis())
            .execute(self.writer())
            .await?
            .rows_affected())
    }
}
