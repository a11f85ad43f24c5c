//! What the web app needs from the server: the sign-in status, the refresh cookie, the chat
//! configuration, and the bundle with SPA routing.

use crate::common::*;
use serde_json::json;

async fn post_with(s: &TestServer, path: &str, headers: &[(&str, &str)], body: serde_json::Value) -> reqwest::Response {
    let mut r = s.http.post(format!("{}{path}", s.base)).json(&body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

/// The refresh cookie's `Set-Cookie` (the other one is the readable `rampart_signed_in`).
fn cookie_of(r: &reqwest::Response) -> String {
    let all: Vec<&str> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(
        all.iter().any(|c| c.starts_with("rampart_signed_in=") && !c.contains("HttpOnly") && c.contains("Path=/;")),
        "{all:?}"
    );
    all.into_iter().find(|c| c.starts_with("rampart_refresh=")).unwrap().to_owned()
}

#[tokio::test]
async fn auth_status_says_whether_set_up_is_needed() {
    let s = TestServer::start().await;
    let v = s.get("/v1/auth/status", None).await.expect(200).body;
    assert_eq!(v, json!({"bootstrapRequired": true, "selfSignup": false, "mfa": "optional", "passwordReset": false}));
    s.user("first@example.com", &[]).await;
    assert_eq!(s.get("/v1/auth/status", None).await.body["bootstrapRequired"], false);
}

#[tokio::test]
async fn the_refresh_token_lives_in_an_http_only_cookie_in_cookie_mode() {
    let s = TestServer::start().await;
    s.user("web@example.com", &[]).await;
    let mode = ("x-rampart-session", "cookie");
    let r =
        post_with(&s, "/v1/auth/login", &[mode], json!({"username": "web@example.com", "password": PASSWORD})).await;
    assert_eq!(r.status(), 200);
    let set = cookie_of(&r);
    assert_eq!(r.headers()["cache-control"], "no-store");
    for attr in ["rampart_refresh=", "HttpOnly", "SameSite=Strict", "Path=/v1/auth", "Max-Age="] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "not over http");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["refreshToken"], "", "the body does not carry it");
    assert!(body["accessToken"].as_str().is_some_and(|t| t.len() > 20));
    let cookie = set.split(';').next().unwrap().to_owned();

    // The cookie alone is not enough: the header must come with it (CSRF).
    let r = s
        .http
        .post(format!("{}/v1/auth/refresh", s.base))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post_with(&s, "/v1/auth/refresh", &[mode, ("cookie", &cookie)], json!({})).await;
    assert_eq!(r.status(), 200);
    let rotated = cookie_of(&r);
    let new_cookie = rotated.split(';').next().unwrap().to_owned();
    assert_ne!(new_cookie, cookie, "the refresh token rotates");
    let t: serde_json::Value = r.json().await.unwrap();
    s.get("/v1/me", t["accessToken"].as_str()).await.expect(200);

    // Replaying the old cookie ends the sign-in and clears the cookie.
    let r = post_with(&s, "/v1/auth/refresh", &[mode, ("cookie", &cookie)], json!({})).await;
    assert_eq!(r.status(), 401);
    assert!(cookie_of(&r).contains("Max-Age=0"));
    let r = post_with(&s, "/v1/auth/refresh", &[mode, ("cookie", &new_cookie)], json!({})).await;
    assert_eq!(r.status(), 401, "reuse revoked the whole sign-in");

    // Logout with the cookie.
    let r =
        post_with(&s, "/v1/auth/login", &[mode], json!({"username": "web@example.com", "password": PASSWORD})).await;
    let c = cookie_of(&r).split(';').next().unwrap().to_owned();
    let r = post_with(&s, "/v1/auth/logout", &[mode, ("cookie", &c)], json!({})).await;
    assert_eq!(r.status(), 204);
    assert!(cookie_of(&r).contains("Max-Age=0"));
    let r = post_with(&s, "/v1/auth/refresh", &[mode, ("cookie", &c)], json!({})).await;
    assert_eq!(r.status(), 401);

    // Without the header, the body form is unchanged.
    let l = s.login("web@example.com").await;
    assert!(l["refreshToken"].as_str().is_some_and(|t| !t.is_empty()));
    s.post("/v1/auth/refresh", None, json!({"refreshToken": l["refreshToken"]})).await.expect(200);
    s.post("/v1/auth/refresh", None, json!({})).await.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn secure_cookies_behind_an_https_public_url() {
    let s = TestServer::start_with(&[("server.public_url", json!("https://rampart.example.com"))]).await;
    s.user("sec@example.com", &[]).await;
    let r = post_with(
        &s,
        "/v1/auth/login",
        &[("x-rampart-session", "cookie")],
        json!({"username": "sec@example.com", "password": PASSWORD}),
    )
    .await;
    assert!(cookie_of(&r).contains("; Secure"));
}

#[tokio::test]
async fn chat_config_lists_feedback_reasons_and_active_interruptions() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.user("c@example.com", &[]).await;
    let t = s.token("c@example.com").await;
    let v = s.get("/v1/chat/config", Some(&t)).await.expect(200).body;
    assert_eq!(v["feedbackReasons"], json!(["accuracy", "unhelpful", "app_issue", "other"]));
    assert_eq!(v["interruptions"], json!([]));
    s.post(
        "/v1/bot-management/interruptions",
        Some(&admin),
        json!({"service_type": "global", "message": "Maintenance until noon.", "reason": "upgrade", "duration": "1h"}),
    )
    .await
    .expect(201);
    let v = s.get("/v1/chat/config", Some(&t)).await.expect(200).body;
    assert_eq!(v["interruptions"], json!([{"serviceType": "global", "message": "Maintenance until noon."}]));
    s.get("/v1/chat/config", None).await.expect(401);
}

