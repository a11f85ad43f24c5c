//! Control messages between replicas (over the NATS bus, `bus.nats_url`): what one replica
//! tells the others so that every replica behaves as one. The JSON forms are the wire between
//! replicas of different versions during a rolling upgrade: `{"stop": {"user", "session"}}`,
//! `{"catalog": "changed"}`, `{"index": {...}}`, `{"meeting_search": {...}}`. A message this version cannot read is logged
//! by the bus and ignored.

use crate::state::AppState;
use rampart_core::{SessionId, UserId};
use rampart_knowledge::service::IndexChange;
use rampart_meetings::search::SearchChange;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Stop a user's generations: one session's, or (no session) all of them.
    Stop { user: UserId, session: Option<SessionId> },
    /// Models or assistants changed: reload the catalog.
    Catalog(CatalogChange),
    /// A knowledge base's documents changed: apply the change to this replica's indexes.
    Index(IndexChange),
    /// These users lost access to a channel (a meeting unshared or deleted): end their
    /// subscriptions here too.
    Revoke { channel: String, users: Vec<UserId> },
    /// A meeting's passages changed: apply the change to this replica's meeting search indexes.
    MeetingSearch(SearchChange),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogChange {
    Changed,
}

/// Applies a control message from another replica.
pub fn apply(s: &AppState, msg: Control) {
    match msg {
        Control::Stop { user, session: Some(sid) } => {
            s.chat.runs().stop(user, sid);
        }
        Control::Stop { user, session: None } => s.chat.runs().stop_user(user),
        Control::Index(c) => {
            let k = s.knowledge.clone();
            tokio::spawn(async move {
                if let Err(e) = k.apply_index_change(&c).await {
                    tracing::warn!(error = %e, "could not apply another replica's index change");
                }
            });
        }
        Control::Revoke { channel, users } => {
            s.hub.revoke(&channel, &users);
        }
        Control::MeetingSearch(c) => {
            let m = s.meetings.clone();
            tokio::spawn(async move {
                if let Err(e) = m.apply_search_change(&c).await {
                    tracing::warn!(error = %e, "could not apply another replica's meeting search change");
                }
            });
        }
        Control::Catalog(CatalogChange::Changed) => {
            let c = s.assistants.clone();
            tokio::spawn(async move {
                if let Err(e) = c.reload().await {
                    tracing::warn!(error = %e, "could not reload models and assistants");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The forms earlier versions send and read.
    #[test]
    fn wire_forms_are_stable() {
        let (u, sid) = (UserId::new(), SessionId::new());
        let stop = serde_json::to_value(Control::Stop { user: u, session: Some(sid) }).unwrap();
        assert_eq!(stop, json!({"stop": {"user": u.to_string(), "session": sid.to_string()}}));
        let all = serde_json::to_value(Control::Stop { user: u, session: None }).unwrap();
        assert_eq!(all, json!({"stop": {"user": u.to_string(), "session": null}}));
        assert_eq!(
            serde_json::to_value(Control::Catalog(CatalogChange::Changed)).unwrap(),
            json!({"catalog": "changed"})
        );
        let doc = rampart_core::DocumentId::new();
        let idx = serde_json::to_value(Control::Index(IndexChange::DeleteDocument { doc })).unwrap();
        let back: Control = serde_json::from_value(idx.clone()).unwrap();
        assert!(matches!(back, Control::Index(IndexChange::DeleteDocument { doc: d }) if d == doc), "{idx}");
        let meeting = rampart_core::MeetingKey::new();
        let put = serde_json::to_value(Control::MeetingSearch(SearchChange::Put { meeting })).unwrap();
        assert_eq!(put, json!({"meeting_search": {"op": "put", "meeting": meeting.to_string()}}));
        let gone = json!({"meeting_search": {"op": "remove", "meeting": meeting.to_string(), "kind": "transcript"}});
        let back: Control = serde_json::from_value(gone).unwrap();
        assert!(matches!(back, Control::MeetingSearch(SearchChange::Remove { kind: Some(_), .. })));
        assert!(serde_json::from_value::<Control>(json!({"reboot": true})).is_err());
    }
}
