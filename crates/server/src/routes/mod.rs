//! One router per feature; handlers parse, call a service, map the result.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod bot;
pub mod catalog;
pub mod chat;
pub mod conversations;
pub mod health;
pub mod knowledge;
pub mod mcp;
pub mod me;
pub mod meeting_chat;
pub mod meeting_socket;
pub mod meetings;
pub mod metrics;
pub mod oidc;
pub mod oidc_authorize;
pub mod openai;
pub mod prompts;
pub mod realtime;
pub mod summaries;
pub mod views;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use rampart_core::{ErrorCode, Principal, Timestamp};
use rampart_identity::RequestMeta;
use rampart_storage::repo::audit::AuditEntry;

/// Records a successful administrative action. A failure to audit is logged, never dropped.
pub(crate) async fn audit(s: &AppState, m: &RequestMeta, a: &Principal, action: &str, target: &str) {
    let e = AuditEntry {
        actor_id: Some(a.user_id),
        actor: Some(a.email.clone()),
        action: action.to_owned(),
        target: Some(target.to_owned()),
        outcome: rampart_core::AuditOutcome::Success,
        client_ip: m.client_ip.clone(),
        request_id: m.request_id.clone(),
        detail: None,
    };
    if let Err(err) = s.db.audit(&e, s.identity.now()).await {
        tracing::error!(action, error = %err, "failed to write audit entry");
    }
}

/// A time in a query parameter: RFC 3339, or `YYYY-MM-DD` (midnight UTC); else 400
/// `invalid_request` naming the parameter.
pub(crate) fn parse_time(name: &str, v: &str) -> ApiResult<Timestamp> {
    Timestamp::parse(v).ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidRequest, format!("{name} must be an RFC 3339 time or YYYY-MM-DD"))
    })
}
