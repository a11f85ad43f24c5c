//! OAuth 2.0 authorization codes: stored hashed, single use, short-lived, bound to the client,
//! the redirect URI and the PKCE challenge.

use super::{id, ts};
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
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, scope, nonce, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks a code used; only one of two racing redemptions wins.
    pub async fn redeem_oauth_code(&self, code_hash: &str, now: Timestamp) -> Result<CodeLookup, StorageError> {
        let Some(r) = sqlx::query(
            "SELECT client_id, user_id, redirect_uri, code_challenge, scope, nonce, expires_at, used_at, family_id FROM oauth_codes WHERE code_hash = $1",
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
        }))
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
