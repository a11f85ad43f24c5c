//! `/v1/admin/*`: users, groups, everyone's API keys, the audit log. `AdminUser` on every handler.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminUser, Json, Meta, Path, Query};
use crate::routes::views::{PageView, UserView};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_core::error::ErrorBody;
use rampart_core::{ApiKeyId, AuditId, ErrorCode, PageRequest, Timestamp, UserId};
use rampart_identity::apikeys::ApiKeyView;
use rampart_storage::repo::audit::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, delete_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(set_groups))
        .routes(routes!(reset_mfa))
        .routes(routes!(unlock_user))
        .routes(routes!(temporary_password))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(delete_group))
        .routes(routes!(list_keys))
        .routes(routes!(revoke_key))
        .routes(routes!(list_audit))
        .routes(routes!(status))
        .routes(routes!(export_audit))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Case-insensitive search in email and display name.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Users, paginated and searchable.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", params(UserQuery),
    responses((status = 200, body = PageView<UserView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_users(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Query(q): Query<UserQuery>,
) -> ApiResult<axum::Json<PageView<UserView>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    page.validate().map_err(ApiError::code)?;
    let p = s.identity.list_users(q.q.as_deref().filter(|s| !s.is_empty()), &page).await?;
    Ok(axum::Json(PageView::from_page(p, UserView::from)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateUser {
    pub email: String,
    /// If absent, a temporary password is generated and returned once.
    pub password: Option<String>,
    pub groups: Option<Vec<String>>,
    pub display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUserView {
    #[serde(flatten)]
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporary_password: Option<String>,
}

/// Creates a user.
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, body = CreatedUserView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_user(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Json(r): Json<CreateUser>,
) -> ApiResult<(StatusCode, axum::Json<CreatedUserView>)> {
    let c = s
        .identity
        .create_user(
            Some(&a),
            &r.email,
            r.password.as_deref(),
            r.groups.as_deref().unwrap_or(&[]),
            r.display_name.as_deref(),
            &m,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedUserView { user: c.user.into(), temporary_password: c.temporary_password }),
    ))
}

/// One user.
#[utoipa::path(get, path = "/v1/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_user(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<axum::Json<UserView>> {
    Ok(axum::Json(s.identity.get_user(id).await?.into()))
}

/// Deletes a user (not yourself, not the last administrator).
#[utoipa::path(delete, path = "/v1/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_user(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    s.identity.delete_user(&a, id, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user and ends their sign-ins (not yourself, not the last administrator).
#[utoipa::path(post, path = "/v1/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn disable_user(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<axum::Json<UserView>> {
    Ok(axum::Json(s.identity.set_user_enabled(&a, id, false, &m).await?.into()))
}

/// Re-enables a user.
#[utoipa::path(post, path = "/v1/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn enable_user(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<axum::Json<UserView>> {
    Ok(axum::Json(s.identity.set_user_enabled(&a, id, true, &m).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGroups {
    pub groups: Vec<String>,
}

/// Replaces a user's groups (the last administrator cannot be demoted).
#[utoipa::path(put, path = "/v1/admin/users/{id}/groups", tag = "admin", params(("id" = String, Path)), request_body = SetGroups,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn set_groups(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
    Json(r): Json<SetGroups>,
) -> ApiResult<axum::Json<UserView>> {
    if r.groups.len() > 100 {
        return Err(ApiError::new(rampart_core::ErrorCode::InvalidRequest, "at most 100 groups"));
    }
    Ok(axum::Json(s.identity.set_user_groups(&a, id, &r.groups, &m).await?.into()))
}

/// Removes a user's MFA and ends their sign-ins.
#[utoipa::path(post, path = "/v1/admin/users/{id}/mfa/reset", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn reset_mfa(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    s.identity.admin_reset_mfa(&a, id, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts the sign-in lockout of a user (every client address).
#[utoipa::path(post, path = "/v1/admin/users/{id}/unlock", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn unlock_user(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    s.identity.unlock_account(&a, id, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub name: String,
    pub description: String,
    pub members: i64,
    pub created_at: Timestamp,
}

/// Groups.
#[utoipa::path(get, path = "/v1/admin/groups", tag = "admin", params(PageRequest),
    responses((status = 200, body = PageView<GroupView>)), security(("bearer" = [])))]
