#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

//! The repository suite: every test runs on SQLite and on PostgreSQL
//! (`RAMPART_TEST_POSTGRES_URL`; without it the PostgreSQL half prints SKIPPED by name).

use rampart_core::{AuditOutcome, PageRequest, Timestamp, UserId};
use rampart_storage::repo::Owner;
use rampart_storage::repo::api_keys::NewApiKeyRow;
use rampart_storage::repo::audit::{AuditEntry, AuditFilter};
use rampart_storage::repo::tokens::{NewFamily, RefreshLookup};
use rampart_storage::repo::users::{NewUser, UserStatus};
use rampart_storage::{Db, StorageError};
use rampart_testkit::TestDb;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { let t = rampart_testkit::TestDb::sqlite().await; super::$name(&t.db).await; t.cleanup().await; })* }
        mod postgres { $(#[tokio::test] async fn $name() { if let Some(t) = rampart_testkit::TestDb::postgres(concat!("postgres::", stringify!($name))).await { super::$name(&t.db).await; t.cleanup().await; } })* }
    };
}

both!(
    users_crud_and_unique_email,
    users_pagination_and_search,
    groups_and_admin_count,
    mfa_replay_and_recovery_codes,
    refresh_rotation_and_reuse,
    families_revocation,
    api_keys_owner_scoping,
    throttle_locks_and_clears,
    audit_filters_and_order,
    audit_chain_detects_tampering,
    audit_chain_legacy_rows_and_trim,
    retention_deletes_in_batches_with_dependants,
    leases_have_one_holder,
    queue_depths_count_waiting_and_running_work,
    meta_take_once,
    signing_keys_publish_window,
    migrate_is_idempotent,
    oauth_codes_are_single_use,
    concurrent_demotions_leave_an_admin,
    chat_sessions_messages_and_feedback,
    chat_sessions_pinned_archived_renamed,
    user_prompts_owner_scoped_and_capped,
    catalog_entries_crud,
    knowledge_read_predicate_documents_and_chunks
);

async fn knowledge_read_predicate_documents_and_chunks(db: &Db) {
    use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};
    use rampart_storage::repo::knowledge::{DocRecord, KbRecord, NewChunk, Reader};
    let owner = user(db, "kbowner@example.com", &[]).await;
    let reader = user(db, "kbreader@example.com", &[]).await;
    let kb = |name: &str, groups: &[&str]| KbRecord {
        id: KnowledgeBaseId::new(),
        name: name.into(),
        description: String::new(),
        owner_id: Some(owner),
        read_groups: groups.iter().map(|g| g.to_string()).collect(),
        embedding_model: Some("embed".into()),
        created_at: T0,
        updated_at: T0,
    };
    let (a, b) = (kb("handbook", &["staff", "hr"]), kb("secret", &[]));
    db.create_kb(&a).await.unwrap();
    db.create_kb(&b).await.unwrap();
    assert!(matches!(db.create_kb(&kb("handbook", &[])).await, Err(StorageError::Conflict)));
    let staff = vec!["staff".to_string()];
    let as_owner = Reader { user: owner, groups: &[], admin: false };
    let as_staff = Reader { user: reader, groups: &staff, admin: false };
    let as_nobody = Reader { user: reader, groups: &[], admin: false };
    let as_admin = Reader { user: reader, groups: &[], admin: true };
    let names = |v: Vec<KbRecord>| v.into_iter().map(|k| k.name).collect::<Vec<_>>();
    assert_eq!(names(db.kbs_for(&as_owner).await.unwrap()), vec!["handbook", "secret"]);
    assert_eq!(names(db.kbs_for(&as_staff).await.unwrap()), vec!["handbook"]);
    assert!(db.kbs_for(&as_nobody).await.unwrap().is_empty());
    assert_eq!(db.kbs_for(&as_admin).await.unwrap().len(), 2);
    assert_eq!(db.kb_for(&as_staff, a.id).await.unwrap().unwrap().read_groups, vec!["hr", "staff"]);
    assert!(db.kb_for(&as_staff, b.id).await.unwrap().is_none());
    let ids = |v: Vec<(KnowledgeBaseId, Option<String>)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(ids(db.readable_kb_models(&as_staff, None, false).await.unwrap()), vec![a.id]);
    assert_eq!(ids(db.readable_kb_models(&as_staff, Some(&[a.id, b.id]), false).await.unwrap()), vec![a.id]);
    assert!(db.readable_kb_models(&as_staff, Some(&[b.id]), false).await.unwrap().is_empty(), "not readable");
    assert!(db.readable_kb_models(&as_nobody, Some(&[a.id]), false).await.unwrap().is_empty());
    assert_eq!(
        db.readable_kb_models(&as_admin, Some(&[b.id]), false).await.unwrap(),
        vec![(b.id, Some("embed".into()))]
    );
    assert!(db.readable_kb_models(&as_admin, Some(&[]), false).await.unwrap().is_empty());
    assert_eq!(db.kb_ids_by_name(&["secret".into(), "nope".into()]).await.unwrap(), vec![b.id]);
    assert!(db.kb_ids_by_name(&[]).await.unwrap().is_empty());

    let doc = DocRecord {
        id: DocumentId::new(),
        kb_id: a.id,
        name: "guide.md".into(),
        content_hash: "h1".into(),
        size: 3,
        format: None,
        status: "pending".into(),
        error: None,
        chunk_count: 0,
        uploaded_by: Some(owner),
        created_at: T0,
        updated_at: T0,
    };
    assert_eq!(db.insert_documents(&[(doc.clone(), b"sealed".to_vec())]).await.unwrap(), vec![None]);
    let mut dup = doc.clone();
    dup.id = DocumentId::new();
    assert_eq!(db.insert_documents(&[(dup, b"x".to_vec())]).await.unwrap(), vec![Some(doc.clone())], "same content");
    // The same content twice in one upload: stored once.
    let twin = |id| DocRecord { id, content_hash: "h2".into(), name: "twin.md".into(), ..doc.clone() };
    let (t1, t2) = (twin(DocumentId::new()), twin(DocumentId::new()));
    let got = db.insert_documents(&[(t1.clone(), b"a".to_vec()), (t2, b"a".to_vec())]).await.unwrap();
    assert_eq!(got, vec![None, Some(t1.clone())]);
    assert!(db.delete_document(a.id, t1.id).await.unwrap());
    assert_eq!(db.document_by_hash(a.id, "h1").await.unwrap().unwrap().id, doc.id);
    assert_eq!(db.claim_pending_documents(T0, 10).await.unwrap(), vec![(doc.id, a.id)]);
    assert!(db.claim_pending_documents(T0, 10).await.unwrap().is_empty());
    assert_eq!(db.requeue_processing_documents().await.unwrap(), 1);
    assert_eq!(db.claim_pending_documents(T0, 1).await.unwrap(), vec![(doc.id, a.id)]);
    let chunks: Vec<NewChunk> = (0..3)
        .map(|i| NewChunk {
            id: ChunkId::new(),
            ordinal: i,
            body: vec![i as u8],
            page: Some(1),
            page_end: None,
            span_start: i * 10,
            span_end: i * 10 + 9,
            embedding: (i != 1).then(|| ("embed".to_string(), vec![9, i as u8])),
        })
        .collect();
    db.replace_chunks(&[(a.id, doc.id, chunks.clone())]).await.unwrap();
    db.replace_chunks(&[(a.id, doc.id, chunks[..2].to_vec())]).await.unwrap();
    assert_eq!(db.document_contents(&[doc.id, DocumentId::new()]).await.unwrap(), vec![(doc.id, b"sealed".to_vec())]);
    db.finish_document(doc.id, "ready", None, Some("markdown"), 2, T0).await.unwrap();
    let stats = db.kb_stats(a.id).await.unwrap();
    assert_eq!((stats.documents, stats.chunks, stats.pending, stats.failed), (1, 2, 0, 0));
    assert_eq!(db.document_totals().await.unwrap(), (1, doc.size), "every knowledge base's documents");
    assert!(db.database_bytes().await.unwrap() > 0);
    let ids: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
    let got = db.chunks_in(&ids, &[a.id]).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].document_name, "guide.md");
    assert!(db.chunks_in(&ids, &[b.id]).await.unwrap().is_empty(), "only from the given knowledge bases");
    assert_eq!(db.ready_chunk_count().await.unwrap(), 2);
    assert_eq!(db.ready_chunks_after(None, 1).await.unwrap().len(), 1);
    assert_eq!(db.document_chunks(doc.id).await.unwrap().len(), 2);
    // Vectors: only chunks that have one, of ready documents.
    let v = db.document_vectors(doc.id).await.unwrap();
    assert_eq!(
        v.iter().map(|x| (x.id, x.model.as_str(), x.sealed.clone())).collect::<Vec<_>>(),
        vec![(chunks[0].id, "embed", vec![9, 0])]
    );
    assert_eq!(db.vectors_after(Some(a.id), None, 10).await.unwrap(), v);
    assert_eq!(db.vectors_after(None, None, 10).await.unwrap(), v);
    assert!(db.vectors_after(Some(b.id), None, 10).await.unwrap().is_empty());
    assert!(db.vectors_after(None, Some(chunks[0].id), 10).await.unwrap().is_empty());
    assert_eq!(db.vector_counts().await.unwrap(), vec![(a.id, "embed".to_string(), 1)]);
    assert_eq!(db.vector_ids(a.id, "embed").await.unwrap(), vec![(chunks[0].id, doc.id)]);
    assert!(db.vector_ids(a.id, "other").await.unwrap().is_empty());
    assert!(db.embedding_model_in_use("embed").await.unwrap());
    assert!(!db.embedding_model_in_use("other").await.unwrap());
    assert_eq!(db.kb_by_id(a.id).await.unwrap().unwrap().embedding_model.as_deref(), Some("embed"));
    // Another embedding model sends the documents back to ingestion; other changes do not.
    let mut renamed = db.kb_by_id(a.id).await.unwrap().unwrap();
    renamed.read_groups = vec!["hr".into(), "staff".into()];
    renamed.description = "new".into();
    assert!(db.update_kb(&renamed).await.unwrap());
    assert_eq!(db.document(a.id, doc.id).await.unwrap().unwrap().status, "ready");
    renamed.embedding_model = None;
    assert!(db.update_kb(&renamed).await.unwrap());
    assert_eq!(db.document(a.id, doc.id).await.unwrap().unwrap().status, "pending");
    assert!(db.vector_counts().await.unwrap().is_empty(), "vectors of documents not ready do not count");
    let mut gone = renamed.clone();
    gone.id = KnowledgeBaseId::new();
    assert!(!db.update_kb(&gone).await.unwrap());
    assert!(db.requeue_document(a.id, doc.id, T0).await.unwrap());
    assert!(!db.requeue_document(b.id, doc.id, T0).await.unwrap(), "not in that knowledge base");
    db.finish_document(doc.id, "failed", Some("corrupt"), None, 0, T0).await.unwrap();
    assert!(db.document_chunks(doc.id).await.unwrap().is_empty(), "a failed document keeps no chunks");
    assert_eq!(db.kb_stats(a.id).await.unwrap().failed, 1);
    assert!(db.delete_kb(a.id).await.unwrap());
    assert!(db.document(a.id, doc.id).await.unwrap().is_none(), "documents go with their knowledge base");
}

