//! Administration: users, groups, keys, audit; protections; object-level authorization.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn non_admins_are_refused_on_every_admin_route() {
    let s = TestServer::start().await;
    let uid = s.user("user@example.com", &[]).await;
    let t = s.token("user@example.com").await;
    for (m, p) in [
        ("GET", "/v1/admin/users".to_string()),
        ("POST", "/v1/admin/users".to_string()),
        ("GET", format!("/v1/admin/users/{uid}")),
        ("DELETE", format!("/v1/admin/users/{uid}")),
        ("POST", format!("/v1/admin/users/{uid}/disable")),
        ("POST", format!("/v1/admin/users/{uid}/enable")),
        ("PUT", format!("/v1/admin/users/{uid}/groups")),
        ("POST", format!("/v1/admin/users/{uid}/mfa/reset")),
        ("POST", format!("/v1/admin/users/{uid}/unlock")),
        ("GET", "/v1/admin/groups".to_string()),
        ("POST", "/v1/admin/groups".to_string()),
        ("DELETE", "/v1/admin/groups/admin".to_string()),
        ("GET", "/v1/admin/api-keys".to_string()),
        ("DELETE", format!("/v1/admin/api-keys/{uid}")),
        ("GET", "/v1/admin/audit".to_string()),
        ("GET", "/v1/admin/audit/export".to_string()),
        ("GET", "/v1/admin/status".to_string()),
        ("GET", "/v1/admin/models".to_string()),
        ("POST", "/v1/admin/models".to_string()),
        ("GET", "/v1/admin/models/m".to_string()),
        ("PUT", "/v1/admin/models/m".to_string()),
        ("DELETE", "/v1/admin/models/m".to_string()),
        ("GET", "/v1/admin/assistants".to_string()),
        ("POST", "/v1/admin/assistants".to_string()),
        ("GET", "/v1/admin/assistants/a".to_string()),
        ("PUT", "/v1/admin/assistants/a".to_string()),
        ("DELETE", "/v1/admin/assistants/a".to_string()),
    ] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let body = if m == "GET" || m == "DELETE" {
            None
        } else {
            Some(json!({"groups": ["admin"], "email": "x@example.com", "name": "g"}))
        };
        let r = s.req(method.clone(), &p, Some(&t), body.clone()).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{m} {p}");
        let anon = s.req(method, &p, None, body).await;
        assert_eq!((anon.status.as_u16(), anon.code()), (401, "unauthorized"), "{m} {p} anonymous");
    }
    assert_eq!(s.get("/v1/me", Some(&t)).await.body["groups"], json!([]), "nothing changed");
}

#[tokio::test]
async fn admin_manages_users_and_groups() {
    let s = TestServer::start().await;
    let (_, t) = s.admin().await;
    s.post("/v1/admin/groups", Some(&t), json!({"name": "ml-users", "description": "Can use models"}))
        .await
        .expect(201);
    s.post("/v1/admin/groups", Some(&t), json!({"name": "ml-users"})).await.expect_error(409, "conflict");
    s.post("/v1/admin/groups", Some(&t), json!({"name": "Bad Name"})).await.expect_error(400, "invalid_request");
    let c = s
        .post(
            "/v1/admin/users",
            Some(&t),
            json!({"email": "New@Example.com", "groups": ["ml-users"], "displayName": "New Person"}),
        )
        .await
        .expect(201);
    let id = c.body["id"].as_str().unwrap().to_owned();
    let temp = c.body["temporaryPassword"].as_str().unwrap();
    assert_eq!(c.body["groups"], json!(["ml-users"]));
    s.post("/v1/auth/login", None, json!({"username": "new@example.com", "password": temp})).await.expect(200);
    s.post("/v1/admin/users", Some(&t), json!({"email": "new@example.com", "password": PASSWORD}))
        .await
        .expect_error(409, "conflict");
    s.post("/v1/admin/users", Some(&t), json!({"email": "z@example.com", "password": PASSWORD, "groups": ["nope"]}))
        .await
        .expect_error(400, "invalid_request");
    assert!(s.state.db.user_by_email("z@example.com").await.unwrap().is_none(), "nothing stored half-way");
    let g = s
        .req(
            reqwest::Method::PUT,
            &format!("/v1/admin/users/{id}/groups"),
            Some(&t),
            Some(json!({"groups": ["admin", "ml-users"]})),
        )
        .await
        .expect(200);
    assert_eq!(g.body["groups"], json!(["admin", "ml-users"]));
    let groups = s.get("/v1/admin/groups", Some(&t)).await.expect(200);
    assert_eq!(groups.body["items"].as_array().unwrap().len(), 2);
    s.delete("/v1/admin/groups/admin", Some(&t)).await.expect_error(403, "forbidden");
    s.delete("/v1/admin/groups/ml-users", Some(&t)).await.expect(204);
    s.delete("/v1/admin/groups/ml-users", Some(&t)).await.expect_error(404, "not_found");
    let u = s.get(&format!("/v1/admin/users/{id}"), Some(&t)).await.expect(200);
    assert_eq!(u.body["groups"], json!(["admin"]));
}

