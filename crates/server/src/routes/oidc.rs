//! OpenID Provider metadata, JWKS, and the OAuth 2.0 token / userinfo / revocation endpoints
//! (the browser's authorization endpoint is in `oidc_authorize`).

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Meta};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::ErrorCode;
use rampart_core::error::ErrorBody;
use rampart_core::error::PublicError as _;
use rampart_identity::oauth_token::{ClientAuthError, ClientCredentials, UserInfo};
use rampart_identity::tokens::TokenSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    super::oidc_authorize::routes()
        .routes(routes!(discovery))
        .routes(routes!(authorization_server))
        .routes(routes!(jwks))
        .routes(routes!(token))
        .routes(routes!(userinfo))
        .routes(routes!(revoke))
}

/// What this server says of itself as an authorization server: OpenID Connect Discovery's
/// document, which is also RFC 8414's (MCP clients read either).
fn provider_metadata(s: &AppState) -> serde_json::Value {
    let iss = s.config.public_url();
    let alg = s.identity.config().signing_alg.as_str();
    serde_json::json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "profile", "mcp"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "name", "groups"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "response_modes_supported": ["query"],
        "authorization_response_iss_parameter_supported": true,
    })
}

/// OpenID Provider configuration.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc", responses((status = 200, body = Object)))]
async fn discovery(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(provider_metadata(&s)))
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414): the same document, where MCP clients of
/// the `2025-03-26` revision (and other OAuth clients) look first.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oidc", responses((status = 200, body = Object)))]
async fn authorization_server(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(provider_metadata(&s)))
}

/// The public signing keys (current and recently retired).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oidc", responses((status = 200, body = Object)))]
async fn jwks(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(s.identity.jwks()))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenForm {
    /// `authorization_code` (with PKCE) or `refresh_token`.
    pub grant_type: String,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    /// `client_secret_post`; confidential clients may use HTTP Basic instead (not both).
    pub client_secret: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    /// RFC 8707: the resource the token is for; only this server's MCP endpoint is one.
    pub resource: Option<String>,
}

/// OAuth 2.0 error, RFC 6749 §5.2.
#[derive(Serialize, ToSchema)]
pub struct OAuthError {
    pub error: &'static str,
}

pub(super) fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    (status, axum::Json(OAuthError { error })).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct OAuthTokens {
    pub access_token: String,
    /// Absent when `openid` was not granted (a token for the MCP endpoint alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub refresh_token: String,
    pub expires_in: u64,
    pub token_type: String,
}

impl From<TokenSet> for OAuthTokens {
    fn from(t: TokenSet) -> Self {
        OAuthTokens {
            access_token: t.access_token,
            id_token: Some(t.id_token).filter(|t| !t.is_empty()),
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
            token_type: t.token_type,
        }
    }
}

/// The client's credentials: HTTP Basic, or `client_id` + `client_secret` in the form (one
/// method only), or just a `client_id` for a public client.
fn client_credentials(headers: &HeaderMap, f: &TokenForm) -> Result<ClientCredentials, ClientAuthError> {
    let basic = headers.get(header::AUTHORIZATION).map(|v| {
        v.to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, enc)| ClientCredentials::from_basic(enc, f.client_id.clone()))
    });
    match (basic, &f.client_secret, &f.client_id) {
        (Some(_), Some(_), _) => Err(ClientAuthError::InvalidRequest),
        (Some(b), None, _) => b.ok_or(ClientAuthError::InvalidClient { basic: true }),
        (None, Some(secret), Some(id)) => Ok(ClientCredentials::Post { client_id: id.clone(), secret: secret.clone() }),
        (None, Some(_), None) => Err(ClientAuthError::InvalidRequest),
        (None, None, id) => Ok(ClientCredentials::None { client_id: id.clone() }),
    }
}

fn client_auth_error(e: ClientAuthError) -> Response {
    match e {
        ClientAuthError::InvalidRequest => oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
        ClientAuthError::InvalidClient { basic: false } => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
        ClientAuthError::InvalidClient { basic: true } => {
            let mut r = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"rampart\""));
            r
        }
    }
}

fn tokens_response(r: Result<TokenSet, rampart_identity::IdentityError>) -> Response {
    match r {
        Ok(t) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(OAuthTokens::from(t))).into_response(),
        Err(e) if e.code() == ErrorCode::Internal => ApiError::from(e).into_response(),
        Err(_) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
    }
}

/// OAuth 2.0 token endpoint (`authorization_code`, `refresh_token`), form-encoded. Public
/// clients name themselves with `client_id` and use PKCE; confidential clients authenticate
/// with `client_secret_basic` or `client_secret_post`.
#[utoipa::path(post, path = "/oauth2/token", tag = "oidc", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = OAuthTokens), (status = 400, body = OAuthError), (status = 401, body = OAuthError)))]
async fn token(
    State(s): State<AppState>,
    Meta(m): Meta,
    headers: HeaderMap,
    form: Result<axum::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else { return oauth_error(StatusCode::BAD_REQUEST, "invalid_request") };
    if f.resource.as_deref().is_some_and(|r| !s.identity.is_mcp_resource(r)) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_target");
    }
    let client_id = match client_credentials(&headers, &f).and_then(|c| s.identity.authenticate_client(&c)) {
        Ok(c) => c,
        Err(e) => return client_auth_error(e),
    };
    match (f.grant_type.as_str(), client_id) {
        ("authorization_code", Some(client_id)) => {
            let (Some(code), Some(redirect_uri)) = (f.code, f.redirect_uri) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            let verifier = f.code_verifier.as_deref();
            tokens_response(s.identity.exchange_code(&code, &redirect_uri, &client_id, verifier, &m).await)
        }
        ("authorization_code", None) => oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
        ("refresh_token", client_id) => {
            let Some(rt) = f.refresh_token else { return oauth_error(StatusCode::BAD_REQUEST, "invalid_request") };
            tokens_response(s.identity.refresh_for(&rt, client_id.as_deref(), &m).await)
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

/// OpenID Connect UserInfo: `sub`, and `email` / `name` and `groups` as the token's scopes
/// (`email`, `profile`) allow.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oidc", responses((status = 200, body = UserInfo), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn userinfo(State(s): State<AppState>, AuthUser(p): AuthUser) -> ApiResult<axum::Json<UserInfo>> {
    Ok(axum::Json(s.identity.userinfo(&p).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeForm {
    pub token: String,
    pub token_type_hint: Option<String>,
}

/// OAuth 2.0 token revocation (RFC 7009): revokes the sign-in a refresh token belongs to.
/// Always 200, whether or not the token was known.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oidc", request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200), (status = 400, body = OAuthError)))]
async fn revoke(
    State(s): State<AppState>,
    Meta(m): Meta,
    form: Result<axum::Form<RevokeForm>, axum::extract::rejection::FormRejection>,
) -> ApiResult<Response> {
    let Ok(axum::Form(f)) = form else { return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request")) };
    s.identity.logout(&f.token, &m).await?;
    Ok(StatusCode::OK.into_response())
}