async fn catalog_entries_crud(db: &Db) {
    use rampart_storage::repo::catalog::CatalogRecord;
    assert_eq!(db.catalog_version().await.unwrap(), (0, 0));
    let rec = |kind: &str, id: &str, at: i64| CatalogRecord {
        kind: kind.into(),
        id: id.into(),
        spec: format!("{{\"id\":\"{id}\"}}"),
        sealed_secrets: Some(vec![0, 1, 2, 255]),
        updated_by: Some("admin".into()),
        created_at: Timestamp::from_millis(at),
        updated_at: Timestamp::from_millis(at),
    };
    db.insert_catalog_entry(&rec("model", "m1", 10)).await.unwrap();
    db.insert_catalog_entry(&rec("assistant", "m1", 11)).await.unwrap();
    assert!(matches!(db.insert_catalog_entry(&rec("model", "m1", 12)).await, Err(StorageError::Conflict)));
    let all = db.catalog().await.unwrap();
    assert_eq!(all.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(), vec!["model", "assistant"]);
    assert_eq!(all[0], rec("model", "m1", 10));
    assert_eq!(db.catalog_version().await.unwrap(), (2, 11));
    let mut changed = rec("model", "m1", 10);
    changed.spec = "{}".into();
    changed.sealed_secrets = None;
    changed.updated_at = Timestamp::from_millis(20);
    assert!(db.update_catalog_entry(&changed).await.unwrap());
    assert!(!db.update_catalog_entry(&rec("model", "nope", 1)).await.unwrap());
    assert_eq!(db.catalog_entry("model", "m1").await.unwrap().unwrap(), changed);
    assert_eq!(db.catalog_version().await.unwrap(), (2, 20));
    assert!(db.delete_catalog_entry("model", "m1").await.unwrap());
    assert!(!db.delete_catalog_entry("model", "m1").await.unwrap());
    assert!(db.catalog_entry("model", "m1").await.unwrap().is_none());
    assert_eq!(db.catalog_version().await.unwrap(), (1, 11));
}

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

async fn user(db: &Db, email: &str, groups: &[&str]) -> UserId {
    let groups: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
    db.create_user(
        &NewUser { email, display_name: "Test", password_hash: Some("h"), groups: &groups, external: None },
        T0,
    )
    .await
    .unwrap()
    .id
}

fn fam<'a>(user: UserId, hash: &'a str, exp: Timestamp, ip: Option<&'a str>, client: Option<&'a str>) -> NewFamily<'a> {
    NewFamily { user, token_hash: hash, now: T0, expires_at: exp, client_ip: ip, user_agent: None, client_id: client }
}

