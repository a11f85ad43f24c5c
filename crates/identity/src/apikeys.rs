//! API keys: `rampart_<prefix>_<secret>`, shown once, stored as SHA-256 of the secret.

use crate::error::{IdentityError, Result};
use crate::service::{Identity, RequestMeta};
use rampart_core::AuditOutcome;
use rampart_core::{ApiKeyId, AuthMethod, Page, PageRequest, Principal, Scope, Timestamp, UserId};
use rampart_crypto::{ct_eq, new_api_key, parse_api_key, sha256_hex};
use rampart_storage::repo::Owner;
use rampart_storage::repo::api_keys::{ApiKeyRecord, NewApiKeyRow};
use rampart_storage::repo::users::UserStatus;
use serde::Serialize;

pub const MAX_KEY_NAME: usize = 100;
pub const MAX_EXPIRY_DAYS: u32 = 3650;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: ApiKeyId,
    /// The whole key. Shown once; only a hash is kept.
    pub key: String,
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<Timestamp>,
}

/// A key as listed (never the secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

fn parse_scopes(s: &str) -> Vec<Scope> {
    s.split_whitespace().filter_map(Scope::parse).collect()
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(r: ApiKeyRecord) -> Self {
        ApiKeyView {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            scopes: parse_scopes(&r.scopes),
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

impl Identity {
    /// Creates a key for `owner`. `admin` scope is only granted to administrators.
    /// Creates a key for the caller. A key never carries a scope its creator's credential lacks.
    pub async fn create_api_key(
        &self,
        caller: &Principal,
        name: &str,
        scopes: Option<&[String]>,
        expires_in_days: Option<u32>,
        meta: &RequestMeta,
    ) -> Result<CreatedApiKey> {
        self.create_key(caller.user_id, &caller.scopes, name, scopes, expires_in_days, meta).await
    }

    /// Creates a key for a user on an operator's behalf (`rampart apikey create`): the user's
    /// own scopes are the limit.
    pub async fn create_api_key_for_user(
        &self,
        owner: UserId,
        name: &str,
        scopes: Option<&[String]>,
        expires_in_days: Option<u32>,
        meta: &RequestMeta,
    ) -> Result<CreatedApiKey> {
        let user = self.db().user_by_id(owner).await?.ok_or(IdentityError::NotFound)?;
        let allowed = crate::tokens::session_scopes(&user.groups);
        self.create_key(owner, &allowed, name, scopes, expires_in_days, meta).await
    }

    async fn create_key(
        &self,
        owner: UserId,
        allowed: &[Scope],
        name: &str,
        scopes: Option<&[String]>,
        expires_in_days: Option<u32>,
        meta: &RequestMeta,
    ) -> Result<CreatedApiKey> {
        let user = self.db().user_by_id(owner).await?.ok_or(IdentityError::NotFound)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control) {
            return Err(IdentityError::Invalid(format!("name must be 1-{MAX_KEY_NAME} characters")));
        }
        let scopes: Vec<Scope> = match scopes {
            None => Scope::DEFAULT_API_KEY.iter().copied().filter(|s| allowed.contains(s)).collect(),
            Some(list) => {
                let mut out = Vec::new();
                for s in list {
                    let sc = Scope::parse(s).ok_or_else(|| {
                        IdentityError::Invalid(format!(
                            "unknown scope {s:?}; known: chat, knowledge, meetings, mcp, admin"
                        ))
                    })?;
                    if !out.contains(&sc) {
                        out.push(sc);
                    }
                }
                out
            }
        };
        if scopes.contains(&Scope::Admin) && !user.groups.iter().any(|g| g == rampart_core::principal::ADMIN_GROUP) {
            return Err(IdentityError::Forbidden("only administrators can create keys with the admin scope"));
        }
        if let Some(s) = scopes.iter().find(|s| !allowed.contains(s)) {
            tracing::info!(scope = s.as_str(), "api key scope beyond the caller's own refused");
            return Err(IdentityError::Forbidden("a key cannot have scopes its creator's credential lacks"));
        }
        let expires_at = match expires_in_days {
            Some(0) => return Err(IdentityError::Invalid("expiresInDays must be at least 1".into())),
            Some(d) if d > MAX_EXPIRY_DAYS => {
                return Err(IdentityError::Invalid(format!("expiresInDays must be at most {MAX_EXPIRY_DAYS}")));
            }
            Some(d) => Some(self.now().plus(std::time::Duration::from_secs(u64::from(d) * 86400))),
            None => None,
        };
        let k = new_api_key();
        let scope_str = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let rec = self
            .db()
            .create_api_key(
                &NewApiKeyRow {
                    user_id: owner,
                    name,
                    prefix: &k.prefix,
                    secret_hash: &k.secret_hash,
                    scopes: &scope_str,
                    expires_at,
                },
                self.now(),
            )
            .await?;
        self.audit(
            meta,
            Some((user.id, &user.email)),
            "apikey.create",
            Some(rec.id.to_string()),
            AuditOutcome::Success,
            None,
        )
        .await;
        Ok(CreatedApiKey { id: rec.id, key: k.key.clone(), prefix: rec.prefix, name: rec.name, scopes, expires_at })
    }

    pub async fn list_api_keys(&self, owner: Option<UserId>, page: &PageRequest) -> Result<Page<ApiKeyView>> {
        let who = owner.map_or(Owner::Anyone, Owner::User);
        Ok(self.db().list_api_keys(who, page).await?.map(ApiKeyView::from))
    }

    /// Revokes a key. `owner: None` is the administrators' path. Another user's key is
    /// "not found", exactly like a key that does not exist.
    pub async fn revoke_api_key(
        &self,
        actor: &Principal,
        owner: Option<UserId>,
        id: ApiKeyId,
        meta: &RequestMeta,
    ) -> Result<()> {
        let who = owner.map_or(Owner::Anyone, Owner::User);
        let ok = self.db().revoke_api_key(who, id, self.now()).await?;
        self.invalidate_auth_cache();
        self.audit(
            meta,
            Some((actor.user_id, &actor.email)),
            "apikey.revoke",
            Some(id.to_string()),
            if ok { AuditOutcome::Success } else { AuditOutcome::Failure },
            None,
        )
        .await;
        if ok { Ok(()) } else { Err(IdentityError::NotFound) }
    }

    /// Resolves an API key to its owner's principal, with the key's expiry (for the authentication cache).
    pub(crate) async fn verify_api_key(&self, key: &str) -> Result<(Principal, Option<Timestamp>)> {
        let (prefix, secret) = parse_api_key(key).ok_or(IdentityError::InvalidToken("malformed api key"))?;
        let rec = self.db().api_key_by_prefix(prefix).await?;
        let hash = sha256_hex(secret.as_bytes());
        // Compare even when the prefix is unknown, so timing does not reveal valid prefixes.
        let stored = rec.as_ref().map_or("0".repeat(64), |r| r.secret_hash.clone());
        let matches = ct_eq(hash.as_bytes(), stored.as_bytes());
        let rec = match rec {
            Some(r) if matches => r,
            _ => return Err(IdentityError::InvalidToken("unknown api key")),
        };
        let now = self.now();
        if rec.revoked_at.is_some() {
            return Err(IdentityError::InvalidToken("api key revoked"));
        }
        if rec.expires_at.is_some_and(|e| e <= now) {
            return Err(IdentityError::InvalidToken("api key expired"));
        }
        let user = self.db().user_by_id(rec.user_id).await?.ok_or(IdentityError::InvalidToken("owner gone"))?;
        if user.status != UserStatus::Active {
            return Err(IdentityError::InvalidToken("owner disabled"));
        }
        if rec.last_used_at.is_none_or(|t| t.millis() < now.millis() - 60_000) {
            let db = self.db().clone();
            let id = rec.id;
            tokio::spawn(async move {
                if let Err(e) = db.touch_api_key(id, now).await {
                    tracing::warn!(error = %e, "could not record api key use");
                }
            });
        }
        let is_admin = user.groups.iter().any(|g| g == rampart_core::principal::ADMIN_GROUP);
        let scopes = parse_scopes(&rec.scopes).into_iter().filter(|s| *s != Scope::Admin || is_admin).collect();
        let groups = user.groups.clone();
        Ok((Self::principal(user, groups, scopes, AuthMethod::ApiKey { key: rec.id }), rec.expires_at))
    }
}
