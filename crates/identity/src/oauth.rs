//! Rampart as an OAuth 2.0 / OpenID Connect provider for other applications: the authorization
//! code flow (RFC 6749 §4.1) for registered clients — public ones with PKCE (S256 only, RFC 7636),
//! confidential ones with a client secret (PKCE optional).
//!
//! The browser lands on `GET /oauth2/authorize`, which sends it on to the web app's `/authorize`
//! page. That page asks [`Identity::authorize`] (through `POST /oauth2/authorize`) what comes
//! next: sign in (again), the consent screen, or the redirect back to the client with `code`,
//! `state` and `iss` (RFC 9207). Consent is remembered per user and client as the scopes granted.
//! The client then redeems the code at `/oauth2/token` (see `oauth_token`).

use crate::config::OAuthClientConfig;
use crate::service::{Identity, RequestMeta};
use rampart_core::{AuditOutcome, AuthMethod, Principal, Timestamp};
use rampart_crypto::{opaque_token, sha256_hex};
use rampart_storage::repo::oauth::NewOAuthCode;
use std::time::Duration;

/// The identity scopes an OAuth client may receive.
pub const OIDC_SCOPES: &str = "openid email profile";
/// The scope of the MCP endpoint: a token granted it is bound to that resource (its audience,
/// RFC 8707) and accepted nowhere else.
pub const MCP_SCOPE: &str = "mcp";
/// Every scope an OAuth client may ask for, in the order grants list them. Nothing here gives
/// access to Rampart's REST API.
const GRANTABLE: &str = "openid email profile mcp";
/// Where the MCP endpoint is, below the issuer (the public URL).
pub const MCP_PATH: &str = "/mcp";
const CODE_TTL: Duration = Duration::from_secs(60);
/// `prompt=login` without the request's arrival time ([`AuthorizeParams::login_after`]) accepts
/// a sign-in made at most this long ago.
pub const PROMPT_LOGIN_WINDOW: Duration = Duration::from_secs(600);
/// How far apart replicas' clocks may be when `login_after` is compared with a sign-in's time.
const LOGIN_AFTER_SKEW_MS: i64 = 2_000;

/// The parameters of an authorization request. Parameters not listed are ignored, as RFC 6749
/// §3.1 requires.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
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
    /// Space-separated: `none` (no page may be shown), `login` (sign in again), `consent`
    /// (ask again); `select_account` is accepted and has nothing to choose from.
    pub prompt: Option<String>,
    /// Seconds: an older sign-in must be repeated; the ID token then carries `auth_time`.
    pub max_age: Option<String>,
    /// Rampart's own, set by `GET /oauth2/authorize` on a `prompt=login` request (a value the
    /// client sent is replaced): when the request arrived (ms since the epoch). The sign-in
    /// must be made after it, so one made before the client asked does not count. It needs no
    /// seal: only the user's own browser carries it, and `prompt=login` serves the client,
    /// which sees `auth_time` in the ID token.
    pub login_after: Option<String>,
    /// RFC 8707: the resource the token is for. Only this server's MCP endpoint (`{issuer}/mcp`)
    /// is one; anything else is `invalid_target`.
    pub resource: Option<String>,
}

/// The user's answer on the consent screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
}

/// Why an authorization request failed, in the two classes RFC 6749 §4.1.2.1 distinguishes.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Unknown client or unregistered redirect URI: tell the user, never redirect.
    BadClient(&'static str),
    /// The caller's credential is not a Rampart browser session.
    NotASession,
    /// Anything else: redirect back to the client with `error`, `state` and `iss`.
    Redirect { redirect_uri: String, error: &'static str, description: &'static str, state: Option<String> },
}

/// What the sign-in page does next.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeStep {
    /// Send the browser here (the client's redirect URI with a code, or with an error).
    Redirect(String),
    /// The user must sign in (again) first.
    Login { client_id: String, client_name: String },
    /// Ask the user whether the client may have these scopes.
    Consent { client_id: String, client_name: String, scopes: Vec<String> },
}

fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub(crate) fn pkce_value_ok(s: &str) -> bool {
    is_pkce_value(s)
}

/// `prompt`, parsed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated request.
pub struct ValidAuthorize<'a> {
    pub client: &'a OAuthClientConfig,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// Empty when a confidential client sent none.
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    /// See [`AuthorizeParams::login_after`].
    pub login_after: Option<Timestamp>,
}

impl ValidAuthorize<'_> {
    fn fail(&self, error: &'static str, description: &'static str) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description,
            state: self.state.clone(),
        }
    }

    /// Must the user sign in again, given when they last did?
    fn needs_login(&self, auth_time: Timestamp, now: Timestamp) -> bool {
        let age = u64::try_from(now.secs().saturating_sub(auth_time.secs())).unwrap_or(0);
        let stale = match self.login_after {
            // Replicas' clocks may differ a little: a sign-in up to LOGIN_AFTER_SKEW before the
            // stamp (made on another replica) still counts as after it.
            Some(asked) => auth_time.millis() < asked.millis() - LOGIN_AFTER_SKEW_MS,
            None => age > PROMPT_LOGIN_WINDOW.as_secs(),
        };
        (self.prompt.login && stale) || self.max_age.is_some_and(|m| age > m)
    }
}

