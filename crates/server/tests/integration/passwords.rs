//! Password change (`POST /v1/me/password`), the forced change after an administrator set a
//! temporary password (`NEW_PASSWORD_REQUIRED`), and reset by email through a real local SMTP
//! server (aiosmtpd, `testkit::smtp_sink`).

use crate::common::{PASSWORD, TestServer};
use rampart_testkit::smtp_sink::SmtpSink;
use serde_json::{Value, json};

const NEW: &str = "a brand new passphrase";

fn access(l: &Value) -> &str {
    l["accessToken"].as_str().unwrap()
}

async fn audited(s: &TestServer, action: &str, detail: Option<&str>) -> bool {
    let audit = s.state.db.list_audit(&Default::default(), &Default::default()).await.unwrap();
    audit.items.iter().any(|a| a.entry.action == action && a.entry.detail.as_deref() == detail)
}

#[tokio::test]
async fn change_password_checks_the_current_one_and_the_policy_and_ends_other_sign_ins() {
    let s = TestServer::start().await;
    s.user("pia@example.com", &[]).await;
    let mine = s.login("pia@example.com").await;
    let other = s.login("pia@example.com").await;
    let t = access(&mine);
    let change = |cur: &str, new: &str| json!({"currentPassword": cur, "newPassword": new});
    s.post("/v1/me/password", Some(t), change("not my password", NEW)).await.expect_error(403, "wrong_password");
    s.post("/v1/me/password", Some(t), change(PASSWORD, "short")).await.expect_error(400, "weak_password");
    s.post("/v1/me/password", Some(t), change(PASSWORD, "pia@example.com")).await.expect_error(400, "weak_password");
    s.post("/v1/me/password", Some(t), change(PASSWORD, PASSWORD)).await.expect_error(400, "weak_password");
    s.post("/v1/me/password", Some(t), json!({"currentPassword": PASSWORD})).await.expect_error(400, "invalid_json");
    // Nothing changed so far: the old password still signs in.
    s.login("pia@example.com").await;
    s.post("/v1/me/password", Some(t), change(PASSWORD, NEW)).await.expect(204);
    // This sign-in stays; the others end (access and refresh).
    s.get("/v1/me", Some(t)).await.expect(200);
    s.post("/v1/auth/refresh", None, json!({"refreshToken": mine["refreshToken"]})).await.expect(200);
    s.get("/v1/me", Some(access(&other))).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/refresh", None, json!({"refreshToken": other["refreshToken"]}))
        .await
        .expect_error(401, "invalid_token");
    s.post("/v1/auth/login", None, json!({"username": "pia@example.com", "password": PASSWORD}))
        .await
        .expect_error(401, "invalid_credentials");
    s.post("/v1/auth/login", None, json!({"username": "pia@example.com", "password": NEW})).await.expect(200);
    assert!(audited(&s, "auth.password_change", None).await);
    assert!(audited(&s, "auth.password_change", Some("wrong_password")).await);
}

#[tokio::test]
async fn wrong_current_passwords_lock_like_sign_in_and_keys_cannot_change_it() {
    let s = TestServer::start().await;
    s.user("quin@example.com", &[]).await;
    let t = s.token("quin@example.com").await;
    let wrong = json!({"currentPassword": "guess guess guess", "newPassword": NEW});
    for _ in 0..5 {
        s.post("/v1/me/password", Some(&t), wrong.clone()).await.expect_error(403, "wrong_password");
    }
    let r = s.post("/v1/me/password", Some(&t), wrong.clone()).await.expect_error(429, "too_many_attempts");
    assert!(r.headers.get("retry-after").is_some());
    let ok = json!({"currentPassword": PASSWORD, "newPassword": NEW});
    s.post("/v1/me/password", Some(&t), ok.clone()).await.expect_error(429, "too_many_attempts");
    // An API key is not a person signed in: it cannot change the password.
    let s2 = TestServer::start().await;
    s2.user("rae@example.com", &[]).await;
    let t2 = s2.token("rae@example.com").await;
    let k = s2.post("/v1/me/api-keys", Some(&t2), json!({"name": "ci"})).await.expect(201);
    let key = k.body["key"].as_str().unwrap();
    s2.post("/v1/me/password", Some(key), ok).await.expect_error(403, "forbidden");
    s2.post("/v1/me/password", None, json!({})).await.expect_error(401, "unauthorized");
}

