//! Refresh-token families, refresh tokens and login challenges. Only SHA-256 hashes of
//! tokens are stored.

use super::{cursor, id, paginate, ts, ts_opt};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{Page, PageRequest, Timestamp, TokenFamilyId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct FamilyRecord {
    pub id: TokenFamilyId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The OAuth client the sign-in was issued to; `None` for Rampart's own clients.
    pub client_id: Option<String>,
    /// The scope granted to that client (`None` for Rampart's own clients).
    pub scope: Option<String>,
    /// When the user authenticated for a client's sign-in (`None`: at `created_at`).
    pub auth_time: Option<Timestamp>,
}

fn family(r: &AnyRow) -> Result<FamilyRecord, StorageError> {
    Ok(FamilyRecord {
        id: id(r, "id")?,
        user_id: id(r, "user_id")?,
        created_at: ts(r, "created_at")?,
        last_used_at: ts(r, "last_used_at")?,
        expires_at: ts(r, "expires_at")?,
        revoked_at: ts_opt(r, "revoked_at")?,
        client_ip: r.try_get("client_ip")?,
        user_agent: r.try_get("user_agent")?,
        client_id: r.try_get("client_id")?,
        scope: r.try_get("scope")?,
        auth_time: ts_opt(r, "auth_time")?,
    })
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum RefreshLookup {
    /// Unknown token.
    Unknown,
    /// The token was already rotated: a replay. The family is returned so it can be revoked.
    Reused(FamilyRecord),
    /// A live token, now marked used.
    Fresh(FamilyRecord),
}

#[derive(Clone, Debug)]
pub struct ChallengeRecord {
    pub user_id: UserId,
    pub kind: String,
    pub attempts: i64,
    pub expires_at: Timestamp,
}

/// A new sign-in.
pub struct NewFamily<'a> {
    pub user: UserId,
    /// SHA-256 of the first refresh token.
    pub token_hash: &'a str,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The OAuth client it is issued to; `None` for Rampart's own apps.
    pub client_id: Option<&'a str>,
}

const FAMILY_COLS: &str =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, client_ip, user_agent, client_id, scope, auth_time";

impl Db {
    /// Starts a sign-in: a family and its first refresh token.
    pub async fn create_family(&self, f: &NewFamily<'_>) -> Result<TokenFamilyId, StorageError> {
        let (uid, token_hash, now, expires_at) = (f.user, f.token_hash, f.now, f.expires_at);
        let (client_ip, user_agent, client_id) = (f.client_ip, f.user_agent, f.client_id);
        let fid = TokenFamilyId::new();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO token_families (id, user_id, created_at, last_used_at, expires_at, client_ip, user_agent, client_id) VALUES ($1, $2, $3, $3, $4, $5, $6, $7)")
            .bind(fid.to_string())
            .bind(uid.to_string())
            .bind(now.millis())
            .bind(expires_at.millis())
            .bind(client_ip)
            .bind(user_agent)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(fid.to_string())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(fid)
    }

    /// Marks a presented refresh token used (atomically: only one of two racing uses wins).
    pub async fn consume_refresh_token(&self, token_hash: &str, now: Timestamp) -> Result<RefreshLookup, StorageError> {
        let row = sqlx::query(sqlf!(
            "SELECT t.used_at AS token_used_at, {} FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = $1",
            FAMILY_COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(RefreshLookup::Unknown) };
        let fam = family(&row)?;
        if ts_opt(&row, "token_used_at")?.is_some() {
            return Ok(RefreshLookup::Reused(fam));
        }
        let n = sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now.millis())
            .bind(token_hash)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(if n == 1 { RefreshLookup::Fresh(fam) } else { RefreshLookup::Reused(fam) })
    }

    /// The sign-in a refresh token belongs to, without using the token up.
    pub async fn refresh_token_family(&self, token_hash: &str) -> Result<Option<FamilyRecord>, StorageError> {
        let row = sqlx::query(sqlf!(
            "SELECT {} FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = $1",
            FAMILY_COLS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(family).transpose()
    }

    /// Adds the next refresh token of a live family.
    pub async fn rotate_refresh_token(
        &self,
        fid: TokenFamilyId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(fid.to_string())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE token_families SET last_used_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(fid.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn family(&self, fid: TokenFamilyId) -> Result<Option<FamilyRecord>, StorageError> {
        let r = sqlx::query(sqlf!("SELECT {FAMILY_COLS} FROM token_families WHERE id = $1"))
            .bind(fid.to_string())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(family).transpose()
    }

    /// Revokes one family, only if it belongs to `uid`. True if it was live.
    pub async fn revoke_family(
        &self,
        fid: TokenFamilyId,
        uid: UserId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let n = sqlx::query("UPDATE token_families SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL")
            .bind(now.millis())
            .bind(reason)
            .bind(fid.to_string())
            .bind(uid.to_string())
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Revokes every live family of a user ("sign out everywhere", disable, MFA reset).
    pub async fn revoke_all_families(&self, uid: UserId, reason: &str, now: Timestamp) -> Result<u64, StorageError> {
        Ok(sqlx::query(
            "UPDATE token_families SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now.millis())
        .bind(reason)
        .bind(uid.to_string())
        .execute(self.writer())
        .await?
        .rows_affected())
    }

    /// Revokes every live family of a user but `keep` (a password change ends the other sign-ins).
    pub async fn revoke_other_families(
        &self,
        uid: UserId,
        keep: TokenFamilyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<u64, StorageError> {
        Ok(sqlx::query(
            "UPDATE token_families SET revoked_at = $1, revoke_reason = $2 \
             WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
        )
        .bind(now.millis())
        .bind(reason)
        .bind(uid.to_string())
        .bind(keep.to_string())
        .execute(self.writer())
        .await?
        .rows_affected())
    }

    /// A user's live sign-ins, newest first.
    pub async fn list_families(
        &self,
        uid: UserId,
        now: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<FamilyRecord>, StorageError> {
        let before = cursor(page)?;
        let rows = sqlx::query(sqlf!(
            "SELECT {FAMILY_COLS} FROM token_families WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(uid.to_string())
        .bind(now.millis())
        .bind(before.unwrap_or_default())
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(family).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |f| f.id.to_string()))
    }

    pub async fn create_challenge(
        &self,
        id_hash: &str,
        uid: UserId,
        kind: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO auth_challenges (id_hash, user_id, kind, attempts, created_at, expires_at) VALUES ($1, $2, $3, 0, $4, $5)")
            .bind(id_hash)
            .bind(uid.to_string())
            .bind(kind)
            .bind(now.millis())
            .bind(expires_at.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Looks up a live challenge and counts an attempt against it.
    pub async fn challenge_attempt(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ChallengeRecord>, StorageError> {
        let n =
            sqlx::query("UPDATE auth_challenges SET attempts = attempts + 1 WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now.millis())
                .execute(self.writer())
                .await?
                .rows_affected();
        if n != 1 {
            return Ok(None);
        }
        let r = sqlx::query("SELECT user_id, kind, attempts, expires_at FROM auth_challenges WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| {
            Ok(ChallengeRecord {
                user_id: id(&r, "user_id")?,
                kind: r.try_get("kind")?,
                attempts: r.try_get("attempts")?,
                expires_at: ts(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Reads a live challenge without counting an attempt.
    pub async fn challenge(&self, id_hash: &str, now: Timestamp) -> Result<Option<ChallengeRecord>, StorageError> {
        let r = sqlx::query(
            "SELECT user_id, kind, attempts, expires_at FROM auth_challenges WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now.millis())
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(ChallengeRecord {
                user_id: id(&r, "user_id")?,
                kind: r.try_get("kind")?,
                attempts: r.try_get("attempts")?,
                expires_at: ts(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Deletes a challenge; true if this call removed it (so only one completion wins).
    pub async fn delete_challenge(&self, id_hash: &str) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM auth_challenges WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }
}
