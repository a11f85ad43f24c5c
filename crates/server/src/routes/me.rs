//! `/v1/me…`: the caller's profile, MFA, API keys and sign-ins.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Json, Meta, Path, Query};
use crate::routes::views::PageView;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_core::error::ErrorBody;
use rampart_core::{ApiKeyId, AuthMethod, ErrorCode, PageRequest, Principal, Timestamp, TokenFamilyId, UserId};
use rampart_identity::apikeys::{ApiKeyView, CreatedApiKey};
use rampart_identity::mfa::TotpEnrollment;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(begin_totp))
        .routes(routes!(verify_totp))
        .routes(routes!(disable_mfa))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_all_sessions))
        .routes(routes!(change_password))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    pub sub: UserId,
    pub email: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub mfa_enabled: bool,
    /// `session`, `api_key` or `external`.
    pub auth_method: String,
    pub scopes: Vec<rampart_core::Scope>,
}

fn me_view(p: Principal) -> MeResponse {
    MeResponse {
        sub: p.user_id,
        email: p.email,
        display_name: p.display_name,
        groups: p.groups,
        mfa_enabled: p.mfa_enabled,
        auth_method: p.auth_method.label().into(),
        scopes: p.scopes,
    }
}

/// Who am I.
#[utoipa::path(get, path = "/v1/me", tag = "me", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn me(AuthUser(p): AuthUser) -> axum::Json<MeResponse> {
    axum::Json(me_view(p))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateMe {
    pub display_name: String,
}

/// Changes the caller's display name.
#[utoipa::path(patch, path = "/v1/me", tag = "me", request_body = UpdateMe, responses((status = 200, body = MeResponse), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_me(
    State(s): State<AppState>,
    AuthUser(p): AuthUser,
    Json(r): Json<UpdateMe>,
) -> ApiResult<axum::Json<MeResponse>> {
    require_interactive(&p)?;
    let name = s.identity.update_display_name(p.user_id, &r.display_name).await?;
    Ok(axum::Json(MeResponse { display_name: name, ..me_view(p) }))
}

/// MFA changes: a Rampart session only (external users' MFA belongs to their identity provider).
fn require_session(p: &Principal) -> ApiResult<()> {
    match p.auth_method {
        AuthMethod::Session { .. } => Ok(()),
        AuthMethod::ApiKey { .. }
        | AuthMethod::External { .. }
        | AuthMethod::OAuthClient { .. }
        | AuthMethod::Ticket => Err(ApiError::new(ErrorCode::Forbidden, "This needs a signed-in Rampart session.")),
    }
}

/// Account changes (keys, sign-ins, profile): a person signed in here or through a configured
/// identity provider; never an API key or a token issued to another application.
fn require_interactive(p: &Principal) -> ApiResult<()> {
    match p.auth_method {
        AuthMethod::Session { .. } | AuthMethod::External { .. } => Ok(()),
        AuthMethod::ApiKey { .. } | AuthMethod::OAuthClient { .. } | AuthMethod::Ticket => Err(ApiError::new(
            ErrorCode::Forbidden,
            "This needs a signed-in user, not an API key or another application's token.",
        )),
    }
}