#[tokio::test]
async fn users_list_is_paginated_and_searchable() {
    let s = TestServer::start().await;
    let (_, t) = s.admin().await;
    for i in 0..12 {
        s.user(&format!("person{i:02}@example.com"), &[]).await;
    }
    let mut seen = 0;
    let mut url = "/v1/admin/users?limit=5".to_string();
    loop {
        let p = s.get(&url, Some(&t)).await.expect(200);
        let items = p.body["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        seen += items.len();
        match p.body["nextCursor"].as_str() {
            Some(c) => url = format!("/v1/admin/users?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, 13);
    let q = s.get("/v1/admin/users?q=PERSON0", Some(&t)).await.expect(200);
    assert_eq!(q.body["items"].as_array().unwrap().len(), 10);
    s.get("/v1/admin/users?limit=101", Some(&t)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/users?limit=0", Some(&t)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/users?cursor=zzz", Some(&t)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/users?bogus=1", Some(&t)).await.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn last_admin_and_self_protections() {
    let s = TestServer::start().await;
    let (admin_id, t) = s.admin().await;
    s.delete(&format!("/v1/admin/users/{admin_id}"), Some(&t)).await.expect_error(409, "self_action");
    s.post(&format!("/v1/admin/users/{admin_id}/disable"), Some(&t), json!({})).await.expect_error(409, "self_action");
    s.req(reqwest::Method::PUT, &format!("/v1/admin/users/{admin_id}/groups"), Some(&t), Some(json!({"groups": []})))
        .await
        .expect_error(409, "last_admin");
    // With a second admin, demotion works; the remaining admin can then not be removed by anyone.
    let second = s.user("second@example.com", &["admin"]).await;
    let t2 = s.token("second@example.com").await;
    s.req(reqwest::Method::PUT, &format!("/v1/admin/users/{admin_id}/groups"), Some(&t), Some(json!({"groups": []})))
        .await
        .expect(200);
    s.get("/v1/admin/users", Some(&t)).await.expect_error(403, "forbidden");
    s.req(reqwest::Method::PUT, &format!("/v1/admin/users/{second}/groups"), Some(&t2), Some(json!({"groups": []})))
        .await
        .expect_error(409, "last_admin");
    let audit = s.get("/v1/admin/audit?action=admin.user_groups&outcome=denied", Some(&t2)).await.expect(200);
    assert!(audit.body["items"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn disabling_a_user_cuts_every_credential_at_once() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let uid = s.user("mo@example.com", &[]).await;
    let l = s.login("mo@example.com").await;
    let at = l["accessToken"].as_str().unwrap();
    let key = s.post("/v1/me/api-keys", Some(at), json!({"name": "k"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(&format!("/v1/admin/users/{uid}/disable"), Some(&admin), json!({})).await.expect(200);
    s.get("/v1/me", Some(at)).await.expect_error(401, "invalid_token");
    s.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/refresh", None, json!({"refreshToken": l["refreshToken"]}))
        .await
        .expect_error(401, "invalid_token");
    s.post("/v1/auth/login", None, json!({"username": "mo@example.com", "password": PASSWORD}))
        .await
        .expect_error(401, "invalid_credentials");
    s.post(&format!("/v1/admin/users/{uid}/enable"), Some(&admin), json!({})).await.expect(200);
    s.get("/v1/me", Some(&key)).await.expect(200);
    s.token("mo@example.com").await;
    s.delete(&format!("/v1/admin/users/{uid}"), Some(&admin)).await.expect(204);
    s.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
    s.get(&format!("/v1/admin/users/{uid}"), Some(&admin)).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn admin_resets_mfa_and_revokes_keys_of_others() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let uid = s.user("ned@example.com", &[]).await;
    let t = s.token("ned@example.com").await;
    crate::auth_flow::enrol(&s, &t).await;
    assert_eq!(s.login("ned@example.com").await["challenge"], "TOTP");
    s.post(&format!("/v1/admin/users/{uid}/mfa/reset"), Some(&admin), json!({})).await.expect(204);
    s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
    let t = s.token("ned@example.com").await;
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "k"})).await.expect(201).body;
    let all = s.get("/v1/admin/api-keys", Some(&admin)).await.expect(200);
    assert!(all.body["items"].as_array().unwrap().iter().any(|i| i["id"] == k["id"] && i["userId"] == uid.as_str()));
    s.delete(&format!("/v1/admin/api-keys/{}", k["id"].as_str().unwrap()), Some(&admin)).await.expect(204);
    s.get("/v1/me", Some(k["key"].as_str().unwrap())).await.expect_error(401, "invalid_token");
}

/// IDOR: every id-taking route refuses another user's id, exactly like an unknown id.
#[tokio::test]
async fn another_users_ids_are_refused() {
    let s = TestServer::start().await;
    s.user("a@example.com", &[]).await;
    let b_id = s.user("b@example.com", &[]).await;
    let ta = s.token("a@example.com").await;
    let tb = s.token("b@example.com").await;
    let key_a = s.post("/v1/me/api-keys", Some(&ta), json!({"name": "a"})).await.expect(201).body;
    let key_a_id = key_a["id"].as_str().unwrap();
    let sess_a =
        s.get("/v1/me/sessions", Some(&ta)).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7();
    let r1 = s.delete(&format!("/v1/me/api-keys/{key_a_id}"), Some(&tb)).await.expect_error(404, "not_found");
    let r2 = s.delete(&format!("/v1/me/api-keys/{unknown}"), Some(&tb)).await.expect_error(404, "not_found");
    assert_eq!(r1.body, r2.body);
    s.delete(&format!("/v1/me/sessions/{sess_a}"), Some(&tb)).await.expect_error(404, "not_found");
    s.get(&format!("/v1/admin/users/{b_id}"), Some(&ta)).await.expect_error(403, "forbidden");
    // A's credentials still work.
    s.get("/v1/me", Some(key_a["key"].as_str().unwrap())).await.expect(200);
    s.get("/v1/me", Some(&ta)).await.expect(200);
    assert!(!s.get("/v1/me/api-keys", Some(&tb)).await.body.to_string().contains(key_a_id));
}

#[tokio::test]
async fn audit_log_records_who_what_and_never_secrets() {
    let s = TestServer::start().await;
    let (admin_id, t) = s.admin().await;
    s.post("/v1/auth/login", None, json!({"username": "admin@example.com", "password": "bad password 123"}))
        .await
        .expect(401);
    let uid = s.user("pat@example.com", &[]).await;
    s.post(&format!("/v1/admin/users/{uid}/disable"), Some(&t), json!({})).await.expect(200);
    let all = s.get("/v1/admin/audit?limit=100", Some(&t)).await.expect(200).body;
    let text = all.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains("bad password 123"), "no passwords in the audit log");
    assert!(!text.contains(&t), "no tokens in the audit log");
    let items = all["items"].as_array().unwrap();
    let disable = items.iter().find(|i| i["action"] == "admin.user_disable").unwrap();
    assert_eq!(disable["actorId"], admin_id.as_str());
    assert_eq!(disable["target"], uid.as_str());
    assert_eq!(disable["outcome"], "success");
    assert_eq!(disable["clientIp"], "127.0.0.1");
    assert!(disable["requestId"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(items.iter().any(|i| i["action"] == "auth.login" && i["outcome"] == "failure"));
    let filtered =
        s.get(&format!("/v1/admin/audit?actorId={admin_id}&action=admin.user_disable"), Some(&t)).await.expect(200);
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn audit_search_by_time_and_target_and_a_verifiable_export() {
    let s = TestServer::start().await;
    let (_, t) = s.admin().await;
    let uid = s.user("kim@example.com", &[]).await;
    s.post(&format!("/v1/admin/users/{uid}/disable"), Some(&t), json!({})).await.expect(200);
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    let iso = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let q = |from: String, to: String| format!("/v1/admin/audit?target={uid}&from={from}&to={to}");
    let hits = s.get(&q(iso(now - hour), iso(now + hour)), Some(&t)).await.expect(200).body;
    let items = hits["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["action"] == "admin.user_disable"), "{hits}");
    assert!(items.iter().all(|i| i["target"] == uid.as_str()));
    assert!(items.iter().all(|i| i["hash"].as_str().is_some_and(|h| h.len() == 64)));
    let none = s.get(&q(iso(now + hour), iso(now + hour * 2)), Some(&t)).await.expect(200).body;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "the range applies");
    s.get("/v1/admin/audit?from=yesterday", Some(&t)).await.expect_error(400, "invalid_request");
    s.get(&q(iso(now + hour), iso(now - hour)), Some(&t)).await.expect_error(400, "invalid_request");

    let export = s.get("/v1/admin/audit/export", Some(&t)).await.expect(200);
    assert_eq!(export.headers["content-type"], "application/x-ndjson");
    let text = export.body.as_str().unwrap().to_owned();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() >= 3, "{text}");
    // Chain order, gap-free, each record linked to the one before.
    for w in lines.windows(2) {
        assert_eq!(w[1]["seq"].as_i64().unwrap(), w[0]["seq"].as_i64().unwrap() + 1);
        assert_eq!(w[1]["prevHash"], w[0]["hash"]);
    }
    assert_eq!(lines[0]["prevHash"].as_str().unwrap(), "0".repeat(64));
    assert_eq!(lines.last().unwrap()["action"], "admin.audit_export", "the export is itself audited");
    let later = s.get(&format!("/v1/admin/audit/export?from={}", iso(now + hour)), Some(&t)).await.expect(200);
    assert_eq!(later.body, Value::Null, "an empty range exports nothing");
    s.get("/v1/admin/audit/export?from=x", Some(&t)).await.expect_error(400, "invalid_request");

    // Not for other users.
    s.user("kim2@example.com", &[]).await;
    let ut = s.token("kim2@example.com").await;
    s.get("/v1/admin/audit", Some(&ut)).await.expect(403);
    s.get("/v1/admin/audit/export", Some(&ut)).await.expect(403);
}

#[tokio::test]
async fn the_status_page_reports_version_database_and_queues() {
    let s = TestServer::start().await;
    let (_, t) = s.admin().await;
    let v = s.get("/v1/admin/status", Some(&t)).await.expect(200).body;
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["database"], "sqlite");
    assert!(v["databaseLatencyMs"].as_f64().is_some_and(|l| l >= 0.0));
    assert_eq!(v["users"], 1);
    assert_eq!(v["queues"], json!([]));
    assert_eq!(
        (v["bus"].as_bool(), v["tls"].as_bool(), v["wafMode"].as_str()),
        (Some(false), Some(false), Some("block"))
    );
    let st = &v["storage"];
    assert!(st["databaseBytes"].as_i64().unwrap() >= 4096, "{st}");
    assert_eq!((st["documents"].as_i64(), st["documentBytes"].as_i64()), (Some(0), Some(0)));
    let before = st["dataDirBytes"].as_u64().unwrap();
    assert!(before > 0, "{st}");
    let (total, avail) = (st["diskTotalBytes"].as_u64().unwrap(), st["diskAvailableBytes"].as_u64().unwrap());
    assert!(total > 0 && avail <= total, "{st}");
    // A document shows in the figures: its count and its bytes as uploaded.
    let kb = crate::knowledge::create_kb(&s, &t, "handbook", &["admin"]).await;
    let doc = b"# Leave\n\nStaff get 25 days of annual leave.".as_slice();
    assert_eq!(crate::knowledge::upload(&s, &t, &kb, &[("leave.md", doc)]).await.status(), 202);
    let st = s.get("/v1/admin/status", Some(&t)).await.expect(200).body["storage"].clone();
    assert_eq!((st["documents"].as_i64(), st["documentBytes"].as_i64()), (Some(1), Some(doc.len() as i64)));
    // A file written under the data directory is counted.
    std::fs::write(s.data_dir().join("status-probe.bin"), vec![0u8; 100_000]).unwrap();
    let st = s.get("/v1/admin/status", Some(&t)).await.expect(200).body["storage"].clone();
    assert!(st["dataDirBytes"].as_u64().unwrap() >= before + 100_000, "{st}");
}
