//! `/v1/auth/*`: sign-in, challenges, refresh, logout, sign-up, bootstrap.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Meta};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_core::error::ErrorBody;
use rampart_core::{ErrorCode, UserId};
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
        .routes(routes!(status))
        .routes(routes!(new_password))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
}

/// The header a browser app sends to keep the refresh token in a cookie instead of the body.
pub const SESSION_MODE_HEADER: &str = "x-rampart-session";
pub const REFRESH_COOKIE: &str = "rampart_refresh";
/// A companion cookie scripts may read (it holds no secret): tells the app that there is a
/// sign-in to restore, so that a fresh visit does not ask for a refresh that must fail.
pub const SIGNED_IN_COOKIE: &str = "rampart_signed_in";

/// True when the request asks for the cookie form (the web app). A custom header cannot be
/// sent cross-site without a CORS preflight, which only configured origins pass: it doubles as
/// the CSRF check for the cookie.
fn cookie_mode(h: &HeaderMap) -> bool {
    h.get(SESSION_MODE_HEADER).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cookie"))
}

fn refresh_cookie(h: &HeaderMap) -> Option<String> {
    h.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
        |kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == REFRESH_COOKIE && !v.is_empty()).then(|| v.to_owned())
        },
    )
}

/// Sets both cookies (a sign-in: `refresh` is its token) or clears them (`None`). The refresh
/// token: HttpOnly, SameSite=Strict, sent to `/v1/auth` only; the readable flag: path `/`.
/// Both Secure when the public URL is https.
fn cookies(s: &AppState, h: &mut HeaderMap, refresh: Option<&str>) {
    let secure = if s.config.public_url().starts_with("https://") { "; Secure" } else { "" };
    let age = refresh.map_or(0, |_| s.config.auth.refresh_token_ttl.0.as_secs());
    let (token, flag) = refresh.map_or(("", ""), |t| (t, "1"));
    for c in [
        format!("{REFRESH_COOKIE}={token}; Path=/v1/auth; HttpOnly; SameSite=Strict; Max-Age={age}{secure}"),
        format!("{SIGNED_IN_COOKIE}={flag}; Path=/; SameSite=Strict; Max-Age={age}{secure}"),
    ] {
        // Tokens are URL-safe text; a value that were not would be left out, not sent broken.
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(SET_COOKIE, v);
        }
    }
}

/// Tokens as the answer: in cookie mode the refresh token goes into the cookie and leaves the
/// body (`refreshToken` is then empty), so scripts never hold it.
fn tokens_response<T: Serialize>(s: &AppState, h: &HeaderMap, body: T, refresh: &str) -> Response {
    let mut v = serde_json::to_value(body).unwrap_or_default();
    let mut resp_headers = HeaderMap::new();
    if cookie_mode(h) {
        v["refreshToken"] = serde_json::Value::String(String::new());
        cookies(s, &mut resp_headers, Some(refresh));
    }
    resp_headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (resp_headers, axum::Json(v)).into_response()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The email address.
    pub username: String,
    pub password: String,
}

/// A second step: `TOTP` (enter a code), `MFA_SETUP` (enrol first) or `NEW_PASSWORD_REQUIRED`
/// (replace a temporary password: `POST /v1/auth/new-password`).
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
    headers: HeaderMap,
    Json(r): Json<LoginRequest>,
) -> ApiResult<Response> {
    let outcome = s.identity.login(&r.username, &r.password, &m).await?;
    Ok(login_response(&s, &headers, outcome))
}

