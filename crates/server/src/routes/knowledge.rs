//! `/v1/knowledge-bases…`: knowledge bases, their documents (multipart upload in the field
//! `file`), and retrieval (like Bedrock's Retrieve). Reading needs the `knowledge` scope and
//! read access (owner, reader group, administrator); changing needs ownership or admin. A
//! knowledge base the caller may not read is "not found". Cited passages open in context
//! (`…/passages/{chunk_id}`) and documents download as uploaded (`…/content`).

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, KnowledgeUser, Path, Query};
use crate::routes::views::PageView;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use rampart_core::error::ErrorBody;
use rampart_core::{ChunkId, DocumentId, ErrorCode, KnowledgeBaseId, PageRequest};
use rampart_knowledge::service::{DocView, KbView, Location, PassageContext, SearchMode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_kb, list_kbs))
        .routes(routes!(get_kb, update_kb, delete_kb))
        .routes(routes!(upload, list_documents))
        .routes(routes!(get_document, delete_document))
        .routes(routes!(reingest))
        .routes(routes!(passage))
        .routes(routes!(document_content))
        .routes(routes!(retrieve))
        .layer(DefaultBodyLimit::max(max_upload))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateKb {
    /// Unique; 1-64 characters of a-z, 0-9, `-`, `_`, `.` (assistants name it in config).
    pub name: String,
    pub description: Option<String>,
    /// Groups whose members may read (search and be cited) it.
    pub read_groups: Option<Vec<String>>,
    /// A configured embedding model (`[[models]]` of kind `embedding`) for dense retrieval;
    /// absent: `knowledge.embedding_model`; `""`: none (lexical retrieval only).
    pub embedding_model: Option<String>,
}

/// Creates a knowledge base owned by the caller.
#[utoipa::path(post, path = "/v1/knowledge-bases", tag = "knowledge", request_body = CreateKb,
    responses((status = 201, body = KbView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn create_kb(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Json(r): Json<CreateKb>,
) -> ApiResult<(StatusCode, axum::Json<KbView>)> {
    let groups = r.read_groups.as_deref().unwrap_or(&[]);
    let kb = s.knowledge.create_kb(&p, &r.name, r.description.as_deref(), groups, r.embedding_model.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(kb)))
}

#[derive(Serialize, ToSchema)]
pub struct KbList {
    pub items: Vec<KbView>,
}

/// The knowledge bases the caller may read.
#[utoipa::path(get, path = "/v1/knowledge-bases", tag = "knowledge",
    responses((status = 200, body = KbList)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_kbs(State(s): State<AppState>, KnowledgeUser(p): KnowledgeUser) -> ApiResult<axum::Json<KbList>> {
    Ok(axum::Json(KbList { items: s.knowledge.list_kbs(&p).await? }))
}

/// One knowledge base with its counts (documents, chunks, pending, failed).
#[utoipa::path(get, path = "/v1/knowledge-bases/{id}", tag = "knowledge", params(("id" = String, Path)),
    responses((status = 200, body = KbView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_kb(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path(id): Path<KnowledgeBaseId>,
) -> ApiResult<axum::Json<KbView>> {
    Ok(axum::Json(s.knowledge.get_kb(&p, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateKb {
    pub name: Option<String>,
    pub description: Option<String>,
    pub read_groups: Option<Vec<String>>,
    /// Another embedding model (`""`: none): every document is ingested again.
    pub embedding_model: Option<String>,
}

/// Renames a knowledge base or changes its description, reader groups or embedding model
/// (owner or admin).
#[utoipa::path(patch, path = "/v1/knowledge-bases/{id}", tag = "knowledge", params(("id" = String, Path)), request_body = UpdateKb,
    responses((status = 200, body = KbView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn update_kb(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path(id): Path<KnowledgeBaseId>,
    Json(r): Json<UpdateKb>,
) -> ApiResult<axum::Json<KbView>> {
    let kb = s
        .knowledge
        .update_kb(
            &p,
            id,
            r.name.as_deref(),
            r.description.as_deref(),
            r.read_groups.as_deref(),
            r.embedding_model.as_deref(),
        )
        .await?;
    Ok(axum::Json(kb))
}

/// Deletes a knowledge base with its documents, chunks and index entries (owner or admin).
#[utoipa::path(delete, path = "/v1/knowledge-bases/{id}", tag = "knowledge", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn delete_kb(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path(id): Path<KnowledgeBaseId>,
) -> ApiResult<StatusCode> {
    s.knowledge.delete_kb(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    pub documents: Vec<DocView>,
}

/// Uploads one or many files (multipart, field `file`) for ingestion; formats are recognised by
/// content. Content already in the knowledge base comes back as `duplicate`.
#[utoipa::path(post, path = "/v1/knowledge-bases/{id}/documents", tag = "knowledge", params(("id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "one or more parts named `file`"),
    responses((status = 202, body = Uploaded), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn upload(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path(id): Path<KnowledgeBaseId>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, axum::Json<Uploaded>)> {
    let files = read_files(&mut form).await?;
    let documents = s.knowledge.upload(&p, id, files).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Uploaded { documents })))
}

/// The parts named `file` of a multipart upload, with their names (knowledge-base documents and
/// chat attachments).
pub(crate) async fn read_files(form: &mut Multipart) -> ApiResult<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let bad = |m: &str| ApiError::new(ErrorCode::InvalidRequest, m);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::code(ErrorCode::PayloadTooLarge));
            }
            Err(_) => return Err(bad("The body is not valid multipart/form-data.")),
        };
        if field.name() != Some("file") {
            return Err(bad("Send files in parts named \"file\"."));
        }
        let name = field.file_name().unwrap_or("untitled").to_owned();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::code(ErrorCode::PayloadTooLarge));
            }
            Err(_) => return Err(bad("A file part could not be read.")),
        };
        files.push((name, bytes.to_vec()));
    }
    Ok(files)
}

