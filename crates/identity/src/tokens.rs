//! Our tokens: signing keys (sealed at rest), access and ID token issue, access token verification.

use crate::error::{IdentityError, Result};
use crate::service::Identity;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Header, Validation};
use rampart_core::{Principal, Scope, Timestamp, TokenFamilyId, UserId};
use rampart_crypto::{Keyring, SigningAlg, SigningKeyMaterial};
use rampart_storage::Db;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// Access-token claims (Cognito-shaped, plus `sid`, the sign-in the token belongs to).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub token_use: String,
    pub scope: String,
    pub groups: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub username: String,
    pub sid: String,
    /// The resource a client's token was granted for (RFC 8707): the MCP endpoint, with the
    /// `mcp` scope. Such a token is accepted there only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub token_use: String,
    /// With the `email` scope (always for Rampart's own apps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// With the `profile` scope, like `groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Tokens issued to a registered OAuth client rather than to Rampart's own apps: the access
/// token's `client_id` and the ID token's `aud` name the client, and the access token carries
/// no Rampart API scopes (with `mcp`, it is bound to the MCP endpoint; without `openid` there
/// is no ID token).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grant<'a> {
    pub client_id: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    /// When the user signed in to Rampart for this grant.
    pub auth_time: Option<Timestamp>,
}

/// Does a space-separated scope list hold `s`?
pub(crate) fn has_scope(scope: &str, s: &str) -> bool {
    scope.split_whitespace().any(|x| x == s)
}

/// Keys in force: the newest signs, all published ones verify.
pub struct KeyStore {
    state: RwLock<Arc<KeySet>>,
    /// When the keys were last re-read because a token named an unknown `kid`.
    last_kid_reload: std::sync::Mutex<Option<std::time::Instant>>,
}

/// An unknown `kid` re-reads the keys (another process may have rotated them) at most this often.
const UNKNOWN_KID_RELOAD: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) struct KeySet {
    pub active: Arc<SigningKeyMaterial>,
    pub all: Vec<Arc<SigningKeyMaterial>>,
}

fn aad(kid: &str) -> Vec<u8> {
    format!("signing_key:{kid}").into_bytes()
}

async fn load(db: &Db, keyring: &Keyring, now: Timestamp) -> Result<Option<KeySet>> {
    let recs = db.published_signing_keys(now).await?;
    let mut all = Vec::new();
    let mut active = None;
    for r in recs {
        let alg = SigningAlg::parse(&r.alg).ok_or_else(|| IdentityError::Internal(format!("unknown alg {}", r.alg)))?;
        let der = keyring
            .open(&aad(&r.kid), &r.sealed_private_key)
            .map_err(|source| IdentityError::SealedKey { kid: r.kid.clone(), source })?;
        let k = Arc::new(SigningKeyMaterial::from_pkcs8(r.kid.clone(), alg, der)?);
        if r.retired_at.is_none() && active.is_none() {
            active = Some(k.clone());
        }
        all.push(k);
    }
    Ok(active.map(|active| KeySet { active, all }))
}

async fn create(db: &Db, keyring: &Keyring, alg: SigningAlg, now: Timestamp) -> Result<()> {
    let k = SigningKeyMaterial::generate(alg)?;
    let sealed = keyring.seal(&aad(&k.kid), k.pkcs8());
    db.insert_signing_key(&k.kid, alg.as_str(), &sealed, now).await?;
    tracing::info!(kid = %k.kid, alg = alg.as_str(), "created signing key");
    Ok(())
}

impl KeyStore {
    pub(crate) async fn load_or_create(
        db: &Db,
        keyring: &Keyring,
        alg: SigningAlg,
        now: Timestamp,
    ) -> Result<KeyStore> {
        let set = match load(db, keyring, now).await? {
            Some(s) if s.active.alg == alg => s,
            _ => {
                // No key yet, or the configured algorithm changed: start a new key, keep the
                // old ones published until their tokens expire.
                db.retire_signing_keys(now, now.plus(std::time::Duration::from_secs(86400))).await?;
                create(db, keyring, alg, now).await?;
                load(db, keyring, now).await?.ok_or_else(|| IdentityError::Internal("signing key vanished".into()))?
            }
        };
        Ok(KeyStore { state: RwLock::new(Arc::new(set)), last_kid_reload: std::sync::Mutex::new(None) })
    }

    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.state.read().map(|g| g.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    fn replace(&self, set: KeySet) {
        match self.state.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(p) => *p.into_inner() = Arc::new(set),
        }
    }
}

