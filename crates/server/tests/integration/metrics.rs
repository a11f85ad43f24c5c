//! Prometheus `/metrics`: who may read it, and that each family moves when its event happens.

use crate::common::*;
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::json;
use std::time::Duration;

/// The value of one sample line (`name{labels} value`), if present.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(s: &TestServer, admin: &str) -> String {
    let r = s.get("/metrics", Some(admin)).await.expect(200);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    r.body.as_str().unwrap().to_owned()
}

/// Scrapes until `name` reads `want` (for up to 2 s); the last value read.
async fn wait_for(s: &TestServer, admin: &str, name: &str, want: f64) -> Option<f64> {
    let mut seen = None;
    for _ in 0..40 {
        seen = sample(&scrape(s, admin).await, name);
        if seen == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

#[tokio::test]
async fn metrics_are_for_administrators_and_count_requests_refusals_and_models() {
    let up = FakeOpenAi::start(Knobs { reply: "one two three".into(), ..Default::default() }).await;
    let s = TestServer::start_with(&[
        (
            "models",
            json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "m", "max_retries": 0}]),
        ),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    let (_, admin) = s.admin().await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    s.get("/metrics", None).await.expect(401);
    s.get("/metrics", Some(&t)).await.expect_error(403, "forbidden");

    s.get("/v1/me", Some(&t)).await.expect(200);
    s.get("/v1/me", Some(&t)).await.expect(200);
    s.get("/v1/sessions/not-a-session", Some(&t)).await;
    // Invented methods do not become label values.
    for m in ["FOO", "BAR"] {
        s.req(reqwest::Method::from_bytes(m.as_bytes()).unwrap(), "/v1/me", Some(&t), None).await.expect(405);
    }
    s.get("/v1/search?q=1%27%20OR%20%271%27%3D%271", Some(&t)).await.expect_error(403, "waf_blocked");
    let r = s
        .post(
            "/v1/chat/completions",
            Some(&t),
            json!({"model": "default", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["choices"][0]["message"]["content"], "one two three");

    let m = scrape(&s, &admin).await;
    assert_eq!(
        sample(&m, r#"rampart_http_requests_total{route="/v1/me",method="GET",status="200"}"#),
        Some(2.0),
        "{m}"
    );
    // Routes are templates, never raw paths (bounded labels, no ids).
    assert!(!m.contains("not-a-session"), "{m}");
    assert_eq!(
        sample(&m, r#"rampart_http_requests_total{route="/v1/me",method="other",status="405"}"#),
        Some(2.0),
        "{m}"
    );
    assert!(!m.contains("FOO") && !m.contains("BAR"), "{m}");
    assert!(
        m.contains(r#"rampart_http_request_duration_seconds_bucket{route="/v1/me",method="GET",le="+Inf"} 2"#),
        "{m}"
    );
    assert!(
        sample(&m, r#"rampart_http_request_duration_seconds_count{route="/v1/me",method="GET"}"#) == Some(2.0),
        "{m}"
    );
    assert_eq!(sample(&m, r#"rampart_edge_refusals_total{rule="libinjection-sqli"}"#), Some(1.0), "{m}");
    assert_eq!(
        sample(&m, r#"rampart_upstream_requests_total{provider="openai",model="local",outcome="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, r#"rampart_upstream_request_duration_seconds_count{provider="openai",model="local"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&m, "rampart_generations_in_flight"), Some(0.0), "the finished reply is no longer in flight");
    assert_eq!(sample(&m, r#"rampart_queue_depth{queue="ingestion",status="pending"}"#), Some(0.0));
    assert!(sample(&m, "rampart_process_resident_memory_bytes").is_some_and(|b| b > 1e6));
    assert!(m.contains("rampart_build_info{version="));
    // The administrators' route negotiates like the metrics listener: OpenMetrics when asked.
    let r = s
        .http
        .get(format!("{}/metrics", s.base))
        .bearer_auth(&admin)
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_eq!(r.headers()["vary"], "accept");
    let om = r.text().await.unwrap();
    assert!(om.ends_with("# EOF\n") && om.contains("# TYPE rampart_edge_refusals counter\n"), "{om}");
    assert!(!m.contains("# EOF") && m.contains("# TYPE rampart_edge_refusals_total counter\n"), "{m}");
    // No user data: no emails, no tokens.
    assert!(!m.contains("example.com") && !m.contains(&t));

    // A failing upstream is counted by outcome.
    up.set_knobs(Knobs { fail_first: 5, fail_status: 500, ..Default::default() });
    s.post(
        "/v1/chat/completions",
        Some(&t),
        json!({"model": "default", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let m = scrape(&s, &admin).await;
    assert_eq!(
        sample(&m, r#"rampart_upstream_requests_total{provider="openai",model="local",outcome="error"}"#),
        Some(1.0),
        "{m}"
    );

    // A slow reply is in flight while it streams.
    up.set_knobs(Knobs { reply: "a b c d".into(), token_delay: Duration::from_millis(400), ..Default::default() });
    let http = s.http.clone();
    let url = format!("{}/v1/chat/completions", s.base);
    let t2 = t.clone();
    let slow = tokio::spawn(async move {
        http.post(url)
            .bearer_auth(t2)
            .json(&json!({"model": "default", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(wait_for(&s, &admin, "rampart_generations_in_flight", 1.0).await, Some(1.0));
    slow.await.unwrap();
    assert_eq!(sample(&scrape(&s, &admin).await, "rampart_generations_in_flight"), Some(0.0));
}

#[tokio::test]
async fn websocket_connections_are_counted_while_open() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.user("w@example.com", &[]).await;
    let t = s.token("w@example.com").await;
    let ws = crate::realtime::connect(&s, &t).await;
    assert_eq!(wait_for(&s, &admin, "rampart_websocket_connections", 1.0).await, Some(1.0));
    drop(ws);
    assert_eq!(wait_for(&s, &admin, "rampart_websocket_connections", 0.0).await, Some(0.0));
}

#[tokio::test]
async fn the_admin_endpoint_can_be_turned_off() {
    let s = TestServer::start_with(&[("metrics", json!({"admin_endpoint": false}))]).await;
    let (_, admin) = s.admin().await;
    s.get("/metrics", Some(&admin)).await.expect_error(404, "not_found");
}
