//! The retention sweeper against a real server's database.

use crate::common::*;
use rampart_core::Timestamp;
use serde_json::json;
use std::time::Duration;

fn later(d: Duration) -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis()).plus(d)
}

#[tokio::test]
async fn expired_sessions_jobs_and_audit_records_are_swept_and_the_rest_kept() {
    let s = TestServer::start_with(&[(
        "retention",
        json!({"sessions_days": 30, "feedback_days": 0, "event_cache_hours": 1, "audit_days": 7, "batch": 2}),
    )])
    .await;
    let (_, admin) = s.admin().await;
    let uid = s.user("r@example.com", &[]).await;
    let t = s.token("r@example.com").await;
    let (old, _) = crate::chat::exchange(&s, &uid, "old question").await;
    let (recent, _) = crate::chat::exchange(&s, &uid, "recent question").await;
    let (_, _) = crate::chat::exchange(&s, &uid, "another old one").await;
    let forty_days_ago = later(Duration::ZERO).minus(Duration::from_secs(40 * 86_400)).millis();
    sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id <> $2")
        .bind(forty_days_ago)
        .bind(&recent)
        .execute(s.state.db.pool())
        .await
        .unwrap();
    let job = crate::openai::start_job(&s, &t, "default", "hi").await;
    assert_eq!(crate::openai::wait_job(&s, &t, &job).await["status"], "succeeded");

    let done = rampart_server::retention::sweep_once(&s.state, later(Duration::ZERO)).await.unwrap();
    let n = |k: &str| done.iter().find(|(x, _)| *x == k).map(|(_, n)| *n);
    assert_eq!(n("sessions"), Some(2), "{done:?}");
    assert_eq!(n("jobs"), Some(0), "the job finished less than an hour ago");
    assert_eq!(n("audit"), Some(0));
    assert_eq!(n("feedback"), None, "0 days keeps forever: not even scanned");
    s.get(&format!("/v1/sessions/{old}"), Some(&t)).await.expect_error(404, "not_found");
    s.get(&format!("/v1/sessions/{recent}"), Some(&t)).await.expect(200);

    // Two hours on, the job's result is gone; eight days on, the audit log is trimmed from the
    // front and still verifies.
    let done = rampart_server::retention::sweep_once(&s.state, later(Duration::from_secs(8 * 86_400))).await.unwrap();
    let n = |k: &str| done.iter().find(|(x, _)| *x == k).map(|(_, n)| *n);
    assert_eq!(n("jobs"), Some(1), "{done:?}");
    s.get(&format!("/v1/jobs/{job}"), Some(&t)).await.expect_error(404, "not_found");
    assert!(n("audit").unwrap() >= 3, "{done:?}");
    let v = s.state.db.verify_audit(None).await.unwrap();
    assert!(v.ok() && v.records == 0, "{v:?}");
    s.post(&format!("/v1/admin/users/{uid}/disable"), Some(&admin), json!({})).await.expect(200);
    let v = s.state.db.verify_audit(None).await.unwrap();
    assert!(v.ok() && v.records == 1, "the chain continues from the anchor: {v:?}");

    let m = s.get("/metrics", Some(&admin)).await.expect(200).body.as_str().unwrap().to_owned();
    assert!(m.contains(r#"rampart_retention_deleted_total{kind="sessions"} 2"#), "{m}");
}