/// Tokens for a successful sign-in.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenSet {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

/// The scopes a session token carries: everything, `admin` only for administrators.
pub fn session_scopes(groups: &[String]) -> Vec<Scope> {
    Scope::ALL
        .iter()
        .copied()
        .filter(|s| *s != Scope::Admin || groups.iter().any(|g| g == rampart_core::principal::ADMIN_GROUP))
        .collect()
}

impl Identity {
    /// Rotates the signing key: a new key signs from now on; the old public key stays in the
    /// JWKS until every token it signed has expired.
    pub async fn rotate_signing_key(&self) -> Result<String> {
        let now = self.now();
        let keep = now.plus(self.config().access_token_ttl).plus(self.config().leeway);
        self.db().retire_signing_keys(now, keep).await?;
        create(self.db(), self.keyring(), self.config().signing_alg, now).await?;
        self.reload_keys().await
    }

    /// Re-reads the keys from the database (after a rotation by another process).
    pub async fn reload_keys(&self) -> Result<String> {
        let set = load(self.db(), self.keyring(), self.now())
            .await?
            .ok_or_else(|| IdentityError::Internal("no active signing key".into()))?;
        let kid = set.active.kid.clone();
        self.inner.keys.replace(set);
        Ok(kid)
    }

    fn may_reload_for_unknown_kid(&self) -> bool {
        let Ok(mut last) = self.inner.keys.last_kid_reload.lock() else { return false };
        if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }

