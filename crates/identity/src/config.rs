//! Identity configuration: the `[auth]` section ([`AuthConfig`], checked by its `validate`)
//! and the identity service's settings built from it ([`AuthConfig::identity_config`]).

use jsonwebtoken::Algorithm;
use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur};
use rampart_crypto::{PasswordParams, SigningAlg};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    Off,
    Optional,
    Required,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            require_lowercase: false,
            require_uppercase: false,
            require_digit: false,
            require_symbol: false,
        }
    }
}

/// A JWT issuer we accept tokens from (Cognito, Entra ID, Keycloak…).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerConfig {
    pub issuer: String,
    pub jwks_url: String,
    /// Accepted `client_id` (access tokens) or `aud` (ID tokens, or access tokens without `client_id`).
    pub client_ids: Vec<String>,
    /// Required `token_use` claim (`access` for Cognito); empty: the claim is not required,
    /// but a token that says `id` is still refused as an access credential.
    #[serde(default)]
    pub token_use: TokenUse,
    /// Which claim holds the groups: `cognito:groups`, `groups`, `roles`.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// External group → Rampart group. Empty: groups pass through unchanged.
    #[serde(default)]
    pub group_map: BTreeMap<String, String>,
    /// Accepted algorithms (default RS256).
    #[serde(default = "default_algs")]
    pub algorithms: Vec<Algorithm>,
}

/// The `token_use` claim an external issuer's tokens must carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum TokenUse {
    /// `""`: not required (issuers without the claim, such as Entra ID).
    #[default]
    #[serde(rename = "")]
    Unchecked,
    #[serde(rename = "access")]
    Access,
    #[serde(rename = "id")]
    Id,
}

impl TokenUse {
    /// The claim's required value, if one is.
    pub fn required(self) -> Option<&'static str> {
        match self {
            TokenUse::Unchecked => None,
            TokenUse::Access => Some("access"),
            TokenUse::Id => Some("id"),
        }
    }
}

fn default_groups_claim() -> String {
    "cognito:groups".into()
}
fn default_algs() -> Vec<Algorithm> {
    vec![Algorithm::RS256]
}

/// An application that signs its users in through Rampart (OAuth 2.0 authorization code flow),
/// or an MCP client that asks for the `mcp` scope to use `/mcp` as its user.
/// Without a secret it is a public client and must use PKCE; with one (`client_secret` or
/// `client_secret_file`) it is confidential and authenticates at the token endpoint with
/// `client_secret_basic` or `client_secret_post` (PKCE optional).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    pub client_id: String,
    /// Exact redirect URIs; nothing else is accepted.
    pub redirect_uris: Vec<String>,
    /// Shown to the user on the consent screen.
    #[serde(default)]
    pub name: String,
    /// The client secret (at least 32 characters; prefer `client_secret_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret<String>>,
    /// A file holding the client secret (read at start-up, surrounding whitespace dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// May ask for the `mcp` scope (read meetings and knowledge bases at `/mcp` as the user): an
    /// MCP client. Off for sign-in clients, which get identity scopes only, so that registering
    /// an application for sign-in never lets it ask for the user's data.
    #[serde(default)]
    pub mcp: bool,
}

/// Shortest client secret accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64).
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

impl OAuthClientConfig {
    /// A confidential client authenticates at the token endpoint; a public one uses PKCE.
    pub fn is_confidential(&self) -> bool {
        self.client_secret.is_some() || self.client_secret_file.is_some()
    }

    /// The display name, or the client id when none is configured.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() { &self.client_id } else { &self.name }
    }

    /// The secret, read from `client_secret_file` when that is how it is given.
    fn resolve_secret(&self) -> Result<Option<Secret<String>>, ConfigError> {
        let key = "oauth_clients";
        let s = match (&self.client_secret, &self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(err(key, format!("{}: set client_secret or client_secret_file, not both", self.client_id)));
            }
            (Some(s), None) => s.clone(),
            (None, Some(f)) => Secret::new(
                std::fs::read_to_string(f)
                    .map_err(|e| err(key, format!("{}: cannot read {}: {e}", self.client_id, f.display())))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => return Ok(None),
        };
        if s.expose().chars().count() < MIN_CLIENT_SECRET_LEN {
            return Err(err(
                key,
                format!(
                    "{}: the client secret must be at least {MIN_CLIENT_SECRET_LEN} characters (e.g. `openssl rand -hex 32`)",
                    self.client_id
                ),
            ));
        }
        Ok(Some(s))
    }
}

