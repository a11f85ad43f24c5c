//! Rampart as an OpenID provider, the browser's side and confidential clients: consent
//! remembered per user, client and scopes; `prompt` and `max_age`; unknown parameters ignored;
//! `iss` on the redirect; `client_secret_basic` / `client_secret_post`; UserInfo and ID token
//! claims limited to the granted scopes.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashMap;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const CRM_REDIRECT: &str = "https://crm.example.com/oidc/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkdBjftJeZ4CVP";
const CRM_SECRET: &str = "crm-secret-0123456789-abcdefghijklmnop";
const FILE_SECRET: &str = "file-secret-9876543210-zyxwvutsrqponmlk";

async fn server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("erp.secret");
    std::fs::write(&secret_file, format!("{FILE_SECRET}\n")).unwrap();
    let s = TestServer::start_with(&[(
        "auth.oauth_clients",
        json!([
            {"client_id": "wiki", "redirect_uris": [REDIRECT], "name": "Wiki"},
            {"client_id": "crm", "redirect_uris": [CRM_REDIRECT], "name": "CRM", "client_secret": CRM_SECRET},
            {"client_id": "erp", "redirect_uris": [CRM_REDIRECT], "client_secret_file": secret_file.display().to_string()},
        ]),
    )])
    .await;
    // The secret file has been read at start-up.
    drop(dir);
    s.user("olga@example.com", &[]).await;
    s.user("piet@example.com", &[]).await;
    s
}

fn params(client: &str, extra: &[(&str, &str)]) -> Value {
    let mut p = json!({
        "response_type": "code", "client_id": client, "scope": "openid email", "state": "st-1", "nonce": "n-1",
    });
    if client == "wiki" {
        p["redirect_uri"] = json!(REDIRECT);
        p["code_challenge"] = json!(b64(&rampart_crypto::sha256(VERIFIER.as_bytes())));
        p["code_challenge_method"] = json!("S256");
    } else {
        p["redirect_uri"] = json!(CRM_REDIRECT);
    }
    for (k, v) in extra {
        p[*k] = json!(v);
    }
    p
}

async fn step(s: &TestServer, token: Option<&str>, client: &str, extra: &[(&str, &str)]) -> Value {
    s.post("/oauth2/authorize", token, params(client, extra)).await.expect(200).body
}

/// The query of a `redirect` step (asserting `state` and `iss`).
fn back(s: &TestServer, body: &Value) -> HashMap<String, String> {
    assert_eq!(body["next"], "redirect", "{body}");
    let to = url::Url::parse(body["redirectTo"].as_str().unwrap()).unwrap();
    let q: HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("st-1", s.base.as_str()), "{to}");
    q
}

