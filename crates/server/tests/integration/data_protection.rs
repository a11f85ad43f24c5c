//! Encryption at rest: planted plaintext is nowhere in the database or the data directory, and
//! master-key rotation re-wraps every data key while data written before stays readable after.

use crate::common::*;
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::json;

const PROVIDER_KEY: &str = "sk-planted-provider-secret-7731";
const QUESTION: &str = "planted question about kumquats";
const FEEDBACK: &str = "planted feedback mentioning persimmons";
const DOCUMENT: &str = "The planted quokka lives on Rottnest Island near Perth.";

struct Planted {
    user_token: String,
    user_email: String,
    totp_secret: String,
    session: String,
    feedback: String,
    kb: String,
    job: String,
}

/// Writes one of everything that is sealed: a provider secret, a TOTP secret, a session title,
/// messages and parts, feedback text, a document, its chunks, a job result.
async fn plant(s: &TestServer, up: &FakeOpenAi) -> Planted {
    let (_, admin) = s.admin().await;
    s.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "up", "provider": "openai", "base_url": up.base_url, "model": "m", "api_key": PROVIDER_KEY, "max_retries": 0}),
    )
    .await
    .expect(201);
    s.post("/v1/admin/assistants", Some(&admin), json!({"id": "via-up", "kind": "model", "model": "up"}))
        .await
        .expect(201);
    let email = "owner@example.com";
    let uid = s.user(email, &[]).await;
    let t = s.token(email).await;
    let (totp_secret, _) = crate::auth_flow::enrol(s, &t).await;
    let (session, mid) = crate::chat::exchange(s, &uid, QUESTION).await;
    let fb = s
        .post(
            "/v1/feedback",
            Some(&t),
            json!({"session_id": session, "message_id": mid, "rating": "thumbs_down", "reason": "other", "text_feedback": FEEDBACK}),
        )
        .await
        .expect(201)
        .body;
    let kb = crate::knowledge::create_kb(s, &t, "notes", &[]).await;
    assert_eq!(crate::knowledge::upload(s, &t, &kb, &[("n.txt", DOCUMENT.as_bytes())]).await.status(), 202);
    crate::knowledge::ingested(s, &t, &kb).await;
    let job = crate::openai::start_job(s, &t, "via-up", "hi").await;
    crate::openai::wait_job(s, &t, &job).await;
    Planted {
        user_token: t,
        user_email: email.into(),
        totp_secret,
        session,
        feedback: fb["feedback_id"].as_str().or(fb["id"].as_str()).unwrap().to_owned(),
        kb,
        job,
    }
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { files_under(&p, out) } else { out.push(p) }
    }
}

#[tokio::test]
async fn planted_plaintext_is_not_in_the_database_or_the_data_directory() {
    let up =
        FakeOpenAi::start(Knobs { reply: "planted upstream reply about wombats".into(), ..Default::default() }).await;
    let s = TestServer::start().await;
    let p = plant(&s, &up).await;
    let job = s.get(&format!("/v1/jobs/{}", p.job), Some(&p.user_token)).await.expect(200).body;
    assert_eq!(job["status"], "succeeded", "{job}");
    s.state.db.close().await;
    let dir = s.data_dir();
    let mut files = Vec::new();
    // The search indexes too: the lexical index's terms are keyed hashes (its own test reads
    // the term dictionary back), so not even single words of a document are there.
    files_under(&dir, &mut files);
    assert!(files.iter().any(|f| f.ends_with("rampart.db")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with(dir.join("index").join("lexical"))), "{files:?}");
    let needles = [
        PROVIDER_KEY,
        QUESTION,
        FEEDBACK,
        "Rottnest Island",
        "planted quokka",
        "quokka",
        "rottnest",
        "wombats",
        "S3 is object storage",
        p.totp_secret.as_str(),
    ];
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for n in needles {
            assert!(!bytes.windows(n.len()).any(|w| w == n.as_bytes()), "{n:?} found in {}", f.display());
        }
    }
}

