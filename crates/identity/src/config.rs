//! Identity configuration (the `[auth]` section), passed in as values.

use rampart_crypto::{PasswordParams, SigningAlg};
use std::collections::BTreeMap;
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
    pub token_use: String,
    /// Which claim holds the groups: `cognito:groups`, `groups`, `roles`.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// External group → Rampart group. Empty: groups pass through unchanged.
    #[serde(default)]
    pub group_map: BTreeMap<String, String>,
    /// Accepted algorithms (default RS256).
    #[serde(default = "default_algs")]
    pub algorithms: Vec<String>,
}

fn default_groups_claim() -> String {
    "cognito:groups".into()
}
fn default_algs() -> Vec<String> {
    vec!["RS256".into()]
}

/// An application that signs its users in through Rampart (OAuth 2.0 authorization code flow
/// with PKCE; public clients, no client secret).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    pub client_id: String,
    /// Exact redirect URIs; nothing else is accepted.
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub name: String,
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
