//! OpenID Provider metadata, JWKS, and the OAuth 2.0 token / userinfo / revocation endpoints.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Json, Meta, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::ErrorCode;
use rampart_core::error::ErrorBody;
use rampart_core::error::PublicError as _;
use rampart_identity::oauth::{AuthorizeError, AuthorizeParams};
use rampart_identity::tokens::TokenSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(jwks))
        .routes(routes!(authorize_start, authorize_grant))
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
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
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
    /// `authorization_code` (with PKCE) or `refresh_token`.
    pub grant_type: String,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
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

/// OAuth 2.0 token endpoint (`authorization_code` with PKCE, `refresh_token`), form-encoded.
#[utoipa::path(post, path = "/oauth2/token", tag = "oidc", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = OAuthTokens), (status = 400, body = OAuthError)))]
async fn token(
    State(s): State<AppState>,
    Meta(m): Meta,
    form: Result<axum::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else { return oauth_error(StatusCode::BAD_REQUEST, "invalid_request") };
    let cfg = s.identity.config();
    let known_client = |c: &str| c == cfg.client_id || cfg.oauth_clients.iter().any(|o| o.client_id == c);
    if f.client_id.as_deref().is_some_and(|c| !known_client(c)) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if f.grant_type == "authorization_code" {
        let (Some(code), Some(redirect_uri), Some(client_id), Some(verifier)) =
            (f.code, f.redirect_uri, f.client_id, f.code_verifier)
        else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        return match s.identity.exchange_code(&code, &redirect_uri, &client_id, &verifier, &m).await {
            Ok(t) => {
                ([(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(OAuthTokens::from(t))).into_response()
            }
            Err(e) if e.code() == ErrorCode::Internal => ApiError::from(e).into_response(),
            Err(_) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
        };
    }
    match (f.grant_type.as_str(), f.refresh_token) {
        ("refresh_token", Some(rt)) => match s.identity.refresh_for(&rt, f.client_id.as_deref(), &m).await {
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

fn authorize_error_response(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::BadClient(msg) => ApiError::new(ErrorCode::InvalidRequest, msg).into_response(),
        AuthorizeError::Redirect { redirect_uri, error, description, state } => match url::Url::parse(&redirect_uri) {
            Ok(mut u) => {
                u.query_pairs_mut().append_pair("error", error).append_pair("error_description", description);
                if let Some(s) = state {
                    u.query_pairs_mut().append_pair("state", &s);
                }
                Redirect::to(u.as_str()).into_response()
            }
            Err(_) => ApiError::new(ErrorCode::InvalidRequest, "redirect_uri is not a URL").into_response(),
        },
    }
}

/// Starts the authorization code flow (browser). A bad client or redirect URI is answered
/// here; other errors go back to the client. A valid request is sent on to the sign-in page
/// (`/login`, served by the web app), which completes it with `POST /oauth2/authorize`.
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oidc", params(AuthorizeParams),
    responses((status = 302, description = "To the sign-in page, or back to the client with an error"), (status = 400, body = ErrorBody)))]
async fn authorize_start(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    match s.identity.validate_authorize(&p) {
        Ok(_) => Redirect::to(&format!("/login?{}", uri.query().unwrap_or(""))).into_response(),
        Err(e) => authorize_error_response(e),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    /// Where to send the browser: the client's redirect URI with `code` and `state`.
    pub redirect_to: String,
}

/// Completes an authorization request for the signed-in user (session tokens only): issues a
/// single-use code valid for 60 s.
#[utoipa::path(post, path = "/oauth2/authorize", tag = "oidc", request_body = AuthorizeParams,
    responses((status = 200, body = AuthorizeResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn authorize_grant(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Json(req): Json<AuthorizeParams>,
) -> Response {
    if !matches!(p.auth_method, rampart_core::AuthMethod::Session { .. }) {
        return ApiError::new(ErrorCode::Forbidden, "This needs a signed-in Rampart session.").into_response();
    }
    match s.identity.authorize(&p, &req, &m).await {
        Ok(url) => axum::Json(AuthorizeResponse { redirect_to: url }).into_response(),
        Err(AuthorizeError::BadClient(msg)) => ApiError::new(ErrorCode::InvalidRequest, msg).into_response(),
        Err(AuthorizeError::Redirect { error, description, .. }) => {
            ApiError::new(ErrorCode::InvalidRequest, format!("{error}: {description}")).into_response()
        }
    }
}