#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// Our issuer (`RAMPART_PUBLIC_URL`).
    pub issuer: String,
    /// The `client_id` / `aud` of tokens we issue.
    pub client_id: String,
    pub mfa: MfaPolicy,
    pub self_signup: bool,
    pub signup_email_domains: Vec<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub challenge_ttl: Duration,
    /// How long an emailed password reset link works.
    pub password_reset_ttl: Duration,
    pub allowed_groups: Vec<String>,
    pub password_policy: PasswordPolicy,
    pub password_hashing: PasswordParams,
    pub signing_alg: SigningAlg,
    /// Account lockout: this many failures within `lockout_window` lock for `lockout_duration`.
    pub lockout_threshold: u32,
    pub lockout_window: Duration,
    pub lockout_duration: Duration,
    /// Failed logins per client IP within `lockout_window` before that IP is locked out.
    pub ip_failure_limit: u32,
    /// Clock skew tolerated on `exp`/`nbf`/`iat`.
    pub leeway: Duration,
    pub external_issuers: Vec<ExternalIssuerConfig>,
    pub oauth_clients: Vec<OAuthClientConfig>,
    /// How long a verified credential is remembered (0 disables); see `authorize`.
    pub session_cache_ttl: Duration,
    /// Minimum time between JWKS refreshes for an issuer (unknown `kid` triggers one).
    pub jwks_refresh_min_interval: Duration,
}

impl IdentityConfig {
    /// Defaults for a server at `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: "rampart".into(),
            mfa: MfaPolicy::Optional,
            self_signup: false,
            signup_email_domains: Vec::new(),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 86400),
            challenge_ttl: Duration::from_secs(300),
            password_reset_ttl: Duration::from_secs(1800),
            allowed_groups: Vec::new(),
            password_policy: PasswordPolicy::default(),
            password_hashing: PasswordParams::default(),
            signing_alg: SigningAlg::RS256,
            lockout_threshold: 5,
            lockout_window: Duration::from_secs(900),
            lockout_duration: Duration::from_secs(900),
            ip_failure_limit: 50,
            leeway: Duration::from_secs(30),
            external_issuers: Vec::new(),
            oauth_clients: Vec::new(),
            session_cache_ttl: Duration::from_secs(5),
            jwks_refresh_min_interval: Duration::from_secs(30),
        }
    }
}

/// The `[auth]` section.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mfa: MfaPolicy,
    pub self_signup: bool,
    pub signup_email_domains: Vec<String>,
    pub access_token_ttl: Dur,
    pub refresh_token_ttl: Dur,
    pub allowed_groups: Vec<String>,
    pub signing_alg: SigningAlg,
    pub client_id: String,
    pub password: PasswordPolicy,
    pub argon2: PasswordParams,
    pub lockout_threshold: u32,
    pub lockout_window: Dur,
    pub lockout_duration: Dur,
    pub ip_failure_limit: u32,
    pub token_leeway: Dur,
    /// How often the server re-reads its signing keys (picks up `rampart keys rotate-signing`
    /// and rotations by other replicas).
    pub signing_key_reload_interval: Dur,
    /// How long a verified credential is remembered; changes made on another replica take
    /// effect here within this time ("0s" turns the cache off).
    pub session_cache_ttl: Dur,
    /// Minimum time between JWKS refreshes per external issuer (an unknown `kid` triggers one).
    pub jwks_refresh_min_interval: Dur,
    /// How long an emailed password reset link works (when `[mail]` is configured).
    pub password_reset_ttl: Dur,
    pub external_issuers: Vec<ExternalIssuerConfig>,
    /// Applications that sign users in through Rampart (authorization code + PKCE).
    pub oauth_clients: Vec<OAuthClientConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let d = IdentityConfig::new("");
        Self {
            mfa: d.mfa,
            self_signup: d.self_signup,
            signup_email_domains: Vec::new(),
            access_token_ttl: Dur(d.access_token_ttl),
            refresh_token_ttl: Dur(d.refresh_token_ttl),
            allowed_groups: Vec::new(),
            signing_alg: d.signing_alg,
            client_id: d.client_id,
            password: d.password_policy,
            argon2: d.password_hashing,
            lockout_threshold: d.lockout_threshold,
            lockout_window: Dur(d.lockout_window),
            lockout_duration: Dur(d.lockout_duration),
            ip_failure_limit: d.ip_failure_limit,
            token_leeway: Dur(d.leeway),
            jwks_refresh_min_interval: Dur(d.jwks_refresh_min_interval),
            session_cache_ttl: Dur(d.session_cache_ttl),
            signing_key_reload_interval: Dur::secs(30),
            password_reset_ttl: Dur(d.password_reset_ttl),
            external_issuers: Vec::new(),
            oauth_clients: Vec::new(),
        }
    }
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

