//! Sign-in flows end to end over HTTP.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn bootstrap_creates_the_first_admin_once() {
    let s = TestServer::start().await;
    let code = s.state.identity.prepare_bootstrap().await.unwrap().unwrap();
    let body = |c: &str| json!({"code": c, "email": "Root@Example.com", "password": PASSWORD});
    s.post("/v1/auth/bootstrap", None, body("00000000-00000000-00000000-00000000"))
        .await
        .expect_error(401, "invalid_code");
    s.post("/v1/auth/bootstrap", None, json!({"code": code, "email": "root@example.com", "password": "short"}))
        .await
        .expect_error(400, "weak_password");
    let r = s.post("/v1/auth/bootstrap", None, body(&code)).await.expect(201);
    assert_eq!(r.body["email"], "root@example.com");
    s.post("/v1/auth/bootstrap", None, body(&code)).await.expect_error(409, "bootstrap_unavailable");
    let t = s.token("root@example.com").await;
    let me = s.get("/v1/me", Some(&t)).await.expect(200);
    assert_eq!(me.body["groups"], json!(["admin"]));
    assert!(s.state.identity.prepare_bootstrap().await.unwrap().is_none(), "no new code once a user exists");
}

/// Replicas starting together (and restarts) each add a code rather than replace the last
/// one: the newest eight work, until one of them makes the first administrator.
#[tokio::test]
async fn every_start_adds_a_bootstrap_code_and_the_newest_eight_work_once() {
    let s = TestServer::start().await;
    let mut codes = Vec::new();
    for _ in 0..9 {
        codes.push(s.state.identity.prepare_bootstrap().await.unwrap().unwrap());
    }
    let body = |c: &str| json!({"code": c, "email": "root@example.com", "password": PASSWORD});
    s.post("/v1/auth/bootstrap", None, body(&codes[0])).await.expect_error(401, "invalid_code");
    s.post("/v1/auth/bootstrap", None, body(&codes[1])).await.expect(201);
    s.post("/v1/auth/bootstrap", None, body(&codes[8])).await.expect_error(409, "bootstrap_unavailable");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let s = TestServer::start().await;
    s.user("alice@example.com", &[]).await;
    let a = s
        .post("/v1/auth/login", None, json!({"username": "alice@example.com", "password": "wrong password!"}))
        .await
        .expect_error(401, "invalid_credentials");
    let b = s
        .post("/v1/auth/login", None, json!({"username": "nobody@example.com", "password": "wrong password!"}))
        .await
        .expect_error(401, "invalid_credentials");
    assert_eq!(a.body, b.body);
    // Case-insensitive email.
    s.post("/v1/auth/login", None, json!({"username": "ALICE@example.com", "password": PASSWORD})).await.expect(200);
}

#[tokio::test]
async fn lockout_after_repeated_failures_for_known_and_unknown_accounts() {
    let s = TestServer::start_with(&[("auth.lockout_threshold", json!(3))]).await;
    s.user("bob@example.com", &[]).await;
    for email in ["bob@example.com", "ghost@example.com"] {
        for _ in 0..3 {
            s.post("/v1/auth/login", None, json!({"username": email, "password": "nope nope nope"}))
                .await
                .expect_error(401, "invalid_credentials");
        }
        let r = s
            .post("/v1/auth/login", None, json!({"username": email, "password": "nope nope nope"}))
            .await
            .expect_error(429, "too_many_attempts");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 0 && retry <= 900);
    }
    // Even the right password is refused while locked.
    s.post("/v1/auth/login", None, json!({"username": "bob@example.com", "password": PASSWORD}))
        .await
        .expect_error(429, "too_many_attempts");
    let audit = s.state.db.list_audit(&Default::default(), &Default::default()).await.unwrap();
    assert!(audit.items.iter().any(|a| a.entry.action == "auth.lockout"));
}

