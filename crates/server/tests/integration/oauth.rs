//! Rampart as an OpenID provider: authorization code flow with PKCE for registered clients.

use crate::common::*;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkdBjftJeZ4CVP";

fn challenge(verifier: &str) -> String {
    b64(&rampart_crypto::sha256(verifier.as_bytes()))
}

async fn server() -> TestServer {
    let s = TestServer::start_with(&[(
        "auth.oauth_clients",
        json!([{"client_id": "wiki", "redirect_uris": [REDIRECT], "name": "Wiki"}]),
    )])
    .await;
    s.user("olga@example.com", &["admin"]).await;
    s
}

fn params(extra: &[(&str, &str)]) -> Value {
    let mut p = json!({
        "response_type": "code", "client_id": "wiki", "redirect_uri": REDIRECT, "scope": "openid email",
        "state": "xyz", "nonce": "n-0S6_WzA2Mj", "code_challenge": challenge(VERIFIER), "code_challenge_method": "S256"
    });
    for (k, v) in extra {
        p[*k] = json!(v);
    }
    p
}

/// Authorizes (consenting) and returns the code from the redirect.
async fn code(s: &TestServer, token: &str) -> String {
    let r = s.post("/oauth2/authorize", Some(token), params(&[("decision", "approve")])).await.expect(200);
    assert_eq!(r.body["next"], "redirect", "{}", r.body);
    let to = url::Url::parse(r.body["redirectTo"].as_str().unwrap()).unwrap();
    assert!(to.as_str().starts_with(REDIRECT));
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    q["code"].clone()
}