async fn users_crud_and_unique_email(db: &Db) {
    let id = user(db, "a@example.com", &["admin"]).await;
    let u = db.user_by_email("a@example.com").await.unwrap().unwrap();
    assert_eq!(u.id, id);
    assert_eq!(u.groups, vec!["admin".to_string()]);
    assert!(!u.mfa_enabled);
    let dup = db
        .create_user(
            &NewUser { email: "a@example.com", display_name: "x", password_hash: None, groups: &[], external: None },
            T0,
        )
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict)), "{dup:?}");
    // Unknown group: nothing stored half-way.
    let bad = db
        .create_user(
            &NewUser {
                email: "b@example.com",
                display_name: "x",
                password_hash: None,
                groups: &["nope".into()],
                external: None,
            },
            T0,
        )
        .await;
    assert!(bad.is_err());
    assert!(db.user_by_email("b@example.com").await.unwrap().is_none());
    // External users may share an email with a local user.
    let ext = db
        .create_user(
            &NewUser {
                email: "a@example.com",
                display_name: "x",
                password_hash: None,
                groups: &[],
                external: Some(("https://idp", "sub-1")),
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(db.user_by_external("https://idp", "sub-1").await.unwrap().unwrap().id, ext.id);
    // The only administrator cannot be disabled; with a second one, it can.
    assert!(matches!(db.set_user_status(id, UserStatus::Disabled, T0).await, Err(StorageError::LastAdmin)));
    assert_eq!(db.user_by_id(id).await.unwrap().unwrap().status, UserStatus::Active, "rolled back");
    user(db, "second@example.com", &["admin"]).await;
    assert!(db.set_user_status(id, UserStatus::Disabled, T0).await.unwrap());
    assert_eq!(db.user_by_id(id).await.unwrap().unwrap().status, UserStatus::Disabled);
    assert!(db.update_profile(id, "New Name", T0).await.unwrap());
    assert!(db.delete_user(id).await.unwrap());
    assert!(!db.delete_user(id).await.unwrap());
    assert!(db.user_by_id(id).await.unwrap().is_none());
}

async fn users_pagination_and_search(db: &Db) {
    for i in 0..7 {
        user(db, &format!("user{i}@example.com"), &[]).await;
    }
    user(db, "percent%@example.com", &[]).await;
    let mut seen = Vec::new();
    let mut page = PageRequest { limit: Some(3), cursor: None };
    loop {
        let p = db.list_users(None, &page).await.unwrap();
        assert!(p.items.len() <= 3);
        seen.extend(p.items.iter().map(|u| u.email.clone()));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let found = db.list_users(Some("USER3"), &PageRequest::default()).await.unwrap();
    assert_eq!(found.items.len(), 1);
    // LIKE wildcards in the search text are literal.
    let pct = db.list_users(Some("%"), &PageRequest::default()).await.unwrap();
    assert_eq!(pct.items.len(), 1, "'%' matches only the address containing it");
    let bad = db.list_users(None, &PageRequest { limit: None, cursor: Some("not-a-uuid".into()) }).await;
    assert!(bad.is_err());
}

async fn groups_and_admin_count(db: &Db) {
    assert_eq!(db.count_active_admins().await.unwrap(), 0);
    let a = user(db, "a@example.com", &["admin"]).await;
    db.create_group("analysts", "People who analyse", T0).await.unwrap();
    assert!(matches!(db.create_group("analysts", "", T0).await, Err(StorageError::Conflict)));
    assert_eq!(db.count_active_admins().await.unwrap(), 1);
    // Demoting the only administrator is refused and changes nothing.
    assert!(matches!(db.set_user_groups(a, &["analysts".into()]).await, Err(StorageError::LastAdmin)));
    assert_eq!(db.user_by_id(a).await.unwrap().unwrap().groups, vec!["admin".to_string()]);
    assert!(matches!(db.delete_user(a).await, Err(StorageError::LastAdmin)));
    let spare = user(db, "spare@example.com", &["admin"]).await;
    assert!(db.set_user_groups(a, &["analysts".into()]).await.unwrap());
    assert_eq!(db.user_by_id(a).await.unwrap().unwrap().groups, vec!["analysts".to_string()]);
    assert_eq!(db.count_active_admins().await.unwrap(), 1);
    assert!(db.set_user_groups(spare, &[]).await.is_err());
    assert!(db.delete_user(spare).await.is_err());
    assert!(db.set_user_groups(a, &["admin".into()]).await.unwrap());
    assert!(db.delete_user(spare).await.unwrap());
    assert!(db.set_user_groups(a, &["analysts".into()]).await.is_err());
    assert_eq!(db.count_active_admins().await.unwrap(), 1);
    db.create_group("zeta", "", T0).await.unwrap();
    user(db, "keeper@example.com", &["admin"]).await;
    assert!(db.set_user_groups(a, &["zeta".into(), "admin".into(), "analysts".into()]).await.unwrap());
    let b = user(db, "b@example.com", &["zeta"]).await;
    assert_eq!(db.user_by_id(a).await.unwrap().unwrap().groups, vec!["admin", "analysts", "zeta"], "joined and sorted");
    let listed = db.list_users(None, &PageRequest::default()).await.unwrap();
    let groups_of = |id| listed.items.iter().find(|u| u.id == id).unwrap().groups.clone();
    assert_eq!(groups_of(a), vec!["admin", "analysts", "zeta"]);
    assert_eq!(groups_of(b), vec!["zeta"]);
    assert!(db.set_user_groups(a, &["analysts".into()]).await.unwrap());
    assert!(db.set_user_groups(a, &["nope".into()]).await.is_err());
    assert_eq!(
        db.user_by_id(a).await.unwrap().unwrap().groups,
        vec!["analysts".to_string()],
        "failed update left groups intact"
    );
    let groups = db.list_groups(&PageRequest::default()).await.unwrap();
    assert_eq!(groups.items.len(), 3);
    assert!(db.delete_group("analysts").await.unwrap());
    assert!(db.user_by_id(a).await.unwrap().unwrap().groups.is_empty());
    assert!(!db.set_user_groups(UserId::new(), &[]).await.unwrap());
}

async fn mfa_replay_and_recovery_codes(db: &Db) {
    let u = user(db, "m@example.com", &[]).await;
    assert!(db.mfa_begin(u, b"sealed", T0).await.unwrap());
    assert!(!db.mfa(u).await.unwrap().unwrap().enabled);
    assert!(db.mfa_enable(u, &["h1".into(), "h2".into()], T0).await.unwrap());
    assert!(!db.mfa_begin(u, b"other", T0).await.unwrap(), "cannot restart while enabled");
    assert!(db.user_by_id(u).await.unwrap().unwrap().mfa_enabled);
    assert!(db.mfa_use_step(u, 100).await.unwrap());
    assert!(!db.mfa_use_step(u, 100).await.unwrap(), "same step is a replay");
    assert!(!db.mfa_use_step(u, 99).await.unwrap(), "older step is a replay");
    assert!(db.mfa_use_step(u, 101).await.unwrap());
    assert!(db.use_recovery_code(u, "h1", T0).await.unwrap());
    assert!(!db.use_recovery_code(u, "h1", T0).await.unwrap(), "single use");
    assert_eq!(db.unused_recovery_codes(u).await.unwrap(), 1);
    assert!(db.mfa_reset(u).await.unwrap());
    assert!(db.mfa(u).await.unwrap().is_none());
    assert_eq!(db.unused_recovery_codes(u).await.unwrap(), 0);
}

async fn refresh_rotation_and_reuse(db: &Db) {
    let u = user(db, "r@example.com", &[]).await;
    let exp = T0.plus(std::time::Duration::from_secs(3600));
    let fid = db.create_family(&fam(u, "hash-1", exp, Some("127.0.0.1"), None)).await.unwrap();
    assert!(matches!(db.consume_refresh_token("nope", T0).await.unwrap(), RefreshLookup::Unknown));
    match db.consume_refresh_token("hash-1", T0).await.unwrap() {
        RefreshLookup::Fresh(f) => assert_eq!(f.id, fid),
        other => panic!("{other:?}"),
    }
    db.rotate_refresh_token(fid, "hash-2", T0).await.unwrap();
    assert!(matches!(db.consume_refresh_token("hash-1", T0).await.unwrap(), RefreshLookup::Reused(f) if f.id == fid));
    assert_eq!(db.session_user(u, fid, T0).await.unwrap().unwrap().id, u);
    assert!(db.session_user(UserId::new(), fid, T0).await.unwrap().is_none(), "family of another user");
    assert!(db.session_user(u, fid, exp).await.unwrap().is_none(), "expired family");
}

async fn families_revocation(db: &Db) {
    let u = user(db, "f@example.com", &[]).await;
    let other = user(db, "g@example.com", &[]).await;
    let exp = T0.plus(std::time::Duration::from_secs(3600));
    let f1 = db.create_family(&fam(u, "a", exp, None, None)).await.unwrap();
    let _f2 = db.create_family(&fam(u, "b", exp, None, Some("app"))).await.unwrap();
    assert_eq!(db.list_families(u, T0, &PageRequest::default()).await.unwrap().items.len(), 2);
    assert!(!db.revoke_family(f1, other, "logout", T0).await.unwrap(), "cannot revoke another user's family");
    assert!(db.revoke_family(f1, u, "logout", T0).await.unwrap());
    assert!(db.session_user(u, f1, T0).await.unwrap().is_none());
    assert_eq!(db.revoke_all_families(u, "all", T0).await.unwrap(), 1);
    assert!(db.list_families(u, T0, &PageRequest::default()).await.unwrap().items.is_empty());
}

async fn api_keys_owner_scoping(db: &Db) {
    let a = user(db, "a@example.com", &[]).await;
    let b = user(db, "b@example.com", &[]).await;
    let k = db
        .create_api_key(
            &NewApiKeyRow {
                user_id: a,
                name: "ci",
                prefix: "abcdef012345",
                secret_hash: "h",
                scopes: "chat",
                expires_at: None,
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(db.api_key_by_prefix("abcdef012345").await.unwrap().unwrap().id, k.id);
    assert!(db.api_key(Owner::User(b), k.id).await.unwrap().is_none());
    assert!(db.list_api_keys(Owner::User(b), &PageRequest::default()).await.unwrap().items.is_empty());
    assert_eq!(db.list_api_keys(Owner::Anyone, &PageRequest::default()).await.unwrap().items.len(), 1);
    assert!(!db.revoke_api_key(Owner::User(b), k.id, T0).await.unwrap(), "another user's key is refused");
    assert!(db.revoke_api_key(Owner::User(a), k.id, T0).await.unwrap());
    assert!(!db.revoke_api_key(Owner::Anyone, k.id, T0).await.unwrap(), "already revoked");
    db.touch_api_key(k.id, T0).await.unwrap();
    assert_eq!(db.api_key(Owner::User(a), k.id).await.unwrap().unwrap().last_used_at, Some(T0));
    let dup = db
        .create_api_key(
            &NewApiKeyRow {
                user_id: b,
                name: "x",
                prefix: "abcdef012345",
                secret_hash: "h",
                scopes: "",
                expires_at: None,
            },
            T0,
        )
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict)));
}

async fn throttle_locks_and_clears(db: &Db) {
    let k = "email:abc";
    assert!(db.throttle_locked_until(k, T0).await.unwrap().is_none());
    for _ in 0..4 {
        assert!(db.throttle_fail(k, T0, 60_000, 5, 30_000).await.unwrap().is_none());
    }
    let until = db.throttle_fail(k, T0, 60_000, 5, 30_000).await.unwrap().unwrap();
    assert_eq!(until.millis(), T0.millis() + 30_000);
    assert_eq!(db.throttle_locked_until(k, T0).await.unwrap(), Some(until));
    assert!(db.throttle_locked_until(k, until).await.unwrap().is_none(), "lock ends");
    db.throttle_clear(k).await.unwrap();
    assert!(db.throttle_locked_until(k, T0).await.unwrap().is_none());
}

async fn audit_filters_and_order(db: &Db) {
    let u = UserId::new();
    for (i, action) in ["auth.login", "auth.login", "apikey.create"].iter().enumerate() {
        db.audit(
            &AuditEntry {
                actor_id: Some(u),
                ..AuditEntry::new(*action, if i == 0 { AuditOutcome::Failure } else { AuditOutcome::Success })
            },
            T0,
        )
        .await
        .unwrap();
    }
    let all = db.list_audit(&AuditFilter::default(), &PageRequest::default()).await.unwrap();
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.items[0].entry.action, "apikey.create", "newest first");
    let logins = db
        .list_audit(&AuditFilter { action: Some("auth.login".into()), ..Default::default() }, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(logins.items.len(), 2);
    let failed = db
        .list_audit(
            &AuditFilter { outcome: Some(AuditOutcome::Failure), actor_id: Some(u), ..Default::default() },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
}

fn entry(action: &str, outcome: &str) -> AuditEntry {
    AuditEntry { actor: Some("a@example.com".into()), ..AuditEntry::new(action, AuditOutcome::parse(outcome).unwrap()) }
}

fn secs(n: u64) -> Timestamp {
    T0.plus(std::time::Duration::from_secs(n))
}

async fn audit_problems(db: &Db, head: Option<(i64, &str)>) -> Vec<String> {
    db.verify_audit(head).await.unwrap().problems
}

async fn audit_chain_detects_tampering(db: &Db) {
    for i in 1..=6 {
        db.audit(&entry("auth.login", "failure"), secs(i)).await.unwrap();
    }
    let v = db.verify_audit(None).await.unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.records, v.first_seq, v.last_seq), (6, Some(1), Some(6)));
    let head = v.head.clone().unwrap();
    assert_eq!(head.len(), 64);

    // An edited field is found, and only that record is blamed.
    sqlx::query("UPDATE audit_log SET outcome = 'success' WHERE seq = 3").execute(db.pool()).await.unwrap();
    let p = audit_problems(db, None).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("record 3") && p[0].contains("modified"), "{p:?}");
    // Re-hashing the edited record does not help: the next record no longer links to it.
    let rows = db.audit_chain_slice(2, None, None, 1).await.unwrap();
    let r = &rows[0];
    let forged = rampart_storage::repo::audit::record_hash(
        r.prev_hash.as_deref().unwrap(),
        3,
        &r.id.to_string(),
        r.at.millis(),
        &r.entry,
    );
    sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = 3").bind(&forged).execute(db.pool()).await.unwrap();
    let p = audit_problems(db, None).await;
    assert!(p.iter().any(|x| x.contains("record 4") && x.contains("does not link")), "{p:?}");
    sqlx::query("UPDATE audit_log SET outcome = 'failure', hash = $1 WHERE seq = 3")
        .bind(&rows[0].hash)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(audit_problems(db, None).await.is_empty());
    // An outcome no version writes is a modification too, reported, not an error of the walk.
    sqlx::query("UPDATE audit_log SET outcome = 'allowed' WHERE seq = 2").execute(db.pool()).await.unwrap();
    let p = audit_problems(db, None).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("record 2") && p[0].contains("modified") && p[0].contains("allowed"), "{p:?}");
    sqlx::query("UPDATE audit_log SET outcome = 'failure' WHERE seq = 2").execute(db.pool()).await.unwrap();
    assert!(audit_problems(db, None).await.is_empty());

    // Deleting the newest record is only visible against a recorded head.
    sqlx::query("DELETE FROM audit_log WHERE seq = 6").execute(db.pool()).await.unwrap();
    assert!(audit_problems(db, None).await.is_empty());
    let p = audit_problems(db, Some((6, &head))).await;
    assert!(p.iter().any(|x| x.contains("no longer in the chain")), "{p:?}");
    let p = audit_problems(db, Some((5, &head))).await;
    assert!(p.iter().any(|x| x.contains("recorded for it")), "a wrong hash for a present record: {p:?}");

    // Appending goes on from the current head; deleting from the middle is found.
    db.audit(&entry("auth.logout", "success"), secs(7)).await.unwrap();
    assert!(audit_problems(db, None).await.is_empty());
    sqlx::query("DELETE FROM audit_log WHERE seq = 2").execute(db.pool()).await.unwrap();
    let p = audit_problems(db, None).await;
    assert!(p.iter().any(|x| x.contains("records 2..2 are missing")), "{p:?}");

    // A row slipped in without a place in the chain is found.
    sqlx::query(
        "INSERT INTO audit_log (id, at, action, outcome) VALUES ('00000000-0000-7000-8000-000000000001', 0, 'x', 'y')",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let p = audit_problems(db, None).await;
    assert!(p.iter().any(|x| x.contains("outside the chain")), "{p:?}");
}

