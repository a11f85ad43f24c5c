//! Tokens from external issuers (Cognito, Entra ID, Keycloak…), verified against their JWKS.
//!
//! The JWKS is fetched on first use and cached; a token with an unknown `kid` triggers one
//! refresh, at most once per `jwks_refresh_min_interval` per issuer, so a flood of forged
//! `kid`s cannot turn us into a JWKS-fetching amplifier.

use crate::config::{ExternalIssuerConfig, TokenUse};
use crate::error::{IdentityError, Result};
use crate::service::Identity;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rampart_core::{AuthMethod, Principal, Scope};
use rampart_storage::repo::users::{NewUser, UserStatus};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct IssuerState {
    cfg: ExternalIssuerConfig,
    algorithms: Vec<Algorithm>,
    keys: tokio::sync::RwLock<HashMap<String, (DecodingKey, Option<Algorithm>)>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

pub struct ExternalIssuers {
    issuers: Vec<Arc<IssuerState>>,
    client: reqwest::Client,
    min_interval: Duration,
}

/// What a verified external token says about its subject.
#[derive(Debug)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub groups: Vec<String>,
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks an issuer entry (used at start-up: fail closed on bad config).
pub fn check_issuer_config(c: &ExternalIssuerConfig) -> std::result::Result<(), String> {
    let u = url::Url::parse(&c.jwks_url).map_err(|e| format!("jwks_url {:?}: {e}", c.jwks_url))?;
    if u.scheme() != "https" && !(u.scheme() == "http" && is_loopback(&u)) {
        return Err(format!("jwks_url {:?} must use https (plain http only on loopback)", c.jwks_url));
    }
    if c.issuer.is_empty() {
        return Err("issuer must not be empty".into());
    }
    if c.client_ids.is_empty() {
        return Err(format!("issuer {}: client_ids must list at least one accepted client id", c.issuer));
    }
    for alg in &c.algorithms {
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(format!("issuer {}: symmetric algorithms are not accepted from external issuers", c.issuer));
        }
    }
    Ok(())
}

fn peek_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads `iss` from a JWT without verifying it (only to choose which keys to verify with).
pub fn peek_issuer(token: &str) -> Option<String> {
    peek_claims(token)?.get("iss")?.as_str().map(str::to_owned)
}

/// Reads `exp` (seconds) from a JWT that has already been verified.
pub(crate) fn peek_exp(token: &str) -> Option<i64> {
    peek_claims(token)?.get("exp")?.as_i64()
}

impl ExternalIssuers {
    pub fn new(cfgs: Vec<ExternalIssuerConfig>, min_interval: Duration) -> Result<Self> {
        let mut issuers = Vec::new();
        for cfg in cfgs {
            check_issuer_config(&cfg).map_err(IdentityError::Internal)?;
            let algorithms = cfg.algorithms.clone();
            issuers.push(Arc::new(IssuerState {
                cfg,
                algorithms,
                keys: Default::default(),
                last_fetch: Default::default(),
            }));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| IdentityError::Internal(format!("http client: {e}")))?;
        Ok(Self { issuers, client, min_interval })
    }

    pub fn knows(&self, issuer: &str) -> bool {
        self.issuers.iter().any(|i| i.cfg.issuer == issuer)
    }

    async fn refresh(&self, st: &IssuerState) -> Result<()> {
        let mut last = st.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_interval) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let resp = self
            .client
            .get(&st.cfg.jwks_url)
            .send()
            .await
            .map_err(|e| IdentityError::Upstream(format!("jwks fetch: {e}")))?;
        if !resp.status().is_success() {
            return Err(IdentityError::Upstream(format!("jwks fetch: HTTP {}", resp.status())));
        }
        let set: JwkSet = resp.json().await.map_err(|e| IdentityError::Upstream(format!("jwks parse: {e}")))?;
        let mut map = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            let alg = jwk.common.key_algorithm.and_then(|a| a.to_string().parse::<Algorithm>().ok());
            if let Ok(k) = DecodingKey::from_jwk(jwk) {
                map.insert(kid, (k, alg));
            }
        }
        tracing::info!(issuer = %st.cfg.issuer, keys = map.len(), "refreshed JWKS");
        *st.keys.write().await = map;
        Ok(())
    }

    /// Verifies a token from a configured issuer.
    pub async fn verify(&self, token: &str, leeway: Duration) -> Result<ExternalIdentity> {
        let iss = peek_issuer(token).ok_or(IdentityError::InvalidToken("malformed"))?;
        let st =
            self.issuers.iter().find(|i| i.cfg.issuer == iss).ok_or(IdentityError::InvalidToken("unknown issuer"))?;
        let claims = self.decode(st, token, leeway).await?;
        check_use_and_audience(&st.cfg, &claims)?;
        if let Some(iat) = claims.get("iat").and_then(Value::as_i64) {
            let now = chrono::Utc::now().timestamp();
            if iat > now + i64::try_from(leeway.as_secs()).unwrap_or(30) {
                return Err(IdentityError::InvalidToken("issued in the future"));
            }
        }
        identity_of(&st.cfg, iss, &claims)
    }

    /// The token's claims, once its signature (with the issuer's key for its `kid`, algorithm
    /// pinned), issuer, expiry and not-before hold.
    async fn decode(&self, st: &IssuerState, token: &str, leeway: Duration) -> Result<Value> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityError::InvalidToken("malformed"))?;
        if !st.algorithms.contains(&header.alg) {
            return Err(IdentityError::InvalidToken("algorithm not accepted"));
        }
        let kid = header.kid.ok_or(IdentityError::InvalidToken("no kid"))?;
        if !st.keys.read().await.contains_key(&kid) {
            self.refresh(st).await?;
        }
        let keys = st.keys.read().await;
        let (key, key_alg) = keys.get(&kid).ok_or(IdentityError::InvalidToken("unknown kid"))?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(IdentityError::InvalidToken("algorithm mismatch"));
        }
        let mut v = Validation::new(header.alg);
        v.leeway = leeway.as_secs();
        v.validate_nbf = true;
        v.validate_aud = false; // checked after: client_id for access tokens, aud for ID tokens
        v.set_issuer(&[st.cfg.issuer.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            IdentityError::InvalidToken(match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not yet valid",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                _ => "invalid",
            })
        })?;
        Ok(data.claims)
    }
}

