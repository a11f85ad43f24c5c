#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

//! Meeting summaries (generations, outcomes, the webhook flag, retention) and meeting templates
//! (the default layer replaced by version, the custom layer kept), on SQLite and PostgreSQL.

use rampart_core::{MeetingKey, Timestamp};
use rampart_storage::Db;
use rampart_storage::repo::meeting_templates::{Layer, PutOutcome, TemplateRecord};
use rampart_storage::repo::meetings::NewMeeting;
use rampart_storage::repo::summaries::SummaryOutcome;
use rampart_storage::repo::users::NewUser;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { let t = rampart_testkit::TestDb::sqlite().await; super::$name(&t.db).await; t.cleanup().await; })* }
        mod postgres { $(#[tokio::test] async fn $name() { if let Some(t) = rampart_testkit::TestDb::postgres(concat!("postgres::", stringify!($name))).await { super::$name(&t.db).await; t.cleanup().await; } })* }
    };
}

both!(summary_generations_outcomes_and_retention, templates_defaults_replaced_custom_kept);

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

async fn meeting(db: &Db) -> MeetingKey {
    let u =
        NewUser { email: "m@example.com", display_name: "M", password_hash: Some("h"), groups: &[], external: None };
    let owner = db.create_user(&u, T0).await.unwrap().id;
    let key = MeetingKey::new();
    let m = NewMeeting {
        id: key,
        call_key: "k",
        sealed_call_id: b"c",
        owner_id: owner,
        source: "live",
        status: "ended",
        sealed_details: b"d",
        sample_rate: 16_000,
        channels: 2,
        recording_status: "none",
        recording_chunk_bytes: 1,
        started_at: T0,
    };
    db.create_meeting(&m).await.unwrap();
    key
}

fn ready<'a>(body: &'a [u8], model: Option<&'a str>) -> SummaryOutcome<'a> {
    SummaryOutcome {
        status: "ready",
        extractive: model.is_none(),
        model_id: model,
        sealed_body: Some(body),
        error: None,
        now: T0,
    }
}

async fn summary_generations_outcomes_and_retention(db: &Db) {
    let key = meeting(db).await;
    assert!(db.meeting_summary(key).await.unwrap().is_none());
    let g1 = db.request_summary(key, true, T0).await.unwrap();
    assert!(db.claim_summary(key, g1, T0).await.unwrap());
    assert_eq!(db.unfinished_summaries().await.unwrap().len(), 1, "a running job is resumed after a restart");
    // A regeneration supersedes the running job: its outcome is not stored, the newer one is.
    let g2 = db.request_summary(key, false, T0).await.unwrap();
    assert_eq!(g2, g1 + 1);
    assert!(!db.finish_summary(key, g1, &ready(b"old", Some("m"))).await.unwrap());
    assert!(!db.claim_summary(key, g1, T0).await.unwrap());
    let r = db.meeting_summary(key).await.unwrap().unwrap();
    assert_eq!(
        (r.status.as_str(), r.notify, r.sealed_body.is_none()),
        ("pending", true, true),
        "notify stays asked for"
    );
    assert!(db.claim_summary(key, g2, T0).await.unwrap());
    assert!(db.finish_summary(key, g2, &ready(b"one", Some("m"))).await.unwrap());
    assert!(db.take_summary_notify(key, g2).await.unwrap());
    assert!(!db.take_summary_notify(key, g2).await.unwrap(), "the webhook is sent once");
    // A failed regeneration keeps the last good sections.
    let g3 = db.request_summary(key, false, T0).await.unwrap();
    let failed = SummaryOutcome { status: "failed", error: Some("no"), sealed_body: None, ..ready(b"", None) };
    assert!(db.finish_summary(key, g3, &failed).await.unwrap());
    let r = db.meeting_summary(key).await.unwrap().unwrap();
    assert_eq!(r.status, "failed");
    assert_eq!((r.sealed_body.as_deref(), r.model_id.as_deref(), r.extractive), (Some(&b"one"[..]), Some("m"), false));
    assert!(db.unfinished_summaries().await.unwrap().is_empty());
    // Retention of the transcript takes the summary with it; deleting the meeting too.
    db.delete_transcript(key, T0).await.unwrap();
    assert!(db.meeting_summary(key).await.unwrap().is_none());
    db.request_summary(key, false, T0).await.unwrap();
    assert!(db.delete_meeting(None, key).await.unwrap());
    assert!(db.meeting_summary(key).await.unwrap().is_none());
}

