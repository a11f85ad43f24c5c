//! OpenID Provider metadata, JWKS, and the OAuth 2.0 token / userinfo / revocation endpoints.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Meta};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_core::ErrorCode;
use rampart_core::error::ErrorBody;
use rampart_identity::tokens::TokenSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(jwks))
        .routes(routes!(token))
        .routes(routes!(userinfo))
        .routes(routes!(revoke))
}

/// OpenID Provider configuration.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc", responses((status = 200, body = Object)))]
async fn discovery(State(s): State<AppState>) -> impl IntoResponse {
    let iss = s.config.public_url();
    let alg = s.identity.config().signing_alg.as_str();
    let body = serde_json::json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "grant_types_supported": ["refresh_token"],
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "email", "profile"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "name", "groups", "token_use", "client_id", "username"],
    });
    ([(axum::http::header::CACHE_CONTROL, "public, max-age=300")], axum::Json(body))
}

/// The public signing keys (current and recently retired).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oidc", responses((status = 200, body = Object)))]
async fn jwks(State(s): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CACHE_CONTROL, "public, max-age=300")], axum::Json(s.identity.jwks()))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenForm {
    /// Only `refresh_token` (password and code grants go through `/v1/auth/*`).
    pub grant_type: String,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
}

/// OAuth 2.0 error, RFC 6749 §5.2.
#[derive(Serialize, ToSchema)]
pub struct OAuthError {
    pub error: &'static str,
}

fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    (status, axum::Json(OAuthError { error })).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct OAuthTokens {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub token_type: String,
}

impl From<TokenSet> for OAuthTokens {
    fn from(t: TokenSet) -> Self {
        OAuthTokens {
            access_token: t.access_token,
            id_token: t.id_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
            token_type: t.token_type,
        }
    }
}

/// OAuth 2.0 token endpoint (`grant_type=refresh_token`), form-encoded.
#[utoipa::path(post, path = "/oauth2/token", tag = "oidc", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = OAuthTokens), (status = 400, body = OAuthError)))]
async fn token(
    State(s): State<AppState>,
    Meta(m): Meta,
    form: Result<axum::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else { return oauth_error(StatusCode::BAD_REQUEST, "invalid_request") };
    if f.client_id.as_deref().is_some_and(|c| c != s.identity.config().client_id) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    match (f.grant_type.as_str(), f.refresh_token) {
        ("refresh_token", Some(rt)) => match s.identity.refresh(&rt, &m).await {
            Ok(t) => {
                ([(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(OAuthTokens::from(t))).into_response()
            }
            Err(e) if e.code() == ErrorCode::Internal => ApiError::from(e).into_response(),
            Err(_) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
        },
        ("refresh_token", None) => oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub groups: Vec<String>,
}

/// OpenID Connect UserInfo.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oidc", responses((status = 200, body = UserInfo), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn userinfo(AuthUser(p): AuthUser) -> axum::Json<UserInfo> {
    axum::Json(UserInfo { sub: p.user_id.to_string(), email: p.email, name: p.display_name, groups: p.groups })
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
