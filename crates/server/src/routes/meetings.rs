//! `/v1/meetings…`: meetings (LMA's calls) — list, search (past meetings' transcripts and
//! summaries, with the passages that matched and their times), read, transcript in four
//! formats, share and unshare by email, delete, the recording (WAV, byte ranges, decrypted on the fly), and the
//! single-use ticket the web app opens the audio socket with. Every route needs the `meetings`
//! scope; reading needs to be the owner, someone it is shared with, or an administrator
//! (checked in the SQL); changing needs to be the owner or an administrator. A meeting the
//! caller may not read is "not found". The path's `{id}` is the meeting's call id, URL-encoded.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, MeetingsUser, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::error::ErrorBody;
use rampart_core::{ErrorCode, PageRequest, Timestamp, UserId};
use rampart_meetings::MeetingError;
use rampart_meetings::segment::{Segment, TranscriptFormat};
use rampart_meetings::views::{MeetingStatus, MeetingView};
use rampart_storage::repo::meetings::MeetingFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(axum::extract::DefaultBodyLimit::max(max_upload))
        .routes(routes!(list_meetings))
        .routes(routes!(search_meetings))
        .routes(routes!(ticket))
        .routes(routes!(get_meeting, delete_meeting))
        .routes(routes!(transcript))
        .routes(routes!(shares))
        .routes(routes!(share))
        .routes(routes!(unshare))
        .routes(routes!(recording))
        .routes(routes!(recording_link))
        .routes(routes!(recording_file))
}

