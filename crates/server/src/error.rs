//! Errors → HTTP. One JSON shape, `{code, message}`; 5xx bodies are generic and the detail
//! goes to the log with the request id.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::ErrorCode;
use rampart_core::error::{ErrorBody, PublicError};
use rampart_identity::IdentityError;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
    /// Extra response headers (`RateLimit-*`).
    pub headers: Vec<(&'static str, String)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None, headers: Vec::new() }
    }
    pub fn code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }
    pub fn not_found() -> Self {
        Self::code(ErrorCode::NotFound)
    }
    /// With one more response header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = if status.is_server_error() { self.code.default_message().to_owned() } else { self.message };
        let mut resp = (status, Json(ErrorBody { code: self.code.as_str().to_owned(), message })).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        for (k, v) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                resp.headers_mut().insert(*k, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().entry(header::WWW_AUTHENTICATE).or_insert(HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl ApiError {
    /// Any crate's error, by what it says of itself: its code, its safe message, its
    /// `Retry-After`. The detail of a server error goes to the log (with the request id of the
    /// span), never to the client.
    pub fn public(e: &(impl PublicError + ?Sized)) -> Self {
        let code = e.code();
        if code.http_status() >= 500 {
            tracing::error!(error = %e, "internal error");
        }
        ApiError { retry_after: e.retry_after(), ..ApiError::new(code, e.public_message()) }
    }
}

impl From<rampart_core::AmbiguousCredentials> for ApiError {
    fn from(e: rampart_core::AmbiguousCredentials) -> Self {
        ApiError::public(&e)
    }
}

impl From<rampart_chat::ChatError> for ApiError {
    fn from(e: rampart_chat::ChatError) -> Self {
        ApiError::public(&e)
    }
}

impl From<rampart_chat::turn::TurnError> for ApiError {
    fn from(e: rampart_chat::turn::TurnError) -> Self {
        ApiError::public(&e)
    }
}

impl From<rampart_knowledge::service::KnowledgeError> for ApiError {
    fn from(e: rampart_knowledge::service::KnowledgeError) -> Self {
        ApiError::public(&e)
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        // Refusals are worth a line (without the credential): why a token or a request was refused.
        match &e {
            IdentityError::InvalidToken(reason) => tracing::info!(reason, "credential refused"),
            IdentityError::Forbidden(reason) => tracing::info!(reason, "forbidden"),
            _ => {}
        }
        ApiError::public(&e)
    }
}

fn clip(s: String) -> String {
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::code(ErrorCode::UnsupportedMediaType),
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::code(ErrorCode::PayloadTooLarge)
            }
            JsonRejection::JsonDataError(e) => ApiError::new(ErrorCode::InvalidJson, clip(e.body_text())),
            JsonRejection::JsonSyntaxError(e) => ApiError::new(ErrorCode::InvalidJson, clip(e.body_text())),
            other => ApiError::new(ErrorCode::InvalidJson, clip(other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, clip(r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // A malformed id is answered like an unknown one.
        ApiError::not_found()
    }
}