/// The sealed values' master-key ids, counted over every sealed column.
async fn key_ids(db: &rampart_storage::Db) -> std::collections::BTreeMap<String, u64> {
    use base64::Engine as _;
    let mut m = std::collections::BTreeMap::new();
    for c in rampart_storage::repo::sealed::SEALED_COLUMNS {
        db.rewrap_column(c, 100, |b| {
            *m.entry(rampart_crypto::Keyring::key_id_of(b).unwrap()).or_default() += 1;
            None
        })
        .await
        .unwrap();
    }
    // Keys kept sealed in `meta` (base64).
    for name in rampart_meetings::service::SEALED_META {
        if let Some(v) = db.meta_get(name).await.unwrap() {
            let b = base64::engine::general_purpose::STANDARD.decode(v.trim()).unwrap();
            *m.entry(rampart_crypto::Keyring::key_id_of(&b).unwrap()).or_default() += 1;
        }
    }
    m
}

#[tokio::test]
async fn master_key_rotation_keeps_data_written_before_readable_after() {
    let up = FakeOpenAi::start(Knobs { reply: "fine".into(), ..Default::default() }).await;
    let s = TestServer::start().await;
    let p = plant(&s, &up).await;
    let dir = s.data_dir();
    let old_file = dir.join("master.key");
    let new_file = dir.join("master-2.key");
    let new_id = rampart_server::keys::new_master_key_file(None, &new_file).await.unwrap();
    let before = key_ids(&s.state.db).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before.values().sum::<u64>() >= 9, "one of each sealed kind: {before:?}");

    // Step 1: a replica restarted with the new key active and the old one still known.
    let (nf, of) = (new_file.clone(), old_file.clone());
    let both = s
        .replica_with(move |c, _| {
            c.crypto.master_key_file = Some(nf);
            c.crypto.previous_key_files = vec![of];
        })
        .await;
    // Step 2: rotate while it serves.
    let ring = rampart_server::keys::load_keyring(&both.state.config).await.unwrap();
    assert_eq!(ring.active_id(), new_id);
    let report = rampart_server::keys::rotate_master(&both.state.db, &ring).await.unwrap();
    let rewrapped: u64 = report.iter().map(|c| c.rewrapped).sum();
    assert_eq!(rewrapped, before.values().sum::<u64>(), "{report:?}");
    assert!(report.iter().all(|c| c.unreadable == 0));
    let again = rampart_server::keys::rotate_master(&both.state.db, &ring).await.unwrap();
    assert_eq!(again.iter().map(|c| c.rewrapped).sum::<u64>(), 0, "a second run has nothing to do");
    let after = key_ids(&s.state.db).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), vec![&new_id], "{after:?}");

    // Step 3: a replica with only the new key reads everything written before.
    let nf = new_file.clone();
    let only_new = s
        .replica_with(move |c, _| {
            c.crypto.master_key_file = Some(nf);
            c.crypto.previous_key_files = vec![];
        })
        .await;
    // Its own lexical index is built from the database's (re-wrapped) chunks.
    only_new.state.start_background().await.unwrap();
    let r = &only_new;
    let login =
        r.post("/v1/auth/login", None, json!({"username": p.user_email, "password": PASSWORD})).await.expect(200);
    assert_eq!(login.body["challenge"], "TOTP");
    let code = totp_at(&p.totp_secret, now_secs() as u64 + 30);
    r.post("/v1/auth/challenge", None, json!({"session": login.body["session"], "code": code})).await.expect(200);
    let t = &p.user_token;
    let sess = r.get(&format!("/v1/sessions/{}", p.session), Some(t)).await.expect(200).body;
    assert!(sess.to_string().contains(QUESTION) && sess.to_string().contains("S3 is object storage"), "{sess}");
    let fb = r.get(&format!("/v1/feedback/{}", p.feedback), Some(t)).await.expect(200).body;
    assert!(fb.to_string().contains(FEEDBACK), "{fb}");
    let hits = r.post(&format!("/v1/knowledge-bases/{}/retrieve", p.kb), Some(t), json!({"query": "quokka"})).await;
    assert!(hits.expect(200).body.to_string().contains("Rottnest Island"));
    let job = r.get(&format!("/v1/jobs/{}", p.job), Some(t)).await.expect(200).body;
    assert!(job.to_string().contains("fine"), "{job}");
    // The provider secret still opens: the upstream receives it.
    let n = up.requests().len();
    r.post("/v1/chat/completions", Some(t), json!({"model": "via-up", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect(200);
    assert_eq!(up.requests()[n].0.as_deref(), Some(format!("Bearer {PROVIDER_KEY}").as_str()));

    // The old key alone no longer starts: clearly.
    let mut cfg = (*s.state.config).clone();
    cfg.crypto.master_key_file = Some(old_file);
    let err = rampart_server::build_state(cfg).await.err().expect("refused").to_string();
    assert!(err.contains("does not match this database") && err.contains(&new_id), "{err}");
}

#[tokio::test]
async fn a_wrong_master_key_stops_start_up() {
    let s = TestServer::start().await;
    s.user("x@example.com", &[]).await;
    let other = s.data_dir().join("other.key");
    rampart_server::keys::new_master_key_file(None, &other).await.unwrap();
    let mut cfg = (*s.state.config).clone();
    cfg.crypto.master_key_file = Some(other);
    let err = rampart_server::build_state(cfg).await.err().expect("refused").to_string();
    assert!(err.contains("does not match this database") && err.contains("previous_key_files"), "{err}");
}

/// Starts a server whose master key is wrapped by `svc`, checks that only the wrapped form is
/// on disk, that a restart unwraps it through the service, and that bad credentials stop
/// start-up with the service's reason.
async fn wrapped_master_key_round_trip(
    svc: &rampart_testkit::fake_keys::FakeKeyService,
    source: &str,
    section: (&str, serde_json::Value),
    bad: (&str, serde_json::Value),
    refusal: &str,
) {
    let s = TestServer::start_with(&[("crypto.key_source", json!(source)), section.clone()]).await;
    let dir = s.data_dir();
    assert!(!dir.join("master.key").exists(), "no plain key file");
    let wrapped = std::fs::read_to_string(dir.join("master.key.wrapped")).unwrap();
    assert!(wrapped.starts_with(&format!("{source}:")), "{wrapped}");
    assert_eq!(svc.plaintexts().len(), 1, "one key wrapped");
    let key = String::from_utf8(svc.plaintexts()[0].clone()).unwrap();
    s.user("wrapped@example.com", &[]).await;
    s.login("wrapped@example.com").await;
    // The plain master key is nowhere in the data directory.
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "the master key is in {}", f.display());
    }
    // A restart unwraps it through the service; sealed data (the signing key) opens.
    let decrypts = |svc: &rampart_testkit::fake_keys::FakeKeyService| {
        svc.calls().iter().filter(|(op, _)| op.eq_ignore_ascii_case("decrypt")).count()
    };
    let before = decrypts(svc);
    let r = s.replica().await;
    assert_eq!(decrypts(svc), before + 1);
    r.login("wrapped@example.com").await;
    // Credentials the service refuses stop start-up, saying why.
    let mut cfg = (*s.state.config).clone();
    let mut sec = section.1.clone();
    sec[bad.0] = bad.1;
    match source {
        "vault-transit" => {
            cfg.crypto.vault.token = Some(rampart_core::Secret::new(sec["token"].as_str().unwrap().into()))
        }
        _ => {
            cfg.crypto.aws_kms.access_key_id =
                Some(rampart_core::Secret::new(sec["access_key_id"].as_str().unwrap().into()))
        }
    }
    let err = format!("{:#}", rampart_server::build_state(cfg).await.err().expect("refused"));
    assert!(err.contains("cannot unwrap the master key") && err.contains(refusal), "{err}");
}