async fn token_req(s: &TestServer, basic: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> reqwest::Response {
    let mut r = s.http.post(format!("{}/oauth2/token", s.base)).form(pairs);
    if let Some((u, p)) = basic {
        r = r.basic_auth(u, Some(p));
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn consent_is_asked_once_per_user_client_and_scopes() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    let c = step(&s, Some(&t), "wiki", &[]).await;
    assert_eq!((c["next"].as_str(), c["client"]["name"].as_str()), (Some("consent"), Some("Wiki")));
    assert_eq!(c["scopes"], json!(["openid", "email"]));
    assert!(back(&s, &step(&s, Some(&t), "wiki", &[("decision", "approve")]).await).contains_key("code"));
    // Remembered: straight back with a code.
    assert!(back(&s, &step(&s, Some(&t), "wiki", &[]).await).contains_key("code"));
    // A narrower request is covered; a wider one asks again; prompt=consent always asks.
    assert!(back(&s, &step(&s, Some(&t), "wiki", &[("scope", "openid")]).await).contains_key("code"));
    let wider = step(&s, Some(&t), "wiki", &[("scope", "openid email profile")]).await;
    assert_eq!((wider["next"].as_str(), &wider["scopes"]), (Some("consent"), &json!(["openid", "email", "profile"])));
    assert_eq!(step(&s, Some(&t), "wiki", &[("prompt", "consent")]).await["next"], "consent");
    // Another user's consent is not this user's; another client's neither.
    let p = s.token("piet@example.com").await;
    assert_eq!(step(&s, Some(&p), "wiki", &[]).await["next"], "consent");
    assert_eq!(step(&s, Some(&t), "crm", &[]).await["next"], "consent");
    // Cancel goes back with access_denied and no code.
    let q = back(&s, &step(&s, Some(&p), "wiki", &[("decision", "deny")]).await);
    assert_eq!((q["error"].as_str(), q.get("code")), ("access_denied", None));
    assert_eq!(step(&s, Some(&p), "wiki", &[]).await["next"], "consent", "a refusal is not remembered as consent");
    let audit = s.state.db.list_audit(&Default::default(), &Default::default()).await.unwrap();
    let consents: Vec<_> = audit.items.iter().filter(|a| a.entry.action == "oauth.consent").collect();
    assert_eq!(consents.len(), 1, "olga's one consent is in the audit trail");
    assert_eq!(consents[0].entry.detail.as_deref(), Some("openid email"));
}

#[tokio::test]
async fn prompt_none_never_shows_a_page() {
    let s = server().await;
    let q = back(&s, &step(&s, None, "wiki", &[("prompt", "none")]).await);
    assert_eq!(q["error"], "login_required");
    let t = s.token("olga@example.com").await;
    let q = back(&s, &step(&s, Some(&t), "wiki", &[("prompt", "none")]).await);
    assert_eq!(q["error"], "consent_required");
    step(&s, Some(&t), "wiki", &[("decision", "approve")]).await;
    assert!(back(&s, &step(&s, Some(&t), "wiki", &[("prompt", "none")]).await).contains_key("code"));
}

#[tokio::test]
async fn max_age_and_prompt_login_ask_for_a_fresh_sign_in() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    step(&s, Some(&t), "wiki", &[("decision", "approve")]).await;
    // Without a sign-in, prompt=login asks for one; a sign-in made just now satisfies it.
    assert_eq!(step(&s, None, "wiki", &[("prompt", "login")]).await["next"], "login");
    assert!(back(&s, &step(&s, Some(&t), "wiki", &[("prompt", "login")]).await).contains_key("code"));
    let signed_in_at = now_secs();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let again = step(&s, Some(&t), "wiki", &[("max_age", "1")]).await;
    assert_eq!((again["next"].as_str(), again["client"]["id"].as_str()), (Some("login"), Some("wiki")));
    let q = back(&s, &step(&s, Some(&t), "wiki", &[("max_age", "1"), ("prompt", "none")]).await);
    assert_eq!(q["error"], "login_required");
    // The old sign-in is still good for a longer max_age, and the ID token says when it was made.
    let q = back(&s, &step(&s, Some(&t), "wiki", &[("max_age", "3600")]).await);
    let tok = redeem_wiki(&s, &q["code"]).await;
    let auth_time = decode_unverified(tok["id_token"].as_str().unwrap())["auth_time"].as_i64().unwrap();
    assert!((auth_time - signed_in_at).abs() <= 1, "auth_time {auth_time} is the sign-in's, {signed_in_at}");
    // A fresh sign-in passes max_age=1.
    let fresh = s.token("olga@example.com").await;
    assert!(back(&s, &step(&s, Some(&fresh), "wiki", &[("max_age", "1")]).await).contains_key("code"));
}

/// `prompt=login` wants a sign-in made after the client asked: the redirect to the sign-in page
/// carries the request's arrival time (replacing one the client sent), and a sign-in from before
/// it is not enough, however recent (beyond the 2 s allowed for replicas' clocks).
#[tokio::test]
async fn prompt_login_wants_a_sign_in_after_the_request() {
    let s = server().await;
    let before = s.token("olga@example.com").await;
    step(&s, Some(&before), "wiki", &[("decision", "approve")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let query = params_query(&[("prompt", "login"), ("login_after", "1")]);
    let r = s.get(&format!("/oauth2/authorize?{query}"), None).await.expect(303);
    let to = url::Url::parse("http://x").unwrap().join(r.headers["location"].to_str().unwrap()).unwrap();
    let stamps: Vec<String> =
        to.query_pairs().filter(|(k, _)| k == "login_after").map(|(_, v)| v.into_owned()).collect();
    assert_eq!(stamps.len(), 1, "{to}");
    assert!(stamps[0].parse::<i64>().unwrap() > 1, "the client's value is replaced: {to}");
    let asked = [("prompt", "login"), ("login_after", stamps[0].as_str())];
    assert_eq!(step(&s, Some(&before), "wiki", &asked).await["next"], "login", "a sign-in from before the request");
    let after = s.token("olga@example.com").await;
    assert!(back(&s, &step(&s, Some(&after), "wiki", &asked).await).contains_key("code"));
    // Without prompt=login nothing is added.
    let r = s.get(&format!("/oauth2/authorize?{}", params_query(&[])), None).await.expect(303);
    assert!(!r.headers["location"].to_str().unwrap().contains("login_after"));
}

fn params_query(extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse("http://x/").unwrap();
    for (k, v) in params("wiki", extra).as_object().unwrap() {
        u.query_pairs_mut().append_pair(k, v.as_str().unwrap());
    }
    u.query().unwrap().to_owned()
}

async fn redeem_wiki(s: &TestServer, code: &str) -> Value {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", "wiki"),
        ("code_verifier", VERIFIER),
    ];
    let r = token_req(s, None, &pairs).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn unknown_authorization_parameters_are_ignored() {
    let s = server().await;
    let extra = [
        ("response_mode", "query"),
        ("login_hint", "olga@example.com"),
        ("ui_locales", "de fr"),
        ("display", "page"),
        ("claims_locales", "de"),
        ("acr_values", "urn:x"),
        ("foo", "bar"),
    ];
    let query = params_query(&extra);
    let r = s.get(&format!("/oauth2/authorize?{query}"), None).await.expect(303);
    assert!(r.headers["location"].to_str().unwrap().starts_with("/authorize?"));
    let t = s.token("olga@example.com").await;
    let extra: Vec<_> = extra.iter().copied().chain([("decision", "approve")]).collect();
    assert!(back(&s, &step(&s, Some(&t), "wiki", &extra).await).contains_key("code"));
    // A repeated parameter is still an error (RFC 6749 §3.1).
    let r = s.get(&format!("/oauth2/authorize?{query}&state=again"), None).await;
    assert_eq!(r.status.as_u16(), 400);
}

/// A code for the confidential client `crm` (consenting).
async fn crm_code(s: &TestServer, t: &str, extra: &[(&str, &str)]) -> String {
    let mut e = vec![("decision", "approve")];
    e.extend_from_slice(extra);
    back(s, &step(s, Some(t), "crm", &e).await)["code"].clone()
}

#[tokio::test]
async fn confidential_clients_authenticate_with_basic_or_post() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    // client_secret_basic, no PKCE.
    let c = crm_code(&s, &t, &[]).await;
    let pairs = [("grant_type", "authorization_code"), ("code", c.as_str()), ("redirect_uri", CRM_REDIRECT)];
    let r = token_req(&s, Some(("crm", CRM_SECRET)), &pairs).await;
    assert_eq!(r.status(), 200);
    let tok: Value = r.json().await.unwrap();
    assert_eq!(decode_unverified(tok["id_token"].as_str().unwrap())["aud"], "crm");
    let rt = tok["refresh_token"].as_str().unwrap().to_owned();
    // client_secret_post.
    let c = crm_code(&s, &t, &[]).await;
    let mut pairs: Vec<(&str, &str)> =
        vec![("grant_type", "authorization_code"), ("code", &c), ("redirect_uri", CRM_REDIRECT)];
    pairs.extend([("client_id", "crm"), ("client_secret", CRM_SECRET)]);
    assert_eq!(token_req(&s, None, &pairs).await.status(), 200);
    // The secret read from a file works the same way.
    let erp = back(&s, &step(&s, Some(&t), "erp", &[("decision", "approve")]).await)["code"].clone();
    let pairs = [("grant_type", "authorization_code"), ("code", erp.as_str()), ("redirect_uri", CRM_REDIRECT)];
    assert_eq!(token_req(&s, Some(("erp", FILE_SECRET)), &pairs).await.status(), 200);
    // Refresh needs the client too.
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    assert_eq!(token_req(&s, None, &refresh).await.status(), 400, "no client: invalid_grant");
    let wrong = token_req(&s, Some(("crm", "wrong-secret-wrong-secret-wrong-secret")), &refresh).await;
    assert_eq!(wrong.status(), 401);
    let other = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("client_id", "wiki")];
    assert_eq!(token_req(&s, None, &other).await.status(), 400, "another client: invalid_grant");
    // None of those used the token up.
    let r = token_req(&s, Some(("crm", CRM_SECRET)), &refresh).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn wrong_or_missing_client_secrets_are_invalid_client() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    let c = crm_code(&s, &t, &[]).await;
    let base = [("grant_type", "authorization_code"), ("code", c.as_str()), ("redirect_uri", CRM_REDIRECT)];
    let with =
        |extra: &[(&'static str, &'static str)]| base.iter().copied().chain(extra.iter().copied()).collect::<Vec<_>>();
    let check = |r: reqwest::Response, status: u16, error: &'static str, basic: bool| async move {
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers().contains_key("www-authenticate"), basic);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], error);
    };
    check(
        token_req(&s, Some(("crm", "wrong-secret-wrong-secret-wrong-secret")), &with(&[])).await,
        401,
        "invalid_client",
        true,
    )
    .await;
    check(token_req(&s, Some(("crm", &CRM_SECRET[..20])), &with(&[])).await, 401, "invalid_client", true).await;
    check(token_req(&s, Some(("wiki", CRM_SECRET)), &with(&[])).await, 401, "invalid_client", true).await;
    check(token_req(&s, Some(("nobody", CRM_SECRET)), &with(&[])).await, 401, "invalid_client", true).await;
    check(
        token_req(&s, None, &with(&[("client_id", "crm"), ("client_secret", "nope")])).await,
        401,
        "invalid_client",
        false,
    )
    .await;
    check(token_req(&s, None, &with(&[("client_id", "crm")])).await, 401, "invalid_client", false).await;
    check(
        token_req(&s, None, &with(&[("client_id", "erp"), ("client_secret", CRM_SECRET)])).await,
        401,
        "invalid_client",
        false,
    )
    .await;
    // Both methods at once; a Basic header that is not one.
    check(
        token_req(&s, Some(("crm", CRM_SECRET)), &with(&[("client_secret", CRM_SECRET)])).await,
        400,
        "invalid_request",
        false,
    )
    .await;
    let r = s
        .http
        .post(format!("{}/oauth2/token", s.base))
        .header("authorization", "Basic !!!")
        .form(&with(&[]))
        .send()
        .await
        .unwrap();
    check(r, 401, "invalid_client", true).await;
    // Basic for one client, the form naming another.
    check(token_req(&s, Some(("crm", CRM_SECRET)), &with(&[("client_id", "erp")])).await, 401, "invalid_client", true)
        .await;
    // None of that burned the code: the right secret redeems it once.
    assert_eq!(token_req(&s, Some(("crm", CRM_SECRET)), &with(&[])).await.status(), 200);
    assert_eq!(token_req(&s, Some(("crm", CRM_SECRET)), &with(&[])).await.status(), 400);
}

