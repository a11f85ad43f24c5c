#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

//! Branching chat history (edit, regenerate, switch), on SQLite and PostgreSQL.

use rampart_core::{MessageId, PageRequest, SessionId, Timestamp, UserId};
use rampart_storage::Db;
use rampart_storage::repo::branches::Under;
use rampart_storage::repo::chat::NewMessage;
use rampart_storage::repo::users::NewUser;
use rampart_testkit::TestDb;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { let t = rampart_testkit::TestDb::sqlite().await; super::$name(&t.db).await; t.cleanup().await; })* }
        mod postgres { $(#[tokio::test] async fn $name() { if let Some(t) = rampart_testkit::TestDb::postgres(concat!("postgres::", stringify!($name))).await { super::$name(&t.db).await; t.cleanup().await; } })* }
    };
}

both!(edit_regenerate_and_switch_keep_every_branch);

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

async fn user(db: &Db, email: &str) -> UserId {
    let u = NewUser { email, display_name: "Test", password_hash: Some("h"), groups: &[], external: None };
    db.create_user(&u, T0).await.unwrap().id
}

fn msg(id: MessageId, role: &str) -> NewMessage<'_> {
    NewMessage { id, role, sealed_content: b"x", sealed_parts: None, model_id: None, response_time_ms: None }
}

async fn path(db: &Db, sid: SessionId) -> Vec<MessageId> {
    db.session_messages(sid, 100).await.unwrap().iter().map(|m| m.id).collect()
}

async fn edit_regenerate_and_switch_keep_every_branch(db: &Db) {
    let (a, b) = (user(db, "a@example.com").await, user(db, "b@example.com").await);
    let sid = SessionId::new();
    db.create_session(sid, a, "default", b"t", T0).await.unwrap();
    let [q1, a1, q2, a2] = [(); 4].map(|()| MessageId::new());
    assert!(db.append_messages(sid, a, &[msg(q1, "user"), msg(a1, "assistant")], T0).await.unwrap());
    assert!(db.append_messages(sid, a, &[msg(q2, "user")], T0).await.unwrap());
    assert!(db.append_messages(sid, a, &[msg(a2, "assistant")], T0).await.unwrap());
    let linear = db.session_messages(sid, 100).await.unwrap();
    let parents: Vec<_> = linear.iter().map(|m| m.parent_id).collect();
    assert_eq!(parents, vec![None, Some(q1), Some(a1), Some(q2)], "appends follow the leaf");

    // Edit q2: a sibling under a1, and the history is the new branch.
    let q2e = MessageId::new();
    assert!(db.append_under(sid, a, Under::Parent(Some(a1)), &[msg(q2e, "user")], T0).await.unwrap());
    assert_eq!(path(db, sid).await, vec![q1, a1, q2e]);
    let a2e = MessageId::new();
    assert!(db.append_messages(sid, a, &[msg(a2e, "assistant")], T0).await.unwrap());
    assert_eq!(path(db, sid).await, vec![q1, a1, q2e, a2e]);
    // Regenerate a2e: a sibling under q2e.
    let a2r = MessageId::new();
    assert!(db.append_under(sid, a, Under::Parent(Some(q2e)), &[msg(a2r, "assistant")], T0).await.unwrap());
    assert_eq!(path(db, sid).await, vec![q1, a1, q2e, a2r]);
    // Paging reads the path only, by `seq`.
    let newest = db.session_history(sid, &PageRequest { limit: Some(2), cursor: None }).await.unwrap();
    assert_eq!(newest.items.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a2r, q2e]);
    let before = db.session_history(sid, &PageRequest { limit: Some(2), cursor: newest.next_cursor }).await.unwrap();
    assert_eq!((before.items.iter().map(|m| m.id).collect::<Vec<_>>(), before.next_cursor), (vec![a1, q1], None));

    // Switching to q2 goes to the newest message below it (a2); to q2e, to its newest (a2r).
    assert_eq!(db.switch_branch(a, sid, q2).await.unwrap(), Some(a2));
    assert_eq!(path(db, sid).await, vec![q1, a1, q2, a2]);
    assert_eq!(db.switch_branch(a, sid, q2e).await.unwrap(), Some(a2r));
    assert_eq!(db.switch_branch(a, sid, a2e).await.unwrap(), Some(a2e));
    assert_eq!(path(db, sid).await, vec![q1, a1, q2e, a2e]);
    let tree = db.session_tree(sid).await.unwrap();
    let under_a1: Vec<_> = tree.iter().filter(|n| n.parent_id == Some(a1)).map(|n| n.id).collect();
    assert_eq!(under_a1, vec![q2, q2e], "siblings oldest first");

    // Another user's session, or a message of another session: nothing happens.
    assert_eq!(db.switch_branch(b, sid, q2).await.unwrap(), None);
    assert!(!db.append_under(sid, b, Under::Parent(Some(a1)), &[msg(MessageId::new(), "user")], T0).await.unwrap());
    let other = SessionId::new();
    db.create_session(other, a, "default", b"t", T0).await.unwrap();
    assert!(!db.append_under(other, a, Under::Parent(Some(a1)), &[msg(MessageId::new(), "user")], T0).await.unwrap());
    assert_eq!(db.switch_branch(a, other, q2).await.unwrap(), None);
    assert!(db.session_messages(other, 100).await.unwrap().is_empty(), "nothing stored half-way");
    assert_eq!(path(db, sid).await, vec![q1, a1, q2e, a2e], "unchanged");
}

/// Sessions stored before migration 16 read as one linear branch after the upgrade.
#[tokio::test]
async fn sessions_before_migration_16_become_one_branch() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.path().join("upgrade.db").display())];
    match rampart_testkit::pg_url() {
        Some(base) => urls.push(TestDb::create_pg_database(&base).await.1),
        None => rampart_testkit::skipped("sessions_before_migration_16_become_one_branch (postgres)"),
    }
    for url in urls {
        let db = Db::connect(&url).await.unwrap();
        db.migrate_up_to(11).await.unwrap();
        // Written as the schema of then stood (today's repository reads later columns).
        let a = UserId::new();
        sqlx::query("INSERT INTO users (id, email, display_name, status, created_at, updated_at) VALUES ($1, 'a@example.com', 'A', 'active', 1, 1)")
            .bind(a.to_string())
            .execute(db.pool())
            .await
            .unwrap();
        let sid = SessionId::new();
        db.create_session(sid, a, "default", b"t", T0).await.unwrap();
        let ids = [(); 3].map(|()| MessageId::new());
        for (i, id) in ids.iter().enumerate() {
            sqlx::query("INSERT INTO chat_messages (id, session_id, seq, role, content, created_at) VALUES ($1, $2, $3, 'user', $4, 1)")
                .bind(id.to_string())
                .bind(sid.to_string())
                .bind(i64::try_from(i).unwrap() + 1)
                .bind(b"x".to_vec())
                .execute(db.pool())
                .await
                .unwrap();
        }
        db.migrate().await.unwrap();
        let h = db.session_messages(sid, 100).await.unwrap();
        assert_eq!(h.iter().map(|m| m.id).collect::<Vec<_>>(), ids.to_vec(), "{url}");
        assert_eq!(h.iter().map(|m| m.parent_id).collect::<Vec<_>>(), vec![None, Some(ids[0]), Some(ids[1])]);
        let next = MessageId::new();
        assert!(db.append_messages(sid, a, &[msg(next, "assistant")], T0).await.unwrap());
        assert_eq!(db.session_messages(sid, 1).await.unwrap()[0].parent_id, Some(ids[2]));
    }
}
