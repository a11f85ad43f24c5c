//! One router per feature; handlers parse, call a service, map the result.

pub mod admin;
pub mod auth;
pub mod bot;
pub mod catalog;
pub mod chat;
pub mod health;
pub mod knowledge;
pub mod me;
pub mod oidc;
pub mod openai;
pub mod realtime;
pub mod views;

use crate::state::AppState;
use rampart_core::{Principal, Timestamp};
use rampart_identity::RequestMeta;
use rampart_storage::repo::audit::AuditEntry;

/// Records a successful administrative action. A failure to audit is logged, never dropped.
pub(crate) async fn audit(s: &AppState, m: &RequestMeta, a: &Principal, action: &str, target: &str) {
    let e = AuditEntry {
        actor_id: Some(a.user_id),
        actor: Some(a.email.clone()),
        action: action.to_owned(),
        target: Some(target.to_owned()),
        outcome: "success".into(),
        client_ip: m.client_ip.clone(),
        request_id: m.request_id.clone(),
        detail: None,
    };
    if let Err(err) = s.db.audit(&e, Timestamp::from_millis(chrono::Utc::now().timestamp_millis())).await {
        tracing::error!(action, error = %err, "failed to write audit entry");
    }
}