#[tokio::test]
async fn codes_belong_to_their_client_and_pkce_binds_when_used() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    // The wiki's code cannot be redeemed by the CRM, even with the CRM's own secret.
    let wiki = back(&s, &step(&s, Some(&t), "wiki", &[("decision", "approve")]).await)["code"].clone();
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", wiki.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(token_req(&s, Some(("crm", CRM_SECRET)), &pairs).await.status(), 400);
    // A public client must use PKCE.
    let mut p = params("wiki", &[]);
    p.as_object_mut().unwrap().remove("code_challenge");
    p.as_object_mut().unwrap().remove("code_challenge_method");
    let r = s.post("/oauth2/authorize", Some(&t), p).await.expect(200).body;
    assert_eq!(back(&s, &r)["error"], "invalid_request");
    // A confidential client may: then the verifier is required.
    let challenge = b64(&rampart_crypto::sha256(VERIFIER.as_bytes()));
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let c = crm_code(&s, &t, &pk).await;
    let pairs = [("grant_type", "authorization_code"), ("code", c.as_str()), ("redirect_uri", CRM_REDIRECT)];
    assert_eq!(token_req(&s, Some(("crm", CRM_SECRET)), &pairs).await.status(), 400, "verifier missing");
    let c = crm_code(&s, &t, &pk).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", CRM_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(token_req(&s, Some(("crm", CRM_SECRET)), &pairs).await.status(), 200);
    // Without a challenge, a verifier is refused too.
    let c = crm_code(&s, &t, &[]).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", CRM_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(token_req(&s, Some(("crm", CRM_SECRET)), &pairs).await.status(), 400);
}