async fn audit_chain_legacy_rows_and_trim(db: &Db) {
    // Rows from before the chain (as migration 9 leaves them) are chained in id order.
    for (i, id) in ["00000000-0000-7000-8000-00000000000a", "00000000-0000-7000-8000-00000000000b"].iter().enumerate() {
        sqlx::query("INSERT INTO audit_log (id, at, action, outcome) VALUES ($1, $2, 'auth.login', 'success')")
            .bind(*id)
            .bind(secs(i as u64).millis())
            .execute(db.pool())
            .await
            .unwrap();
    }
    assert_eq!(db.chain_legacy_audit().await.unwrap(), 2);
    assert_eq!(db.chain_legacy_audit().await.unwrap(), 0, "once");
    for i in 2..10 {
        db.audit(&entry("auth.login", "success"), secs(i)).await.unwrap();
    }
    let v = db.verify_audit(None).await.unwrap();
    assert!(v.ok() && v.records == 10, "{v:?}");

    // Retention trims the front in bounded batches and moves the anchor; the rest verifies.
    assert_eq!(db.trim_audit(secs(5), 3).await.unwrap(), 3);
    assert_eq!(db.trim_audit(secs(5), 3).await.unwrap(), 2);
    assert_eq!(db.trim_audit(secs(5), 3).await.unwrap(), 0);
    let v = db.verify_audit(None).await.unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.records, v.first_seq), (5, Some(6)));
    // A trim that does not move the anchor (someone deleting old records) is found.
    sqlx::query("DELETE FROM audit_log WHERE seq = 6").execute(db.pool()).await.unwrap();
    let p = audit_problems(db, None).await;
    assert!(p.iter().any(|x| x.contains("records 6..6 are missing")), "{p:?}");
    // When everything has expired the chain continues from the anchor.
    assert_eq!(db.trim_audit(secs(100), 100).await.unwrap(), 4);
    db.audit(&entry("auth.login", "success"), secs(101)).await.unwrap();
    let v = db.verify_audit(None).await.unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.records, v.first_seq), (1, Some(11)));
}