#[tokio::test]
async fn the_master_key_wrapped_by_vault_transit() {
    let vault = rampart_testkit::fake_keys::FakeKeyService::vault("hvs.test-token", "transit", "rampart").await;
    let section = ("crypto.vault", json!({"address": vault.base_url, "token": "hvs.test-token"}));
    wrapped_master_key_round_trip(&vault, "vault-transit", section, ("token", json!("hvs.wrong")), "permission denied")
        .await;
    assert_eq!(vault.calls()[0], ("encrypt".to_owned(), "rampart".to_owned()));
}

#[tokio::test]
async fn the_master_key_wrapped_by_aws_kms() {
    let kms =
        rampart_testkit::fake_keys::FakeKeyService::kms("AKIDRAMPARTTEST", "1234abcd-12ab-34cd-56ef-1234567890ab")
            .await;
    let section = (
        "crypto.aws_kms",
        json!({"key_id": "1234abcd-12ab-34cd-56ef-1234567890ab", "region": "us-east-1", "endpoint_url": kms.base_url,
               "access_key_id": "AKIDRAMPARTTEST", "secret_access_key": "test-secret-key"}),
    );
    wrapped_master_key_round_trip(
        &kms,
        "aws-kms",
        section,
        ("access_key_id", json!("AKIDOTHER")),
        "UnrecognizedClientException",
    )
    .await;
    assert_eq!(kms.calls()[0].0, "Encrypt");
}