#[tokio::test]
async fn userinfo_and_id_token_hold_only_the_granted_scopes() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    for (scope, email, name) in
        [("openid", false, false), ("openid email", true, false), ("openid profile", false, true)]
    {
        let q = back(&s, &step(&s, Some(&t), "wiki", &[("scope", scope), ("decision", "approve")]).await);
        let tok = redeem_wiki(&s, &q["code"]).await;
        let id = decode_unverified(tok["id_token"].as_str().unwrap());
        let at = tok["access_token"].as_str().unwrap();
        let ui = s.get("/oauth2/userinfo", Some(at)).await.expect(200).body;
        for claims in [&id, &ui] {
            assert_eq!((claims["email"].is_string(), claims["name"].is_string()), (email, name), "{scope}: {claims}");
            assert_eq!(claims["groups"].is_array(), name, "{scope}: {claims}");
            assert!(claims["sub"].is_string());
        }
        // A refresh keeps the grant's scope.
        let rt = tok["refresh_token"].as_str().unwrap();
        let r =
            token_req(&s, None, &[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "wiki")]).await;
        let r: Value = r.json().await.unwrap();
        assert_eq!(decode_unverified(r["access_token"].as_str().unwrap())["scope"], scope);
        let ui = s.get("/oauth2/userinfo", Some(r["access_token"].as_str().unwrap())).await.expect(200).body;
        assert_eq!(ui["email"].is_string(), email);
    }
    // Rampart's own session sees every claim.
    let own = s.get("/oauth2/userinfo", Some(&t)).await.expect(200).body;
    assert_eq!(own["email"], "olga@example.com");
}