#[tokio::test]
async fn ip_throttle_locks_a_client_trying_many_accounts() {
    let s = TestServer::start_with(&[("auth.ip_failure_limit", json!(4))]).await;
    for i in 0..3 {
        s.post("/v1/auth/login", None, json!({"username": format!("u{i}@example.com"), "password": "nope nope nope"}))
            .await
            .expect_error(401, "invalid_credentials");
    }
    s.post("/v1/auth/login", None, json!({"username": "u9@example.com", "password": "nope nope nope"}))
        .await
        .expect_error(429, "too_many_attempts");
    s.user("carol@example.com", &[]).await;
    s.post("/v1/auth/login", None, json!({"username": "carol@example.com", "password": PASSWORD}))
        .await
        .expect_error(429, "too_many_attempts");
}

/// Enrols TOTP for a signed-in user; returns (secret, recovery codes).
pub async fn enrol(s: &TestServer, token: &str) -> (String, Vec<String>) {
    let e = s.post("/v1/me/mfa/totp", Some(token), json!({})).await.expect(200);
    let secret = e.body["secret"].as_str().unwrap().to_owned();
    assert!(e.body["otpauthUri"].as_str().unwrap().starts_with("otpauth://totp/Rampart:"));
    s.post("/v1/me/mfa/totp/verify", Some(token), json!({"code": "000000"})).await.expect_error(401, "invalid_code");
    let v = s.post("/v1/me/mfa/totp/verify", Some(token), json!({"code": totp_now(&secret)})).await.expect(200);
    let codes: Vec<String> =
        v.body["recoveryCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

#[tokio::test]
async fn totp_enrolment_challenge_replay_and_recovery_codes() {
    let s = TestServer::start().await;
    s.user("dan@example.com", &[]).await;
    let t = s.token("dan@example.com").await;
    let (secret, codes) = enrol(&s, &t).await;
    s.post("/v1/me/mfa/totp", Some(&t), json!({})).await.expect_error(409, "mfa_already_enabled");
    assert_eq!(s.get("/v1/me", Some(&t)).await.body["mfaEnabled"], true);

    let login = s.login("dan@example.com").await;
    assert_eq!(login["challenge"], "TOTP");
    assert!(login.get("accessToken").is_none(), "no tokens before the second factor");
    let session = login["session"].as_str().unwrap();
    s.post("/v1/auth/challenge", None, json!({"session": session, "code": "123456"}))
        .await
        .expect_error(401, "invalid_code");
    // The code used at enrolment (same 30 s step) is a replay; wait for the next step.
    let step_now = now_secs() / 30;
    let next = u64::try_from((step_now + 1) * 30).unwrap();
    let code = totp_at(&secret, next); // next step's code is inside the ±1 window
    let ok = s.post("/v1/auth/challenge", None, json!({"session": session, "code": code})).await.expect(200);
    assert!(ok.body["accessToken"].is_string());
    s.post("/v1/auth/challenge", None, json!({"session": session, "code": code}))
        .await
        .expect_error(401, "invalid_session");
    // Same code in a fresh login: replay refused.
    let again = s.login("dan@example.com").await;
    s.post("/v1/auth/challenge", None, json!({"session": again["session"], "code": code}))
        .await
        .expect_error(401, "invalid_code");
    // A recovery code works once.
    let ok = s
        .post("/v1/auth/challenge", None, json!({"session": again["session"], "code": codes[0].to_uppercase()}))
        .await
        .expect(200);
    assert!(ok.body["accessToken"].is_string());
    let third = s.login("dan@example.com").await;
    s.post("/v1/auth/challenge", None, json!({"session": third["session"], "code": codes[0]}))
        .await
        .expect_error(401, "invalid_code");
    // Turning MFA off needs a second factor.
    let t2 = ok.body["accessToken"].as_str().unwrap();
    s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(t2), Some(json!({"code": "999999"})))
        .await
        .expect_error(401, "invalid_code");
    s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(t2), Some(json!({"code": codes[1]}))).await.expect(204);
    assert!(s.login("dan@example.com").await["accessToken"].is_string());
}