fn tpl(key: &str, label: &str, at: i64) -> TemplateRecord {
    TemplateRecord {
        kind: "summary".into(),
        layer: Layer::Default,
        key: key.into(),
        label: label.into(),
        body: format!("{label} {{transcript}}"),
        position: 1,
        enabled: true,
        updated_by: None,
        updated_at: Timestamp::from_millis(at),
    }
}

async fn layers(db: &Db) -> Vec<(Layer, String, String)> {
    db.meeting_templates("summary").await.unwrap().into_iter().map(|r| (r.layer, r.key, r.label)).collect()
}

async fn templates_defaults_replaced_custom_kept(db: &Db) {
    assert_eq!(db.default_templates_version("summary").await.unwrap(), None);
    assert!(db.replace_default_templates("summary", 1, &[tpl("A", "a1", 1), tpl("B", "b1", 1)]).await.unwrap());
    let custom = TemplateRecord { layer: Layer::Custom, updated_by: Some("admin".into()), ..tpl("A", "mine", 5) };
    assert_eq!(db.put_custom_template(&custom, None, 10).await.unwrap(), PutOutcome::Stored);
    // An upgrade (version 2): the defaults are replaced (B gone, C new), the override stays.
    assert!(db.replace_default_templates("summary", 2, &[tpl("A", "a2", 2), tpl("C", "c2", 2)]).await.unwrap());
    assert_eq!(
        layers(db).await,
        vec![
            (Layer::Custom, "A".into(), "mine".into()),
            (Layer::Default, "A".into(), "a2".into()),
            (Layer::Default, "C".into(), "c2".into()),
        ]
    );
    // An older binary starting later does not bring its defaults back; the same version may
    // rewrite them.
    assert!(!db.replace_default_templates("summary", 1, &[tpl("B", "b1", 1)]).await.unwrap());
    assert!(db.replace_default_templates("summary", 2, &[tpl("A", "a2", 2), tpl("C", "c2", 2)]).await.unwrap());
    assert_eq!(db.default_templates_version("summary").await.unwrap(), Some(2));
    assert_eq!(layers(db).await.len(), 3);
    // Conditional replacement by version; a cap on new keys; reset.
    let stored = db.meeting_templates("summary").await.unwrap().remove(0);
    assert_eq!(stored.updated_at, Timestamp::from_millis(5));
    let again = TemplateRecord { label: "mine2".into(), updated_at: Timestamp::from_millis(3), ..custom.clone() };
    assert_eq!(db.put_custom_template(&again, Some(4), 10).await.unwrap(), PutOutcome::Changed);
    assert_eq!(db.put_custom_template(&again, Some(5), 10).await.unwrap(), PutOutcome::Stored);
    let v = db.meeting_templates("summary").await.unwrap().remove(0).updated_at.millis();
    assert_eq!(v, 6, "a version grows even when the clock went back");
    let extra = TemplateRecord { key: "Z".into(), ..custom.clone() };
    assert_eq!(db.put_custom_template(&extra, None, 1).await.unwrap(), PutOutcome::Full);
    assert_eq!(db.put_custom_template(&extra, Some(1), 10).await.unwrap(), PutOutcome::Changed);
    assert_eq!(db.put_custom_template(&extra, None, 10).await.unwrap(), PutOutcome::Stored);
    assert!(db.delete_custom_template("summary", "Z").await.unwrap());
    assert!(!db.delete_custom_template("summary", "Z").await.unwrap());
    assert_eq!(db.delete_custom_templates("summary").await.unwrap(), 1);
    assert!(db.meeting_templates("shortcut").await.unwrap().is_empty(), "kinds are apart");
    assert_eq!(layers(db).await.len(), 2);
}