/// Starts TOTP enrolment.
#[utoipa::path(post, path = "/v1/me/mfa/totp", tag = "me", responses((status = 200, body = TotpEnrollment), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn begin_totp(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
) -> ApiResult<axum::Json<TotpEnrollment>> {
    require_session(&p)?;
    Ok(axum::Json(s.identity.me_begin_totp(p.user_id, &m).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// Ten single-use codes. Shown once.
    pub recovery_codes: Vec<String>,
}

/// Confirms enrolment with a first code; answers the recovery codes.
#[utoipa::path(post, path = "/v1/me/mfa/totp/verify", tag = "me", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn verify_totp(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Json(r): Json<CodeRequest>,
) -> ApiResult<axum::Json<RecoveryCodes>> {
    require_session(&p)?;
    Ok(axum::Json(RecoveryCodes { recovery_codes: s.identity.me_verify_totp(p.user_id, &r.code, &m).await? }))
}

/// Turns MFA off with a current code or a recovery code (not while MFA is required).
#[utoipa::path(delete, path = "/v1/me/mfa", tag = "me", request_body = CodeRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn disable_mfa(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Json(r): Json<CodeRequest>,
) -> ApiResult<StatusCode> {
    require_session(&p)?;
    s.identity.me_disable_mfa(p.user_id, &r.code, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateKey {
    pub name: String,
    /// Default: every scope but `admin`.
    pub scopes: Option<Vec<String>>,
    pub expires_in_days: Option<u32>,
}

/// Creates an API key. The key is in this answer only.
#[utoipa::path(post, path = "/v1/me/api-keys", tag = "me", request_body = CreateKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn create_key(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Json(r): Json<CreateKey>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    require_interactive(&p)?;
    let k = s.identity.create_api_key(&p, &r.name, r.scopes.as_deref(), r.expires_in_days, &m).await?;
    Ok((StatusCode::CREATED, axum::Json(k)))
}

/// The caller's API keys, newest first.
#[utoipa::path(get, path = "/v1/me/api-keys", tag = "me", params(PageRequest),
    responses((status = 200, body = PageView<ApiKeyView>)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_keys(
    State(s): State<AppState>,
    AuthUser(p): AuthUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<ApiKeyView>>> {
    page.validate().map_err(ApiError::code)?;
    let pg = s.identity.list_api_keys(Some(p.user_id), &page).await?;
    Ok(axum::Json(PageView { items: pg.items, next_cursor: pg.next_cursor }))
}

/// Revokes one of the caller's keys. Another user's key id is answered 404.
#[utoipa::path(delete, path = "/v1/me/api-keys/{id}", tag = "me", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn revoke_key(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Path(id): Path<ApiKeyId>,
) -> ApiResult<StatusCode> {
    require_interactive(&p)?;
    s.identity.revoke_api_key(&p, Some(p.user_id), id, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: TokenFamilyId,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// True for the sign-in making this request.
    pub current: bool,
}

/// The caller's active sign-ins.
#[utoipa::path(get, path = "/v1/me/sessions", tag = "me", params(PageRequest),
    responses((status = 200, body = PageView<SessionView>)), security(("bearer" = [])))]
async fn list_sessions(
    State(s): State<AppState>,
    AuthUser(p): AuthUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<SessionView>>> {
    require_interactive(&p)?;
    page.validate().map_err(ApiError::code)?;
    let current = match p.auth_method {
        AuthMethod::Session { family } => Some(family),
        _ => None,
    };
    let pg =
        s.db.list_families(p.user_id, s.identity.now(), &page).await.map_err(rampart_identity::IdentityError::from)?;
    Ok(axum::Json(PageView::from_page(pg, |f| SessionView {
        current: Some(f.id) == current,
        id: f.id,
        created_at: f.created_at,
        last_used_at: f.last_used_at,
        expires_at: f.expires_at,
        client_ip: f.client_ip,
        user_agent: f.user_agent,
    })))
}

/// Ends one of the caller's sign-ins.
#[utoipa::path(delete, path = "/v1/me/sessions/{id}", tag = "me", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_session(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Path(id): Path<TokenFamilyId>,
) -> ApiResult<StatusCode> {
    require_interactive(&p)?;
    s.identity.revoke_sessions(p.user_id, Some(id), &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs out everywhere: every sign-in of the caller ends.
#[utoipa::path(post, path = "/v1/me/sessions/revoke-all", tag = "me", responses((status = 204)), security(("bearer" = [])))]
async fn revoke_all_sessions(State(s): State<AppState>, Meta(m): Meta, AuthUser(p): AuthUser) -> ApiResult<StatusCode> {
    require_interactive(&p)?;
    s.identity.revoke_sessions(p.user_id, None, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's password: the current one (throttled like sign-in), then the new one
/// (the policy applies). This sign-in stays; every other one ends.
#[utoipa::path(post, path = "/v1/me/password", tag = "me", request_body = ChangePassword,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
async fn change_password(
    State(s): State<AppState>,
    Meta(m): Meta,
    AuthUser(p): AuthUser,
    Json(r): Json<ChangePassword>,
) -> ApiResult<StatusCode> {
    require_session(&p)?;
    let keep = match p.auth_method {
        AuthMethod::Session { family } => Some(family),
        _ => None,
    };
    s.identity.change_password(&p, keep, &r.current_password, &r.new_password, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}
