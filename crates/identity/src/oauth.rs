//! Rampart as an OAuth 2.0 / OpenID Connect provider for other applications: the authorization
//! code flow with PKCE (S256 only) for registered public clients (RFC 6749 §4.1, RFC 7636).
//!
//! The browser lands on `GET /oauth2/authorize`; once the user is signed in to Rampart, the
//! sign-in page calls `POST /oauth2/authorize` with its session token and sends the browser to
//! the returned `redirectTo`. The client then redeems the code at `/oauth2/token`.

use crate::config::OAuthClientConfig;
use crate::error::{IdentityError, Result};
use crate::service::{Identity, RequestMeta};
use crate::tokens::{Grant, TokenSet};
use base64::Engine as _;
use rampart_core::AuditOutcome;
use rampart_core::Principal;
use rampart_crypto::{ct_eq, opaque_token, sha256, sha256_hex};
use rampart_storage::repo::oauth::{CodeLookup, NewOAuthCode};
use rampart_storage::repo::users::UserStatus;

/// The scopes an OAuth client may receive: identity only, never Rampart API access.
pub const OIDC_SCOPES: &str = "openid email profile";
const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The parameters of an authorization request.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// Why an authorization request failed, in the two classes RFC 6749 §4.1.2.1 distinguishes.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Unknown client or unregistered redirect URI: tell the user, never redirect.
    BadClient(&'static str),
    /// Anything else: redirect back to the client with `error` and `state`.
    Redirect { redirect_uri: String, error: &'static str, description: &'static str, state: Option<String> },
}

fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A validated request.
pub struct ValidAuthorize<'a> {
    pub client: &'a OAuthClientConfig,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
}

impl Identity {
    /// Validates an authorization request without acting on it.
    pub fn validate_authorize<'a>(
        &'a self,
        p: &AuthorizeParams,
    ) -> std::result::Result<ValidAuthorize<'a>, AuthorizeError> {
        let client_id = p.client_id.as_deref().ok_or(AuthorizeError::BadClient("client_id is required"))?;
        let client = self
            .config()
            .oauth_clients
            .iter()
            .find(|c| c.client_id == client_id)
            .ok_or(AuthorizeError::BadClient("unknown client_id"))?;
        let redirect_uri = p.redirect_uri.as_deref().ok_or(AuthorizeError::BadClient("redirect_uri is required"))?;
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err(AuthorizeError::BadClient("redirect_uri is not registered for this client"));
        }
        let state = p.state.clone().filter(|s| s.len() <= 512);
        let fail = |error, description| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description,
            state: state.clone(),
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(fail("unsupported_response_type", "only response_type=code is supported"));
        }
        if p.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail("invalid_request", "PKCE with code_challenge_method=S256 is required"));
        }
        let challenge = p
            .code_challenge
            .clone()
            .filter(|c| is_pkce_value(c))
            .ok_or_else(|| fail("invalid_request", "code_challenge is missing or malformed"))?;
        let requested = p.scope.as_deref().unwrap_or("openid");
        if requested.len() > 200 || !requested.split_whitespace().any(|s| s == "openid") {
            return Err(fail("invalid_scope", "scope must include openid"));
        }
        let scope = OIDC_SCOPES
            .split(' ')
            .filter(|s| requested.split_whitespace().any(|r| r == *s))
            .collect::<Vec<_>>()
            .join(" ");
        if p.nonce.as_ref().is_some_and(|n| n.len() > 256) {
            return Err(fail("invalid_request", "nonce is too long"));
        }
        Ok(ValidAuthorize {
            client,
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state,
            nonce: p.nonce.clone(),
            code_challenge: challenge,
        })
    }

    /// Issues a code for the signed-in user; returns the URL to send the browser to.
    pub async fn authorize(
        &self,
        user: &Principal,
        p: &AuthorizeParams,
        meta: &RequestMeta,
    ) -> std::result::Result<String, AuthorizeError> {
        let v = self.validate_authorize(p)?;
        let code = opaque_token();
        let now = self.now();
        let stored = self
            .db()
            .create_oauth_code(
                &NewOAuthCode {
                    code_hash: &sha256_hex(code.as_bytes()),
                    client_id: &v.client.client_id,
                    user_id: user.user_id,
                    redirect_uri: &v.redirect_uri,
                    code_challenge: &v.code_challenge,
                    scope: &v.scope,
                    nonce: v.nonce.as_deref(),
                    expires_at: now.plus(CODE_TTL),
                },
                now,
            )
            .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, "could not store an authorization code");
            return Err(AuthorizeError::Redirect {
                redirect_uri: v.redirect_uri,
                error: "server_error",
                description: "try again",
                state: v.state,
            });
        }
        self.audit(
            meta,
            Some((user.user_id, &user.email)),
            "oauth.authorize",
            Some(v.client.client_id.clone()),
            AuditOutcome::Success,
            None,
        )
        .await;
        let mut url =
            url::Url::parse(&v.redirect_uri).map_err(|_| AuthorizeError::BadClient("redirect_uri is not a URL"))?;
        url.query_pairs_mut().append_pair("code", &code);
        if let Some(s) = &v.state {
            url.query_pairs_mut().append_pair("state", s);
        }
        Ok(url.into())
    }

    /// `grant_type=authorization_code`. Every failure is `invalid_grant` to the client; a
    /// replayed code also revokes the sign-in it produced (RFC 6749 §4.1.2).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        client_id: &str,
        verifier: &str,
        meta: &RequestMeta,
    ) -> Result<TokenSet> {
        let invalid = IdentityError::InvalidToken("invalid_grant");
        if code.len() > 256 || !is_pkce_value(verifier) {
            return Err(invalid);
        }
        let hash = sha256_hex(code.as_bytes());
        let c = match self.db().redeem_oauth_code(&hash, self.now()).await? {
            CodeLookup::Unknown => return Err(invalid),
            CodeLookup::Reused(family) => {
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
                return Err(invalid);
            }
            CodeLookup::Fresh(c) => c,
        };
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
        let ok = c.expires_at > self.now()
            && c.client_id == client_id
            && c.redirect_uri == redirect_uri
            && ct_eq(expected.as_bytes(), c.code_challenge.as_bytes());
        if !ok {
            self.audit(
                meta,
                Some((c.user_id, "")),
                "oauth.token",
                Some(client_id.to_owned()),
                AuditOutcome::Failure,
                None,
            )
            .await;
            return Err(invalid);
        }
        let user = self.db().user_by_id(c.user_id).await?.ok_or(IdentityError::InvalidToken("invalid_grant"))?;
        if user.status != UserStatus::Active {
            return Err(IdentityError::InvalidToken("invalid_grant"));
        }
        let grant = Grant { client_id: &c.client_id, scope: &c.scope, nonce: c.nonce.as_deref() };
        let (tokens, family) = self.start_session_for(&user, meta, Some(grant)).await?;
        self.db().set_oauth_code_family(&hash, family).await?;
        self.audit(
            meta,
            Some((user.id, &user.email)),
            "oauth.token",
            Some(c.client_id.clone()),
            AuditOutcome::Success,
            None,
        )
        .await;
        Ok(tokens)
    }
}
