//! `rampart-identity`: who the caller is.
//!
//! Owns users, passwords and the password policy, login throttling and lockout, TOTP MFA with
//! recovery codes, groups, token issue and verification (our own keys and external issuers),
//! API keys, the first-admin bootstrap, and the audit trail of all of it. `config`: the `[auth]`
//! section and the service settings built from it.
//! Depends on `core`, `crypto` and `storage`; knows nothing of HTTP.

pub mod admin;
pub mod apikeys;
pub mod authorize;
pub mod config;
pub mod error;
pub mod external;
pub mod login;
pub mod mfa;
pub mod oauth;
pub mod oauth_token;
pub mod password;
pub mod reset;
pub mod service;
pub mod tickets;
pub mod tokens;
pub mod validate;

pub use config::{
    AuthConfig, ExternalIssuerConfig, IdentityConfig, MfaPolicy, OAuthClientConfig, PasswordPolicy, TokenUse,
};
pub use error::IdentityError;
pub use service::{Identity, RequestMeta};