#[tokio::test]
async fn pages_get_the_app_and_api_paths_keep_json_404s() {
    let s = TestServer::start().await;
    let page = s.http.get(format!("{}/chat/some-id", s.base)).header("accept", "text/html").send().await.unwrap();
    let status = page.status().as_u16();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let ct = page.headers()["content-type"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    match status {
        // Built (`make web`): index.html, revalidated each time, and its assets cached for good.
        200 => {
            assert!(ct.starts_with("text/html") && html.contains("<div id=\"app\">"), "{html}");
            assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style");
            let asset = html.split("src=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
            let r = s.http.get(format!("{}{asset}", s.base)).header("accept-encoding", "br").send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
            assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
            assert_eq!(r.headers()["content-encoding"], "br");
        }
        // Not built: a page that says how.
        503 => assert!(html.contains("make web"), "{html}"),
        other => panic!("unexpected {other}"),
    }
    s.get("/v1/nothing-here", None).await.expect_error(404, "not_found");
    s.get("/assets/missing.js", None).await.expect_error(404, "not_found");
    // A page whose last part holds dots (a meeting's call id ends in `.000`) is a page, a
    // missing file of an asset's kind is not.
    let dotted = s
        .http
        .get(format!("{}/meetings/Weekly%20sync%20-%2010:30:00.000", s.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(dotted.status().as_u16(), status, "the same answer as any page");
    let missing =
        s.http.get(format!("{}/favicon-missing.png", s.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let r = s.http.post(format!("{}/chat", s.base)).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Paths that climb out of the bundle (sent raw: clients would normalise them away) reach
    // nothing outside it.
    for path in ["/../package.json", "/assets/../../package.json", "/..%2fpackage.json"] {
        let raw = raw_get(&s.base, path).await;
        assert!(raw.starts_with("HTTP/1.1 404") || raw.starts_with("HTTP/1.1 400"), "{path}: {raw}");
        assert!(!raw.contains("rampart-web"), "{path} served a file from outside web/dist: {raw}");
    }
}

/// A GET written by hand (asking for HTML), the whole answer as text.
async fn raw_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
