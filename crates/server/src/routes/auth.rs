//! `/v1/auth/*`: sign-in, challenges, refresh, logout, sign-up, bootstrap.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Meta};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_core::UserId;
use rampart_core::error::ErrorBody;
use rampart_identity::login::{ChallengeTokens, LoginOutcome};
use rampart_identity::mfa::TotpEnrollment;
use rampart_identity::tokens::TokenSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(challenge))
        .routes(routes!(mfa_setup))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(register))
        .routes(routes!(bootstrap))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The email address.
    pub username: String,
    pub password: String,
}

/// A second step: `TOTP` (enter a code) or `MFA_SETUP` (enrol first).
#[derive(Serialize, ToSchema)]
pub struct ChallengeResponse {
    pub challenge: String,
    /// Opaque, single use, valid for five minutes.
    pub session: String,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(TokenSet),
    Challenge(ChallengeResponse),
}

/// Password sign-in. Answers tokens, or a challenge when MFA applies.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    Ok(axum::Json(match s.identity.login(&r.username, &r.password, &m).await? {
        LoginOutcome::Tokens(t) => LoginResponse::Tokens(t),
        LoginOutcome::Challenge { challenge, session } => {
            LoginResponse::Challenge(ChallengeResponse { challenge: challenge.into(), session })
        }
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    pub session: String,
    /// A TOTP code, or (for `TOTP`) a recovery code.
    pub code: String,
}

/// Completes a challenge. After `MFA_SETUP` the answer includes the recovery codes, once.
#[utoipa::path(post, path = "/v1/auth/challenge", tag = "auth", request_body = ChallengeRequest,
    responses((status = 200, body = ChallengeTokens), (status = 401, body = ErrorBody)))]
async fn challenge(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<ChallengeRequest>,
) -> ApiResult<axum::Json<ChallengeTokens>> {
    Ok(axum::Json(s.identity.respond_to_challenge(&r.session, &r.code, &m).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub session: String,
}

/// During an `MFA_SETUP` challenge: get the TOTP secret to enrol.
#[utoipa::path(post, path = "/v1/auth/mfa/setup", tag = "auth", request_body = SessionRequest,
    responses((status = 200, body = TotpEnrollment), (status = 401, body = ErrorBody)))]
async fn mfa_setup(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<SessionRequest>,
) -> ApiResult<axum::Json<TotpEnrollment>> {
    Ok(axum::Json(s.identity.challenge_mfa_setup(&r.session, &m).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for new tokens; the refresh token rotates. Reusing an old one
/// revokes the whole sign-in.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenSet), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<RefreshRequest>,
) -> ApiResult<axum::Json<TokenSet>> {
    Ok(axum::Json(s.identity.refresh(&r.refresh_token, &m).await?))
}

/// Ends the sign-in the refresh token belongs to; its access tokens stop working too.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
async fn logout(State(s): State<AppState>, Meta(m): Meta, Json(r): Json<RefreshRequest>) -> ApiResult<StatusCode> {
    s.identity.logout(&r.refresh_token, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
}

/// Self sign-up (when enabled). The answer does not say whether the email already had an account.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn register(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    s.identity.register(&r.email, &r.password, r.display_name.as_deref(), &m).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Accepted { status: "accepted" })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BootstrapRequest {
    /// The one-time code printed at first start (also in `{data_dir}/bootstrap-code`).
    pub code: String,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapResponse {
    pub user_id: UserId,
    pub email: String,
}

/// Exchanges the bootstrap code for the first administrator account.
#[utoipa::path(post, path = "/v1/auth/bootstrap", tag = "auth", request_body = BootstrapRequest,
    responses((status = 201, body = BootstrapResponse), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn bootstrap(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<BootstrapRequest>,
) -> ApiResult<(StatusCode, axum::Json<BootstrapResponse>)> {
    let u = s
        .identity
        .bootstrap(&r.code, &r.email, &r.password, r.display_name.as_deref(), &m)
        .await
        .map_err(ApiError::from)?;
    let code_file = s.config.server.data_dir.join(crate::serve::BOOTSTRAP_FILE);
    if let Err(e) = std::fs::remove_file(&code_file)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, "could not remove the bootstrap code file");
    }
    Ok((StatusCode::CREATED, axum::Json(BootstrapResponse { user_id: u.id, email: u.email })))
}