fn parse_prompt(p: Option<&str>) -> Option<Prompt> {
    let mut out = Prompt::default();
    let mut count = 0;
    for v in p.unwrap_or("").split_whitespace() {
        count += 1;
        match v {
            "none" => out.none = true,
            "login" => out.login = true,
            "consent" => out.consent = true,
            "select_account" => {}
            _ => return None,
        }
    }
    // `none` with any other value is an error (OpenID Connect Core §3.1.2.1).
    (!(out.none && count > 1)).then_some(out)
}

/// The requested scopes we know, in our order; `openid` or `mcp` must be among them.
fn granted_scope(requested: &str) -> Option<String> {
    if requested.len() > 200 || !requested.split_whitespace().any(|s| s == "openid" || s == MCP_SCOPE) {
        return None;
    }
    Some(GRANTABLE.split(' ').filter(|s| requested.split_whitespace().any(|r| r == *s)).collect::<Vec<_>>().join(" "))
}

fn covers(granted: &str, wanted: &str) -> bool {
    wanted.split_whitespace().all(|w| granted.split_whitespace().any(|g| g == w))
}

fn union(a: &str, b: &str) -> String {
    GRANTABLE.split(' ').filter(|s| covers(a, s) || covers(b, s)).collect::<Vec<_>>().join(" ")
}

impl Identity {
    /// The MCP endpoint's resource identifier (RFC 8707, RFC 9728): `{issuer}/mcp`.
    pub fn mcp_resource(&self) -> String {
        format!("{}{MCP_PATH}", self.config().issuer.trim_end_matches('/'))
    }

    /// Whether `resource` (an RFC 8707 `resource` parameter) names the MCP endpoint.
    pub fn is_mcp_resource(&self, resource: &str) -> bool {
        resource.trim_end_matches('/') == self.mcp_resource()
    }

    /// The registered client `client_id`, if there is one.
    pub fn oauth_client(&self, client_id: &str) -> Option<&OAuthClientConfig> {
        self.config().oauth_clients.iter().find(|c| c.client_id == client_id)
    }