async fn retention_deletes_in_batches_with_dependants(db: &Db) {
    use rampart_core::{FeedbackId, MessageId, SessionId};
    use rampart_storage::repo::chat::{NewFeedback, NewMessage};
    use rampart_storage::repo::retention::Expiring;
    let a = user(db, "ret@example.com", &[]).await;
    let day = std::time::Duration::from_secs(86_400);
    let mut sessions = Vec::new();
    // Five old sessions (day 1..5), two recent ones (day 100, 101), each with a message and feedback.
    for d in [1u32, 2, 3, 4, 5, 100, 101] {
        let at = T0.plus(day * d);
        let sid = SessionId::new();
        db.create_session(sid, a, "default", b"t", at).await.unwrap();
        let mid = MessageId::new();
        let msg = NewMessage {
            id: mid,
            role: "assistant",
            sealed_content: b"c",
            sealed_parts: None,
            model_id: None,
            response_time_ms: None,
        };
        assert!(db.append_messages(sid, a, &[msg], at).await.unwrap());
        let fb = NewFeedback {
            id: FeedbackId::new(),
            user_id: a,
            session_id: sid,
            message_id: mid,
            rating: "thumbs_up",
            reason: None,
            sealed_text: None,
        };
        db.create_feedback(&fb, at).await.unwrap();
        sessions.push(sid);
    }
    let cutoff = T0.plus(day * 50);
    assert_eq!(db.delete_expired(Expiring::Sessions, cutoff, 2).await.unwrap(), 2, "bounded by the batch");
    assert_eq!(db.delete_expired(Expiring::Sessions, cutoff, 10).await.unwrap(), 3);
    assert_eq!(db.delete_expired(Expiring::Sessions, cutoff, 10).await.unwrap(), 0);
    let count =
        |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await.unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM chat_sessions").await, 2);
    assert_eq!(count("SELECT COUNT(*) FROM chat_messages").await, 2, "messages go with their session");
    assert_eq!(count("SELECT COUNT(*) FROM feedback").await, 2, "and feedback too");
    // Feedback on its own clock.
    assert_eq!(db.delete_expired(Expiring::Feedback, T0.plus(day * 100).plus(day / 2), 10).await.unwrap(), 1);
    assert_eq!(count("SELECT COUNT(*) FROM chat_messages").await, 2, "feedback retention keeps the conversation");
}

