//! The access log written to files: one JSON line per request, refusals included, no query
//! strings or credentials.

use crate::common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn one_json_line_per_request_with_route_principal_and_refusing_rule() {
    let logs = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(&[(
        "access_log",
        json!({"target": "file", "dir": logs.path().display().to_string(), "max_files": 3}),
    )])
    .await;
    let uid = s.user("log@example.com", &[]).await;
    let t = s.token("log@example.com").await;
    s.get("/v1/me?token=query-secret-123", Some(&t)).await.expect(200);
    s.get("/v1/sessions/0190a0a0-0000-7000-8000-000000000000", Some(&t)).await.expect(404);
    s.get("/v1/me", None).await.expect(401);
    s.get("/v1/search?q=1%27%20OR%20%271%27%3D%271", None).await.expect_error(403, "waf_blocked");

    let files: Vec<_> = std::fs::read_dir(logs.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("access.") && name.ends_with(".jsonl"), "{name}");
    let mut lines: Vec<Value> = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&files[0]).unwrap();
        lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if lines.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!text.contains("query-secret-123") && !text.contains(&t), "no query strings or tokens: {text}");
    let me = lines.iter().find(|l| l["path"] == "/v1/me" && l["status"] == 200).expect("the /v1/me line");
    assert_eq!(me["method"], "GET");
    assert_eq!(me["route"], "/v1/me");
    assert_eq!(me["principal"], uid.as_str());
    assert_eq!(me["client_ip"], "127.0.0.1");
    assert!(me["request_id"].as_str().is_some_and(|r| r.len() >= 16));
    assert!(me["latency_ms"].as_f64().is_some_and(|l| l >= 0.0));
    assert!(me["ts"].as_str().unwrap().ends_with('Z'));
    let nf = lines.iter().find(|l| l["status"] == 404).unwrap();
    assert_eq!(nf["route"], "/v1/sessions/{id}", "the template, not the id");
    let anon = lines.iter().find(|l| l["status"] == 401).unwrap();
    assert_eq!(anon["principal"], Value::Null);
    let waf = lines.iter().find(|l| l["status"] == 403).unwrap();
    assert_eq!(waf["rule"], "libinjection-sqli");
    assert_eq!(waf["route"], Value::Null, "refused before routing");
    assert_eq!(waf["path"], "/v1/search");
}
