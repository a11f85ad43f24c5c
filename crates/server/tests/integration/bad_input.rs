//! Bad input: each a clear 4xx with a stable code, never a 5xx; nothing stored; still serving.

use crate::common::*;
use serde_json::json;

async fn raw(s: &TestServer, method: &str, path: &str, ctype: Option<&str>, body: Vec<u8>, auth: Option<&str>) -> Resp {
    let mut r =
        s.http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", s.base)).body(body);
    if let Some(c) = ctype {
        r = r.header("content-type", c);
    }
    if let Some(a) = auth {
        r = r.bearer_auth(a);
    }
    Resp::read(r.send().await.unwrap()).await
}

#[tokio::test]
async fn malformed_bodies_get_stable_4xx_codes() {
    let s = TestServer::start_with(&[("server.max_body_bytes", json!(4096))]).await;
    let (_, admin) = s.admin().await;
    let users_before = s.state.db.count_users().await.unwrap();
    let j = Some("application/json");
    /// (method, path, content type, body, status, code)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("POST", "/v1/auth/login", j, b"{not json".to_vec(), 400, "invalid_json"),
        ("POST", "/v1/auth/login", j, b"".to_vec(), 400, "invalid_json"),
        ("POST", "/v1/auth/login", j, b"[]".to_vec(), 400, "invalid_json"),
        ("POST", "/v1/auth/login", j, br#"{"username":"a@b.cd"}"#.to_vec(), 400, "invalid_json"),
        (
            "POST",
            "/v1/auth/login",
            j,
            br#"{"username":"a@b.cd","password":"x","extra":1}"#.to_vec(),
            400,
            "invalid_json",
        ),
        ("POST", "/v1/auth/login", j, br#"{"username":42,"password":"x"}"#.to_vec(), 400, "invalid_json"),
        ("POST", "/v1/auth/login", j, b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec(), 400, "invalid_json"),
        (
            "POST",
            "/v1/auth/login",
            None,
            br#"{"username":"a@b.cd","password":"x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/auth/login",
            Some("text/plain"),
            br#"{"username":"a@b.cd","password":"x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/auth/login",
            j,
            format!(r#"{{"username":"a@b.cd","password":"{}"}}"#, "x".repeat(10_000)).into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/v1/auth/login",
            j,
            format!(r#"{{"username":"{}@b.cd","password":"long enough pw"}}"#, "a".repeat(300)).into_bytes(),
            401,
            "invalid_credentials",
        ),
        ("POST", "/v1/auth/refresh", j, br#"{"refreshToken":null}"#.to_vec(), 401, "unauthorized"),
        ("POST", "/v1/auth/refresh", j, br#"{"refreshToken":7}"#.to_vec(), 400, "invalid_json"),
    ];
    for (m, p, ct, body, status, code) in cases {
        let r = raw(&s, m, p, ct, body.clone(), None).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{m} {p} {:?}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
    }
    let admin_cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/v1/admin/users",
            format!(r#"{{"email":"{}@example.com","password":"long enough pw"}}"#, "a".repeat(300)).into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "/v1/admin/users",
            br#"{"email":"not-an-email","password":"long enough pw"}"#.to_vec(),
            400,
            "invalid_request",
        ),
        ("/v1/admin/users", br#"{"email":"ok@example.com","password":"short"}"#.to_vec(), 400, "weak_password"),
        ("/v1/admin/users", br#"{"email":"ok@example.com","groups":"admin"}"#.to_vec(), 400, "invalid_json"),
        (
            "/v1/admin/users",
            br#"{"email":"ok@example.com","password":"long enough pw","displayName":"a\u0000b"}"#.to_vec(),
            400,
            "invalid_request",
        ),
        ("/v1/admin/groups", br#"{"name":""}"#.to_vec(), 400, "invalid_request"),
        ("/v1/admin/groups", format!(r#"{{"name":"{}"}}"#, "g".repeat(65)).into_bytes(), 400, "invalid_request"),
    ];
    for (p, body, status, code) in admin_cases {
        let r = raw(&s, "POST", p, j, body.clone(), Some(&admin)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{p} {:?}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
    }
    assert_eq!(s.state.db.count_users().await.unwrap(), users_before, "nothing stored");
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn unknown_routes_methods_and_ids() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.get("/nope", None).await.expect_error(404, "not_found");
    s.get("/v1/admin/users/not-a-uuid", Some(&admin)).await.expect_error(404, "not_found");
    s.delete("/v1/me/api-keys/123", Some(&admin)).await.expect_error(404, "not_found");
    s.req(reqwest::Method::PUT, "/v1/auth/login", None, Some(json!({}))).await.expect_error(405, "method_not_allowed");
    s.get("/v1/admin/audit?limit=abc", Some(&admin)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/audit?actorId=xyz", Some(&admin)).await.expect_error(400, "invalid_request");
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn errors_have_one_shape_and_5xx_bodies_are_generic() {
    let s = TestServer::start().await;
    let r = s.post("/v1/auth/login", None, json!({"username": "a@b.cd", "password": "x"})).await.expect(401);
    let keys: Vec<_> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, vec!["code", "message"]);
    // Break the database underneath the server: the client gets a generic 500, not the SQL error.
    sqlx::query("DROP TABLE audit_log").execute(s.state.db.pool()).await.unwrap();
    sqlx::query("DROP TABLE login_throttle").execute(s.state.db.pool()).await.unwrap();
    let r = s
        .post("/v1/auth/login", None, json!({"username": "a@b.cd", "password": "x"}))
        .await
        .expect_error(500, "internal");
    assert_eq!(r.body["message"], "Internal server error.");
    s.get("/healthz", None).await.expect(200);
}