async fn queue_depths_count_waiting_and_running_work(db: &Db) {
    use rampart_core::JobId;
    let u = user(db, "q@example.com", &[]).await;
    assert_eq!(db.queue_depths().await.unwrap(), vec![]);
    let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
    for j in [a, b, c] {
        db.create_job(j, u, "default", T0).await.unwrap();
    }
    db.update_job(b, "running", None, None, T0).await.unwrap();
    db.update_job(c, "succeeded", Some(b"r"), None, T0).await.unwrap();
    let mut d = db.queue_depths().await.unwrap();
    d.sort();
    assert_eq!(
        d,
        vec![("jobs", "pending".to_owned(), 1), ("jobs", "running".to_owned(), 1)],
        "finished jobs do not count"
    );
}

async fn leases_have_one_holder(db: &Db) {
    let ttl = std::time::Duration::from_secs(60);
    assert!(db.try_lease("sweeper", "a", T0, ttl).await.unwrap());
    assert!(!db.try_lease("sweeper", "b", T0.plus(std::time::Duration::from_secs(30)), ttl).await.unwrap());
    assert!(db.try_lease("sweeper", "a", T0.plus(std::time::Duration::from_secs(30)), ttl).await.unwrap(), "renewal");
    assert!(!db.try_lease("sweeper", "b", T0.plus(std::time::Duration::from_secs(80)), ttl).await.unwrap(), "renewed");
    assert!(
        db.try_lease("sweeper", "b", T0.plus(std::time::Duration::from_secs(91)), ttl).await.unwrap(),
        "expired: taken over"
    );
    db.release_lease("sweeper", "a").await.unwrap();
    assert!(
        !db.try_lease("sweeper", "a", T0.plus(std::time::Duration::from_secs(92)), ttl).await.unwrap(),
        "not a's to release"
    );
    db.release_lease("sweeper", "b").await.unwrap();
    assert!(db.try_lease("sweeper", "a", T0.plus(std::time::Duration::from_secs(93)), ttl).await.unwrap());
    // Contenders at the same instant: exactly one wins.
    let now = T0.plus(std::time::Duration::from_secs(1000));
    let wins = futures::future::join_all((0..8).map(|i| {
        let db = db.clone();
        async move { db.try_lease("race", &format!("h{i}"), now, ttl).await.unwrap() }
    }))
    .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1);
}

async fn meta_take_once(db: &Db) {
    db.meta_set("k", "v1").await.unwrap();
    db.meta_set("k", "v2").await.unwrap();
    assert_eq!(db.meta_get("k").await.unwrap().as_deref(), Some("v2"));
    assert!(db.meta_take("k").await.unwrap());
    assert!(!db.meta_take("k").await.unwrap());
}

async fn signing_keys_publish_window(db: &Db) {
    db.insert_signing_key("k1", "RS256", b"sealed1", T0).await.unwrap();
    let later = T0.plus(std::time::Duration::from_secs(10));
    assert_eq!(db.retire_signing_keys(later, later.plus(std::time::Duration::from_secs(100))).await.unwrap(), 1);
    db.insert_signing_key("k2", "RS256", b"sealed2", later).await.unwrap();
    let keys = db.published_signing_keys(later).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), vec!["k2", "k1"]);
    assert_eq!(keys[1].sealed_private_key, b"sealed1");
    let much_later = later.plus(std::time::Duration::from_secs(1000));
    assert_eq!(db.published_signing_keys(much_later).await.unwrap().len(), 1, "retired key leaves the JWKS");
}