    /// Re-reads the signing keys every `every`, so a rotation done by `rampart keys
    /// rotate-signing` or another replica is picked up (new key signs, retired keys leave the
    /// JWKS when their tokens have expired). Runs until the process ends.
    pub fn spawn_key_reload(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match me.reload_keys().await {
                    Ok(kid) => tracing::debug!(kid = %kid, "signing keys reloaded"),
                    Err(e) => tracing::warn!(error = %e, "could not reload signing keys"),
                }
            }
        })
    }

    /// The public JWKS.
    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: self.inner.keys.current().all.iter().map(|k| k.public_jwk().clone()).collect() }
    }

    pub(crate) fn issue_tokens(
        &self,
        user: &rampart_storage::repo::users::UserRecord,
        family: TokenFamilyId,
        refresh_token: String,
        grant: Option<Grant<'_>>,
    ) -> Result<TokenSet> {
        let keys = self.inner.keys.current();
        let k = &keys.active;
        let now = self.now().secs();
        let cfg = self.config();
        let exp = now + i64::try_from(cfg.access_token_ttl.as_secs()).unwrap_or(3600);
        let mut header = Header::new(k.alg.jwt_alg());
        header.kid = Some(k.kid.clone());
        let scope = match grant {
            Some(g) => g.scope.to_owned(),
            None => std::iter::once("openid email profile")
                .chain(session_scopes(&user.groups).iter().map(|s| s.as_str()))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let client_id = grant.map_or(cfg.client_id.as_str(), |g| g.client_id);
        let (email, profile) =
            grant.map_or((true, true), |g| (has_scope(g.scope, "email"), has_scope(g.scope, "profile")));
        let aud = grant.filter(|g| has_scope(g.scope, crate::oauth::MCP_SCOPE)).map(|_| self.mcp_resource());
        let openid = grant.is_none_or(|g| has_scope(g.scope, "openid"));
        let access = AccessClaims {
            iss: cfg.issuer.clone(),
            sub: user.id.to_string(),
            client_id: client_id.to_owned(),
            token_use: "access".into(),
            scope,
            groups: user.groups.clone(),
            exp,
            iat: now,
            nbf: now,
            jti: UserId::new().to_string(),
            username: user.email.clone(),
            sid: family.to_string(),
            aud,
        };
        let id = IdClaims {
            iss: cfg.issuer.clone(),
            sub: user.id.to_string(),
            aud: client_id.to_owned(),
            token_use: "id".into(),
            email: email.then(|| user.email.clone()),
            name: profile.then(|| user.display_name.clone()),
            groups: profile.then(|| user.groups.clone()),
            exp,
            iat: now,
            nbf: now,
            jti: UserId::new().to_string(),
            auth_time: grant.and_then(|g| g.auth_time).map_or(now, Timestamp::secs),
            nonce: grant.and_then(|g| g.nonce).map(str::to_owned),
        };
        Ok(TokenSet {
            access_token: sign(&header, &access, k.encoding_key())?,
            id_token: if openid { sign(&header, &id, k.encoding_key())? } else { String::new() },
            refresh_token,
            expires_in: cfg.access_token_ttl.as_secs(),
            token_type: "Bearer".into(),
        })
    }

    /// Verifies one of our access tokens and resolves it to a principal. Refuses: unknown
    /// `kid`, any algorithm but the key's own (so `none` and HS256-with-the-public-key fail),
    /// bad signature, expired or not-yet-valid, wrong `iss`, wrong `client_id`, ID tokens,
    /// revoked sign-ins, and disabled or deleted users.
    pub async fn verify_access_token(&self, token: &str) -> Result<Principal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityError::InvalidToken("malformed"))?;
        let kid = header.kid.ok_or(IdentityError::InvalidToken("no kid"))?;
        let mut keys = self.inner.keys.current();
        if !keys.all.iter().any(|k| k.kid == kid) && self.may_reload_for_unknown_kid() {
            self.reload_keys().await?;
            keys = self.inner.keys.current();
        }
        let key = keys.all.iter().find(|k| k.kid == kid).ok_or(IdentityError::InvalidToken("unknown kid"))?;
        if header.alg != key.alg.jwt_alg() {
            return Err(IdentityError::InvalidToken("algorithm mismatch"));
        }
        let cfg = self.config();
        let mut v = Validation::new(key.alg.jwt_alg());
        v.leeway = cfg.leeway.as_secs();
        v.validate_nbf = true;
        v.validate_aud = false; // access tokens carry client_id, checked below
        v.set_issuer(&[cfg.issuer.as_str()]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "sub", "nbf"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, key.decoding_key(), &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            IdentityError::InvalidToken(match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not yet valid",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                K::InvalidAlgorithm => "algorithm mismatch",
                _ => "invalid",
            })
        })?;
        let c = data.claims;
        if c.token_use != "access" {
            return Err(IdentityError::InvalidToken("not an access token"));
        }
        // Tokens of registered OAuth clients are valid too, but carry no Rampart API scopes.
        let third_party = c.client_id != cfg.client_id;
        if third_party && !cfg.oauth_clients.iter().any(|o| o.client_id == c.client_id) {
            return Err(IdentityError::InvalidToken("wrong client_id"));
        }
        if c.iat > self.now().secs() + i64::try_from(cfg.leeway.as_secs()).unwrap_or(30) {
            return Err(IdentityError::InvalidToken("issued in the future"));
        }
        let uid: UserId = c.sub.parse().map_err(|_| IdentityError::InvalidToken("bad sub"))?;
        let fid: TokenFamilyId = c.sid.parse().map_err(|_| IdentityError::InvalidToken("bad sid"))?;
        let user = self
            .db()
            .session_user(uid, fid, self.now())
            .await?
            .ok_or(IdentityError::InvalidToken("signed out or no such user"))?;
        if user.status != rampart_storage::repo::users::UserStatus::Active {
            return Err(IdentityError::InvalidToken("user disabled"));
        }
        let resource = match c.aud {
            None => None,
            Some(a) if third_party && self.is_mcp_resource(&a) => Some(a),
            Some(_) => return Err(IdentityError::InvalidToken("wrong audience")),
        };
        let scopes = match (third_party, &resource) {
            (false, _) => session_scopes(&user.groups),
            (true, Some(_)) if has_scope(&c.scope, crate::oauth::MCP_SCOPE) => vec![Scope::Mcp],
            (true, _) => Vec::new(),
        };
        let groups = user.groups.clone();
        let method = if third_party {
            rampart_core::AuthMethod::OAuthClient { family: fid, client_id: c.client_id, resource }
        } else {
            rampart_core::AuthMethod::Session { family: fid }
        };
        Ok(Self::principal(user, groups, scopes, method))
    }
}

fn sign<T: Serialize>(h: &Header, claims: &T, key: &jsonwebtoken::EncodingKey) -> Result<String> {
    Ok(jsonwebtoken::encode(h, claims, key)?)
}