/// The token is of the kind the issuer is configured for (access or ID) and was issued to one
/// of the configured clients.
fn check_use_and_audience(cfg: &ExternalIssuerConfig, claims: &Value) -> Result<()> {
    let token_use = claims.get("token_use").and_then(Value::as_str).unwrap_or("");
    if token_use == "id" && cfg.token_use != TokenUse::Id {
        return Err(IdentityError::InvalidToken("ID token used as an access token"));
    }
    if cfg.token_use.required().is_some_and(|want| token_use != want) {
        return Err(IdentityError::InvalidToken("wrong token_use"));
    }
    // Issuers without `token_use` (Entra ID, Keycloak): claims that only OpenID Connect ID
    // tokens carry mark one, unless access tokens are what the issuer is configured for.
    if cfg.token_use != TokenUse::Id && ["nonce", "at_hash", "c_hash"].iter().any(|c| claims.get(*c).is_some()) {
        return Err(IdentityError::InvalidToken("ID token used as an access token"));
    }
    let aud_ok = |v: Option<&Value>| match v {
        Some(Value::String(s)) => cfg.client_ids.contains(s),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(|s| cfg.client_ids.iter().any(|c| c == s)),
        _ => false,
    };
    let client_ok = match claims.get("client_id") {
        Some(c) => aud_ok(Some(c)),
        None => aud_ok(claims.get("aud")),
    };
    if !client_ok {
        return Err(IdentityError::InvalidToken("wrong client_id or audience"));
    }
    Ok(())
}

/// Who the verified claims name: subject, email (or another name claim) and mapped groups.
fn identity_of(cfg: &ExternalIssuerConfig, issuer: String, claims: &Value) -> Result<ExternalIdentity> {
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("").to_owned();
    if subject.is_empty() || subject.len() > 255 {
        return Err(IdentityError::InvalidToken("bad sub"));
    }
    let raw_groups: Vec<String> = match claims.get(&cfg.groups_claim) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    // Without a map, names pass through, except `admin`: administrator rights from another
    // system must be granted explicitly (`group_map = { SomeGroup = "admin" }`).
    let groups = if cfg.group_map.is_empty() {
        raw_groups.into_iter().filter(|g| g != rampart_core::principal::ADMIN_GROUP).collect()
    } else {
        raw_groups.iter().filter_map(|g| cfg.group_map.get(g).cloned()).collect()
    };
    let email = ["email", "username", "cognito:username", "preferred_username", "upn"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .unwrap_or(&subject)
        .chars()
        .take(254)
        .collect::<String>()
        .to_lowercase();
    Ok(ExternalIdentity { issuer, subject, email, groups })
}

impl Identity {
    /// Verifies an external token and resolves it to a principal, provisioning a local
    /// shadow user on first sight (so ownership everywhere is by local user id, and an
    /// administrator can disable an external user).
    pub async fn verify_external_token(&self, token: &str) -> Result<Principal> {
        let ext = self.inner.external.verify(token, self.config().leeway).await?;
        let user = match self.db().user_by_external(&ext.issuer, &ext.subject).await? {
            Some(u) => u,
            None => {
                let r = self
                    .db()
                    .create_user(
                        &NewUser {
                            email: &ext.email,
                            display_name: &ext.email,
                            password_hash: None,
                            groups: &[],
                            external: Some((&ext.issuer, &ext.subject)),
                        },
                        self.now(),
                    )
                    .await;
                match r {
                    Ok(u) => {
                        tracing::info!(user = %u.id, issuer = %ext.issuer, "provisioned external user");
                        u
                    }
                    // Two first requests raced: the other one created it.
                    Err(rampart_storage::StorageError::Conflict) => self
                        .db()
                        .user_by_external(&ext.issuer, &ext.subject)
                        .await?
                        .ok_or(IdentityError::InvalidToken("no such user"))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if user.status != UserStatus::Active {
            return Err(IdentityError::InvalidToken("user disabled"));
        }
        let is_admin = ext.groups.iter().any(|g| g == rampart_core::principal::ADMIN_GROUP);
        let scopes = Scope::ALL.iter().copied().filter(|s| *s != Scope::Admin || is_admin).collect();
        Ok(Self::principal(user, ext.groups, scopes, AuthMethod::External { issuer: ext.issuer }))
    }
}
