//! The provider's back channel: client authentication at the token endpoint
//! (`client_secret_basic`, `client_secret_post`, or none for public clients), redeeming an
//! authorization code, and the UserInfo claims a token's scopes allow.

use crate::error::{IdentityError, Result};
use crate::oauth::pkce_value_ok;
use crate::service::{Identity, RequestMeta};
use crate::tokens::{Grant, TokenSet, has_scope};
use base64::Engine as _;
use rampart_core::{AuditOutcome, AuthMethod, Principal};
use rampart_crypto::{ct_eq, sha256, sha256_hex};
use rampart_storage::repo::oauth::CodeLookup;
use rampart_storage::repo::tokens::FamilyRecord;
use rampart_storage::repo::users::UserStatus;

/// How a client presented itself at the token endpoint.
#[derive(Debug)]
pub enum ClientCredentials {
    /// `Authorization: Basic` (RFC 6749 §2.3.1); the form may repeat the same `client_id`.
    Basic { client_id: String, secret: String, form_client_id: Option<String> },
    /// `client_id` and `client_secret` in the form.
    Post { client_id: String, secret: String },
    /// A public client (or none named, for `refresh_token`).
    None { client_id: Option<String> },
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space).
fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl ClientCredentials {
    /// Reads the credentials of `Authorization: Basic <encoded>`: base64 of the form-encoded
    /// client id, `:`, and the form-encoded secret (RFC 6749 §2.3.1). `None` when malformed.
    pub fn from_basic(encoded: &str, form_client_id: Option<String>) -> Option<Self> {
        let raw = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (id, secret) = raw.split_once(':')?;
        let (client_id, secret) = (form_decode(id)?, form_decode(secret)?);
        (!client_id.is_empty()).then_some(ClientCredentials::Basic { client_id, secret, form_client_id })
    }
}

/// Client authentication failures, as RFC 6749 §5.2 names them.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientAuthError {
    /// More than one method, or a malformed one: 400 `invalid_request`.
    InvalidRequest,
    /// Unknown client, wrong secret, or a confidential client without one: 401 `invalid_client`
    /// (with `WWW-Authenticate` when the client used HTTP Basic).
    InvalidClient { basic: bool },
}