impl From<MeetingError> for ApiError {
    fn from(e: MeetingError) -> Self {
        ApiError::public(&e)
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Meetings started at or after this instant (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Meetings started before this instant.
    pub to: Option<String>,
    #[param(value_type = Option<MeetingStatus>)]
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingList {
    pub items: Vec<MeetingView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Meetings matching the filters in all.
    pub total: i64,
}

fn time(name: &str, v: Option<&str>) -> ApiResult<Option<Timestamp>> {
    v.filter(|s| !s.is_empty()).map(|v| super::parse_time(name, v)).transpose()
}

/// The caller's meetings and those shared with them (administrators: every meeting), newest
/// first.
#[utoipa::path(get, path = "/v1/meetings", tag = "meetings", params(ListQuery),
    responses((status = 200, body = MeetingList), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_meetings(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<MeetingList>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    page.validate().map_err(ApiError::code)?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(st) => Some(
            MeetingStatus::parse(st)
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidRequest, "status must be live, processing, ended or failed")
                })?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let f = MeetingFilter { from: time("from", q.from.as_deref())?, to: time("to", q.to.as_deref())?, status };
    let (pg, total) = s.meetings.list(&p, &f, &page).await?;
    Ok(axum::Json(MeetingList { items: pg.items, next_cursor: pg.next_cursor, total }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for, 1-1,000 characters (words; quoted phrases).
    pub q: Option<String>,
    /// Meetings returned, 1-50 (default 10).
    pub limit: Option<usize>,
    /// Meetings started at or after this instant (RFC 3339 or `YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Meetings started before this instant.
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MeetingSearchResults {
    /// Best first; each meeting with its best passages (best first).
    pub items: Vec<rampart_core::meetings::MeetingHit>,
}

/// Searches the caller's meetings and those shared with them (administrators: every meeting):
/// finished meetings' transcripts and summaries. Each result names the meeting and the passages
/// that matched, with their times from the meeting's start.
#[utoipa::path(get, path = "/v1/meetings/search", tag = "meetings", params(SearchQuery),
    responses((status = 200, body = MeetingSearchResults), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn search_meetings(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<MeetingSearchResults>> {
    let query = rampart_core::meetings::MeetingSearchQuery {
        query: q.q.unwrap_or_default(),
        start: time("from", q.from.as_deref())?,
        end: time("to", q.to.as_deref())?,
        max_results: q.limit.unwrap_or(10),
    };
    Ok(axum::Json(MeetingSearchResults { items: s.meetings.search(&p, &query).await? }))
}

/// One meeting.
#[utoipa::path(get, path = "/v1/meetings/{id}", tag = "meetings", params(("id" = String, Path, description = "The call id")),
    responses((status = 200, body = MeetingView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_meeting(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<MeetingView>> {
    Ok(axum::Json(s.meetings.get(&p, &id).await?))
}

/// Deletes a meeting: its transcript, shares and recording (owner or administrator). A live
/// meeting is ended first.
#[utoipa::path(delete, path = "/v1/meetings/{id}", tag = "meetings", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn delete_meeting(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    meta: crate::extract::Meta,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.meetings.delete(&p, &id).await?;
    super::audit(&s, &meta.0, &p, "meeting.delete", &format!("meeting:{id}")).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TranscriptQuery {
    /// `json` (the default), `text`, `srt` or `vtt`.
    #[param(inline)]
    pub format: Option<TranscriptFormat>,
    /// `json`: the partial segments too (the ones in progress).
    #[serde(default)]
    pub partials: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Transcript {
    pub meeting: MeetingView,
    /// In time order.
    pub segments: Vec<Segment>,
}

/// The transcript, as JSON or as a file (`text`, `srt`, `vtt`).
#[utoipa::path(get, path = "/v1/meetings/{id}/transcript", tag = "meetings", params(("id" = String, Path), TranscriptQuery),
    responses((status = 200, body = Transcript, description = "JSON, or the text / SubRip / WebVTT file"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn transcript(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
    Query(q): Query<TranscriptQuery>,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or(TranscriptFormat::Json);
    let (meeting, segments) = s.meetings.segments(&p, &id, q.partials && format == TranscriptFormat::Json).await?;
    let body = match format {
        TranscriptFormat::Json => return Ok(axum::Json(Transcript { meeting, segments }).into_response()),
        TranscriptFormat::Text => rampart_meetings::segment::to_text(&segments),
        TranscriptFormat::Srt => rampart_meetings::segment::to_srt(&segments),
        TranscriptFormat::Vtt => rampart_meetings::segment::to_vtt(&segments),
    };
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let name = format!("attachment; filename=\"transcript.{}\"", format.extension());
    if let Ok(v) = HeaderValue::from_str(&name) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Users' emails (1-100).
    pub users: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shares {
    pub meeting: MeetingView,
    /// Who it is shared with now.
    pub shared_with: Vec<String>,
    /// Emails of the request that name no user (nothing was shared with them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// The users of these emails; unknown ones are returned separately.
async fn resolve(s: &AppState, emails: &[String]) -> ApiResult<(Vec<UserId>, Vec<String>)> {
    if emails.is_empty() || emails.len() > 100 {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "users must list 1-100 emails"));
    }
    let (mut found, mut unknown) = (Vec::new(), Vec::new());
    for e in emails {
        let norm = rampart_identity::validate::normalize_email(e).map_err(ApiError::from)?;
        match s.db.user_by_email(&norm).await.map_err(rampart_identity::IdentityError::from)? {
            Some(u) => found.push(u.id),
            None => unknown.push(e.clone()),
        }
    }
    Ok((found, unknown))
}

async fn share_list(s: &AppState, p: &rampart_core::Principal, id: &str) -> ApiResult<Vec<String>> {
    let mut out = Vec::new();
    for u in s.meetings.shares(p, id).await? {
        if let Some(rec) = s.db.user_by_id(u).await.map_err(rampart_identity::IdentityError::from)? {
            out.push(rec.email);
        }
    }
    Ok(out)
}

/// Who the meeting is shared with (owner or administrator).
#[utoipa::path(get, path = "/v1/meetings/{id}/shares", tag = "meetings", params(("id" = String, Path)),
    responses((status = 200, body = Shares), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn shares(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Shares>> {
    let shared_with = share_list(&s, &p, &id).await?;
    Ok(axum::Json(Shares { meeting: s.meetings.get(&p, &id).await?, shared_with, unknown: Vec::new() }))
}

/// Shares the meeting with users (owner or administrator): they can read it, its transcript and
/// its recording at once.
#[utoipa::path(post, path = "/v1/meetings/{id}/share", tag = "meetings", params(("id" = String, Path)), request_body = ShareRequest,
    responses((status = 200, body = Shares), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn share(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    meta: crate::extract::Meta,
    Path(id): Path<String>,
    Json(r): Json<ShareRequest>,
) -> ApiResult<axum::Json<Shares>> {
    let (users, unknown) = resolve(&s, &r.users).await?;
    let meeting = s.meetings.share(&p, &id, &users).await?;
    super::audit(&s, &meta.0, &p, "meeting.share", &format!("meeting:{id}")).await;
    Ok(axum::Json(Shares { meeting, shared_with: share_list(&s, &p, &id).await?, unknown }))
}

/// Stops sharing the meeting with users (owner or administrator): they lose access at once.
#[utoipa::path(post, path = "/v1/meetings/{id}/unshare", tag = "meetings", params(("id" = String, Path)), request_body = ShareRequest,
    responses((status = 200, body = Shares), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn unshare(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    meta: crate::extract::Meta,
    Path(id): Path<String>,
    Json(r): Json<ShareRequest>,
) -> ApiResult<axum::Json<Shares>> {
    let (users, unknown) = resolve(&s, &r.users).await?;
    let meeting = s.meetings.unshare(&p, &id, &users).await?;
    super::audit(&s, &meta.0, &p, "meeting.unshare", &format!("meeting:{id}")).await;
    Ok(axum::Json(Shares { meeting, shared_with: share_list(&s, &p, &id).await?, unknown }))
}

/// `Range: bytes=a-b`, `a-`, `-n` (one range), against a file of `len` bytes: `[start, end)`.
/// `Ok(None)` without a header; `Err` for one that cannot be satisfied.
fn byte_range(h: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = h.get(header::RANGE) else { return Ok(None) };
    let v = v.to_str().map_err(|_| ())?.trim();
    let spec = v.strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().map_err(|_| ())?, len),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?);
            if b < a {
                return Err(());
            }
            (a, (b + 1).min(len))
        }
    };
    if start >= len || start >= end { Err(()) } else { Ok(Some((start, end))) }
}

/// The recording as a WAV file; `Range` requests are answered with 206 and decrypt only the
/// chunks they cover.
#[utoipa::path(get, path = "/v1/meetings/{id}/recording", tag = "meetings", params(("id" = String, Path)),
    responses((status = 200, description = "audio/wav", content_type = "audio/wav"), (status = 206, description = "A byte range of it"),
              (status = 404, body = ErrorBody), (status = 416, description = "The range cannot be satisfied")),
    security(("bearer" = []), ("apiKey" = [])))]
async fn recording(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (key, shape) = s.meetings.recording(&p, &id).await?;
    wav_response(&s, key, &shape, &headers).await
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingLink {
    /// `GET` it without credentials (an `<audio>` element's requests, ranges included).
    pub url: String,
    pub expires_in: u64,
}

/// A link to the recording for players that cannot send headers, good for ten minutes; the
/// caller's access is checked again at every request made with it.
#[utoipa::path(post, path = "/v1/meetings/{id}/recording/link", tag = "meetings", params(("id" = String, Path)),
    responses((status = 200, body = RecordingLink), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn recording_link(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RecordingLink>> {
    s.meetings.recording(&p, &id).await?;
    let ttl = std::time::Duration::from_secs(600);
    let token = s.meetings.recording_link(&p, &id, ttl).await?;
    let url = format!("/v1/meetings/{}/recording/file?token={token}", rampart_meetings::service::urlencoding(&id));
    Ok(axum::Json(RecordingLink { url, expires_in: ttl.as_secs() }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    pub token: String,
}

/// The recording through a link from `POST …/recording/link` (no credentials).
#[utoipa::path(get, path = "/v1/meetings/{id}/recording/file", tag = "meetings", params(("id" = String, Path), LinkQuery),
    responses((status = 200, description = "audio/wav", content_type = "audio/wav"), (status = 206, description = "A byte range of it"),
              (status = 404, body = ErrorBody)))]
async fn recording_file(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (key, shape) = s.meetings.recording_by_link(&id, &q.token).await?;
    wav_response(&s, key, &shape, &headers).await
}

/// The WAV file, or the byte range asked for.
async fn wav_response(
    s: &AppState,
    key: rampart_core::MeetingKey,
    shape: &rampart_meetings::recording::RecordingShape,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let len = shape.wav_len();
    let (status, start, end) = match byte_range(headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Err(()) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let body = s.meetings.recording_range(key, shape, start, end).await?;
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(r)
}

/// A file part, or 413 / 400.
async fn field_bytes(field: axum::extract::multipart::Field<'_>) -> ApiResult<Vec<u8>> {
    match field.bytes().await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::code(ErrorCode::PayloadTooLarge)),
        Err(_) => Err(ApiError::new(ErrorCode::InvalidRequest, "A part could not be read.")),
    }
}

/// Transcribes an audio file (multipart: `file`, and optionally `title`) through the same
/// pipeline as a live meeting, in batch. Answers at once with the meeting (`processing`); it
/// streams its segments on its channel like a live one and ends `ended` (or `failed`).
#[utoipa::path(post, path = "/v1/meetings/upload", tag = "meetings",
    request_body(content_type = "multipart/form-data", description = "a part `file` (WAV, MP3, FLAC, OGG Vorbis, M4A/AAC) and optionally `title`"),
    responses((status = 202, body = MeetingView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn upload(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    mut form: axum::extract::Multipart,
) -> ApiResult<(StatusCode, axum::Json<MeetingView>)> {
    let bad = |m: &str| ApiError::new(ErrorCode::InvalidRequest, m);
    let (mut file, mut title) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::code(ErrorCode::PayloadTooLarge));
            }
            Err(_) => return Err(bad("The body is not valid multipart/form-data.")),
        };
        match field.name() {
            Some("file") if file.is_none() => file = Some(field_bytes(field).await?),
            Some("title") if title.is_none() => {
                let t = String::from_utf8(field_bytes(field).await?).map_err(|_| bad("title must be text"))?;
                title = Some(t);
            }
            _ => return Err(bad("Send one part named \"file\" and, optionally, one named \"title\".")),
        }
    }
    let file = file.ok_or_else(|| bad("Send the audio in a part named \"file\"."))?;
    let m = s.meetings.upload(&p, title, file).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(m)))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Put it in the audio socket's URL: `/api/v1/ws?ticket=…`. Good once, for `expiresIn`
    /// seconds.
    pub ticket: String,
    pub expires_in: u64,
}

/// A single-use ticket for the audio socket (browsers cannot send an `Authorization` header on
/// a WebSocket; a ticket keeps the access token out of URLs).
#[utoipa::path(post, path = "/v1/meetings/ticket", tag = "meetings",
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn ticket(State(s): State<AppState>, MeetingsUser(p): MeetingsUser) -> ApiResult<axum::Json<Ticket>> {
    let ttl = s.config.meetings.ticket_ttl.0;
    let ticket = s.identity.mint_ticket(&p, crate::routes::meeting_socket::TICKET_PURPOSE, ttl).await?;
    Ok(axum::Json(Ticket { ticket, expires_in: ttl.as_secs() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
            m
        };
        assert_eq!(byte_range(&HeaderMap::new(), 100), Ok(None));
        assert_eq!(byte_range(&h("bytes=0-9"), 100), Ok(Some((0, 10))));
        assert_eq!(byte_range(&h("bytes=90-"), 100), Ok(Some((90, 100))));
        assert_eq!(byte_range(&h("bytes=-10"), 100), Ok(Some((90, 100))));
        assert_eq!(byte_range(&h("bytes=95-200"), 100), Ok(Some((95, 100))));
        for bad in ["bytes=100-", "bytes=5-1", "bytes=0-1,4-5", "items=0-1", "bytes=x-1"] {
            assert_eq!(byte_range(&h(bad), 100), Err(()), "{bad}");
        }
    }
}