#[tokio::test]
async fn discovery_names_client_authentication_and_iss() {
    let s = server().await;
    let d = s.get("/.well-known/openid-configuration", None).await.expect(200).body;
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic", "client_secret_post"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["issuer"], s.base);
    assert!(d["prompt_values_supported"].as_array().unwrap().contains(&json!("none")));
}

/// Consent, `auth_time` on codes and the grant of a client's sign-in on PostgreSQL too.
#[tokio::test]
async fn consent_and_grants_on_postgres() {
    let clients = json!([{"client_id": "wiki", "redirect_uris": [REDIRECT], "name": "Wiki"}]);
    let Some(s) = TestServer::start_pg("consent_and_grants_on_postgres", &[("auth.oauth_clients", clients)]).await
    else {
        return;
    };
    s.user("olga@example.com", &[]).await;
    let t = s.token("olga@example.com").await;
    assert_eq!(step(&s, Some(&t), "wiki", &[]).await["next"], "consent");
    step(&s, Some(&t), "wiki", &[("decision", "approve")]).await;
    step(&s, Some(&t), "wiki", &[("scope", "openid profile"), ("decision", "approve")]).await;
    let q = back(&s, &step(&s, Some(&t), "wiki", &[("scope", "openid email profile"), ("max_age", "60")]).await);
    let tok = redeem_wiki(&s, &q["code"]).await;
    assert!(decode_unverified(tok["id_token"].as_str().unwrap())["auth_time"].as_i64().unwrap() > 0);
    let rt = tok["refresh_token"].as_str().unwrap();
    let r = token_req(&s, None, &[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "wiki")]).await;
    let r: Value = r.json().await.unwrap();
    assert_eq!(decode_unverified(r["access_token"].as_str().unwrap())["scope"], "openid email profile");
}