async fn exchange(s: &TestServer, pairs: &[(&str, &str)]) -> (u16, Value) {
    let r = s.http.post(format!("{}/oauth2/token", s.base)).form(pairs).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Redeems a code with the right client, redirect URI and verifier.
async fn redeem(s: &TestServer, code: &str) -> (u16, Value) {
    exchange(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "wiki"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

#[tokio::test]
async fn code_flow_with_pkce_issues_client_bound_tokens() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    let c = code(&s, &t).await;
    let (st, tok) = redeem(&s, &c).await;
    assert_eq!(st, 200, "{tok}");
    let id = decode_unverified(tok["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], "wiki");
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["email"], "olga@example.com");
    let at = tok["access_token"].as_str().unwrap();
    let ac = decode_unverified(at);
    assert_eq!(ac["client_id"], "wiki");
    assert_eq!(ac["scope"], "openid email");
    // Identity only: userinfo works, Rampart's admin API does not, even for an administrator.
    assert_eq!(s.get("/oauth2/userinfo", Some(at)).await.expect(200).body["email"], "olga@example.com");
    assert_eq!(s.get("/v1/me", Some(at)).await.expect(200).body["scopes"], json!([]));
    s.get("/v1/admin/users", Some(at)).await.expect_error(403, "forbidden");
    s.post("/oauth2/authorize", Some(at), params(&[("decision", "approve")])).await.expect_error(403, "forbidden");
    // Refresh keeps the client binding.
    let (st, r) =
        exchange(&s, &[("grant_type", "refresh_token"), ("refresh_token", tok["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!(st, 200);
    assert_eq!(decode_unverified(r["access_token"].as_str().unwrap())["client_id"], "wiki");
    assert_eq!(decode_unverified(r["id_token"].as_str().unwrap())["aud"], "wiki");
}

#[tokio::test]
async fn code_exchange_refuses_wrong_verifier_client_redirect_and_replay() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    let grant = |c: &str, verifier: &str, client: &str, redirect: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", c.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("client_id", client.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let pairs = |v: Vec<(&'static str, String)>| v;
    for (verifier, client, redirect) in [
        ("wrong-verifier-wrong-verifier-wrong-verifier-x", "wiki", REDIRECT),
        (VERIFIER, "rampart", REDIRECT),
        (VERIFIER, "wiki", "http://127.0.0.1:9/other"),
    ] {
        let c = code(&s, &t).await;
        let g = pairs(grant(&c, verifier, client, redirect));
        let g: Vec<(&str, &str)> = g.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let (st, body) = exchange(&s, &g).await;
        assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")), "{verifier} {client} {redirect}");
        // A failed attempt burns the code.
        let good = grant(&c, VERIFIER, "wiki", REDIRECT);
        let good: Vec<(&str, &str)> = good.iter().map(|(a, b)| (*a, b.as_str())).collect();
        assert_eq!(exchange(&s, &good).await.0, 400);
    }
    // Replay of a redeemed code: refused, and the tokens it produced are revoked.
    let c = code(&s, &t).await;
    let g = grant(&c, VERIFIER, "wiki", REDIRECT);
    let g: Vec<(&str, &str)> = g.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let (st, tok) = exchange(&s, &g).await;
    assert_eq!(st, 200);
    let at = tok["access_token"].as_str().unwrap();
    s.get("/oauth2/userinfo", Some(at)).await.expect(200);
    assert_eq!(exchange(&s, &g).await.1["error"], "invalid_grant");
    s.get("/oauth2/userinfo", Some(at)).await.expect_error(401, "invalid_token");
    let audit = s.state.db.list_audit(&Default::default(), &Default::default()).await.unwrap();
    assert!(audit.items.iter().any(|a| a.entry.detail.as_deref() == Some("authorization_code_reuse")));
    assert_eq!(
        exchange(&s, &[("grant_type", "authorization_code"), ("code", "x")]).await.1["error"],
        "invalid_request"
    );
    assert_eq!(
        exchange(
            &s,
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", "nope"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER)
            ]
        )
        .await
        .1["error"],
        "invalid_client"
    );
}

/// The error an authorization request is sent back to the client with.
async fn redirect_error(s: &TestServer, token: Option<&str>, extra: &[(&str, &str)]) -> String {
    let r = s.post("/oauth2/authorize", token, params(extra)).await.expect(200);
    assert_eq!(r.body["next"], "redirect", "{}", r.body);
    let to = url::Url::parse(r.body["redirectTo"].as_str().unwrap()).unwrap();
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("xyz", s.base.as_str()));
    assert!(!q.contains_key("code"));
    q["error"].clone()
}

#[tokio::test]
async fn authorize_validates_client_redirect_and_pkce() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    s.post("/oauth2/authorize", Some(&t), params(&[("client_id", "evil")])).await.expect_error(400, "invalid_request");
    s.post("/oauth2/authorize", Some(&t), params(&[("redirect_uri", "https://evil.example.com/cb")]))
        .await
        .expect_error(400, "invalid_request");
    for (k, v, error) in [
        ("code_challenge_method", "plain", "invalid_request"),
        ("code_challenge", "short", "invalid_request"),
        ("code_challenge", "", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "email", "invalid_scope"),
        ("prompt", "none login", "invalid_request"),
        ("max_age", "soon", "invalid_request"),
    ] {
        assert_eq!(redirect_error(&s, Some(&t), &[(k, v)]).await, error, "{k}={v}");
    }
    // Not signed in: the page must sign the user in first.
    let r = s.post("/oauth2/authorize", None, params(&[])).await.expect(200);
    assert_eq!((r.body["next"].as_str(), r.body["client"]["name"].as_str()), (Some("login"), Some("Wiki")));
    let key = s.post("/v1/me/api-keys", Some(&t), json!({"name": "k"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post("/oauth2/authorize", Some(&key), params(&[])).await.expect_error(403, "forbidden");
    s.post("/oauth2/authorize", Some("not-a-token"), params(&[])).await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn browser_entry_point_redirects_to_sign_in_or_back_with_an_error() {
    let s = server().await;
    let qs = |extra: &[(&str, &str)]| {
        let p = params(extra);
        let mut u = url::Url::parse("http://x/").unwrap();
        for (k, v) in p.as_object().unwrap() {
            u.query_pairs_mut().append_pair(k, v.as_str().unwrap());
        }
        u.query().unwrap().to_owned()
    };
    let r = s.get(&format!("/oauth2/authorize?{}", qs(&[])), None).await.expect(303);
    let loc = r.headers["location"].to_str().unwrap();
    assert!(loc.starts_with("/authorize?") && loc.contains("client_id=wiki"), "{loc}");
    // Bad client or redirect: answered here, never redirected to the unregistered URI.
    let r = s
        .get(&format!("/oauth2/authorize?{}", qs(&[("redirect_uri", "https://evil.example.com/cb")])), None)
        .await
        .expect_error(400, "invalid_request");
    assert!(!r.headers.contains_key("location"));
    // Other errors go back to the client with error and state.
    let r = s.get(&format!("/oauth2/authorize?{}", qs(&[("code_challenge_method", "plain")])), None).await.expect(303);
    let loc = r.headers["location"].to_str().unwrap();
    assert!(loc.starts_with(REDIRECT) && loc.contains("error=invalid_request") && loc.contains("state=xyz"), "{loc}");
    let iss = url::form_urlencoded::Serializer::new(String::new()).append_pair("iss", &s.base).finish();
    assert!(loc.contains(&iss), "RFC 9207 iss on error redirects too: {loc}");
    s.get("/oauth2/authorize?bogus=1", None).await.expect_error(400, "invalid_request");
    let disc = s.get("/.well-known/openid-configuration", None).await.body;
    assert_eq!(disc["authorization_endpoint"], format!("{}/oauth2/authorize", s.base));
    assert_eq!(disc["code_challenge_methods_supported"], json!(["S256"]));
}

/// A token issued to another application is identity only: it can read who the user is, but
/// cannot mint API keys, touch MFA, sign-ins or the profile, even for an administrator.
#[tokio::test]
async fn client_tokens_cannot_change_the_account() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    let c = code(&s, &t).await;
    let (_, tok) = redeem(&s, &c).await;
    let at = tok["access_token"].as_str().unwrap();
    assert_eq!(s.get("/v1/me", Some(at)).await.expect(200).body["authMethod"], "oauth_client");
    s.post("/v1/me/api-keys", Some(at), json!({"name": "x", "scopes": ["admin", "chat"]}))
        .await
        .expect_error(403, "forbidden");
    s.post("/v1/me/api-keys", Some(at), json!({"name": "x"})).await.expect_error(403, "forbidden");
    s.post("/v1/me/mfa/totp", Some(at), json!({})).await.expect_error(403, "forbidden");
    s.req(reqwest::Method::DELETE, "/v1/me/mfa", Some(at), Some(json!({"code": "123456"})))
        .await
        .expect_error(403, "forbidden");
    s.get("/v1/me/sessions", Some(at)).await.expect_error(403, "forbidden");
    s.post("/v1/me/sessions/revoke-all", Some(at), json!({})).await.expect_error(403, "forbidden");
    s.req(reqwest::Method::PATCH, "/v1/me", Some(at), Some(json!({"displayName": "pwned"})))
        .await
        .expect_error(403, "forbidden");
    assert!(s.get("/v1/me/api-keys", Some(&t)).await.body["items"].as_array().unwrap().is_empty());
}

/// API keys are for calling the product, not for managing the account they belong to.
#[tokio::test]
async fn api_keys_cannot_manage_keys_or_sign_ins() {
    let s = server().await;
    let t = s.token("olga@example.com").await;
    let chat = s.post("/v1/me/api-keys", Some(&t), json!({"name": "chat", "scopes": ["chat"]})).await.expect(201).body;
    let other = s.post("/v1/me/api-keys", Some(&t), json!({"name": "other"})).await.expect(201).body;
    let key = chat["key"].as_str().unwrap();
    let sess = s.get("/v1/me/sessions", Some(&t)).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    s.get("/v1/me/sessions", Some(key)).await.expect_error(403, "forbidden");
    s.delete(&format!("/v1/me/sessions/{sess}"), Some(key)).await.expect_error(403, "forbidden");
    s.delete(&format!("/v1/me/api-keys/{}", other["id"].as_str().unwrap()), Some(key))
        .await
        .expect_error(403, "forbidden");
    s.get("/v1/me", Some(other["key"].as_str().unwrap())).await.expect(200);
    s.get("/v1/me", Some(&t)).await.expect(200);
}

#[tokio::test]
async fn refresh_at_the_token_endpoint_checks_the_client() {
    let s = server().await;
    let l = s.login("olga@example.com").await;
    let rt = l["refreshToken"].as_str().unwrap();
    let (st, body) =
        exchange(&s, &[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "wiki")]).await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")), "a first-party sign-in is not the wiki's");
    let t = s.token("olga@example.com").await;
    let c = code(&s, &t).await;
    let (_, tok) = redeem(&s, &c).await;
    let (st, _) = exchange(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tok["refresh_token"].as_str().unwrap()),
            ("client_id", "rampart"),
        ],
    )
    .await;
    assert_eq!(st, 400, "the wiki's sign-in cannot be refreshed as Rampart's own client");
}