    /// Validates an authorization request without acting on it.
    pub fn validate_authorize<'a>(
        &'a self,
        p: &AuthorizeParams,
    ) -> std::result::Result<ValidAuthorize<'a>, AuthorizeError> {
        let client_id = p.client_id.as_deref().ok_or(AuthorizeError::BadClient("client_id is required"))?;
        let client = self.oauth_client(client_id).ok_or(AuthorizeError::BadClient("unknown client_id"))?;
        let redirect_uri = p.redirect_uri.as_deref().ok_or(AuthorizeError::BadClient("redirect_uri is required"))?;
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err(AuthorizeError::BadClient("redirect_uri is not registered for this client"));
        }
        let mut v = ValidAuthorize {
            client,
            redirect_uri: redirect_uri.to_owned(),
            scope: String::new(),
            state: p.state.clone().filter(|s| s.len() <= 512),
            nonce: p.nonce.clone(),
            code_challenge: String::new(),
            prompt: Prompt::default(),
            max_age: None,
            login_after: p.login_after.as_deref().and_then(|t| t.parse().ok()).map(Timestamp::from_millis),
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(v.fail("unsupported_response_type", "only response_type=code is supported"));
        }
        v.code_challenge = match (p.code_challenge.as_deref(), p.code_challenge_method.as_deref()) {
            (None, None) if client.is_confidential() => String::new(),
            (Some(c), Some("S256")) if is_pkce_value(c) => c.to_owned(),
            (_, Some("S256")) => return Err(v.fail("invalid_request", "code_challenge is missing or malformed")),
            _ => return Err(v.fail("invalid_request", "PKCE with code_challenge_method=S256 is required")),
        };
        v.scope = granted_scope(p.scope.as_deref().unwrap_or("openid"))
            .ok_or_else(|| v.fail("invalid_scope", "scope must include openid or mcp"))?;
        if !client.mcp && covers(&v.scope, MCP_SCOPE) {
            return Err(v.fail("invalid_scope", "this client may not ask for the mcp scope"));
        }
        if p.resource.as_deref().is_some_and(|r| !self.is_mcp_resource(r)) {
            return Err(v.fail("invalid_target", "resource must be this server's MCP endpoint"));
        }
        if v.nonce.as_ref().is_some_and(|n| n.len() > 256) {
            return Err(v.fail("invalid_request", "nonce is too long"));
        }
        v.prompt = parse_prompt(p.prompt.as_deref()).ok_or_else(|| {
            v.fail("invalid_request", "prompt must be none, or any of login, consent, select_account")
        })?;
        v.max_age = match p.max_age.as_deref().map(str::parse::<u64>) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(_)) => return Err(v.fail("invalid_request", "max_age must be a number of seconds")),
        };
        Ok(v)
    }

    /// Decides the next step of an authorization request for `user` (`None`: not signed in),
    /// given the consent screen's answer if there was one; issues the code when nothing else is
    /// needed.
    pub async fn authorize(
        &self,
        user: Option<&Principal>,
        p: &AuthorizeParams,
        decision: Option<Decision>,
        meta: &RequestMeta,
    ) -> std::result::Result<AuthorizeStep, AuthorizeError> {
        let v = self.validate_authorize(p)?;
        let (client_id, client_name) = (v.client.client_id.clone(), v.client.display_name().to_owned());
        if decision == Some(Decision::Deny) {
            return Err(v.fail("access_denied", "the user did not allow it"));
        }
        let Some(user) = user else {
            if v.prompt.none {
                return Err(v.fail("login_required", "the user is not signed in"));
            }
            return Ok(AuthorizeStep::Login { client_id, client_name });
        };
        let AuthMethod::Session { family } = &user.auth_method else { return Err(AuthorizeError::NotASession) };
        let internal = |e: &dyn std::fmt::Display| {
            tracing::error!(error = %e, "authorization: storage failed");
            v.fail("server_error", "try again")
        };
        let fam = self.db().family(*family).await.map_err(|e| internal(&e))?;
        let auth_time = fam.map_or(Timestamp::from_millis(0), |f| f.created_at);
        if v.needs_login(auth_time, self.now()) {
            if v.prompt.none {
                return Err(v.fail("login_required", "the user must sign in again"));
            }
            return Ok(AuthorizeStep::Login { client_id, client_name });
        }
        let granted = self.db().oauth_consent(user.user_id, &client_id).await.map_err(|e| internal(&e))?;
        let known = granted.as_deref().is_some_and(|g| covers(g, &v.scope));
        if decision == Some(Decision::Approve) {
            let scope = union(granted.as_deref().unwrap_or(""), &v.scope);
            self.db()
                .save_oauth_consent(user.user_id, &client_id, &scope, self.now())
                .await
                .map_err(|e| internal(&e))?;
            let who = Some((user.user_id, user.email.as_str()));
            self.audit(meta, who, "oauth.consent", Some(client_id.clone()), AuditOutcome::Success, Some(&scope)).await;
        } else if v.prompt.none && !known {
            return Err(v.fail("consent_required", "the user has not allowed this application"));
        } else if v.prompt.consent || !known {
            let scopes = v.scope.split(' ').map(str::to_owned).collect();
            return Ok(AuthorizeStep::Consent { client_id, client_name, scopes });
        }
        self.issue_code(user, &v, auth_time, meta).await.map(AuthorizeStep::Redirect)
    }

    /// Stores a single-use code; returns the client's redirect URI with `code`, `state`, `iss`.
    async fn issue_code(
        &self,
        user: &Principal,
        v: &ValidAuthorize<'_>,
        auth_time: Timestamp,
        meta: &RequestMeta,
    ) -> std::result::Result<String, AuthorizeError> {
        let code = opaque_token();
        let now = self.now();
        let new = NewOAuthCode {
            code_hash: &sha256_hex(code.as_bytes()),
            client_id: &v.client.client_id,
            user_id: user.user_id,
            redirect_uri: &v.redirect_uri,
            code_challenge: &v.code_challenge,
            scope: &v.scope,
            nonce: v.nonce.as_deref(),
            expires_at: now.plus(CODE_TTL),
            auth_time,
        };
        if let Err(e) = self.db().create_oauth_code(&new, now).await {
            tracing::error!(error = %e, "could not store an authorization code");
            return Err(v.fail("server_error", "try again"));
        }
        let target = Some(v.client.client_id.clone());
        self.audit(meta, Some((user.user_id, &user.email)), "oauth.authorize", target, AuditOutcome::Success, None)
            .await;
        let mut url =
            url::Url::parse(&v.redirect_uri).map_err(|_| AuthorizeError::BadClient("redirect_uri is not a URL"))?;
        url.query_pairs_mut().append_pair("code", &code);
        if let Some(s) = &v.state {
            url.query_pairs_mut().append_pair("state", s);
        }
        url.query_pairs_mut().append_pair("iss", &self.config().issuer);
        Ok(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_values() {
        assert!(parse_prompt(None).is_some_and(|p| !p.none && !p.login));
        assert!(parse_prompt(Some("login consent")).is_some_and(|p| p.login && p.consent));
        assert!(parse_prompt(Some("none login")).is_none());
        assert!(parse_prompt(Some("bogus")).is_none());
    }

    #[test]
    fn scopes_are_known_ones_in_order() {
        assert_eq!(granted_scope("profile openid offline_access").as_deref(), Some("openid profile"));
        assert_eq!(granted_scope("email"), None);
        assert_eq!(granted_scope("mcp offline_access").as_deref(), Some("mcp"));
        assert_eq!(granted_scope("openid mcp email").as_deref(), Some("openid email mcp"));
        assert!(!covers("openid email profile", "mcp"));
        assert!(covers("openid email profile", "openid email"));
        assert!(!covers("openid", "openid email"));
        assert_eq!(union("openid email", "openid profile"), "openid email profile");
    }
}