async fn oauth_codes_are_single_use(db: &Db) {
    use rampart_storage::repo::oauth::{CodeLookup, NewOAuthCode};
    let u = user(db, "o@example.com", &[]).await;
    let exp = T0.plus(std::time::Duration::from_secs(60));
    let c = NewOAuthCode {
        code_hash: "ch",
        client_id: "app",
        user_id: u,
        redirect_uri: "https://app/cb",
        code_challenge: "x",
        scope: "openid",
        nonce: Some("n"),
        expires_at: exp,
        auth_time: T0.minus(std::time::Duration::from_secs(5)),
    };
    db.create_oauth_code(&c, T0).await.unwrap();
    assert!(matches!(db.redeem_oauth_code("nope", T0).await.unwrap(), CodeLookup::Unknown));
    match db.redeem_oauth_code("ch", T0).await.unwrap() {
        CodeLookup::Fresh(code) => {
            assert_eq!((code.client_id.as_str(), code.nonce.as_deref(), code.user_id), ("app", Some("n"), u));
            assert_eq!(code.auth_time, Some(c.auth_time));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(db.redeem_oauth_code("ch", T0).await.unwrap(), CodeLookup::Reused(None)));
    let fid = db.create_family(&fam(u, "rt", exp, None, Some("app"))).await.unwrap();
    db.set_oauth_code_family("ch", fid).await.unwrap();
    assert!(matches!(db.redeem_oauth_code("ch", T0).await.unwrap(), CodeLookup::Reused(Some(f)) if f == fid));
    assert_eq!(db.family(fid).await.unwrap().unwrap().client_id.as_deref(), Some("app"));
    // The grant a client's sign-in keeps for its whole life, found from its refresh token too.
    db.set_family_grant(fid, "openid email", c.auth_time).await.unwrap();
    let f = db.refresh_token_family("rt").await.unwrap().unwrap();
    assert_eq!((f.id, f.scope.as_deref(), f.auth_time), (fid, Some("openid email"), Some(c.auth_time)));
    assert!(db.refresh_token_family("nope").await.unwrap().is_none());
    assert!(
        matches!(db.consume_refresh_token("rt", T0).await.unwrap(), RefreshLookup::Fresh(_)),
        "peeking used nothing up"
    );
    // Consent, per user and client; saving again replaces the scopes.
    let v = user(db, "v@example.com", &[]).await;
    assert_eq!(db.oauth_consent(u, "app").await.unwrap(), None);
    db.save_oauth_consent(u, "app", "openid", T0).await.unwrap();
    db.save_oauth_consent(u, "app", "openid email", T0.plus(std::time::Duration::from_secs(1))).await.unwrap();
    assert_eq!(db.oauth_consent(u, "app").await.unwrap().as_deref(), Some("openid email"));
    assert_eq!(db.oauth_consent(v, "app").await.unwrap(), None, "another user's consent is not theirs");
    assert_eq!(db.oauth_consent(u, "other").await.unwrap(), None);
}

async fn concurrent_demotions_leave_an_admin(db: &Db) {
    for round in 0..5 {
        let a = user(db, &format!("a{round}@example.com"), &["admin"]).await;
        let b = user(db, &format!("b{round}@example.com"), &["admin"]).await;
        // Leave exactly these two administrators, then demote both at once.
        for u in db.list_users(None, &PageRequest { limit: Some(100), cursor: None }).await.unwrap().items {
            if u.id != a && u.id != b && u.groups.iter().any(|g| g == "admin") {
                db.set_user_groups(u.id, &[]).await.unwrap();
            }
        }
        let (ra, rb) = tokio::join!(db.set_user_groups(a, &[]), db.set_user_groups(b, &[]));
        let ok = [ra.is_ok(), rb.is_ok()].iter().filter(|x| **x).count();
        assert_eq!(ok, 1, "exactly one demotion wins: {ra:?} {rb:?}");
        assert_eq!(db.count_active_admins().await.unwrap(), 1);
    }
}

async fn chat_sessions_messages_and_feedback(db: &Db) {
    use rampart_core::{FeedbackId, MessageId, SessionId};
    use rampart_storage::repo::chat::{NewFeedback, NewMessage, Owner, Shelf};
    let a = user(db, "a@example.com", &[]).await;
    let b = user(db, "b@example.com", &[]).await;
    let mut sessions = Vec::new();
    for i in 0..5 {
        let sid = SessionId::new();
        db.create_session(sid, a, "default", b"t", T0.plus(std::time::Duration::from_secs(i))).await.unwrap();
        sessions.push(sid);
    }
    let s0 = sessions[0];
    let (m1, m2) = (MessageId::new(), MessageId::new());
    let later = T0.plus(std::time::Duration::from_secs(100));
    let msgs = [
        NewMessage {
            id: m1,
            role: "user",
            sealed_content: b"q",
            sealed_parts: None,
            model_id: None,
            response_time_ms: None,
        },
        NewMessage {
            id: m2,
            role: "assistant",
            sealed_content: b"a",
            sealed_parts: Some(b"p"),
            model_id: Some("m"),
            response_time_ms: Some(12),
        },
    ];
    assert!(!db.append_messages(s0, b, &msgs, later).await.unwrap(), "not b's session");
    assert!(db.append_messages(s0, a, &msgs, later).await.unwrap());
    let history = db.session_messages(s0, 100).await.unwrap();
    assert_eq!(
        history.iter().map(|m| (m.seq, m.role.as_str())).collect::<Vec<_>>(),
        vec![(1, "user"), (2, "assistant")]
    );
    assert_eq!(history[1].response_time_ms, Some(12));
    let tail = db.session_messages(s0, 1).await.unwrap();
    assert_eq!(tail.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(), vec!["assistant"], "the last one only");
    // From the newest end, a page at a time: the cursor is the oldest message's number.
    let newest = db.session_history(s0, &PageRequest { limit: Some(1), cursor: None }).await.unwrap();
    assert_eq!(
        (newest.items.iter().map(|m| m.seq).collect::<Vec<_>>(), newest.next_cursor.as_deref()),
        (vec![2], Some("2"))
    );
    let before = db.session_history(s0, &PageRequest { limit: Some(1), cursor: newest.next_cursor }).await.unwrap();
    assert_eq!((before.items.iter().map(|m| m.seq).collect::<Vec<_>>(), before.next_cursor), (vec![1], None));
    let all = db.session_history(s0, &PageRequest { limit: Some(2), cursor: None }).await.unwrap();
    assert_eq!((all.items.len(), all.next_cursor), (2, None), "exactly a page: no cursor");
    for bad in ["x", "0", "-1"] {
        let p = PageRequest { limit: None, cursor: Some(bad.into()) };
        assert!(matches!(db.session_history(s0, &p).await, Err(rampart_storage::StorageError::InvalidCursor)), "{bad}");
    }
    // Most recently active first, paginated by keyset.
    let p1 =
        db.list_sessions(Owner::User(a), Shelf::Active, &PageRequest { limit: Some(2), cursor: None }).await.unwrap();
    assert_eq!(p1.items[0].id, s0, "the session with the newest message comes first");
    let p2 = db
        .list_sessions(Owner::User(a), Shelf::Active, &PageRequest { limit: Some(2), cursor: p1.next_cursor.clone() })
        .await
        .unwrap();
    let p3 = db
        .list_sessions(Owner::User(a), Shelf::Active, &PageRequest { limit: Some(2), cursor: p2.next_cursor.clone() })
        .await
        .unwrap();
    let all: Vec<_> = p1.items.iter().chain(&p2.items).chain(&p3.items).map(|s| s.id).collect();
    assert_eq!(all.len(), 5);
    assert_eq!(all, vec![s0, sessions[4], sessions[3], sessions[2], sessions[1]]);
    assert!(p3.next_cursor.is_none());
    assert!(db.list_sessions(Owner::User(b), Shelf::All, &PageRequest::default()).await.unwrap().items.is_empty());
    assert_eq!(db.list_sessions(Owner::Anyone, Shelf::All, &PageRequest::default()).await.unwrap().items.len(), 5);
    assert!(db.session(Owner::User(b), s0).await.unwrap().is_none());
    assert!(db.session(Owner::Anyone, s0).await.unwrap().is_some());
    // Feedback only on one's own messages.
    assert!(db.owned_message(b, s0, m2).await.unwrap().is_none());
    assert!(db.owned_message(a, sessions[1], m2).await.unwrap().is_none(), "message of another session");
    assert!(db.owned_message(a, s0, m2).await.unwrap().is_some());
    let fid = FeedbackId::new();
    db.create_feedback(
        &NewFeedback {
            id: fid,
            user_id: a,
            session_id: s0,
            message_id: m2,
            rating: "thumbs_down",
            reason: Some("accuracy"),
            sealed_text: Some(b"x"),
        },
        later,
    )
    .await
    .unwrap();
    assert!(db.feedback(Owner::User(b), fid).await.unwrap().is_none());
    assert_eq!(db.feedback(Owner::User(a), fid).await.unwrap().unwrap().reason.as_deref(), Some("accuracy"));
    assert_eq!(db.list_feedback(a, &PageRequest::default()).await.unwrap().items.len(), 1);
    assert_eq!(
        db.feedback_between(T0, later.plus(std::time::Duration::from_secs(1)), &PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        db.feedback_between(T0, later, &PageRequest::default()).await.unwrap().items.is_empty(),
        "end is exclusive"
    );
    // Deleting cascades to messages and feedback; another user's delete finds nothing.
    assert!(!db.delete_session(b, s0).await.unwrap());
    assert!(db.delete_session(a, s0).await.unwrap());
    assert!(db.session_messages(s0, 100).await.unwrap().is_empty());
    assert!(db.feedback(Owner::Anyone, fid).await.unwrap().is_none());
    assert_eq!(db.delete_all_sessions(a).await.unwrap(), 4);
}

async fn migrate_is_idempotent(db: &Db) {
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
}

/// Both backends end with the same schema.
#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let s = TestDb::sqlite().await;
    let Some(p) = TestDb::postgres("sqlite_and_postgres_schemas_match").await else { return };
    let a = s.db.schema_fingerprint().await.unwrap();
    let b = p.db.schema_fingerprint().await.unwrap();
    assert!(a.len() > 40, "fingerprint covers the schema: {a:?}");
    let only_a: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_b: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    assert!(only_a.is_empty() && only_b.is_empty(), "sqlite only: {only_a:#?}\npostgres only: {only_b:#?}");
    p.cleanup().await;
}

#[tokio::test]
async fn refuses_unknown_database_urls() {
    assert!(matches!(Db::connect("mysql://x").await, Err(StorageError::UnsupportedUrl)));
    assert!(matches!(Db::connect("./rampart.db").await, Err(StorageError::UnsupportedUrl)));
}

/// A database with documents from before migration 8 (content inside `kb_documents`) keeps them
/// after the upgrade, on both backends.
#[tokio::test]
async fn documents_stored_before_migration_8_keep_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.path().join("upgrade.db").display())];
    match rampart_testkit::pg_url() {
        Some(base) => urls.push(TestDb::create_pg_database(&base).await.1),
        None => rampart_testkit::skipped("documents_stored_before_migration_8_keep_their_content (postgres)"),
    }
    for url in urls {
        let db = Db::connect(&url).await.unwrap();
        db.migrate_up_to(7).await.unwrap();
        let (kb, doc) = (rampart_core::KnowledgeBaseId::new(), rampart_core::DocumentId::new());
        sqlx::query(
            "INSERT INTO knowledge_bases (id, name, description, created_at, updated_at) VALUES ($1, 'old', '', 1, 1)",
        )
        .bind(kb.to_string())
        .execute(db.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO kb_documents (id, kb_id, name, content_hash, size, content, status, chunk_count, created_at, updated_at) \
             VALUES ($1, $2, 'a.txt', 'h', 5, $3, 'ready', 0, 1, 1)",
        )
        .bind(doc.to_string())
        .bind(kb.to_string())
        .bind(b"sealed-bytes".to_vec())
        .execute(db.pool())
        .await
        .unwrap();
        db.migrate().await.unwrap();
        assert_eq!(db.document_contents(&[doc]).await.unwrap(), vec![(doc, b"sealed-bytes".to_vec())], "{url}");
        assert_eq!(db.kb_stats(kb).await.unwrap().documents, 1);
        assert!(db.kb_by_id(kb).await.unwrap().unwrap().embedding_model.is_none(), "lexical as before");
        assert!(db.delete_document(kb, doc).await.unwrap());
        assert!(db.document_contents(&[doc]).await.unwrap().is_empty(), "content goes with its document");
        db.close().await;
    }
}

