//! OAuth 2.0 authorization codes: stored hashed, single use, short-lived, bound to the client,
//! the redirect URI and the PKCE challenge.

use super::{id, ts, ts_opt};
use crate::{Db, StorageError};
use rampart_core::{Timestamp, TokenFamilyId, UserId};
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct OAuthCode {
    pub client_id: String,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub expires_at: Timestamp,
    /// When the user signed in to Rampart for this code (absent on codes made before it was kept).
    pub auth_time: Option<Timestamp>,
}

pub struct NewOAuthCode<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub user_id: UserId,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub expires_at: Timestamp,
    pub auth_time: Timestamp,
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum CodeLookup {
    Unknown,
    /// Already redeemed: the sign-in it produced (if any) should be revoked.
    Reused(Option<TokenFamilyId>),
    Fresh(OAuthCode),
}

impl Db {
    pub async fn create_oauth_code(&self, c: &NewOAuthCode<'_>, now: Timestamp) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, scope, nonce, created_at, expires_at, auth_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.code_hash)
        .bind(c.client_id)
        .bind(c.user_id.to_string())
        .bind(c.redirect_uri)
        .bind(c.code_challenge)
        .bind(c.scope)
        .bind(c.nonce)
        .bind(now.millis())
        .bind(c.expires_at.millis())
        .bind(c.auth_time.millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks a code used; only one of two racing redemptions wins.
    pub async fn redeem_oauth_code(&self, code_hash: &str, now: Timestamp) -> Result<CodeLookup, StorageError> {
        let Some(r) = sqlx::query(
            "SELECT client_id, user_id, redirect_uri, code_challenge, scope, nonce, expires_at, used_at, family_id, auth_time \
             FROM oauth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(CodeLookup::Unknown);
        };
        let family: Option<String> = r.try_get("family_id")?;
        let family = family.and_then(|f| f.parse().ok());
        if r.try_get::<Option<i64>, _>("used_at")?.is_some() {
            return Ok(CodeLookup::Reused(family));
        }
        let n = sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now.millis())
            .bind(code_hash)
            .execute(self.writer())
            .await?
            .rows_affected();
        if n != 1 {
            return Ok(CodeLookup::Reused(family));
        }
        Ok(CodeLookup::Fresh(OAuthCode {
            client_id: r.try_get("client_id")?,
            user_id: id(&r, "user_id")?,
            redirect_uri: r.try_get("redirect_uri")?,
            code_challenge: r.try_get("code_challenge")?,
            scope: r.try_get("scope")?,
            nonce: r.try_get("nonce")?,
            expires_at: ts(&r, "expires_at")?,
            auth_time: ts_opt(&r, "auth_time")?,
        }))
    }

    /// The scopes `user` has allowed `client` to receive, if consent was ever given.
    pub async fn oauth_consent(&self, user: UserId, client_id: &str) -> Result<Option<String>, StorageError> {
        let r = sqlx::query("SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user.to_string())
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| r.try_get("scope")).transpose().map_err(Into::into)
    }

    /// Records consent: `scope` replaces what `user` had allowed `client`.
    pub async fn save_oauth_consent(
        &self,
        user: UserId,
        client_id: &str,
        scope: &str,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO oauth_consents (user_id, client_id, scope, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
        )
        .bind(user.to_string())
        .bind(client_id)
        .bind(scope)
        .bind(now.millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// What a client's sign-in carries for its whole life: the granted scope and when the user
    /// authenticated (refreshes keep both).
    pub async fn set_family_grant(
        &self,
        family: TokenFamilyId,
        scope: &str,
        auth_time: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE token_families SET scope = $1, auth_time = $2 WHERE id = $3")
            .bind(scope)
            .bind(auth_time.millis())
            .bind(family.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Remembers which sign-in a code produced, so a replayed code can revoke it.
    pub async fn set_oauth_code_family(&self, code_hash: &str, family: TokenFamilyId) -> Result<(), StorageError> {
        sqlx::query("UPDATE oauth_codes SET family_id = $1 WHERE code_hash = $2")
            .bind(family.to_string())
            .bind(code_hash)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