async fn list_groups(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<GroupView>>> {
    page.validate().map_err(ApiError::code)?;
    let p = s.identity.list_groups(&page).await?;
    Ok(axum::Json(PageView::from_page(p, |g| GroupView {
        name: g.name,
        description: g.description,
        members: g.members,
        created_at: g.created_at,
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    pub description: Option<String>,
}

/// Creates a group.
#[utoipa::path(post, path = "/v1/admin/groups", tag = "admin", request_body = CreateGroup,
    responses((status = 201, body = GroupView), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_group(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Json(r): Json<CreateGroup>,
) -> ApiResult<(StatusCode, axum::Json<GroupView>)> {
    let g = s.identity.create_group(&a, &r.name, r.description.as_deref().unwrap_or(""), &m).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(GroupView {
            name: g.name,
            description: g.description,
            members: g.members,
            created_at: g.created_at,
        }),
    ))
}

/// Deletes a group (not `admin`).
#[utoipa::path(delete, path = "/v1/admin/groups/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_group(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.identity.delete_group(&a, &name, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everyone's API keys.
#[utoipa::path(get, path = "/v1/admin/api-keys", tag = "admin", params(PageRequest),
    responses((status = 200, body = PageView<ApiKeyView>)), security(("bearer" = [])))]
async fn list_keys(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<ApiKeyView>>> {
    page.validate().map_err(ApiError::code)?;
    let p = s.identity.list_api_keys(None, &page).await?;
    Ok(axum::Json(PageView { items: p.items, next_cursor: p.next_cursor }))
}

/// Revokes anyone's API key.
#[utoipa::path(delete, path = "/v1/admin/api-keys/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_key(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<ApiKeyId>,
) -> ApiResult<StatusCode> {
    s.identity.revoke_api_key(&a, None, id, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `auth.login`, `apikey.create`, `admin.user_disable`.
    pub action: Option<String>,
    pub actor_id: Option<UserId>,
    #[param(value_type = Option<rampart_core::AuditOutcome>)]
    pub outcome: Option<String>,
    /// Exact target (a user id, an email, `model:<id>`…).
    pub target: Option<String>,
    /// Records at or after this instant (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Records before this instant (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    pub id: AuditId,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: rampart_core::AuditOutcome,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
    /// Position in the hash chain.
    pub seq: Option<i64>,
    /// The previous record's hash (64 zeros before the first record).
    pub prev_hash: Option<String>,
    /// SHA-256 of `prevHash` and this record (see `rampart audit verify`).
    pub hash: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            id: r.id,
            at: r.at,
            actor_id: r.entry.actor_id,
            actor: r.entry.actor,
            action: r.entry.action,
            target: r.entry.target,
            outcome: r.entry.outcome,
            client_ip: r.entry.client_ip,
            request_id: r.entry.request_id,
            detail: r.entry.detail,
            seq: r.seq,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

fn range(from: Option<&str>, to: Option<&str>) -> ApiResult<(Option<Timestamp>, Option<Timestamp>)> {
    let at = |name, v: Option<&str>| v.filter(|v| !v.is_empty()).map(|v| super::parse_time(name, v)).transpose();
    let (f, t) = (at("from", from)?, at("to", to)?);
    if let (Some(f), Some(t)) = (f, t)
        && f > t
    {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "from must not be after to".to_owned()));
    }
    Ok((f, t))
}

/// The audit log, newest first, filtered by action, actor, outcome, target and time range.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = PageView<AuditView>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn list_audit(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<PageView<AuditView>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    page.validate().map_err(ApiError::code)?;
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let f = AuditFilter {
        action: nonempty(q.action),
        actor_id: q.actor_id,
        outcome: match nonempty(q.outcome) {
            Some(o) => Some(rampart_core::AuditOutcome::parse(&o).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "outcome must be success, failure, denied, locked or challenge",
                )
            })?),
            None => None,
        },
        target: nonempty(q.target),
        from,
        to,
    };
    let p = s.db.list_audit(&f, &page).await.map_err(rampart_identity::IdentityError::from)?;
    Ok(axum::Json(PageView::from_page(p, AuditView::from)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    /// Records at or after this instant (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Records before this instant (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub to: Option<String>,
}

/// Exports the audit log in chain order as JSON lines (one `AuditView` per line), streamed.
/// Every record carries `seq`, `prevHash` and `hash`, so an export can be checked offline.
/// The export itself is audited.
#[utoipa::path(get, path = "/v1/admin/audit/export", tag = "admin", params(AuditExportQuery),
    responses((status = 200, content_type = "application/x-ndjson", body = AuditView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_audit(
    State(s): State<AppState>,
    AdminUser(a): AdminUser,
    Meta(m): Meta,
    Query(q): Query<AuditExportQuery>,
) -> ApiResult<axum::response::Response> {
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    super::audit(&s, &m, &a, "admin.audit_export", "audit_log").await;
    const BATCH: u32 = 500;
    let db = s.db.clone();
    let body = futures::stream::try_unfold(Some(i64::MIN), move |after| {
        let db = db.clone();
        async move {
            let Some(after) = after else { return Ok(None) };
            let rows = db.audit_chain_slice(after, from, to, BATCH).await.map_err(std::io::Error::other)?;
            let next = (rows.len() == BATCH as usize).then(|| rows.last().and_then(|r| r.seq)).flatten();
            let mut out = Vec::with_capacity(rows.len() * 300);
            for r in rows {
                serde_json::to_writer(&mut out, &AuditView::from(r)).map_err(std::io::Error::other)?;
                out.push(b'\n');
            }
            Ok::<_, std::io::Error>(Some((axum::body::Bytes::from(out), next)))
        }
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/x-ndjson")
        .header(axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"rampart-audit.jsonl\"")
        .body(axum::body::Body::from_stream(body))
        .map_err(|_| ApiError::code(ErrorCode::Internal))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepth {
    /// `ingestion` or `jobs`.
    pub queue: String,
    pub status: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// A round trip to the database, in milliseconds.
    pub database_latency_ms: f64,
    pub users: i64,
    pub queues: Vec<QueueDepth>,
    /// Open realtime connections on this replica.
    pub websocket_connections: usize,
    pub requests_in_flight: usize,
    /// Whether a NATS bus connects the replicas.
    pub bus: bool,
    pub tls: bool,
    pub waf_mode: String,
    pub storage: StorageView,
    pub retrieval: RetrievalView,
}

/// How knowledge bases are searched: which embedding model new ones get, and the in-process one.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrievalView {
    /// The embedding model of knowledge bases created without naming one; absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_embedding_model: Option<String>,
    /// `hybrid` (BM25 and vectors fused) when new knowledge bases get an embedding model, else
    /// `lexical` (BM25 only).
    pub default_mode: String,
    /// The in-process embedding model, all-MiniLM-L6-v2.
    pub local_embedder: crate::ports::LocalEmbedderState,
    /// Whether it has been loaded (it is, from its first use on).
    pub local_embedder_loaded: bool,
    /// Where its weights are looked for (`knowledge.local_model_dir`).
    pub local_model_dir: String,
}

/// Where the data is and how much room is left.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageView {
    /// The database's size on disk (SQLite file pages; PostgreSQL `pg_database_size`).
    pub database_bytes: i64,
    /// Knowledge-base documents, and their bytes as uploaded.
    pub documents: i64,
    pub document_bytes: i64,
    /// Everything under the data directory (the SQLite file, search indexes, keys).
    pub data_dir_bytes: u64,
    /// The file system holding the data directory.
    pub disk_total_bytes: u64,
    pub disk_available_bytes: u64,
}

/// The bytes of every file under `dir` (symbolic links not followed).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// The status page: version, database, queues, this replica's load.
#[utoipa::path(get, path = "/v1/admin/status", tag = "admin",
    responses((status = 200, body = StatusView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn status(State(s): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<axum::Json<StatusView>> {
    let err = rampart_identity::IdentityError::from;
    let t = std::time::Instant::now();
    s.db.ping().await.map_err(err)?;
    let database_latency_ms = (t.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let queues =
        s.db.queue_depths()
            .await
            .map_err(err)?
            .into_iter()
            .map(|(q, st, n)| QueueDepth { queue: q.into(), status: st, count: n })
            .collect();
    let (documents, document_bytes) = s.db.document_totals().await.map_err(err)?;
    let dir = s.config.server.data_dir.clone();
    let (data_dir_bytes, disk) = tokio::task::spawn_blocking(move || (dir_bytes(&dir), fs4::statvfs(&dir).ok()))
        .await
        .map_err(|_| ApiError::code(ErrorCode::Internal))?;
    let storage = StorageView {
        database_bytes: s.db.database_bytes().await.map_err(err)?,
        documents,
        document_bytes,
        data_dir_bytes,
        disk_total_bytes: disk.as_ref().map_or(0, fs4::FsStats::total_space),
        disk_available_bytes: disk.as_ref().map_or(0, fs4::FsStats::available_space),
    };
    Ok(axum::Json(StatusView {
        version: env!("CARGO_PKG_VERSION").into(),
        database: s.db.backend().name().into(),
        database_latency_ms,
        users: s.db.count_users().await.map_err(err)?,
        queues,
        websocket_connections: s.realtime_limits.open_connections(),
        requests_in_flight: s.in_flight.load(std::sync::atomic::Ordering::Relaxed),
        bus: s.bus.is_some(),
        tls: s.config.tls.enabled(),
        waf_mode: s.config.edge.waf_mode.as_str().to_owned(),
        storage,
        retrieval: retrieval_view(&s),
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryPassword {
    /// Shown once; the user must replace it at the next sign-in.
    pub temporary_password: String,
}

/// Sets a new temporary password for a user (answered once) and ends their sign-ins; they must
/// choose their own at the next sign-in.
#[utoipa::path(post, path = "/v1/admin/users/{id}/password", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = TemporaryPassword), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn temporary_password(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<UserId>,
) -> ApiResult<axum::Json<TemporaryPassword>> {
    let temporary_password = s.identity.admin_temporary_password(&a, id, &m).await?;
    Ok(axum::Json(TemporaryPassword { temporary_password }))
}

fn retrieval_view(s: &AppState) -> RetrievalView {
    let default_embedding_model = s.knowledge.default_embedding_model().map(str::to_owned);
    let local = &s.local_embedding;
    RetrievalView {
        default_mode: if default_embedding_model.is_some() { "hybrid" } else { "lexical" }.into(),
        default_embedding_model,
        local_embedder: local.state,
        local_embedder_loaded: local.loaded(),
        local_model_dir: local.dir.display().to_string(),
    }
}
