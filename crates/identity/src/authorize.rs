//! The authorizer: every credential → one `Principal`, or a refusal.

use crate::error::{IdentityError, Result};
use crate::external::peek_issuer;
use crate::service::Identity;
use rampart_core::Principal;
use rampart_crypto::API_KEY_PREFIX;

/// A credential as presented.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// `Authorization: Bearer …` (or the raw header value, as AppSync clients send it).
    Bearer(&'a str),
    /// `x-api-key: …`
    ApiKey(&'a str),
}

impl Identity {
    /// Resolves a credential. Then applies the group policy (`allowed_groups`).
    pub async fn authenticate(&self, cred: Credential<'_>) -> Result<Principal> {
        let p = match cred {
            Credential::ApiKey(k) => self.verify_api_key(k).await?,
            Credential::Bearer(t) if t.starts_with(API_KEY_PREFIX) => self.verify_api_key(t).await?,
            Credential::Bearer(t) => {
                if t.len() > 16 * 1024 {
                    return Err(IdentityError::InvalidToken("too long"));
                }
                let iss = peek_issuer(t).ok_or(IdentityError::InvalidToken("malformed"))?;
                if iss == self.config().issuer {
                    self.verify_access_token(t).await?
                } else if self.inner.external.knows(&iss) {
                    self.verify_external_token(t).await?
                } else {
                    return Err(IdentityError::InvalidToken("unknown issuer"));
                }
            }
        };
        let allowed = &self.config().allowed_groups;
        if !allowed.is_empty()
            && !p.in_group(rampart_core::principal::ADMIN_GROUP)
            && !allowed.iter().any(|g| p.in_group(g))
        {
            return Err(IdentityError::Forbidden("not in an allowed group"));
        }
        Ok(p)
    }
}
