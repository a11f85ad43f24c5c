//! Health, readiness, OpenAPI, request ids, headers.

use crate::common::*;

#[tokio::test]
async fn health_and_readiness() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/healthz", None).await.expect(200).body["status"], "ok");
    assert_eq!(s.get("/readyz", None).await.expect(200).body["status"], "ok");
    s.state.set_ready(false);
    assert_eq!(s.get("/readyz", None).await.expect(503).body["status"], "shutting_down");
    s.state.set_ready(true);
    // Saturation: more requests in flight than allowed.
    s.state.in_flight.fetch_add(10_000, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(s.get("/readyz", None).await.expect(503).body["status"], "saturated");
    s.state.in_flight.fetch_sub(10_000, std::sync::atomic::Ordering::SeqCst);
    s.get("/readyz", None).await.expect(200);
    s.state.db.close().await;
    s.get("/readyz", None).await.expect(503);
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let s = TestServer::start().await;
    let doc = s.get("/openapi.json", None).await.expect(200).body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/.well-known/openid-configuration", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/oauth2/authorize", "get"),
        ("/oauth2/authorize", "post"),
        ("/oauth2/token", "post"),
        ("/oauth2/userinfo", "get"),
        ("/oauth2/revoke", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/challenge", "post"),
        ("/v1/auth/mfa/setup", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/register", "post"),
        ("/v1/auth/new-password", "post"),
        ("/v1/auth/password-reset", "post"),
        ("/v1/auth/password-reset/confirm", "post"),
        ("/v1/auth/bootstrap", "post"),
        ("/v1/me", "get"),
        ("/v1/me", "patch"),
        ("/v1/me/mfa/totp", "post"),
        ("/v1/me/mfa/totp/verify", "post"),
        ("/v1/me/mfa", "delete"),
        ("/v1/me/api-keys", "get"),
        ("/v1/me/api-keys", "post"),
        ("/v1/me/api-keys/{id}", "delete"),
        ("/v1/me/sessions", "get"),
        ("/v1/me/sessions/{id}", "delete"),
        ("/v1/me/sessions/revoke-all", "post"),
        ("/v1/me/password", "post"),
        ("/v1/admin/users", "get"),
        ("/v1/admin/users", "post"),
        ("/v1/admin/users/{id}", "get"),
        ("/v1/admin/users/{id}", "delete"),
        ("/v1/admin/users/{id}/disable", "post"),
        ("/v1/admin/users/{id}/enable", "post"),
        ("/v1/admin/users/{id}/groups", "put"),
        ("/v1/admin/users/{id}/mfa/reset", "post"),
        ("/v1/admin/users/{id}/unlock", "post"),
        ("/v1/admin/users/{id}/password", "post"),
        ("/v1/admin/groups", "get"),
        ("/v1/admin/groups", "post"),
        ("/v1/admin/groups/{name}", "delete"),
        ("/v1/admin/api-keys", "get"),
        ("/v1/admin/api-keys/{id}", "delete"),
        ("/v1/admin/audit", "get"),
        ("/v1/admin/status", "get"),
        ("/v1/auth/status", "get"),
        ("/v1/chat/config", "get"),
        ("/v1/admin/audit/export", "get"),
        ("/v1/admin/models", "get"),
        ("/v1/admin/models", "post"),
        ("/v1/admin/models/{id}", "get"),
        ("/v1/admin/models/{id}", "put"),
        ("/v1/admin/models/{id}", "delete"),
        ("/v1/admin/assistants", "get"),
        ("/v1/admin/assistants", "post"),
        ("/v1/admin/assistants/{id}", "get"),
        ("/v1/admin/assistants/{id}", "put"),
        ("/v1/admin/assistants/{id}", "delete"),
        ("/v1/sessions", "get"),
        ("/v1/sessions", "delete"),
        ("/v1/sessions/{id}", "get"),
        ("/v1/sessions/{id}", "delete"),
        ("/v1/sessions/{id}/stop", "post"),
        ("/v1/sessions/{id}", "patch"),
        ("/v1/sessions/{id}/export", "get"),
        ("/v1/sessions/search", "get"),
        ("/v1/chat/assistants", "get"),
        ("/v1/me/prompts", "get"),
        ("/v1/me/prompts", "post"),
        ("/v1/me/prompts/{id}", "get"),
        ("/v1/me/prompts/{id}", "put"),
        ("/v1/me/prompts/{id}", "delete"),
        ("/v1/sessions/{id}/branch", "post"),
        ("/v1/sessions/{id}/files", "post"),
        ("/v1/sessions/{id}/files", "get"),
        ("/v1/sessions/{id}/files/{doc_id}", "delete"),
        ("/v1/admin/sessions", "get"),
        ("/v1/users/{user_id}/sessions", "get"),
        ("/v1/users/{user_id}/sessions/{session_id}", "get"),
        ("/v1/feedback", "post"),
        ("/v1/feedback", "get"),
        ("/v1/feedback/{id}", "get"),
        ("/v1/admin/feedback", "get"),
        ("/v1/bot-management/interruptions", "post"),
        ("/v1/bot-management/interruptions", "get"),
        ("/v1/bot-management/interruptions/{service_type}", "get"),
        ("/v1/bot-management/interruptions/{service_type}", "delete"),
        ("/v1/bot-management/service-types", "get"),
        ("/v1/bot-management/health", "get"),
        ("/v1/knowledge-bases", "post"),
        ("/v1/knowledge-bases", "get"),
        ("/v1/knowledge-bases/{id}", "get"),
        ("/v1/knowledge-bases/{id}", "patch"),
        ("/v1/knowledge-bases/{id}", "delete"),
        ("/v1/knowledge-bases/{id}/documents", "post"),
        ("/v1/knowledge-bases/{id}/documents", "get"),
        ("/v1/knowledge-bases/{id}/documents/{doc_id}", "get"),
        ("/v1/knowledge-bases/{id}/documents/{doc_id}", "delete"),
        ("/v1/knowledge-bases/{id}/documents/{doc_id}/reingest", "post"),
        ("/v1/knowledge-bases/{id}/documents/{doc_id}/passages/{chunk_id}", "get"),
        ("/v1/knowledge-bases/{id}/documents/{doc_id}/content", "get"),
        ("/v1/knowledge-bases/{id}/retrieve", "post"),
        ("/v1/models", "get"),
        ("/v1/chat/completions", "post"),
        ("/v1/jobs", "post"),
        ("/v1/jobs/{id}", "get"),
        ("/v1/meetings", "get"),
        ("/v1/meetings/search", "get"),
        ("/v1/meetings/upload", "post"),
        ("/v1/meetings/ticket", "post"),
        ("/v1/meetings/{id}", "get"),
        ("/v1/meetings/{id}", "delete"),
        ("/v1/meetings/{id}/transcript", "get"),
        ("/v1/meetings/{id}/shares", "get"),
        ("/v1/meetings/{id}/share", "post"),
        ("/v1/meetings/{id}/unshare", "post"),
        ("/v1/meetings/{id}/recording", "get"),
        ("/v1/meetings/{id}/recording/link", "post"),
        ("/v1/meetings/{id}/recording/file", "get"),
        ("/v1/meetings/{id}/summary", "get"),
        ("/v1/meetings/{id}/summary", "post"),
        ("/v1/meetings/shortcuts", "get"),
        ("/v1/meetings/{id}/chat", "get"),
        ("/v1/meetings/{id}/chat", "post"),
        ("/v1/meetings/search/chat", "get"),
        ("/v1/meetings/search/chat", "post"),
        ("/v1/admin/meeting-templates/{kind}", "get"),
        ("/v1/admin/meeting-templates/{kind}/{key}", "put"),
        ("/v1/admin/meeting-templates/{kind}/{key}", "delete"),
        ("/v1/admin/meeting-templates/{kind}/reset", "post"),
        ("/mcp", "post"),
        ("/.well-known/oauth-protected-resource/mcp", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
    ];
    for (p, m) in expected {
        assert!(paths.get(p).and_then(|x| x.get(m)).is_some(), "{m} {p} missing from the OpenAPI document");
    }
    let ops: usize = paths.values().map(|v| v.as_object().unwrap().len()).sum();
    assert_eq!(ops, expected.len(), "every documented operation is in this list (and so has tests)");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Operation ids are unique (code generators and validators require it).
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|v| v.as_object().unwrap().values())
        .filter_map(|o| o["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationIds");
    assert_eq!(n, ops);
}

#[tokio::test]
async fn request_ids_are_echoed_and_sanitised() {
    let s = TestServer::start().await;
    let r = s.get("/healthz", None).await;
    let id = r.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36);
    let r = s.http.get(format!("{}/healthz", s.base)).header("x-request-id", "abc-123_X").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123_X");
    let r =
        s.http.get(format!("{}/healthz", s.base)).header("x-request-id", "bad id\twith spaces").send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "bad id\twith spaces");
    let r = s.get("/nope", None).await;
    assert!(r.headers.contains_key("x-request-id"), "errors carry the id too");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn secrets_at_rest_are_sealed() {
    let s = TestServer::start().await;
    s.user("enc@example.com", &[]).await;
    let t = s.token("enc@example.com").await;
    let secret = s.post("/v1/me/mfa/totp", Some(&t), serde_json::json!({})).await.expect(200).body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw_secret = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
    let key = s.signing_key().await;
    s.state.db.close().await;
    let mut bytes = Vec::new();
    for f in std::fs::read_dir(s.data_dir()).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("rampart.db") {
            bytes.extend(std::fs::read(p).unwrap());
        }
    }
    assert!(bytes.len() > 10_000);
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(&raw_secret), "raw TOTP secret found in the database files");
    assert!(!contains(secret.as_bytes()), "Base32 TOTP secret found in the database files");
    assert!(!contains(&key.pkcs8()[..64]), "signing key found in the database files");
    assert!(!contains(PASSWORD.as_bytes()), "password found in the database files");
}