/// Every blob column is in the sealed-column inventory that key rotation walks.
#[tokio::test]
async fn every_blob_column_is_in_the_sealed_inventory() {
    let s = TestDb::sqlite().await;
    let mut listed: Vec<String> =
        rampart_storage::repo::sealed::SEALED_COLUMNS.iter().map(|c| format!("{}.{}", c.table, c.column)).collect();
    listed.sort();
    assert_eq!(s.db.blob_columns().await.unwrap(), listed);
    if let Some(p) = TestDb::postgres("every_blob_column_is_in_the_sealed_inventory").await {
        assert_eq!(p.db.blob_columns().await.unwrap(), listed);
        p.cleanup().await;
    }
}

async fn chat_sessions_pinned_archived_renamed(db: &Db) {
    use rampart_core::SessionId;
    use rampart_storage::repo::chat::{SessionChange, Shelf};
    let a = user(db, "shelf-a@example.com", &[]).await;
    let b = user(db, "shelf-b@example.com", &[]).await;
    let mut s = Vec::new();
    for i in 0..4 {
        let sid = SessionId::new();
        db.create_session(sid, a, "default", b"t", T0.plus(std::time::Duration::from_secs(i))).await.unwrap();
        s.push(sid);
    }
    let pin = SessionChange { pinned: Some(true), ..Default::default() };
    assert!(!db.change_session(b, s[0], &pin).await.unwrap(), "not b's session");
    assert!(db.change_session(a, s[0], &pin).await.unwrap());
    let archive =
        SessionChange { archived_at: Some(Some(T0)), sealed_title: Some(b"new".to_vec()), ..Default::default() };
    assert!(db.change_session(a, s[2], &archive).await.unwrap());
    let ids = |p: rampart_core::Page<rampart_storage::repo::chat::SessionRecord>| {
        p.items.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    // Pinned first (the oldest here), then newest activity; the archived one elsewhere. In pages of one.
    let mut seen = Vec::new();
    let mut page = PageRequest { limit: Some(1), cursor: None };
    loop {
        let p = db.list_sessions(Owner::User(a), Shelf::Active, &page).await.unwrap();
        seen.extend(p.items.iter().map(|r| r.id));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, vec![s[0], s[3], s[1]]);
    let archived = db.list_sessions(Owner::User(a), Shelf::Archived, &PageRequest::default()).await.unwrap();
    assert_eq!(archived.items[0].sealed_title, b"new".to_vec());
    assert_eq!(ids(archived), vec![s[2]]);
    assert_eq!(ids(db.list_sessions(Owner::User(a), Shelf::All, &PageRequest::default()).await.unwrap()).len(), 4);
    let unarchive = SessionChange { archived_at: Some(None), pinned: Some(false), ..Default::default() };
    assert!(db.change_session(a, s[2], &unarchive).await.unwrap());
    let r = db.session(Owner::User(a), s[2]).await.unwrap().unwrap();
    assert!(r.archived_at.is_none() && !r.pinned);
    assert_eq!(r.updated_at, T0.plus(std::time::Duration::from_secs(2)), "activity time unchanged");
    for bad in ["1.2", "2.1.0191e5a6-3b4c-7def-8000-000000000000", "x.y.z"] {
        let p = PageRequest { limit: None, cursor: Some(bad.into()) };
        assert!(
            matches!(db.list_sessions(Owner::User(a), Shelf::Active, &p).await, Err(StorageError::InvalidCursor)),
            "{bad}"
        );
    }
}

async fn user_prompts_owner_scoped_and_capped(db: &Db) {
    use rampart_core::PromptId;
    use rampart_storage::repo::prompts::PromptRecord;
    let a = user(db, "prompts-a@example.com", &[]).await;
    let b = user(db, "prompts-b@example.com", &[]).await;
    let rec = |u: UserId| PromptRecord {
        id: PromptId::new(),
        user_id: u,
        sealed_title: b"t".to_vec(),
        sealed_body: b"b".to_vec(),
        created_at: T0,
        updated_at: T0,
    };
    let (p1, p2) = (rec(a), rec(a));
    assert!(db.create_prompt(&p1, 2).await.unwrap());
    assert!(db.create_prompt(&p2, 2).await.unwrap());
    assert!(!db.create_prompt(&rec(a), 2).await.unwrap(), "the library is full");
    assert!(db.create_prompt(&rec(b), 2).await.unwrap(), "b's library is b's");
    let page = db.list_prompts(a, &PageRequest { limit: Some(1), cursor: None }).await.unwrap();
    assert_eq!(page.items[0].id, p1.id);
    let rest = db.list_prompts(a, &PageRequest { limit: Some(1), cursor: page.next_cursor }).await.unwrap();
    assert_eq!((rest.items[0].id, rest.next_cursor), (p2.id, None));
    assert!(db.prompt(b, p1.id).await.unwrap().is_none());
    assert!(!db.update_prompt(b, p1.id, b"x", b"y", T0).await.unwrap());
    assert!(db.update_prompt(a, p1.id, b"x", b"y", T0).await.unwrap());
    assert_eq!(db.prompt(a, p1.id).await.unwrap().unwrap().sealed_body, b"y".to_vec());
    assert!(!db.delete_prompt(b, p1.id).await.unwrap());
    assert!(db.delete_prompt(a, p1.id).await.unwrap());
    assert!(db.prompt(a, p1.id).await.unwrap().is_none());
}
