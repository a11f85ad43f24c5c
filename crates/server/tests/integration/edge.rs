//! The edge pipeline against the real server: WAF modes, limits, IP lists behind trusted
//! proxies, rate rules with `Retry-After`, per-key and per-user throttling, origin
//! verification, CORS, WebSocket origins and security headers.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

async fn raw_get(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut r = s.http.get(format!("{}{path}", s.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    Resp::read(r.send().await.unwrap()).await
}

#[tokio::test]
async fn waf_blocks_injections_before_routing_on_every_path() {
    let s = TestServer::start().await;
    s.user("w@example.com", &[]).await;
    let t = s.token("w@example.com").await;
    // Query strings, on a real route and on one that does not exist.
    s.get("/v1/sessions?q=1%27%20OR%20%271%27%3D%271", Some(&t)).await.expect_error(403, "waf_blocked");
    s.get("/no/such/route?x=%3Cscript%3Ealert(1)%3C/script%3E", None).await.expect_error(403, "waf_blocked");
    // The path itself.
    s.get("/v1/sessions/1%27%20UNION%20SELECT%20password%20FROM%20users--", Some(&t))
        .await
        .expect_error(403, "waf_blocked");
    // Headers: a cookie and a custom header.
    raw_get(&s, "/healthz", &[("cookie", "theme=%3Cscript%3Ealert(1)%3C%2Fscript%3E")])
        .await
        .expect_error(403, "waf_blocked");
    raw_get(&s, "/healthz", &[("x-custom", "' onselect=alert(1) '")]).await.expect_error(403, "waf_blocked");
    // JSON string values and keys.
    s.post("/v1/auth/login", None, json!({"username": "<script>alert(1)</script>", "password": "x"}))
        .await
        .expect_error(403, "waf_blocked");
    s.post("/v1/auth/login", None, json!({"username": {"$ne": null}, "password": "x"}))
        .await
        .expect_error(403, "waf_blocked");
    // Passwords are opaque: an injection-looking password is just a wrong password.
    s.post("/v1/auth/login", None, json!({"username": "w@example.com", "password": "x' OR 1=1 --"}))
        .await
        .expect_error(401, "invalid_credentials");
    // Form bodies (the OAuth token endpoint).
    let r = s
        .http
        .post(format!("{}/oauth2/token", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&redirect_uri=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Chat text is data: asking about SQL injection is not an attack.
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "k"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        "/v1/chat/completions",
        Some(&k),
        json!({"model": "default", "messages": [{"role": "user", "content": "Why is ' OR 1=1 -- dangerous? And <script>alert(1)</script>?"}]}),
    )
    .await
    .expect(200);
    // Ordinary requests pass, and every refusal carried the security headers and was counted.
    s.get("/v1/sessions?limit=10", Some(&t)).await.expect(200);
    assert!(s.state.edge_metrics.refused("libinjection-sqli") + s.state.edge_metrics.refused("sql-union-select") >= 1);
    let total: u64 = s.state.edge_metrics.snapshot().iter().filter(|(_, refused, _)| *refused).map(|(_, _, n)| n).sum();
    assert_eq!(total, 8, "{:?}", s.state.edge_metrics.snapshot());
}

#[tokio::test]
async fn count_mode_lets_matches_through_and_counts_them_and_off_mode_skips_detection() {
    let s = TestServer::start_with(&[("edge.waf_mode", json!("count"))]).await;
    s.get("/no/such/route?x=%3Cscript%3Ealert(1)%3C/script%3E", None).await.expect_error(404, "not_found");
    assert_eq!(s.state.edge_metrics.refused("libinjection-xss") + s.state.edge_metrics.refused("xss-tag"), 0);
    assert!(s.state.edge_metrics.matched("libinjection-xss") + s.state.edge_metrics.matched("xss-tag") >= 1);
    let s = TestServer::start_with(&[("edge.waf_mode", json!("off"))]).await;
    s.get("/no/such/route?x=%3Cscript%3Ealert(1)%3C/script%3E", None).await.expect_error(404, "not_found");
    assert!(s.state.edge_metrics.snapshot().is_empty());
    // A bad mode is refused at start-up.
    let dir = tempfile::tempdir().unwrap();
    let r =
        std::panic::catch_unwind(|| test_config(dir.path(), "sqlite://x.db", &[("edge.waf_mode", json!("monitor"))]));
    assert!(r.is_err());
}

#[tokio::test]
async fn size_and_shape_limits() {
    let s = TestServer::start_with(&[("edge.max_header_bytes", json!(1024)), ("edge.max_json_depth", json!(8))]).await;
    let big = "a".repeat(2000);
    raw_get(&s, "/healthz", &[("x-big", &big)]).await.expect_error(431, "headers_too_large");
    let deep = format!("{}1{}", "[".repeat(20), "]".repeat(20));
    let r = s
        .http
        .post(format!("{}/v1/auth/login", s.base))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "invalid_request");
    // Depth is also checked on routes whose text is not scanned.
    let deep = format!(r#"{{"model":"x","messages":{}{}}}"#, "[".repeat(20), "]".repeat(20));
    let r = s
        .http
        .post(format!("{}/v1/chat/completions", s.base))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let q = format!("/healthz?q={}", "a".repeat(9000));
    s.get(&q, None).await.expect_error(414, "uri_too_long");
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn ip_allow_and_deny_lists_follow_trusted_proxies_only() {
    // Loopback is not in the allow-list: direct requests are refused.
    let s = TestServer::start_with(&[("edge.allowed_ipv4_ranges", json!(["10.0.0.0/8"]))]).await;
    s.get("/healthz", None).await.expect_error(403, "ip_blocked");
    // A forwarded address from an untrusted peer is not believed.
    raw_get(&s, "/healthz", &[("x-forwarded-for", "10.1.2.3")]).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &[("forwarded", "for=10.1.2.3")]).await.expect_error(403, "ip_blocked");

    let s = TestServer::start_with(&[
        ("edge.allowed_ipv4_ranges", json!(["10.0.0.0/8"])),
        ("edge.allowed_ipv6_ranges", json!(["2001:db8::/32"])),
        ("edge.trusted_proxies", json!(["127.0.0.1/32"])),
        ("edge.denied_ranges", json!(["10.66.0.0/16", "2001:db8:bad::/48"])),
    ])
    .await;
    raw_get(&s, "/healthz", &[("x-forwarded-for", "10.1.2.3")]).await.expect(200);
    raw_get(&s, "/healthz", &[("x-forwarded-for", "::ffff:10.1.2.3")]).await.expect(200);
    raw_get(&s, "/healthz", &[("forwarded", "for=\"[2001:db8::5]:443\"")]).await.expect(200);
    raw_get(&s, "/healthz", &[("x-forwarded-for", "2001:db8:bad::1")]).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &[("x-forwarded-for", "10.66.1.1")]).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &[("x-forwarded-for", "192.0.2.1")]).await.expect_error(403, "ip_blocked");
    // Spoofing: a client-supplied left-most entry does not win over the hop the proxy saw.
    raw_get(&s, "/healthz", &[("x-forwarded-for", "10.1.2.3, 192.0.2.1")]).await.expect_error(403, "ip_blocked");
    // A garbled chain is not believed: the peer (loopback, not allowed) counts.
    raw_get(&s, "/healthz", &[("x-forwarded-for", "10.1.2.3, nonsense")]).await.expect_error(403, "ip_blocked");
    assert!(s.state.edge_metrics.refused("ip-allow-list") >= 3);
    assert_eq!(s.state.edge_metrics.refused("ip-deny-list"), 2);
}

#[tokio::test]
async fn rate_rule_per_address_answers_429_with_retry_after() {
    let s = TestServer::start_with(&[
        ("edge.ip_rate_limit", json!(3)),
        ("edge.ip_rate_window", json!("60s")),
        ("edge.rate_exempt", json!([])),
        ("edge.trusted_proxies", json!(["127.0.0.1/32"])),
    ])
    .await;
    let a = [("x-forwarded-for", "198.51.100.7")];
    for _ in 0..3 {
        let r = raw_get(&s, "/healthz", &a).await.expect(200);
        assert!(r.headers.get("retry-after").is_none());
    }
    let r = raw_get(&s, "/healthz", &a).await.expect_error(429, "rate_limited");
    // One request comes back every 20 s.
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((19..=20).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.headers["ratelimit-limit"], "3");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    // Another client is not affected; every path is covered, known or not.
    raw_get(&s, "/healthz", &[("x-forwarded-for", "198.51.100.8")]).await.expect(200);
    raw_get(&s, "/nope", &a).await.expect_error(429, "rate_limited");
    assert!(s.state.edge_metrics.refused("ip-rate") >= 2);
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let s = TestServer::start_with(&[("edge.auth_rate_per_minute", json!(2)), ("edge.rate_exempt", json!([]))]).await;
    s.user("l@example.com", &[]).await;
    for _ in 0..2 {
        s.post("/v1/auth/login", None, json!({"username": "l@example.com", "password": "wrong password"}))
            .await
            .expect_error(401, "invalid_credentials");
    }
    let r = s
        .post("/v1/auth/login", None, json!({"username": "l@example.com", "password": PASSWORD}))
        .await
        .expect_error(429, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    // Other routes are not covered by this limit.
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn api_keys_and_users_are_throttled_as_token_buckets() {
    let s = TestServer::start_with(&[
        ("edge.api_key_rate", json!(1)),
        ("edge.api_key_burst", json!(2)),
        ("edge.user_rate", json!(1)),
        ("edge.user_burst", json!(3)),
    ])
    .await;
    s.user("k@example.com", &[]).await;
    let t = s.token("k@example.com").await;
    let k1 = s.post("/v1/me/api-keys", Some(&t), json!({"name": "a"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let k2 = s.post("/v1/me/api-keys", Some(&t), json!({"name": "b"})).await.expect(201).body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.get("/v1/me", Some(&k1)).await.expect(200);
    s.get("/v1/me", Some(&k1)).await.expect(200);
    let r = s.get("/v1/me", Some(&k1)).await.expect_error(429, "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.headers["ratelimit-limit"], "2");
    // Another key of the same user has its own bucket.
    s.get("/v1/me", Some(&k2)).await.expect(200);
    // The user's own bucket (session tokens): two requests were spent creating keys.
    s.get("/v1/me", Some(&t)).await.expect(200);
    s.get("/v1/me", Some(&t)).await.expect_error(429, "rate_limited");
    assert!(s.state.edge_metrics.refused("api-key-rate") == 1 && s.state.edge_metrics.refused("user-rate") == 1);
    // A second later the key may go on.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.get("/v1/me", Some(&k1)).await.expect(200);
}

#[tokio::test]
async fn origin_verification_cors_and_security_headers() {
    let secret = "cdn-shared-secret-0123456789";
    let s = TestServer::start_with(&[
        ("edge.origin_verify_secret", json!(secret)),
        ("edge.cors_origins", json!(["https://app.example.com"])),
    ])
    .await;
    raw_get(&s, "/v1/me", &[]).await.expect_error(403, "origin_not_verified");
    raw_get(&s, "/v1/me", &[("x-origin-verify", "wrong")]).await.expect_error(403, "origin_not_verified");
    let r = raw_get(&s, "/v1/me", &[("x-origin-verify", secret)]).await.expect_error(401, "unauthorized");
    // Probes need no header.
    raw_get(&s, "/healthz", &[]).await.expect(200);
    // Security headers on answers and on refusals alike.
    let refused = raw_get(&s, "/v1/me", &[]).await;
    for h in [&r.headers, &refused.headers] {
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(h.contains_key("permissions-policy"));
        // Plain http public URL: no HSTS.
        assert!(!h.contains_key("strict-transport-security"));
    }
    // CORS: the configured origin only.
    let pre = |origin: &'static str| {
        s.http
            .request(Method::OPTIONS, format!("{}/v1/me", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .header("x-origin-verify", secret)
            .send()
    };
    let ok = pre("https://app.example.com").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    let evil = pre("https://evil.example.net").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // A cross-origin request gets the CORS answer; one without an Origin does not need it.
    let get = |origin: Option<&'static str>| {
        let mut r = s.http.get(format!("{}/healthz", s.base)).header("x-origin-verify", secret);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let cross = get(Some("https://app.example.com")).await.unwrap();
    assert_eq!(cross.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(cross.headers()["vary"].to_str().unwrap().contains("origin"));
    let same = get(None).await.unwrap();
    assert_eq!(same.status(), 200);
    assert!(same.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let s = TestServer::start_with(&[("server.public_url", json!("https://rampart.example.com"))]).await;
    let r = s.get("/healthz", None).await.expect(200);
    assert!(r.headers["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
}

#[tokio::test]
async fn websocket_handshakes_from_foreign_origins_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let s = TestServer::start_with(&[("edge.cors_origins", json!(["https://app.example.com"]))]).await;
    let url = format!("{}/event/realtime", s.base.replace("http://", "ws://"));
    let attempt = |origin: &str| {
        let mut req = url.as_str().into_client_request().unwrap();
        req.headers_mut().insert("sec-websocket-protocol", "aws-appsync-event-ws".parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    match attempt("https://evil.example.net").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("foreign origin was not refused: {:?}", other.map(|_| ())),
    }
    assert!(attempt("https://app.example.com").await.is_ok());
    assert!(attempt(&s.base).await.is_ok());
    assert_eq!(s.state.edge_metrics.refused("websocket-origin"), 1);
}

/// A small country database in MaxMind format: DE, US and FR (IPv6) networks.
fn country_db(dir: &std::path::Path) -> std::path::PathBuf {
    #[derive(serde::Serialize)]
    struct Country {
        iso_code: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Record {
        country: Country,
    }
    let mut w = mmdb_writer::Writer::new("Test-Country");
    for (net, iso_code) in [("203.0.113.0/24", "DE"), ("198.51.100.0/24", "US"), ("2001:db8::/32", "FR")] {
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &Record { country: Country { iso_code } }).unwrap();
    }
    let p = dir.join("countries.mmdb");
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

#[tokio::test]
async fn geo_allow_and_deny_lists_by_country() {
    let dir = tempfile::tempdir().unwrap();
    let db = country_db(dir.path()).display().to_string();
    let via = |ip: &'static str| [("x-forwarded-for", ip)];
    // Deny-list: the US is refused, other and unknown countries pass.
    let s = TestServer::start_with(&[
        ("edge.trusted_proxies", json!(["127.0.0.1/32"])),
        ("edge.geo_database", json!(db)),
        ("edge.geo_deny_countries", json!(["us"])),
    ])
    .await;
    raw_get(&s, "/healthz", &via("198.51.100.7")).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &via("::ffff:198.51.100.7")).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &via("203.0.113.5")).await.expect(200);
    raw_get(&s, "/healthz", &via("192.0.2.1")).await.expect(200);
    assert_eq!(s.state.edge_metrics.refused("geo-deny-list"), 2);

    // Allow-list: DE and FR pass (IPv4 and IPv6), the US and unplaced public addresses do not,
    // internal addresses are not geo-checked.
    let s = TestServer::start_with(&[
        ("edge.trusted_proxies", json!(["127.0.0.1/32"])),
        ("edge.geo_database", json!(db)),
        ("edge.geo_allow_countries", json!(["DE", "FR"])),
    ])
    .await;
    raw_get(&s, "/healthz", &via("203.0.113.5")).await.expect(200);
    raw_get(&s, "/healthz", &via("2001:db8::1")).await.expect(200);
    raw_get(&s, "/healthz", &via("198.51.100.7")).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &via("192.0.2.1")).await.expect_error(403, "ip_blocked");
    raw_get(&s, "/healthz", &via("10.1.2.3")).await.expect(200);
    s.get("/healthz", None).await.expect(200);
    // Spoofing the forwarded chain from the client's side does not help.
    raw_get(&s, "/healthz", &via("203.0.113.5, 198.51.100.7")).await.expect_error(403, "ip_blocked");
    assert_eq!(s.state.edge_metrics.refused("geo-allow-list"), 3);
}

#[tokio::test]
async fn geo_rules_need_a_database_and_valid_codes() {
    use rampart_server::config::{Config, Overrides};
    let dir = tempfile::tempdir().unwrap();
    let codes = |c: &[&str]| toml::Value::Array(c.iter().map(|s| toml::Value::String(s.to_string())).collect());
    let load = |o: Vec<(&str, toml::Value)>| {
        let o = o.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Config::load(None, &[], &Overrides(o)).err().map(|e| format!("{e:#}")).unwrap_or_default()
    };
    assert!(load(vec![("edge.geo_deny_countries", codes(&["US"]))]).contains("geo_database"));
    let db = toml::Value::String(country_db(dir.path()).display().to_string());
    let e = load(vec![("edge.geo_database", db.clone()), ("edge.geo_deny_countries", codes(&["USA"]))]);
    assert!(e.contains("alpha-2"), "{e}");
    let e = load(vec![
        ("edge.geo_database", toml::Value::String("/nonexistent.mmdb".into())),
        ("edge.geo_deny_countries", codes(&["US"])),
    ]);
    assert!(e.contains("geo_database"), "{e}");
    assert_eq!(load(vec![("edge.geo_database", db), ("edge.geo_deny_countries", codes(&["us"]))]), "");
}
