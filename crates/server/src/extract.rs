//! Extractors: authorization lives in a handler's signature.
//!
//! - [`AuthUser`]: any valid credential (session JWT, external JWT, API key).
//! - [`ChatUser`], [`KnowledgeUser`], [`MeetingsUser`]: a valid credential carrying that scope.
//! - [`AdminUser`]: member of `admin` with the `admin` scope.
//! - [`McpUser`]: the MCP endpoint's caller (`mcp` scope, origin checked, OAuth challenges).
//! - [`Meta`]: client address and request id for the audit log.
//! - [`Json`], [`Query`], [`Path`]: axum's, with our error shape.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use rampart_core::{Credential, CredentialHeaders, ErrorCode, Principal, Scope};
use rampart_edge::RequestId;
use rampart_identity::RequestMeta;
use tracing::Instrument as _;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The caller's address (behind trusted proxies) and the request id.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        // Decided once, by the edge layer.
        let ip = parts.extensions.get::<rampart_edge::ClientIp>().map(|c| c.0);
        Ok(Meta(RequestMeta {
            client_ip: ip.map(|i| i.to_string()),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            user_agent: parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }))
    }
}

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a credential header comes more than once (two credentials, so ambiguous).
fn repeated(h: &axum::http::HeaderMap) -> bool {
    ["x-api-key", "authorization"].iter().any(|n| h.get_all(*n).iter().nth(1).is_some())
}

/// The request's credential, read by the one reader (`rampart_core::credential`): `None`
/// without one, 400 `ambiguous_credentials` with more than one (an API key and a bearer token,
/// or either header twice), whoever they name.
pub fn credential(parts: &Parts) -> Result<Option<Credential<'_>>, ApiError> {
    let h = &parts.headers;
    if repeated(h) {
        return Err(rampart_core::AmbiguousCredentials.into());
    }
    Ok(Credential::read(header(h, "x-api-key"), header(h, "authorization"))?)
}

/// The credential-bearing headers, owned (a WebSocket keeps them for its whole life).
pub fn credential_headers(h: &axum::http::HeaderMap) -> CredentialHeaders {
    CredentialHeaders {
        api_key: header(h, "x-api-key").map(str::to_owned),
        authorization: header(h, "authorization").map(str::to_owned),
        repeated: repeated(h),
    }
}

pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, None).await.map(AuthUser)
    }
}

/// The request's caller, its credential presented at `resource` (`None`: Rampart's API; a
/// token bound to a resource is accepted there only), then throttled per API key or user.
async fn authenticate(parts: &mut Parts, state: &AppState, resource: Option<&str>) -> Result<Principal, ApiError> {
    if let Some(p) = parts.extensions.get::<Principal>() {
        return Ok(p.clone());
    }
    let cred = credential(parts)?.ok_or_else(|| ApiError::code(ErrorCode::Unauthorized))?;
    let kind = if cred.is_api_key() { "api_key" } else { "token" };
    let span = tracing::info_span!("auth", credential = kind);
    let p = state.identity.authenticate_at(cred, resource).instrument(span).await?;
    tracing::Span::current().record("user", tracing::field::display(p.user_id));
    let notes = parts.extensions.get::<rampart_edge::RequestNotes>();
    if let Some(n) = notes {
        n.update(|n| n.principal = Some(p.user_id.to_string()));
    }
    if let Some((rule, d)) = state.throttle.refuse(&p).await {
        state.edge_metrics.count(rule, true);
        if let Some(n) = notes {
            n.update(|n| n.rule = Some(rule));
        }
        tracing::info!(rule, "request throttled");
        return Err(ApiError { headers: d.headers(), ..ApiError::code(ErrorCode::RateLimited) });
    }
    parts.extensions.insert(p.clone());
    Ok(p)
}

/// The caller if a credential came with the request (and then it must be valid), or `None`
/// for an anonymous request.
pub struct MaybeUser(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if credential(parts)?.is_none() {
            return Ok(MaybeUser(None));
        }
        AuthUser::from_request_parts(parts, state).await.map(|AuthUser(p)| MaybeUser(Some(p)))
    }
}

pub struct AdminUser(pub Principal);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(p) = AuthUser::from_request_parts(parts, state).await?;
        if !p.is_admin() {
            tracing::info!(reason = "not admin", "forbidden");
            return Err(ApiError::code(ErrorCode::Forbidden));
        }
        Ok(AdminUser(p))
    }
}

/// A caller whose credential carries a route's scope, or 403 `forbidden`.
async fn scoped(
    parts: &mut Parts,
    state: &AppState,
    scope: Scope,
    refusal: &'static str,
) -> Result<Principal, ApiError> {
    let AuthUser(p) = AuthUser::from_request_parts(parts, state).await?;
    if !p.has_scope(scope) {
        return Err(ApiError::new(ErrorCode::Forbidden, refusal));
    }
    Ok(p)
}

/// Extractors that require a scope: the route's scope is in its signature, so a handler cannot
/// forget to check it.
macro_rules! scoped_user {
    ($(#[$doc:meta])* $name:ident, $scope:expr, $refusal:literal) => {
        $(#[$doc])*
        pub struct $name(pub Principal);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                scoped(parts, state, $scope, $refusal).await.map($name)
            }
        }
    };
}

scoped_user!(
    /// The `chat` scope: sessions, feedback, the OpenAI facade, jobs, realtime publishes.
    ChatUser,
    Scope::Chat,
    "This credential lacks the chat scope."
);
scoped_user!(
    /// The `meetings` scope: meetings, transcripts, recordings.
    MeetingsUser,
    Scope::Meetings,
    "This credential lacks the meetings scope."
);
scoped_user!(
    /// The `knowledge` scope: knowledge bases and retrieval.
    KnowledgeUser,
    Scope::Knowledge,
    "This credential lacks the knowledge scope."
);

/// The MCP endpoint's caller. A browser's `Origin` must be ours or `edge.cors_origins` (DNS
/// rebinding); the credential — an API key, a session, or an OAuth client's token granted for
/// `/mcp` — must carry the `mcp` scope. Refusals carry the `WWW-Authenticate` challenge that
/// MCP clients start their OAuth flow from (RFC 9728's `resource_metadata`, RFC 6750's `scope`).
pub struct McpUser(pub Principal);

impl FromRequestParts<AppState> for McpUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = parts.headers.get(axum::http::header::ORIGIN).map(|o| o.to_str().unwrap_or("\u{0}"));
        if origin.is_some_and(|o| !state.origin_allowed(o)) {
            tracing::info!(reason = "origin", "mcp request refused");
            return Err(ApiError::code(ErrorCode::CorsRejected));
        }
        let metadata = crate::routes::mcp::resource_metadata_url(state);
        let presented = credential(parts)?.is_some();
        let p = match authenticate(parts, state, Some(&state.identity.mcp_resource())).await {
            Ok(p) => p,
            Err(e) if e.code.http_status() == 401 => {
                let error = if presented { ", error=\"invalid_token\"" } else { "" };
                let c = format!("Bearer resource_metadata=\"{metadata}\", scope=\"mcp\"{error}");
                return Err(e.with_header("www-authenticate", c));
            }
            Err(e) => return Err(e),
        };
        if !p.has_scope(Scope::Mcp) {
            let c = format!("Bearer error=\"insufficient_scope\", scope=\"mcp\", resource_metadata=\"{metadata}\"");
            return Err(ApiError::new(ErrorCode::Forbidden, "This credential lacks the mcp scope.")
                .with_header("www-authenticate", c));
        }
        Ok(McpUser(p))
    }
}
