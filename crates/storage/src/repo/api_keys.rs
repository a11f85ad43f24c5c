//! API keys. Stored: the public prefix and the SHA-256 of the secret, never the key.

use super::{Owner, cursor, id, paginate, ts, ts_opt};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{ApiKeyId, Page, PageRequest, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    /// Space-separated scope names.
    pub scopes: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

pub struct NewApiKeyRow<'a> {
    pub user_id: UserId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub expires_at: Option<Timestamp>,
}

const COLS: &str = "id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at";

fn from_row(r: &AnyRow) -> Result<ApiKeyRecord, StorageError> {
    Ok(ApiKeyRecord {
        id: id(r, "id")?,
        user_id: id(r, "user_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        secret_hash: r.try_get("secret_hash")?,
        scopes: r.try_get("scopes")?,
        created_at: ts(r, "created_at")?,
        expires_at: ts_opt(r, "expires_at")?,
        last_used_at: ts_opt(r, "last_used_at")?,
        revoked_at: ts_opt(r, "revoked_at")?,
    })
}

impl Db {
    pub async fn create_api_key(&self, k: &NewApiKeyRow<'_>, now: Timestamp) -> Result<ApiKeyRecord, StorageError> {
        let kid = ApiKeyId::new();
        sqlx::query(sqlf!("INSERT INTO api_keys ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"))
            .bind(kid.to_string())
            .bind(k.user_id.to_string())
            .bind(k.name)
            .bind(k.prefix)
            .bind(k.secret_hash)
            .bind(k.scopes)
            .bind(now.millis())
            .bind(k.expires_at.map(Timestamp::millis))
            .execute(self.writer())
            .await?;
        self.api_key(Owner::Anyone, kid).await?.ok_or_else(|| StorageError::Corrupt("key vanished".into()))
    }

    pub async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StorageError> {
        let r = sqlx::query(sqlf!("SELECT {COLS} FROM api_keys WHERE prefix = $1"))
            .bind(prefix)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(from_row).transpose()
    }

    pub async fn api_key(&self, owner: Owner, kid: ApiKeyId) -> Result<Option<ApiKeyRecord>, StorageError> {
        let r = match owner {
            Owner::User(u) => {
                sqlx::query(sqlf!("SELECT {COLS} FROM api_keys WHERE id = $1 AND user_id = $2"))
                    .bind(kid.to_string())
                    .bind(u.to_string())
                    .fetch_optional(self.pool())
                    .await?
            }
            Owner::Anyone => {
                sqlx::query(sqlf!("SELECT {COLS} FROM api_keys WHERE id = $1"))
                    .bind(kid.to_string())
                    .fetch_optional(self.pool())
                    .await?
            }
        };
        r.as_ref().map(from_row).transpose()
    }

    /// Keys newest first; `owner` limits whose.
    pub async fn list_api_keys(&self, owner: Owner, page: &PageRequest) -> Result<Page<ApiKeyRecord>, StorageError> {
        let before = cursor(page)?.unwrap_or_default();
        let lim = i64::from(page.limit()) + 1;
        let rows = match owner {
            Owner::User(u) => {
                sqlx::query(sqlf!(
                    "SELECT {COLS} FROM api_keys WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
                ))
                .bind(u.to_string())
                .bind(before)
                .bind(lim)
                .fetch_all(self.pool())
                .await?
            }
            Owner::Anyone => {
                sqlx::query(sqlf!("SELECT {COLS} FROM api_keys WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2"))
                    .bind(before)
                    .bind(lim)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |k| k.id.to_string()))
    }

    /// Revokes a key the owner may touch. True if it was live.
    pub async fn revoke_api_key(&self, owner: Owner, kid: ApiKeyId, now: Timestamp) -> Result<bool, StorageError> {
        let q = match owner {
            Owner::User(u) => {
                sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                    .bind(now.millis())
                    .bind(kid.to_string())
                    .bind(u.to_string())
            }
            Owner::Anyone => sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.millis())
                .bind(kid.to_string()),
        };
        Ok(q.execute(self.writer()).await?.rows_affected() == 1)
    }

    /// Records use, at most once a minute per key to keep the hot path cheap.
    pub async fn touch_api_key(&self, kid: ApiKeyId, now: Timestamp) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now.millis())
        .bind(kid.to_string())
        .bind(now.millis() - 60_000)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