/// Two replicas on one database: a change made through one applies there at once, and on the
/// other within `auth.session_cache_ttl` (it remembers verified credentials that long).
#[tokio::test]
async fn replica_sees_changes_within_the_cache_ttl() {
    let a = TestServer::start_with(&[("auth.session_cache_ttl", serde_json::json!("1s"))]).await;
    let b = a.replica().await;
    let (_, admin) = a.admin().await;
    let uid = a.user("rep@example.com", &[]).await;
    let t = a.token("rep@example.com").await;
    let key = a.post("/v1/me/api-keys", Some(&t), serde_json::json!({"name": "k"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    b.get("/v1/me", Some(&t)).await.expect(200);
    b.get("/v1/me", Some(&key)).await.expect(200);
    a.get("/v1/me", Some(&t)).await.expect(200);
    a.post(&format!("/v1/admin/users/{uid}/disable"), Some(&admin), serde_json::json!({})).await.expect(200);
    a.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
    a.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
    // The other replica still remembers the credentials for at most the TTL…
    b.get("/v1/me", Some(&t)).await.expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // …then refuses them too.
    b.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
    b.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn cache_off_applies_changes_from_other_replicas_at_once() {
    let a = TestServer::start_with(&[("auth.session_cache_ttl", serde_json::json!("0s"))]).await;
    let b = a.replica().await;
    let uid = a.user("now@example.com", &[]).await;
    let t = a.token("now@example.com").await;
    b.get("/v1/me", Some(&t)).await.expect(200);
    a.state
        .db
        .set_user_status(
            uid.parse().unwrap(),
            rampart_storage::repo::users::UserStatus::Disabled,
            rampart_core::Timestamp::from_millis(0),
        )
        .await
        .unwrap();
    b.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
}

/// A token signed with a key another replica just created is accepted here at once: an
/// unknown `kid` re-reads the keys (at most every 5 s).
#[tokio::test]
async fn replica_accepts_tokens_signed_with_another_replicas_new_key() {
    let a = TestServer::start().await;
    let b = a.replica().await;
    a.user("kid@example.com", &[]).await;
    b.get("/v1/me", Some(&a.token("kid@example.com").await)).await.expect(200);
    let new_kid = a.state.identity.rotate_signing_key().await.unwrap();
    let t = a.token("kid@example.com").await;
    assert_eq!(jsonwebtoken::decode_header(&t).unwrap().kid.unwrap(), new_kid);
    b.get("/v1/me", Some(&t)).await.expect(200);
    let jwks = b.get("/.well-known/jwks.json", None).await.body;
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == new_kid.as_str()));
    // A forged unknown kid does not make every request hit the database: the reload is rate-limited.
    let mut c = a.access_claims(&t);
    c["jti"] = serde_json::json!("x");
    let k = a.signing_key().await;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("rs256-ffffffffffffffffffffffff".into());
    let forged = jsonwebtoken::encode(&h, &c, k.encoding_key()).unwrap();
    b.get("/v1/me", Some(&forged)).await.expect_error(401, "invalid_token");
}