/// The claims UserInfo returns: `sub` always, the rest as the token's scopes allow.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl Identity {
    /// Authenticates the client; returns its id (`None` when no client was named, which only a
    /// first-party refresh may do). Secrets are compared in constant time on their SHA-256.
    pub fn authenticate_client(
        &self,
        creds: &ClientCredentials,
    ) -> std::result::Result<Option<String>, ClientAuthError> {
        let (id, secret, basic) = match creds {
            ClientCredentials::Basic { client_id, form_client_id: Some(f), .. } if f != client_id => {
                return Err(ClientAuthError::InvalidClient { basic: true });
            }
            ClientCredentials::Basic { client_id, secret, .. } => (client_id, secret, true),
            ClientCredentials::Post { client_id, secret } => (client_id, secret, false),
            ClientCredentials::None { client_id: None } => return Ok(None),
            ClientCredentials::None { client_id: Some(c) } => {
                let public =
                    *c == self.config().client_id || self.oauth_client(c).is_some_and(|o| !o.is_confidential());
                return if public { Ok(Some(c.clone())) } else { Err(ClientAuthError::InvalidClient { basic: false }) };
            }
        };
        let expected = self.oauth_client(id).and_then(|c| c.client_secret.as_ref());
        // Hash both so the comparison is of equal lengths and learns nothing about the secret's.
        let presented = sha256(secret.as_bytes());
        let ok = expected.is_some_and(|e| ct_eq(&sha256(e.expose().as_bytes()), &presented));
        if ok { Ok(Some(id.clone())) } else { Err(ClientAuthError::InvalidClient { basic }) }
    }

    /// `grant_type=authorization_code` for the authenticated (or public) client `client_id`.
    /// Every failure is `invalid_grant` to the client; a replayed code also revokes the sign-in
    /// it produced (RFC 6749 §4.1.2).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        client_id: &str,
        verifier: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<TokenSet> {
        let invalid = IdentityError::InvalidToken("invalid_grant");
        if code.len() > 256 || verifier.is_some_and(|v| !pkce_value_ok(v)) {
            return Err(invalid);
        }
        let hash = sha256_hex(code.as_bytes());
        let c = match self.db().redeem_oauth_code(&hash, self.now()).await? {
            CodeLookup::Unknown => return Err(invalid),
            CodeLookup::Reused(family) => {
                self.revoke_after_code_reuse(family, meta).await?;
                return Err(invalid);
            }
            CodeLookup::Fresh(c) => c,
        };
        let pkce_ok = match (c.code_challenge.as_str(), verifier) {
            ("", None) => true,
            (challenge, Some(v)) if !challenge.is_empty() => {
                let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(v.as_bytes()));
                ct_eq(expected.as_bytes(), challenge.as_bytes())
            }
            _ => false,
        };
        let ok = c.expires_at > self.now() && c.client_id == client_id && c.redirect_uri == redirect_uri && pkce_ok;
        if !ok {
            let target = Some(client_id.to_owned());
            self.audit(meta, Some((c.user_id, "")), "oauth.token", target, AuditOutcome::Failure, None).await;
            return Err(invalid);
        }
        let user = self.db().user_by_id(c.user_id).await?.ok_or(IdentityError::InvalidToken("invalid_grant"))?;
        if user.status != UserStatus::Active {
            return Err(IdentityError::InvalidToken("invalid_grant"));
        }
        let grant =
            Grant { client_id: &c.client_id, scope: &c.scope, nonce: c.nonce.as_deref(), auth_time: c.auth_time };
        let (tokens, family) = self.start_session_for(&user, meta, Some(grant)).await?;
        self.db().set_oauth_code_family(&hash, family).await?;
        self.db().set_family_grant(family, &c.scope, c.auth_time.unwrap_or_else(|| self.now())).await?;
        let target = Some(c.client_id.clone());
        self.audit(meta, Some((user.id, &user.email)), "oauth.token", target, AuditOutcome::Success, None).await;
        Ok(tokens)
    }

    async fn revoke_after_code_reuse(
        &self,
        family: Option<rampart_core::TokenFamilyId>,
        meta: &RequestMeta,
    ) -> Result<()> {
        if let Some(f) = family
            && let Some(fam) = self.db().family(f).await?
            && self.db().revoke_family(f, fam.user_id, "authorization_code_reuse", self.now()).await?
        {
            self.invalidate_auth_cache();
            self.audit(
                meta,
                Some((fam.user_id, "")),
                "auth.token_family_revoked",
                Some(f.to_string()),
                AuditOutcome::Success,
                Some("authorization_code_reuse"),
            )
            .await;
        }
        Ok(())
    }

    /// A sign-in is refreshed by the client it was issued to; a confidential client's only
    /// once that client has authenticated (`client_id` is then `Some`).
    pub(crate) fn check_refresh_client(&self, fam: &FamilyRecord, client_id: Option<&str>) -> Result<()> {
        let issued_to = fam.client_id.as_deref().unwrap_or(&self.config().client_id);
        if client_id.is_some_and(|c| c != issued_to) {
            return Err(IdentityError::InvalidToken("refresh token of another client"));
        }
        if client_id.is_none() && self.oauth_client(issued_to).is_some_and(|c| c.is_confidential()) {
            return Err(IdentityError::InvalidToken("client authentication required"));
        }
        Ok(())
    }

    /// UserInfo for the caller: a client's token gets the claims of the scopes it was granted;
    /// Rampart's own credentials get them all.
    pub async fn userinfo(&self, p: &Principal) -> Result<UserInfo> {
        let scope = match &p.auth_method {
            AuthMethod::OAuthClient { family, .. } => self
                .db()
                .family(*family)
                .await?
                .ok_or(IdentityError::InvalidToken("signed out"))?
                .scope
                .unwrap_or_else(|| crate::oauth::OIDC_SCOPES.to_owned()),
            _ => crate::oauth::OIDC_SCOPES.to_owned(),
        };
        let (email, profile) = (has_scope(&scope, "email"), has_scope(&scope, "profile"));
        Ok(UserInfo {
            sub: p.user_id.to_string(),
            email: email.then(|| p.email.clone()),
            name: profile.then(|| p.display_name.clone()),
            groups: profile.then(|| p.groups.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let enc = base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret+x");
        let Some(ClientCredentials::Basic { client_id, secret, .. }) = ClientCredentials::from_basic(&enc, None) else {
            panic!("not read")
        };
        assert_eq!((client_id.as_str(), secret.as_str()), ("my app", "s:cret x"));
        assert!(ClientCredentials::from_basic("!!!", None).is_none());
        let no_colon = base64::engine::general_purpose::STANDARD.encode("app");
        assert!(ClientCredentials::from_basic(&no_colon, None).is_none());
        assert!(form_decode("%4").is_none());
    }
}