/// Signs in with a temporary password: the answer is the challenge, never tokens.
async fn temporary_sign_in(s: &TestServer, email: &str, temp: &str) -> String {
    let l = s.post("/v1/auth/login", None, json!({"username": email, "password": temp})).await.expect(200);
    assert_eq!(l.body["challenge"], "NEW_PASSWORD_REQUIRED", "{}", l.body);
    assert!(l.body.get("accessToken").is_none());
    l.body["session"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_temporary_password_must_be_changed_before_anything_else() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let c = s.post("/v1/admin/users", Some(&admin), json!({"email": "sam@example.com"})).await.expect(201);
    let temp = c.body["temporaryPassword"].as_str().unwrap().to_owned();
    let session = temporary_sign_in(&s, "sam@example.com", &temp).await;
    // The challenge's session is no credential, and opens no other step.
    s.get("/v1/me", Some(&session)).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/challenge", None, json!({"session": session, "code": "123456"}))
        .await
        .expect_error(401, "invalid_session");
    s.post("/v1/auth/mfa/setup", None, json!({"session": session})).await.expect_error(401, "invalid_session");
    // The new password obeys the policy and differs from the temporary one.
    let answer = |p: &str| json!({"session": session, "newPassword": p});
    s.post("/v1/auth/new-password", None, answer("short")).await.expect_error(400, "weak_password");
    s.post("/v1/auth/new-password", None, answer(&temp)).await.expect_error(400, "weak_password");
    let done = s.post("/v1/auth/new-password", None, answer(NEW)).await.expect(200);
    s.get("/v1/me", Some(access(&done.body))).await.expect(200);
    // The challenge was used up; the temporary password is gone; the new one signs in directly.
    s.post("/v1/auth/new-password", None, answer("yet another passphrase")).await.expect_error(401, "invalid_session");
    s.post("/v1/auth/login", None, json!({"username": "sam@example.com", "password": temp}))
        .await
        .expect_error(401, "invalid_credentials");
    let l = s.post("/v1/auth/login", None, json!({"username": "sam@example.com", "password": NEW})).await.expect(200);
    assert!(l.body["accessToken"].is_string());
    assert!(audited(&s, "auth.password_change", Some("required")).await);
}

#[tokio::test]
async fn an_administrator_sets_a_temporary_password_and_sign_ins_end() {
    let s = TestServer::start().await;
    let (admin_id, admin) = s.admin().await;
    let id = s.user("tia@example.com", &[]).await;
    let t = s.token("tia@example.com").await;
    let user = s.token("tia@example.com").await;
    s.post(&format!("/v1/admin/users/{admin_id}/password"), Some(&user), json!({}))
        .await
        .expect_error(403, "forbidden");
    let r = s.post(&format!("/v1/admin/users/{id}/password"), Some(&admin), json!({})).await.expect(200);
    let temp = r.body["temporaryPassword"].as_str().unwrap().to_owned();
    s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/login", None, json!({"username": "tia@example.com", "password": PASSWORD}))
        .await
        .expect_error(401, "invalid_credentials");
    let session = temporary_sign_in(&s, "tia@example.com", &temp).await;
    s.post("/v1/auth/new-password", None, json!({"session": session, "newPassword": NEW})).await.expect(200);
    let unknown = uuid::Uuid::now_v7();
    s.post(&format!("/v1/admin/users/{unknown}/password"), Some(&admin), json!({}))
        .await
        .expect_error(404, "not_found");
    assert!(audited(&s, "admin.user_password", None).await);
}

/// The reset link's token, from a raw message (quoted-printable soft breaks undone).
fn link_token(raw: &str) -> String {
    let text = raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let at = text.find("/reset-password#token=").expect("a reset link") + "/reset-password#token=".len();
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn mail_server(test: &str, ttl: &str) -> Option<(SmtpSink, TestServer)> {
    let sink = SmtpSink::start(test).await?;
    let s = TestServer::start_with(&[
        ("mail.host", json!("127.0.0.1")),
        ("mail.port", json!(sink.port)),
        ("mail.tls", json!("none")),
        ("mail.from", json!("Rampart <rampart@example.com>")),
        ("auth.password_reset_ttl", json!(ttl)),
    ])
    .await;
    Some((sink, s))
}

#[tokio::test]
async fn a_reset_link_by_email_works_once_and_ends_every_sign_in() {
    let Some((sink, s)) = mail_server("a_reset_link_by_email_works_once", "30m").await else { return };
    assert_eq!(s.get("/v1/auth/status", None).await.expect(200).body["passwordReset"], true);
    s.user("uma@example.com", &[]).await;
    let before = s.login("uma@example.com").await;
    s.post("/v1/auth/password-reset", None, json!({"email": "Uma@Example.com"})).await.expect(202);
    let mail = sink.wait_for(1).await;
    assert!(mail[0].contains("To: uma@example.com"), "{}", mail[0]);
    assert!(mail[0].contains("From: Rampart <rampart@example.com>"), "{}", mail[0]);
    let token = link_token(&mail[0]);
    assert_eq!(token.len(), 43);
    let confirm = |p: &str| json!({"token": token, "newPassword": p});
    // The policy is checked before the link is used up.
    s.post("/v1/auth/password-reset/confirm", None, confirm("short")).await.expect_error(400, "weak_password");
    s.post("/v1/auth/password-reset/confirm", None, confirm(NEW)).await.expect(204);
    s.post("/v1/auth/password-reset/confirm", None, confirm("another new passphrase"))
        .await
        .expect_error(401, "invalid_token");
    s.get("/v1/me", Some(access(&before))).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/refresh", None, json!({"refreshToken": before["refreshToken"]}))
        .await
        .expect_error(401, "invalid_token");
    s.post("/v1/auth/login", None, json!({"username": "uma@example.com", "password": NEW})).await.expect(200);
    s.post("/v1/auth/password-reset/confirm", None, json!({"token": "made-up", "newPassword": NEW}))
        .await
        .expect_error(401, "invalid_token");
    assert!(audited(&s, "auth.password_reset", None).await);
}

#[tokio::test]
async fn reset_requests_answer_the_same_for_unknown_addresses_and_links_expire() {
    let Some((sink, s)) = mail_server("reset_requests_answer_the_same", "1s").await else { return };
    s.user("vic@example.com", &[]).await;
    let known = s.post("/v1/auth/password-reset", None, json!({"email": "vic@example.com"})).await.expect(202);
    let unknown = s.post("/v1/auth/password-reset", None, json!({"email": "nobody@example.com"})).await.expect(202);
    assert_eq!(known.body, unknown.body);
    let mail = sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "no mail for an unknown address");
    assert!(audited(&s, "auth.password_reset_request", Some("unknown_user")).await);
    // Expired: refused, and the old password still works.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    s.post("/v1/auth/password-reset/confirm", None, json!({"token": link_token(&mail[0]), "newPassword": NEW}))
        .await
        .expect_error(401, "invalid_token");
    s.login("vic@example.com").await;
    s.post("/v1/auth/password-reset", None, json!({"email": "not an address"}))
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn reset_requests_are_throttled_and_off_without_mail() {
    let Some((_sink, s)) = mail_server("reset_requests_are_throttled", "30m").await else { return };
    for _ in 0..5 {
        s.post("/v1/auth/password-reset", None, json!({"email": "wes@example.com"})).await.expect(202);
    }
    s.post("/v1/auth/password-reset", None, json!({"email": "wes@example.com"}))
        .await
        .expect_error(429, "too_many_attempts");
    let plain = TestServer::start().await;
    assert_eq!(plain.get("/v1/auth/status", None).await.expect(200).body["passwordReset"], false);
    plain
        .post("/v1/auth/password-reset", None, json!({"email": "wes@example.com"}))
        .await
        .expect_error(403, "forbidden");
    plain
        .post("/v1/auth/password-reset/confirm", None, json!({"token": "x", "newPassword": NEW}))
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_reset_link_stops_working_when_its_account_is_disabled() {
    let Some((sink, s)) = mail_server("a_reset_link_stops_working_when_disabled", "30m").await else { return };
    let wes = s.user("wes@example.com", &[]).await;
    s.user("root@example.com", &["admin"]).await;
    let admin = s.token("root@example.com").await;
    s.post("/v1/auth/password-reset", None, json!({"email": "wes@example.com"})).await.expect(202);
    let token = link_token(&sink.wait_for(1).await[0]);
    s.post(&format!("/v1/admin/users/{wes}/disable"), Some(&admin), json!({})).await.expect(200);
    s.post("/v1/auth/password-reset/confirm", None, json!({"token": token, "newPassword": NEW}))
        .await
        .expect_error(401, "invalid_token");
    // Enabled again: the refused link changed nothing, the old password still signs in.
    s.post(&format!("/v1/admin/users/{wes}/enable"), Some(&admin), json!({})).await.expect(200);
    s.login("wes@example.com").await;
}
