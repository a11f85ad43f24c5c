//! The authorizer attack battery: one test per refusal, for our own tokens, external-issuer
//! tokens (a local Cognito-shaped IdP serving a real JWKS) and API keys.

use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A server, a user, and a valid access token's claims.
async fn setup() -> (TestServer, String, Value) {
    let s = TestServer::start().await;
    s.user("victim@example.com", &[]).await;
    let t = s.token("victim@example.com").await;
    s.get("/v1/me", Some(&t)).await.expect(200);
    let c = s.access_claims(&t);
    (s, t, c)
}

#[tokio::test]
async fn forged_token_with_the_real_key_is_accepted_as_a_baseline() {
    // Guards the battery: the forging helper makes tokens the server accepts, so each
    // refusal below is caused by the one thing the test changes.
    let (s, _, c) = setup().await;
    let t = s.forge(&c).await;
    s.get("/v1/me", Some(&t)).await.expect(200);
}

#[tokio::test]
async fn refuses_alg_none() {
    let (s, t, c) = setup().await;
    let kid = jsonwebtoken::decode_header(&t).unwrap().kid.unwrap();
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    let token = format!("{}.{}.", b64(header.to_string().as_bytes()), b64(c.to_string().as_bytes()));
    s.get("/v1/me", Some(&token)).await.expect_error(401, "invalid_token");
    let no_sig = format!("{}.{}", b64(header.to_string().as_bytes()), b64(c.to_string().as_bytes()));
    s.get("/v1/me", Some(&no_sig)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_hs256_signed_with_the_public_key() {
    let (s, t, c) = setup().await;
    let kid = jsonwebtoken::decode_header(&t).unwrap().kid.unwrap();
    let jwks = s.get("/.well-known/jwks.json", None).await.body;
    // Try both classic confusions: the JWK JSON and the modulus bytes as the HMAC secret.
    let jwk_text = jwks["keys"][0].to_string();
    let n = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
    for secret in [jwk_text.as_bytes(), n.as_bytes()] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        let forged = jsonwebtoken::encode(&h, &c, &EncodingKey::from_secret(secret)).unwrap();
        s.get("/v1/me", Some(&forged)).await.expect_error(401, "invalid_token");
    }
}

#[tokio::test]
async fn refuses_unknown_kid() {
    let (s, _, c) = setup().await;
    let k = s.signing_key().await;
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("rs256-000000000000000000000000".into());
    let t = jsonwebtoken::encode(&h, &c, k.encoding_key()).unwrap();
    s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
    let mut h = Header::new(Algorithm::RS256);
    h.kid = None;
    let t = jsonwebtoken::encode(&h, &c, k.encoding_key()).unwrap();
    s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_bad_signature() {
    let (s, t, c) = setup().await;
    // Same header and signature, different payload (elevated groups).
    let mut elevated = c.clone();
    elevated["groups"] = json!(["admin"]);
    let parts: Vec<&str> = t.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(elevated.to_string().as_bytes()), parts[2]);
    s.get("/v1/me", Some(&tampered)).await.expect_error(401, "invalid_token");
    // A token signed by a different key under our kid.
    let other = rampart_crypto::SigningKeyMaterial::generate(rampart_crypto::SigningAlg::RS256).unwrap();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = jsonwebtoken::decode_header(&t).unwrap().kid;
    let t2 = jsonwebtoken::encode(&h, &c, other.encoding_key()).unwrap();
    s.get("/v1/me", Some(&t2)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_expired_token() {
    let (s, _, mut c) = setup().await;
    c["iat"] = json!(now_secs() - 7200);
    c["nbf"] = json!(now_secs() - 7200);
    c["exp"] = json!(now_secs() - 120); // beyond the 30 s leeway
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
    c["exp"] = json!(now_secs() - 5); // inside the leeway: still accepted
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect(200);
}

#[tokio::test]
async fn refuses_not_yet_valid_token() {
    let (s, _, mut c) = setup().await;
    c["nbf"] = json!(now_secs() + 600);
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
    let (s, _, mut c) = setup().await;
    c["iat"] = json!(now_secs() + 600);
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_wrong_issuer() {
    let (s, _, mut c) = setup().await;
    c["iss"] = json!("https://evil.example.com");
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
    c["iss"] = json!(format!("{}/", s.base));
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_wrong_client_id() {
    let (s, _, mut c) = setup().await;
    c["client_id"] = json!("someone-else");
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_id_token_as_access_token() {
    let s = TestServer::start().await;
    s.user("victim@example.com", &[]).await;
    let l = s.login("victim@example.com").await;
    s.get("/v1/me", Some(l["idToken"].as_str().unwrap())).await.expect_error(401, "invalid_token");
    let (s, _, mut c) = setup().await;
    c["token_use"] = json!("id");
    s.get("/v1/me", Some(&s.forge(&c).await)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_disabled_user() {
    let (s, t, c) = setup().await;
    s.set_active(c["sub"].as_str().unwrap(), false).await;
    s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn refuses_forged_groups_claim_privilege() {
    // Groups come from the database, not from the token: a token claiming admin gains nothing.
    let (s, _, mut c) = setup().await;
    c["groups"] = json!(["admin"]);
    c["scope"] = json!("openid admin");
    let t = s.forge(&c).await;
    assert_eq!(s.get("/v1/me", Some(&t)).await.expect(200).body["groups"], json!([]));
    s.get("/v1/admin/users", Some(&t)).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn refuses_garbage_credentials() {
    let (s, _, _) = setup().await;
    for bad in ["", "x", "a.b.c", "Bearer", "eyJhbGciOiJSUzI1NiJ9.e30.", &"A".repeat(20_000)] {
        let r = s
            .http
            .get(format!("{}/v1/me", s.base))
            .header("authorization", format!("Bearer {bad}"))
            .send()
            .await
            .unwrap();
        // An oversized header never reaches authentication: the edge refuses it first.
        let want = if bad.len() > 8192 { 431 } else { 401 };
        assert_eq!(r.status(), want, "{bad:.20}");
    }
    let r = s.http.get(format!("{}/v1/me", s.base)).header("authorization", "Basic dXNlcjpwYXNz").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn accepts_the_raw_authorization_header_as_appsync_clients_send_it() {
    let (s, t, _) = setup().await;
    let r = s.http.get(format!("{}/v1/me", s.base)).header("authorization", &t).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

// ---- API keys ----

async fn key_setup() -> (TestServer, String, String) {
    let (s, t, _) = setup().await;
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "k"})).await.expect(201).body;
    (s, t, k["key"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn api_key_refuses_malformed_and_wrong_secret() {
    let (s, _, key) = key_setup().await;
    s.get("/v1/me", Some(&key)).await.expect(200);
    let prefix_len = "rampart_".len() + 12;
    let mut wrong = key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    s.get("/v1/me", Some(&wrong)).await.expect_error(401, "invalid_token");
    let unknown_prefix = format!("rampart_000000000000{}", &key[prefix_len..]);
    s.get("/v1/me", Some(&unknown_prefix)).await.expect_error(401, "invalid_token");
    for bad in ["rampart_", "rampart_abc_def", "rampart_zzzzzzzzzzzz_zz"] {
        let r = s.http.get(format!("{}/v1/me", s.base)).header("x-api-key", bad).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn api_key_refuses_expired() {
    let (s, _, key) = key_setup().await;
    let prefix = &key["rampart_".len().."rampart_".len() + 12];
    let rec = s.state.db.api_key_by_prefix(prefix).await.unwrap().unwrap();
    sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE id = $2")
        .bind(now_secs() * 1000 - 1000)
        .bind(rec.id.to_string())
        .execute(s.state.db.pool())
        .await
        .unwrap();
    s.state.identity.invalidate_auth_cache();
    s.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn api_key_refuses_revoked_and_disabled_owner() {
    let (s, t, key) = key_setup().await;
    let me = s.get("/v1/me", Some(&key)).await.expect(200).body;
    s.set_active(me["sub"].as_str().unwrap(), false).await;
    s.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
    s.set_active(me["sub"].as_str().unwrap(), true).await;
    let id = s.get("/v1/me/api-keys", Some(&t)).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    s.delete(&format!("/v1/me/api-keys/{id}"), Some(&t)).await.expect(204);
    s.get("/v1/me", Some(&key)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn group_policy_refuses_users_outside_allowed_groups() {
    let s = TestServer::start_with(&[("auth.allowed_groups", json!(["ml-users"]))]).await;
    s.state.db.create_group("ml-users", "", rampart_core::Timestamp::from_millis(0)).await.unwrap();
    s.user("out@example.com", &[]).await;
    s.user("in@example.com", &["ml-users"]).await;
    let (_, admin) = s.admin().await;
    s.get("/v1/me", Some(&s.token("out@example.com").await)).await.expect_error(403, "forbidden");
    s.get("/v1/me", Some(&s.token("in@example.com").await)).await.expect(200);
    s.get("/v1/me", Some(&admin)).await.expect(200);
}

// ---- External issuers (Cognito-shaped) ----

async fn ext() -> (TestServer, FakeIdp) {
    let idp = FakeIdp::start().await;
    let s = TestServer::start_with(&[idp.config()]).await;
    (s, idp)
}

#[tokio::test]
async fn external_access_token_is_accepted_and_provisions_a_user() {
    let (s, idp) = ext().await;
    let mut c = idp.claims("ext-user-1");
    c["cognito:groups"] = json!(["MLUsers", "Unmapped"]);
    let t = idp.sign(&c);
    let me = s.get("/v1/me", Some(&t)).await.expect(200).body;
    assert_eq!(me["authMethod"], "external");
    assert_eq!(me["email"], "ext-user-1@corp.example");
    assert_eq!(me["groups"], json!(["ml-users"]), "groups mapped, unmapped ones dropped");
    // Same subject → same local user.
    let again = s.get("/v1/me", Some(&idp.sign(&idp.claims("ext-user-1")))).await.expect(200).body;
    assert_eq!(again["sub"], me["sub"]);
    // Raw Authorization header (as AppSync clients send it).
    let r = s.http.get(format!("{}/v1/me", s.base)).header("authorization", &t).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Mapped admin group grants admin.
    let mut a = idp.claims("ext-admin");
    a["cognito:groups"] = json!(["Administrators"]);
    s.get("/v1/admin/users", Some(&idp.sign(&a))).await.expect(200);
    s.get("/v1/admin/users", Some(&t)).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn external_refuses_wrong_client_id() {
    let (s, idp) = ext().await;
    let mut c = idp.claims("u");
    c["client_id"] = json!("other-client");
    s.get("/v1/me", Some(&idp.sign(&c))).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn external_refuses_id_token_as_access_token() {
    let (s, idp) = ext().await;
    let mut c = idp.claims("u");
    c["token_use"] = json!("id");
    c["aud"] = json!("cognito-client");
    c.as_object_mut().unwrap().remove("client_id");
    s.get("/v1/me", Some(&idp.sign(&c))).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn external_refuses_expired_and_not_yet_valid() {
    let (s, idp) = ext().await;
    let mut c = idp.claims("u");
    c["exp"] = json!(now_secs() - 120);
    s.get("/v1/me", Some(&idp.sign(&c))).await.expect_error(401, "invalid_token");
    let mut c = idp.claims("u");
    c["nbf"] = json!(now_secs() + 600);
    s.get("/v1/me", Some(&idp.sign(&c))).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn external_refuses_unconfigured_issuer() {
    let (s, idp) = ext().await;
    let mut c = idp.claims("u");
    c["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER");
    s.get("/v1/me", Some(&idp.sign(&c))).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn external_refuses_bad_signature_and_alg_none_and_hs256() {
    let (s, idp) = ext().await;
    let c = idp.claims("u");
    let stranger = rampart_crypto::SigningKeyMaterial::generate(rampart_crypto::SigningAlg::RS256).unwrap();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(idp.current_kid());
    s.get("/v1/me", Some(&idp.sign_with(h, &c, stranger.encoding_key()))).await.expect_error(401, "invalid_token");
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": idp.current_kid()}).to_string().as_bytes()),
        b64(c.to_string().as_bytes())
    );
    s.get("/v1/me", Some(&none)).await.expect_error(401, "invalid_token");
    let jwks: Value = reqwest::get(&idp.jwks_url).await.unwrap().json().await.unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(idp.current_kid());
    let hs = idp.sign_with(h, &c, &EncodingKey::from_secret(jwks["keys"][0].to_string().as_bytes()));
    s.get("/v1/me", Some(&hs)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn external_unknown_kid_refreshes_the_jwks_at_a_limited_rate() {
    let (s, idp) = ext().await;
    s.get("/v1/me", Some(&idp.sign(&idp.claims("u")))).await.expect(200);
    let after_first = idp.hits.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after_first, 1, "JWKS fetched once and cached");
    s.get("/v1/me", Some(&idp.sign(&idp.claims("u")))).await.expect(200);
    assert_eq!(idp.hits.load(std::sync::atomic::Ordering::SeqCst), 1, "cached");
    // The IdP rotates: the new kid is unknown, but the refresh is rate-limited (30 s), so a
    // burst of unknown kids does not hammer the IdP.
    idp.rotate();
    let t = idp.sign(&idp.claims("u"));
    for _ in 0..5 {
        s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
    }
    assert_eq!(idp.hits.load(std::sync::atomic::Ordering::SeqCst), 1, "no refetch inside the minimum interval");
}

#[tokio::test]
async fn external_unknown_kid_is_picked_up_after_rotation() {
    let idp = FakeIdp::start().await;
    let s = TestServer::start_with(&[idp.config(), ("auth.token_leeway", json!("30s"))]).await;
    // First use fetches the JWKS; the IdP then rotates before any cache refresh is needed.
    idp.rotate();
    let t = idp.sign(&idp.claims("u"));
    s.get("/v1/me", Some(&t)).await.expect(200);
    assert_eq!(idp.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn external_disabled_user_is_refused() {
    let (s, idp) = ext().await;
    let t = idp.sign(&idp.claims("ext-9"));
    let me = s.get("/v1/me", Some(&t)).await.expect(200).body;
    s.set_active(me["sub"].as_str().unwrap(), false).await;
    s.get("/v1/me", Some(&t)).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn external_unknown_kid_triggers_a_refresh_after_the_interval() {
    let idp = FakeIdp::start().await;
    let s = TestServer::start_with(&[idp.config(), ("auth.jwks_refresh_min_interval", json!("1s"))]).await;
    s.get("/v1/me", Some(&idp.sign(&idp.claims("u")))).await.expect(200);
    idp.rotate();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.get("/v1/me", Some(&idp.sign(&idp.claims("u")))).await.expect(200);
    assert_eq!(idp.hits.load(std::sync::atomic::Ordering::SeqCst), 2, "one refetch for the new kid");
}

#[tokio::test]
async fn external_users_manage_api_keys_but_not_local_mfa() {
    let (s, idp) = ext().await;
    let t = idp.sign(&idp.claims("ext-keys"));
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "mcp"})).await.expect(201).body;
    s.get("/v1/me", Some(k["key"].as_str().unwrap())).await.expect(200);
    s.post("/v1/me/api-keys", Some(&t), json!({"name": "x", "scopes": ["admin"]})).await.expect_error(403, "forbidden");
    s.post("/v1/me/mfa/totp", Some(&t), json!({})).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn external_admin_group_needs_an_explicit_mapping() {
    let idp = FakeIdp::start().await;
    let cfg = json!([{"issuer": idp.issuer, "jwks_url": idp.jwks_url, "client_ids": ["cognito-client"], "token_use": "access", "groups_claim": "cognito:groups"}]);
    let s = TestServer::start_with(&[("auth.external_issuers", cfg)]).await;
    let mut c = idp.claims("someone");
    c["cognito:groups"] = json!(["admin", "analysts"]);
    let t = idp.sign(&c);
    assert_eq!(s.get("/v1/me", Some(&t)).await.expect(200).body["groups"], json!(["analysts"]));
    s.get("/v1/admin/users", Some(&t)).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn external_id_tokens_without_token_use_are_refused() {
    let idp = FakeIdp::start().await;
    let cfg = json!([{"issuer": idp.issuer, "jwks_url": idp.jwks_url, "client_ids": ["entra-app"], "token_use": "", "groups_claim": "roles"}]);
    let s = TestServer::start_with(&[("auth.external_issuers", cfg)]).await;
    let now = now_secs();
    let access =
        json!({"iss": idp.issuer, "sub": "e1", "aud": "entra-app", "exp": now + 600, "iat": now, "roles": ["r"]});
    s.get("/v1/me", Some(&idp.sign(&access))).await.expect(200);
    for claim in ["nonce", "at_hash", "c_hash"] {
        let mut id = access.clone();
        id[claim] = json!("x");
        s.get("/v1/me", Some(&idp.sign(&id))).await.expect_error(401, "invalid_token");
    }
}