/// The documents of a knowledge base, with their ingestion status.
#[utoipa::path(get, path = "/v1/knowledge-bases/{id}/documents", tag = "knowledge", params(("id" = String, Path), PageRequest),
    responses((status = 200, body = PageView<DocView>), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_documents(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path(id): Path<KnowledgeBaseId>,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<DocView>>> {
    page.validate().map_err(ApiError::code)?;
    let pg = s.knowledge.list_documents(&p, id, &page).await?;
    Ok(axum::Json(PageView { items: pg.items, next_cursor: pg.next_cursor }))
}

/// One document and its ingestion status.
#[utoipa::path(get, path = "/v1/knowledge-bases/{id}/documents/{doc_id}", tag = "knowledge",
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses((status = 200, body = DocView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_document(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path((id, doc)): Path<(KnowledgeBaseId, DocumentId)>,
) -> ApiResult<axum::Json<DocView>> {
    Ok(axum::Json(s.knowledge.get_document(&p, id, doc).await?))
}

/// Deletes a document and removes its chunks from the index (owner or admin).
#[utoipa::path(delete, path = "/v1/knowledge-bases/{id}/documents/{doc_id}", tag = "knowledge",
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn delete_document(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path((id, doc)): Path<(KnowledgeBaseId, DocumentId)>,
) -> ApiResult<StatusCode> {
    s.knowledge.delete_document(&p, id, doc).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ingests a document again (owner or admin).
#[utoipa::path(post, path = "/v1/knowledge-bases/{id}/documents/{doc_id}/reingest", tag = "knowledge",
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses((status = 202, body = DocView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn reingest(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path((id, doc)): Path<(KnowledgeBaseId, DocumentId)>,
) -> ApiResult<(StatusCode, axum::Json<DocView>)> {
    Ok((StatusCode::ACCEPTED, axum::Json(s.knowledge.reingest(&p, id, doc).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetrieveRequest {
    /// At most 4,000 characters.
    pub query: String,
    /// 1-100 (default 5).
    pub number_of_results: Option<usize>,
    /// `hybrid` (default: BM25 and nearest vectors fused by reciprocal rank; BM25 alone without
    /// an embedding model), `lexical` or `semantic`.
    pub search_type: Option<SearchMode>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrieveResult {
    pub document_id: DocumentId,
    pub document_name: String,
    pub chunk_id: rampart_core::ChunkId,
    pub text: String,
    pub score: f32,
    pub location: Location,
}

#[derive(Serialize, ToSchema)]
pub struct Retrieved {
    pub results: Vec<RetrieveResult>,
}

/// The passages of this knowledge base that best match `query`, best first (hybrid by default).
#[utoipa::path(post, path = "/v1/knowledge-bases/{id}/retrieve", tag = "knowledge", params(("id" = String, Path)), request_body = RetrieveRequest,
    responses((status = 200, body = Retrieved), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn retrieve(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path(id): Path<KnowledgeBaseId>,
    Json(r): Json<RetrieveRequest>,
) -> ApiResult<axum::Json<Retrieved>> {
    let k = r.number_of_results.unwrap_or(5);
    if !(1..=100).contains(&k) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "numberOfResults must be 1-100"));
    }
    if r.query.trim().is_empty() || r.query.chars().count() > 4000 {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "query must be 1-4,000 characters"));
    }
    // Not readable: "not found", as for every other route.
    s.knowledge.readable_kb(&p, id).await?;
    let results = s
        .knowledge
        .retrieve(&p, Some(&[id]), &r.query, k, r.search_type.unwrap_or_default())
        .await?
        .into_iter()
        .map(|x| RetrieveResult {
            document_id: x.document_id,
            document_name: x.document_name,
            chunk_id: x.chunk_id,
            text: x.text,
            score: x.score,
            location: x.location,
        })
        .collect();
    Ok(axum::Json(Retrieved { results }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AroundQuery {
    /// Passages shown on each side of the cited one, 0-10 (default 2).
    pub around: Option<usize>,
}

/// A cited passage in context: it and its neighbours in the document (what a citation's
/// `chunkId` opens).
#[utoipa::path(get, path = "/v1/knowledge-bases/{id}/documents/{doc_id}/passages/{chunk_id}", tag = "knowledge",
    params(("id" = String, Path), ("doc_id" = String, Path), ("chunk_id" = String, Path), AroundQuery),
    responses((status = 200, body = PassageContext), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn passage(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path((id, doc, chunk)): Path<(KnowledgeBaseId, DocumentId, ChunkId)>,
    Query(q): Query<AroundQuery>,
) -> ApiResult<axum::Json<PassageContext>> {
    Ok(axum::Json(s.knowledge.passage_context(&p, id, doc, chunk, q.around.unwrap_or(2)).await?))
}

/// The document as uploaded, as an attachment.
#[utoipa::path(get, path = "/v1/knowledge-bases/{id}/documents/{doc_id}/content", tag = "knowledge",
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn document_content(
    State(s): State<AppState>,
    KnowledgeUser(p): KnowledgeUser,
    Path((id, doc)): Path<(KnowledgeBaseId, DocumentId)>,
) -> ApiResult<axum::response::Response> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let (d, bytes) = s.knowledge.document_content(&p, id, doc).await?;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(d.format.as_deref())));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&attachment(&d.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// The type a downloaded document is served as; HTML as bytes, never as a page.
fn content_type(format: Option<&str>) -> &'static str {
    match format {
        Some("pdf") => "application/pdf",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("markdown") => "text/markdown; charset=utf-8",
        Some("text") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// `attachment` with the name as an ASCII fallback and in RFC 5987 form (UTF-8, percent-encoded).
fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | ';') || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn attachment_names_cannot_break_the_header() {
        let v = super::attachment("a\"b;c\u{e9}.md");
        assert_eq!(v, "attachment; filename=\"a_b_c_.md\"; filename*=UTF-8''a%22b%3Bc%C3%A9.md");
    }
}