#[tokio::test]
async fn challenge_sessions_allow_only_a_few_attempts() {
    let s = TestServer::start_with(&[("auth.lockout_threshold", json!(50))]).await;
    s.user("erin@example.com", &[]).await;
    let t = s.token("erin@example.com").await;
    let (secret, _) = enrol(&s, &t).await;
    let l = s.login("erin@example.com").await;
    for _ in 0..5 {
        s.post("/v1/auth/challenge", None, json!({"session": l["session"], "code": "000000"}))
            .await
            .expect_error(401, "invalid_code");
    }
    let next = u64::try_from((now_secs() / 30 + 1) * 30).unwrap();
    s.post("/v1/auth/challenge", None, json!({"session": l["session"], "code": totp_at(&secret, next)}))
        .await
        .expect_error(401, "invalid_session");
}

#[tokio::test]
async fn mfa_required_forces_enrolment_before_tokens() {
    let s = TestServer::start_with(&[("auth.mfa", json!("required"))]).await;
    s.user("fay@example.com", &[]).await;
    let l = s.login("fay@example.com").await;
    assert_eq!(l["challenge"], "MFA_SETUP");
    assert!(l.get("accessToken").is_none());
    let e = s.post("/v1/auth/mfa/setup", None, json!({"session": l["session"]})).await.expect(200);
    let secret = e.body["secret"].as_str().unwrap();
    s.post("/v1/auth/mfa/setup", None, json!({"session": "bogus"})).await.expect_error(401, "invalid_session");
    let done = s
        .post("/v1/auth/challenge", None, json!({"session": l["session"], "code": totp_now(secret)}))
        .await
        .expect(200);
    assert_eq!(done.body["recoveryCodes"].as_array().unwrap().len(), 10);
    let t = done.body["accessToken"].as_str().unwrap();
    assert_eq!(s.get("/v1/me", Some(t)).await.expect(200).body["mfaEnabled"], true);
    // Next sign-in asks for TOTP, and MFA cannot be switched off under this policy.
    assert_eq!(s.login("fay@example.com").await["challenge"], "TOTP");
    s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(t), Some(json!({"code": totp_now(secret)})))
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let s = TestServer::start().await;
    s.user("gil@example.com", &[]).await;
    let l = s.login("gil@example.com").await;
    let r1 = l["refreshToken"].as_str().unwrap();
    let n = s.post("/v1/auth/refresh", None, json!({"refreshToken": r1})).await.expect(200);
    let r2 = n.body["refreshToken"].as_str().unwrap();
    assert_ne!(r1, r2);
    let a2 = n.body["accessToken"].as_str().unwrap();
    s.get("/v1/me", Some(a2)).await.expect(200);
    // Replaying the rotated token: refused, and the whole sign-in is revoked.
    s.post("/v1/auth/refresh", None, json!({"refreshToken": r1})).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/refresh", None, json!({"refreshToken": r2})).await.expect_error(401, "invalid_token");
    s.get("/v1/me", Some(a2)).await.expect_error(401, "invalid_token");
    let audit = s.state.db.list_audit(&Default::default(), &Default::default()).await.unwrap();
    assert!(
        audit.items.iter().any(|a| a.entry.action == "auth.token_family_revoked"
            && a.entry.detail.as_deref() == Some("refresh_token_reuse"))
    );
    s.post("/v1/auth/refresh", None, json!({"refreshToken": "garbage"})).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens() {
    let s = TestServer::start().await;
    s.user("hal@example.com", &[]).await;
    let l = s.login("hal@example.com").await;
    let other = s.login("hal@example.com").await;
    let a = l["accessToken"].as_str().unwrap();
    s.get("/v1/me", Some(a)).await.expect(200);
    s.post("/v1/auth/logout", None, json!({"refreshToken": l["refreshToken"]})).await.expect(204);
    s.get("/v1/me", Some(a)).await.expect_error(401, "invalid_token");
    s.post("/v1/auth/refresh", None, json!({"refreshToken": l["refreshToken"]}))
        .await
        .expect_error(401, "invalid_token");
    // Other sign-ins are untouched; unknown tokens are accepted silently.
    let oa = other["accessToken"].as_str().unwrap();
    s.get("/v1/me", Some(oa)).await.expect(200);
    s.post("/v1/auth/logout", None, json!({"refreshToken": "unknown"})).await.expect(204);
    // Sign out everywhere.
    let sessions = s.get("/v1/me/sessions", Some(oa)).await.expect(200);
    assert_eq!(sessions.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(sessions.body["items"][0]["current"], true);
    s.post("/v1/me/sessions/revoke-all", Some(oa), json!({})).await.expect(204);
    s.get("/v1/me", Some(oa)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn self_signup_is_off_by_default_and_domain_restricted_when_on() {
    let off = TestServer::start().await;
    off.post("/v1/auth/register", None, json!({"email": "x@example.com", "password": PASSWORD}))
        .await
        .expect_error(403, "signup_disabled");

    let s = TestServer::start_with(&[
        ("auth.self_signup", json!(true)),
        ("auth.signup_email_domains", json!(["example.com"])),
    ])
    .await;
    s.post("/v1/auth/register", None, json!({"email": "x@evil.com", "password": PASSWORD}))
        .await
        .expect_error(403, "email_domain_not_allowed");
    s.post("/v1/auth/register", None, json!({"email": "x@sub.example.com", "password": PASSWORD}))
        .await
        .expect_error(403, "email_domain_not_allowed");
    s.post("/v1/auth/register", None, json!({"email": "new@example.com", "password": "short"}))
        .await
        .expect_error(400, "weak_password");
    let a =
        s.post("/v1/auth/register", None, json!({"email": "new@example.com", "password": PASSWORD})).await.expect(202);
    let b = s
        .post("/v1/auth/register", None, json!({"email": "new@example.com", "password": "another long password"}))
        .await
        .expect(202);
    assert_eq!(a.body, b.body, "an existing email is not revealed");
    s.token("new@example.com").await;
    // The allow-list applies at every sign-in, not only at sign-up (administrators excepted).
    s.user("outsider@other.org", &[]).await;
    s.post("/v1/auth/login", None, json!({"username": "outsider@other.org", "password": PASSWORD}))
        .await
        .expect_error(401, "invalid_credentials");
    s.user("boss@other.org", &["admin"]).await;
    s.token("boss@other.org").await;
}

#[tokio::test]
async fn api_keys_are_shown_once_and_work_as_bearer_or_header() {
    let s = TestServer::start().await;
    s.user("ivy@example.com", &[]).await;
    let t = s.token("ivy@example.com").await;
    let k = s
        .post("/v1/me/api-keys", Some(&t), json!({"name": "ci", "scopes": ["chat"], "expiresInDays": 30}))
        .await
        .expect(201);
    let key = k.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("rampart_"));
    let list = s.get("/v1/me/api-keys", Some(&t)).await.expect(200);
    assert!(!list.body.to_string().contains(&key[20..]), "listing never shows the secret");
    assert_eq!(list.body["items"][0]["scopes"], json!(["chat"]));
    let me = s.get("/v1/me", Some(&key)).await.expect(200);
    assert_eq!(me.body["authMethod"], "api_key");
    assert_eq!(me.body["scopes"], json!(["chat"]));
    let via_bearer = s.http.get(format!("{}/v1/me", s.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(via_bearer.status(), 200);
    // Keys cannot mint keys or change MFA.
    s.post("/v1/me/api-keys", Some(&key), json!({"name": "x"})).await.expect_error(403, "forbidden");
    s.post("/v1/me/mfa/totp", Some(&key), json!({})).await.expect_error(403, "forbidden");
    // Non-admins cannot request the admin scope; unknown scopes are refused.
    s.post("/v1/me/api-keys", Some(&t), json!({"name": "x", "scopes": ["admin"]})).await.expect_error(403, "forbidden");
    s.post("/v1/me/api-keys", Some(&t), json!({"name": "x", "scopes": ["root"]}))
        .await
        .expect_error(400, "invalid_request");
    s.post("/v1/me/api-keys", Some(&t), json!({"name": "x", "expiresInDays": 0}))
        .await
        .expect_error(400, "invalid_request");
    let id = k.body["id"].as_str().unwrap();
    s.delete(&format!("/v1/me/api-keys/{id}"), Some(&t)).await.expect(204);
    s.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
    s.delete(&format!("/v1/me/api-keys/{id}"), Some(&t)).await.expect_error(404, "not_found");
    let audit = s.state.db.list_audit(&Default::default(), &Default::default()).await.unwrap();
    let actions: Vec<_> = audit.items.iter().map(|a| a.entry.action.as_str()).collect();
    assert!(actions.contains(&"apikey.create") && actions.contains(&"apikey.revoke"));
}

#[tokio::test]
async fn admin_scoped_key_acts_as_admin_only_with_the_scope() {
    let s = TestServer::start().await;
    let (_, t) = s.admin().await;
    let plain = s.post("/v1/me/api-keys", Some(&t), json!({"name": "plain"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let adm =
        s.post("/v1/me/api-keys", Some(&t), json!({"name": "adm", "scopes": ["admin"]})).await.expect(201).body["key"]
            .as_str()
            .unwrap()
            .to_owned();
    s.get("/v1/admin/users", Some(&plain)).await.expect_error(403, "forbidden");
    s.get("/v1/admin/users", Some(&adm)).await.expect(200);
}

#[tokio::test]
async fn signing_key_rotation_keeps_old_tokens_valid_and_publishes_both_keys() {
    let s = TestServer::start().await;
    s.user("jo@example.com", &[]).await;
    let old = s.token("jo@example.com").await;
    let jwks1 = s.get("/.well-known/jwks.json", None).await.expect(200).body;
    assert_eq!(jwks1["keys"].as_array().unwrap().len(), 1);
    let old_kid = jwks1["keys"][0]["kid"].as_str().unwrap().to_owned();
    let new_kid = s.state.identity.rotate_signing_key().await.unwrap();
    assert_ne!(old_kid, new_kid);
    let jwks2 = s.get("/.well-known/jwks.json", None).await.expect(200).body;
    let kids: Vec<_> =
        jwks2["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));
    s.get("/v1/me", Some(&old)).await.expect(200);
    let new = s.token("jo@example.com").await;
    let hdr = jsonwebtoken::decode_header(&new).unwrap();
    assert_eq!(hdr.kid.as_deref(), Some(new_kid.as_str()));
    assert_eq!(hdr.alg, jsonwebtoken::Algorithm::RS256);
}

#[tokio::test]
async fn tokens_have_the_documented_claims_and_verify_against_the_jwks() {
    let s = TestServer::start().await;
    let uid = s.user("kim@example.com", &[]).await;
    let l = s.login("kim@example.com").await;
    let disc = s.get("/.well-known/openid-configuration", None).await.expect(200).body;
    assert_eq!(disc["issuer"], s.base.as_str());
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(s.get("/.well-known/jwks.json", None).await.body).unwrap();
    let at = l["accessToken"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(at).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    let c = jsonwebtoken::decode::<serde_json::Value>(at, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
        .unwrap()
        .claims;
    for k in ["iss", "sub", "client_id", "token_use", "scope", "groups", "exp", "iat", "jti", "username"] {
        assert!(c.get(k).is_some(), "access token lacks {k}");
    }
    assert_eq!(c["token_use"], "access");
    assert_eq!(c["sub"], uid.as_str());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
    let id = decode_unverified(l["idToken"].as_str().unwrap());
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], "rampart");
    assert_eq!(id["email"], "kim@example.com");
    assert_eq!(l["expiresIn"], 3600);
    assert_eq!(l["tokenType"], "Bearer");
}

#[tokio::test]
async fn oauth2_endpoints() {
    let s = TestServer::start().await;
    s.user("lee@example.com", &[]).await;
    let l = s.login("lee@example.com").await;
    let at = l["accessToken"].as_str().unwrap();
    let ui = s.get("/oauth2/userinfo", Some(at)).await.expect(200);
    assert_eq!(ui.body["email"], "lee@example.com");
    let form = |pairs: &[(&str, &str)]| s.http.post(format!("{}/oauth2/token", s.base)).form(pairs).send();
    let r =
        form(&[("grant_type", "refresh_token"), ("refresh_token", l["refreshToken"].as_str().unwrap())]).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    let r = form(&[("grant_type", "password")]).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "unsupported_grant_type");
    let r = form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")]).await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    let rv = s
        .http
        .post(format!("{}/oauth2/revoke", s.base))
        .form(&[("token", body["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(rv.status(), 200);
    s.get("/v1/me", Some(body["access_token"].as_str().unwrap())).await.expect_error(401, "invalid_token");
}

/// The main flow on PostgreSQL too.
#[tokio::test]
async fn postgres_login_refresh_keys_and_admin() {
    let Some(s) = TestServer::start_pg("auth_flow::postgres_login_refresh_keys_and_admin", &[]).await else { return };
    let (_, admin) = s.admin().await;
    let u = s
        .post("/v1/admin/users", Some(&admin), json!({"email": "pg@example.com", "password": PASSWORD}))
        .await
        .expect(201);
    assert_eq!(u.body["email"], "pg@example.com");
    let l = s.login("pg@example.com").await;
    let n = s.post("/v1/auth/refresh", None, json!({"refreshToken": l["refreshToken"]})).await.expect(200);
    s.post("/v1/auth/refresh", None, json!({"refreshToken": l["refreshToken"]}))
        .await
        .expect_error(401, "invalid_token");
    s.get("/v1/me", Some(n.body["accessToken"].as_str().unwrap())).await.expect_error(401, "invalid_token");
    let t = s.token("pg@example.com").await;
    let (_, codes) = enrol(&s, &t).await;
    let c = s.login("pg@example.com").await;
    s.post("/v1/auth/challenge", None, json!({"session": c["session"], "code": codes[3]})).await.expect(200);
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "k"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.get("/v1/me", Some(&k)).await.expect(200);
    let users = s.get("/v1/admin/users?q=PG@", Some(&admin)).await.expect(200);
    assert_eq!(users.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn es256_and_eddsa_are_selectable_and_the_configured_algorithm_is_pinned() {
    for (alg, kty) in [("ES256", "EC"), ("EdDSA", "OKP")] {
        let s = TestServer::start_with(&[("auth.signing_alg", json!(alg))]).await;
        s.user("alg@example.com", &[]).await;
        let t = s.token("alg@example.com").await;
        let h = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(format!("{:?}", h.alg), alg);
        let jwks = s.get("/.well-known/jwks.json", None).await.expect(200).body;
        assert_eq!(jwks["keys"][0]["kty"], kty);
        assert_eq!(jwks["keys"][0]["kid"], h.kid.unwrap().as_str());
        s.get("/v1/me", Some(&t)).await.expect(200);
        let disc = s.get("/.well-known/openid-configuration", None).await.body;
        assert_eq!(disc["id_token_signing_alg_values_supported"], json!([alg]));
    }
}

#[tokio::test]
async fn failed_bootstrap_attempts_lock_the_client_not_the_operator() {
    let s = TestServer::start_with(&[("auth.lockout_threshold", json!(2))]).await;
    let code = s.state.identity.prepare_bootstrap().await.unwrap().unwrap();
    let bad = json!({"code": "00000000-00000000-00000000-00000000", "email": "root@example.com", "password": PASSWORD});
    s.post("/v1/auth/bootstrap", None, bad.clone()).await.expect_error(401, "invalid_code");
    s.post("/v1/auth/bootstrap", None, bad.clone()).await.expect_error(401, "invalid_code");
    s.post("/v1/auth/bootstrap", None, bad).await.expect_error(429, "too_many_attempts");
    // The lock is keyed by client address: the operator elsewhere is not locked out.
    let other = rampart_identity::RequestMeta { client_ip: Some("192.0.2.7".into()), ..Default::default() };
    let u = s.state.identity.bootstrap(&code, "root@example.com", PASSWORD, None, &other).await.unwrap();
    assert_eq!(u.groups, vec!["admin".to_string()]);
}

/// A burst of parallel guesses gets no more password checks than the threshold allows
/// (attempts are counted atomically before the password is checked), and never a 500.
async fn parallel_guesses(s: &TestServer) {
    s.user("burst@example.com", &[]).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (http, url) = (s.http.clone(), format!("{}/v1/auth/login", s.base));
        set.spawn(async move {
            http.post(url)
                .json(&json!({"username": "burst@example.com", "password": "wrong password!!"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut counts = std::collections::BTreeMap::new();
    while let Some(r) = set.join_next().await {
        *counts.entry(r.unwrap()).or_insert(0) += 1;
    }
    assert!(counts.get(&401).copied().unwrap_or(0) <= 3, "at most 3 password checks: {counts:?}");
    assert_eq!(counts.keys().copied().filter(|c| *c != 401 && *c != 429).count(), 0, "only 401 and 429: {counts:?}");
    s.post("/v1/auth/login", None, json!({"username": "burst@example.com", "password": PASSWORD}))
        .await
        .expect_error(429, "too_many_attempts");
}

#[tokio::test]
async fn parallel_guesses_are_counted_on_sqlite() {
    parallel_guesses(&TestServer::start_with(&[("auth.lockout_threshold", json!(3))]).await).await;
}

#[tokio::test]
async fn parallel_guesses_are_counted_on_postgres() {
    if let Some(s) = TestServer::start_pg(
        "auth_flow::parallel_guesses_are_counted_on_postgres",
        &[("auth.lockout_threshold", json!(3))],
    )
    .await
    {
        parallel_guesses(&s).await;
    }
}

/// Lockout is keyed by account and client address: guessing from one place does not lock the
/// owner out elsewhere; an administrator can lift it.
#[tokio::test]
async fn a_lockout_does_not_lock_the_owner_out_from_elsewhere_and_admins_can_lift_it() {
    let s = TestServer::start_with(&[("auth.lockout_threshold", json!(2))]).await;
    let (_, admin) = s.admin().await;
    let uid = s.user("target@example.com", &[]).await;
    for _ in 0..2 {
        s.post("/v1/auth/login", None, json!({"username": "target@example.com", "password": "wrong password!!"}))
            .await
            .expect(401);
    }
    s.post("/v1/auth/login", None, json!({"username": "target@example.com", "password": PASSWORD}))
        .await
        .expect_error(429, "too_many_attempts");
    let elsewhere = rampart_identity::RequestMeta { client_ip: Some("198.51.100.20".into()), ..Default::default() };
    let out = s.state.identity.login("target@example.com", PASSWORD, &elsewhere).await.unwrap();
    assert!(matches!(out, rampart_identity::login::LoginOutcome::Tokens(_)));
    s.post(&format!("/v1/admin/users/{uid}/unlock"), Some(&admin), json!({})).await.expect(204);
    s.token("target@example.com").await;
    let audit = s.get("/v1/admin/audit?action=admin.user_unlock", Some(&admin)).await.expect(200);
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn guessing_codes_to_turn_mfa_off_is_throttled() {
    let s = TestServer::start_with(&[("auth.lockout_threshold", json!(3))]).await;
    s.user("mfa-off@example.com", &[]).await;
    let t = s.token("mfa-off@example.com").await;
    crate::auth_flow::enrol(&s, &t).await;
    for _ in 0..2 {
        s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(&t), Some(json!({"code": "000000"})))
            .await
            .expect_error(401, "invalid_code");
    }
    s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(&t), Some(json!({"code": "000000"})))
        .await
        .expect_error(429, "too_many_attempts");
    s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(&t), Some(json!({"code": "111111"})))
        .await
        .expect_error(429, "too_many_attempts");
    assert_eq!(s.get("/v1/me", Some(&t)).await.body["mfaEnabled"], true);
}