/// Tokens (in cookie mode the refresh token in the cookie), or the next challenge.
fn login_response(s: &AppState, headers: &HeaderMap, outcome: LoginOutcome) -> Response {
    match outcome {
        LoginOutcome::Tokens(t) => {
            let refresh = t.refresh_token.clone();
            tokens_response(s, headers, LoginResponse::Tokens(t), &refresh)
        }
        LoginOutcome::Challenge { challenge, session } => {
            axum::Json(LoginResponse::Challenge(ChallengeResponse { challenge: challenge.into(), session }))
                .into_response()
        }
    }
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
    headers: HeaderMap,
    Json(r): Json<ChallengeRequest>,
) -> ApiResult<Response> {
    let t = s.identity.respond_to_challenge(&r.session, &r.code, &m).await?;
    let refresh = t.tokens.refresh_token.clone();
    Ok(tokens_response(&s, &headers, t, &refresh))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewPasswordRequest {
    /// The `NEW_PASSWORD_REQUIRED` challenge's session.
    pub session: String,
    pub new_password: String,
}

/// Answers a `NEW_PASSWORD_REQUIRED` challenge (a temporary password set by an administrator):
/// the new password replaces it, then sign-in goes on (tokens, or an MFA challenge).
#[utoipa::path(post, path = "/v1/auth/new-password", tag = "auth", request_body = NewPasswordRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn new_password(
    State(s): State<AppState>,
    Meta(m): Meta,
    headers: HeaderMap,
    Json(r): Json<NewPasswordRequest>,
) -> ApiResult<Response> {
    let outcome = s.identity.complete_new_password(&r.session, &r.new_password, &m).await?;
    Ok(login_response(&s, &headers, outcome))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Sends a password reset link to the address if it has an account (when mail is
/// configured). The answer is the same either way.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, body = Accepted), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_reset(
    State(s): State<AppState>,
    Meta(m): Meta,
    Json(r): Json<ResetRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    s.identity.request_password_reset(&r.email, &m).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Accepted { status: "accepted" })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetConfirm {
    /// The token from the link's fragment.
    pub token: String,
    pub new_password: String,
}

/// Sets a new password with a reset link's token (single use, short-lived); every sign-in of
/// the account ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn confirm_reset(State(s): State<AppState>, Meta(m): Meta, Json(r): Json<ResetConfirm>) -> ApiResult<StatusCode> {
    s.identity.confirm_password_reset(&r.token, &r.new_password, &m).await?;
    Ok(StatusCode::NO_CONTENT)
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

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshRequest {
    /// Absent in cookie mode (`X-Rampart-Session: cookie`): the `rampart_refresh` cookie is used.
    pub refresh_token: Option<String>,
}

/// The refresh token of a request: the body's, or in cookie mode the cookie's.
fn refresh_token_of(h: &HeaderMap, r: &RefreshRequest) -> ApiResult<String> {
    if let Some(t) = r.refresh_token.as_ref().filter(|t| !t.is_empty()) {
        return Ok(t.clone());
    }
    if cookie_mode(h)
        && let Some(c) = refresh_cookie(h)
    {
        return Ok(c);
    }
    Err(ApiError::code(ErrorCode::Unauthorized))
}

/// Exchanges a refresh token for new tokens; the refresh token rotates. Reusing an old one
/// revokes the whole sign-in. In cookie mode the token comes from and goes back to the cookie.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenSet), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(s): State<AppState>,
    Meta(m): Meta,
    headers: HeaderMap,
    Json(r): Json<RefreshRequest>,
) -> ApiResult<Response> {
    let token = refresh_token_of(&headers, &r)?;
    match s.identity.refresh(&token, &m).await {
        Ok(t) => {
            let refresh = t.refresh_token.clone();
            Ok(tokens_response(&s, &headers, t, &refresh))
        }
        Err(e) if cookie_mode(&headers) => {
            // The cookie is no good any more: drop it with the refusal.
            let mut resp = ApiError::from(e).into_response();
            cookies(&s, resp.headers_mut(), None);
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// Ends the sign-in the refresh token belongs to; its access tokens stop working too.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
async fn logout(
    State(s): State<AppState>,
    Meta(m): Meta,
    headers: HeaderMap,
    Json(r): Json<RefreshRequest>,
) -> ApiResult<Response> {
    let token = refresh_token_of(&headers, &r)?;
    s.identity.logout(&token, &m).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if cookie_mode(&headers) {
        cookies(&s, resp.headers_mut(), None);
    }
    Ok(resp)
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthStatus {
    /// No account exists yet: the first administrator is made with the bootstrap code.
    pub bootstrap_required: bool,
    pub self_signup: bool,
    /// `off`, `optional` or `required`.
    pub mfa: String,
    /// Mail is configured: "Forgot password?" can send a reset link.
    pub password_reset: bool,
}

/// What a sign-in page needs to know before anyone signs in.
#[utoipa::path(get, path = "/v1/auth/status", tag = "auth", responses((status = 200, body = AuthStatus)))]
async fn status(State(s): State<AppState>) -> ApiResult<axum::Json<AuthStatus>> {
    let users = s.db.count_users().await.map_err(rampart_identity::IdentityError::from)?;
    Ok(axum::Json(AuthStatus {
        bootstrap_required: users == 0,
        self_signup: s.config.auth.self_signup,
        mfa: match s.config.auth.mfa {
            rampart_identity::config::MfaPolicy::Off => "off",
            rampart_identity::config::MfaPolicy::Optional => "optional",
            rampart_identity::config::MfaPolicy::Required => "required",
        }
        .into(),
        password_reset: s.identity.password_reset_enabled(),
    }))
}