impl AuthConfig {
    /// Checks the section; weak settings are refused with what to use instead.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.password.min_length < 8 {
            return Err(err("password.min_length", "must be at least 8"));
        }
        if self.argon2.memory_kib < 8 * 1024 || self.argon2.iterations < 1 {
            return Err(err("argon2", "is too weak: use memory_kib >= 8192 and iterations >= 1 (default 19456 / 2)"));
        }
        self.validate_lifetimes()?;
        if self.lockout_threshold == 0 || self.ip_failure_limit == 0 {
            let key = if self.lockout_threshold == 0 { "lockout_threshold" } else { "ip_failure_limit" };
            return Err(err(key, "lockout_threshold and ip_failure_limit must be at least 1"));
        }
        if self.self_signup && self.signup_email_domains.iter().any(|d| d.is_empty() || d.contains('@')) {
            return Err(err("signup_email_domains", "must be bare domains such as \"example.com\""));
        }
        for i in &self.external_issuers {
            crate::external::check_issuer_config(i).map_err(|e| err("external_issuers", e))?;
        }
        self.oauth_clients.iter().try_for_each(|c| self.validate_oauth_client(c))
    }

    fn validate_lifetimes(&self) -> Result<(), ConfigError> {
        let (access, refresh) = (self.access_token_ttl.0, self.refresh_token_ttl.0);
        if access < Duration::from_secs(60) || access > Duration::from_secs(86400) {
            return Err(err("access_token_ttl", "must be between 1m and 24h"));
        }
        if refresh < access || refresh > Duration::from_secs(3650 * 86400) {
            return Err(err("refresh_token_ttl", "must be at least the access token ttl and at most 3650d"));
        }
        let reload = self.signing_key_reload_interval.0;
        if reload < Duration::from_secs(1) || reload > Duration::from_secs(3600) {
            return Err(err("signing_key_reload_interval", "must be between 1s and 1h"));
        }
        let reset = self.password_reset_ttl.0;
        if reset < Duration::from_secs(1) || reset > Duration::from_secs(86400) {
            return Err(err("password_reset_ttl", "must be between 1s and 24h"));
        }
        if self.session_cache_ttl.0 > Duration::from_secs(60) {
            return Err(err(
                "session_cache_ttl",
                "must be at most 60s (it bounds how long a change on another replica takes to apply)",
            ));
        }
        Ok(())
    }

    fn validate_oauth_client(&self, c: &OAuthClientConfig) -> Result<(), ConfigError> {
        let key = "oauth_clients";
        if c.client_id.is_empty() || c.client_id.len() > 128 || c.client_id == self.client_id {
            return Err(err(key, "client_id must be 1-128 characters and differ from auth.client_id"));
        }
        if c.redirect_uris.is_empty() {
            return Err(err(key, format!("{}: list at least one redirect_uri", c.client_id)));
        }
        if self.oauth_clients.iter().filter(|o| o.client_id == c.client_id).count() > 1 {
            return Err(err(key, format!("{}: client_id is listed twice", c.client_id)));
        }
        c.resolve_secret()?;
        for r in &c.redirect_uris {
            let u = url::Url::parse(r)
                .map_err(|_| err(key, format!("{}: redirect_uri {r:?} is not an absolute URL", c.client_id)))?;
            let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if u.fragment().is_some() || !(u.scheme() == "https" || (u.scheme() == "http" && loopback)) {
                return Err(err(
                    key,
                    format!(
                        "{}: redirect_uri {r:?} must be https (http only on loopback) and have no fragment",
                        c.client_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The identity service's settings, for a server whose issuer (public URL) is `issuer`.
    /// Client secrets given as files are read here.
    pub fn identity_config(&self, issuer: impl Into<String>) -> Result<IdentityConfig, ConfigError> {
        let oauth_clients = self
            .oauth_clients
            .iter()
            .map(|c| {
                let secret = c.resolve_secret().map_err(|e| e.within("auth"))?;
                Ok(OAuthClientConfig { client_secret: secret, client_secret_file: None, ..c.clone() })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(IdentityConfig {
            client_id: self.client_id.clone(),
            mfa: self.mfa,
            self_signup: self.self_signup,
            signup_email_domains: self.signup_email_domains.iter().map(|d| d.to_lowercase()).collect(),
            access_token_ttl: self.access_token_ttl.0,
            refresh_token_ttl: self.refresh_token_ttl.0,
            allowed_groups: self.allowed_groups.clone(),
            password_policy: self.password.clone(),
            password_hashing: self.argon2,
            signing_alg: self.signing_alg,
            lockout_threshold: self.lockout_threshold,
            lockout_window: self.lockout_window.0,
            lockout_duration: self.lockout_duration.0,
            ip_failure_limit: self.ip_failure_limit,
            leeway: self.token_leeway.0,
            jwks_refresh_min_interval: self.jwks_refresh_min_interval.0,
            session_cache_ttl: self.session_cache_ttl.0,
            password_reset_ttl: self.password_reset_ttl.0,
            external_issuers: self.external_issuers.clone(),
            oauth_clients,
            ..IdentityConfig::new(issuer)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_builds_the_service_settings() {
        let a: AuthConfig = serde_json::from_value(serde_json::json!({
            "signing_alg": "EdDSA", "access_token_ttl": "2h", "signup_email_domains": ["Example.COM"],
        }))
        .unwrap();
        a.validate().unwrap();
        let c = a.identity_config("https://id.example").unwrap();
        assert_eq!((c.signing_alg, c.access_token_ttl), (SigningAlg::EdDSA, Duration::from_secs(7200)));
        assert_eq!((c.issuer.as_str(), c.signup_email_domains), ("https://id.example", vec!["example.com".to_owned()]));
        assert_eq!(c.challenge_ttl, IdentityConfig::new("").challenge_ttl);
        assert!(serde_json::from_value::<AuthConfig>(serde_json::json!({"signing_alg": "HS256"})).is_err());
    }

    #[test]
    fn weak_settings_name_their_key() {
        let key = |a: AuthConfig| a.validate().unwrap_err().key;
        let mut a = AuthConfig::default();
        a.password.min_length = 4;
        assert_eq!(key(a), "password.min_length");
        assert_eq!(key(AuthConfig { session_cache_ttl: Dur::secs(120), ..Default::default() }), "session_cache_ttl");
        let i: ExternalIssuerConfig = serde_json::from_value(serde_json::json!({
            "issuer": "https://i", "jwks_url": "https://i/jwks", "client_ids": ["c"], "token_use": "access",
        }))
        .unwrap();
        assert_eq!((i.token_use, i.algorithms.as_slice()), (TokenUse::Access, &[Algorithm::RS256][..]));
        let bad = serde_json::json!({"issuer": "https://i", "jwks_url": "https://i/jwks", "client_ids": ["c"], "token_use": "refresh"});
        assert!(serde_json::from_value::<ExternalIssuerConfig>(bad).is_err());
    }

    #[test]
    fn client_secrets_are_long_given_once_and_never_printed() {
        let client = |extra: serde_json::Value| {
            let mut c = serde_json::json!({"client_id": "crm", "redirect_uris": ["https://crm.example.com/cb"]});
            c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            AuthConfig { oauth_clients: vec![serde_json::from_value(c).unwrap()], ..Default::default() }
        };
        let long = "0123456789abcdef0123456789abcdef";
        assert!(client(serde_json::json!({"client_secret": "short"})).validate().is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, format!("{long}\n")).unwrap();
        let both = client(serde_json::json!({"client_secret": long, "client_secret_file": f}));
        assert!(both.validate().unwrap_err().message.contains("not both"));
        let missing = client(serde_json::json!({"client_secret_file": dir.path().join("nope")}));
        assert!(missing.validate().is_err());
        let ok = client(serde_json::json!({"client_secret_file": f}));
        ok.validate().unwrap();
        let c = ok.identity_config("https://id.example").unwrap();
        let crm = &c.oauth_clients[0];
        assert!(crm.is_confidential());
        assert_eq!(crm.client_secret.as_ref().map(|s| s.expose().as_str()), Some(long));
        assert!(!format!("{c:?}").contains(long));
        assert!(!client(serde_json::json!({})).oauth_clients[0].is_confidential());
    }
}
