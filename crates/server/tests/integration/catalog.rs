//! Models and assistants added at runtime by administrators (`/v1/admin/models`,
//! `/v1/admin/assistants`), and the `custom` (signed webhook) assistant.

use crate::common::*;
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const KEY: &str = "sk-runtime-secret-0123456789abcdef";

async fn fake(reply: &str) -> FakeOpenAi {
    FakeOpenAi::start(Knobs { reply: reply.into(), fail_status: 503, ..Default::default() }).await
}

async fn complete(s: &TestServer, t: &str, model: &str) -> Resp {
    s.post("/v1/chat/completions", Some(t), json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .await
}

fn model_ids(v: &Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_admin_adds_a_model_and_an_assistant_and_group_members_chat_with_it() {
    let up = fake("runtime answer").await;
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.post("/v1/admin/groups", Some(&admin), json!({"name": "ml"})).await.expect(201);
    s.user("ml@example.com", &["ml"]).await;
    s.user("other@example.com", &[]).await;
    let ml = s.token("ml@example.com").await;
    let other = s.token("other@example.com").await;

    let m = s
        .post(
            "/v1/admin/models",
            Some(&admin),
            json!({"id": "rt-llm", "provider": "openai", "base_url": up.base_url, "model": "llama-rt", "api_key": KEY, "max_retries": 0}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(m["source"], "admin");
    assert_eq!(m["secrets"], json!(["api_key"]));
    assert!(!m.to_string().contains(KEY), "the key is write-only: {m}");
    s.post(
        "/v1/admin/assistants",
        Some(&admin),
        json!({"id": "rt", "kind": "model", "model": "rt-llm", "groups": ["ml"], "system_prompt": "Be brief."}),
    )
    .await
    .expect(201);

    // Group members see and use it at once; others do not.
    assert!(model_ids(&s.get("/v1/models", Some(&ml)).await.expect(200).body).contains(&"rt".to_owned()));
    assert!(!model_ids(&s.get("/v1/models", Some(&other)).await.expect(200).body).contains(&"rt".to_owned()));
    let r = complete(&s, &ml, "rt").await.expect(200).body;
    assert_eq!(r["choices"][0]["message"]["content"], "runtime answer");
    complete(&s, &other, "rt").await.expect_error(404, "not_found");
    let (auth, body) = up.requests()[0].clone();
    assert_eq!(auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(body["model"], "llama-rt");
    assert_eq!(body["messages"][0]["content"], "Be brief.");
    assert_eq!(body["stream"], false, "a whole reply is asked for in one response");

    // Lists and reads never show the key.
    let all = s.get("/v1/admin/models", Some(&admin)).await.expect(200).body;
    assert!(!all.to_string().contains(KEY));
    assert_eq!(all.as_array().unwrap().len(), 1);
    let one = s.get("/v1/admin/models/rt-llm", Some(&admin)).await.expect(200).body;
    assert_eq!(
        (one["base_url"].as_str(), one["updatedBy"].as_str()),
        (Some(up.base_url.as_str()), Some("admin@example.com"))
    );

    // Replacing without the key keeps it; "" removes it.
    let put = s
        .req(
            reqwest::Method::PUT,
            "/v1/admin/models/rt-llm",
            Some(&admin),
            Some(json!({"provider": "openai", "base_url": up.base_url, "model": "llama-rt2", "max_retries": 0})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(put["secrets"], json!(["api_key"]));
    complete(&s, &ml, "rt").await.expect(200);
    let (auth, body) = up.requests()[1].clone();
    assert_eq!((auth.as_deref(), body["model"].as_str()), (Some(format!("Bearer {KEY}").as_str()), Some("llama-rt2")));
    s.req(
        reqwest::Method::PUT,
        "/v1/admin/models/rt-llm",
        Some(&admin),
        Some(json!({"provider": "openai", "base_url": up.base_url, "model": "llama-rt2", "api_key": ""})),
    )
    .await
    .expect(200);
    complete(&s, &ml, "rt").await.expect(200);
    assert_eq!(up.requests()[2].0, None, "the key was removed");

    // Changes are audited; the model in use cannot be deleted before its assistant.
    let audit = s.get("/v1/admin/audit?limit=100", Some(&admin)).await.expect(200).body.to_string();
    for a in ["model.create", "assistant.create", "model.update"] {
        assert!(audit.contains(a), "audit has {a}");
    }
    s.delete("/v1/admin/models/rt-llm", Some(&admin)).await.expect_error(409, "conflict");
    s.delete("/v1/admin/assistants/rt", Some(&admin)).await.expect(204);
    complete(&s, &ml, "rt").await.expect_error(404, "not_found");
    s.delete("/v1/admin/models/rt-llm", Some(&admin)).await.expect(204);
    s.get("/v1/admin/models/rt-llm", Some(&admin)).await.expect_error(404, "not_found");
}

/// `If-Match` with the `version` read makes a replacement conditional: a change made in between
/// (another administrator, another tab) is not overwritten.
#[tokio::test]
async fn a_conditional_replace_refuses_an_entry_changed_since_it_was_read() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.post("/v1/admin/assistants", Some(&admin), json!({"id": "x", "kind": "extractive"})).await.expect(201);
    let read = s.get("/v1/admin/assistants/x", Some(&admin)).await.expect(200).body;
    let v1 = read["version"].as_i64().unwrap();
    let put = |etag: Option<String>, body: Value| {
        let s = &s;
        let admin = admin.clone();
        async move {
            let mut r = s.http.put(format!("{}/v1/admin/assistants/x", s.base)).bearer_auth(admin).json(&body);
            if let Some(e) = etag {
                r = r.header("if-match", e);
            }
            Resp::read(r.send().await.unwrap()).await
        }
    };
    // One administrator saves with the version read…
    let first =
        put(Some(format!("\"{v1}\"")), json!({"kind": "extractive", "groups": ["admin"]})).await.expect(200).body;
    let v2 = first["version"].as_i64().unwrap();
    assert!(v2 > v1, "every update makes a new version");
    // …the other, who read it before, is refused and nothing changes.
    put(Some(format!("\"{v1}\"")), json!({"kind": "extractive", "groups": []}))
        .await
        .expect_error(412, "precondition_failed");
    assert_eq!(s.get("/v1/admin/assistants/x", Some(&admin)).await.body["groups"], json!(["admin"]));
    // Weak and bare forms are read; a malformed one is refused; no header: unconditional.
    put(Some(format!("W/\"{v2}\"")), json!({"kind": "extractive", "groups": ["admin"]})).await.expect(200);
    put(Some("soon".into()), json!({"kind": "extractive"})).await.expect_error(400, "invalid_request");
    put(None, json!({"kind": "extractive"})).await.expect(200);
}

#[tokio::test]
async fn provider_secrets_are_sealed_at_rest() {
    let up = fake("x").await;
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "sealed", "provider": "openai", "base_url": up.base_url, "model": "m", "api_key": KEY}),
    )
    .await
    .expect(201);
    let hook = "whsec-0123456789abcdef0123456789abcdef";
    s.post(
        "/v1/admin/assistants",
        Some(&admin),
        json!({"id": "hook", "kind": "custom", "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": hook}),
    )
    .await
    .expect(201);
    s.state.db.close().await;
    let mut bytes = Vec::new();
    for f in std::fs::read_dir(s.data_dir()).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("rampart.db") {
            bytes.extend(std::fs::read(p).unwrap());
        }
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"http://127.0.0.1:9/hook"), "the scan reads the right files");
    assert!(!contains(KEY.as_bytes()), "API key found in the database files");
    assert!(!contains(hook.as_bytes()), "webhook secret found in the database files");
}

#[tokio::test]
async fn config_entries_are_read_only_and_bad_entries_are_refused() {
    let up = fake("x").await;
    let s = TestServer::start_with(&[
        (
            "models",
            json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "m", "api_key": KEY}]),
        ),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    let (_, admin) = s.admin().await;
    let local = s.get("/v1/admin/models/local", Some(&admin)).await.expect(200).body;
    assert_eq!((local["source"].as_str(), local["secrets"].clone()), (Some("config"), json!(["api_key"])));
    assert!(!local.to_string().contains(KEY));
    assert_eq!(s.get("/v1/admin/assistants", Some(&admin)).await.expect(200).body[0]["id"], "default");
    let put = |p: &'static str, b: Value| {
        let s = &s;
        let admin = admin.clone();
        async move { s.req(reqwest::Method::PUT, p, Some(&admin), Some(b)).await }
    };
    put("/v1/admin/models/local", json!({"provider": "openai", "base_url": up.base_url, "model": "m"}))
        .await
        .expect_error(409, "conflict");
    s.delete("/v1/admin/models/local", Some(&admin)).await.expect_error(409, "conflict");
    s.delete("/v1/admin/assistants/default", Some(&admin)).await.expect_error(409, "conflict");
    let base = up.base_url.clone();
    s.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "local", "provider": "openai", "base_url": base, "model": "m"}),
    )
    .await
    .expect_error(409, "conflict");
    for (body, why) in [
        (json!({"id": "x", "provider": "mystery", "base_url": base, "model": "m"}), "unknown provider"),
        (json!({"id": "x", "provider": "openai", "model": "m"}), "openai without base_url"),
        (json!({"id": "x", "provider": "openai", "base_url": "ftp://h/", "model": "m"}), "not http"),
        (json!({"id": "x", "provider": "openai", "base_url": "http://u:p@h/", "model": "m"}), "credentials in URL"),
        (
            json!({"id": "x", "provider": "openai", "base_url": base, "model": "m", "api_key_file": "/etc/shadow"}),
            "file",
        ),
        (json!({"id": "Bad Id", "provider": "openai", "base_url": base, "model": "m"}), "bad id"),
        (json!({"id": "x", "provider": "openai", "base_url": base, "model": "m", "surprise": 1}), "unknown key"),
        (
            json!({"id": "x", "provider": "openai", "base_url": base, "model": "m", "region": "eu-west-1"}),
            "bedrock key",
        ),
        (json!({"id": "x", "provider": "http", "base_url": base}), "http without template"),
        (json!("not an object"), "not an object"),
    ] {
        let r = s.post("/v1/admin/models", Some(&admin), body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_request"), "{why}");
    }
    for (body, why) in [
        (json!({"id": "a", "kind": "model", "model": "nope"}), "unknown model"),
        (json!({"id": "a", "kind": "custom", "webhook_url": "http://h/x"}), "no secret"),
        (json!({"id": "a", "kind": "custom", "webhook_url": "http://h/x", "webhook_secret": "short"}), "short secret"),
        (json!({"id": "a", "kind": "model", "model": "local", "inference_temperature": 3.0}), "temperature"),
        (json!({"id": "a", "kind": "rag"}), "rag without knowledge bases"),
        (json!({"id": "a", "kind": "rag", "knowledge_bases": ["kb"], "prompt_template": "no placeholder"}), "template"),
        (json!({"id": "a", "kind": "extractive", "knowledge_bases": ["kb"]}), "rag keys on another kind"),
    ] {
        let r = s.post("/v1/admin/assistants", Some(&admin), body).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_request"), "{why}");
    }
    s.post("/v1/admin/assistants", Some(&admin), json!({"id": "a", "kind": "extractive"})).await.expect(201);
    s.post("/v1/admin/assistants", Some(&admin), json!({"id": "a", "kind": "extractive"}))
        .await
        .expect_error(409, "conflict");
    put("/v1/admin/assistants/a", json!({"id": "b", "kind": "extractive"})).await.expect_error(400, "invalid_request");
    put("/v1/admin/assistants/missing", json!({"kind": "extractive"})).await.expect_error(404, "not_found");
    s.get("/v1/admin/assistants/missing", Some(&admin)).await.expect_error(404, "not_found");
    s.delete("/v1/admin/assistants/missing", Some(&admin)).await.expect_error(404, "not_found");
    // Nothing half-stored: the list holds the config file's entry and `a`.
    let ids: Vec<Value> = s
        .get("/v1/admin/assistants", Some(&admin))
        .await
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("default"), json!("a")]);
    assert_eq!(s.get("/v1/admin/models", Some(&admin)).await.expect(200).body.as_array().unwrap().len(), 1);
}

/// The catalog API is typed: requests are the config file's entry types (`ModelConfig`,
/// `AssistantConfig`, write-only fields marked), answers their views (`ModelView`,
/// `AssistantView`: no write-only field, the view's own fields), and every operation says so.
#[tokio::test]
async fn the_openapi_document_types_every_catalog_operation() {
    let s = TestServer::start().await;
    let doc = s.get("/openapi.json", None).await.expect(200).body;
    let schemas = &doc["components"]["schemas"];
    for name in ["ModelConfig", "ModelKind", "ModelProvider", "AssistantConfig", "AssistantType", "Source", "Dur"] {
        assert!(schemas[name].is_object(), "{name} is in the document");
    }
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let body = |op: &Value| op["requestBody"]["content"]["application/json"]["schema"].clone();
    let answer = |op: &Value, status: &str| op["responses"][status]["content"]["application/json"]["schema"].clone();
    let models: &[&str] = &["api_key", "aws_secret_access_key", "aws_session_token", "headers"];
    for (path, entry, view, secrets) in [
        ("/v1/admin/models", "ModelConfig", "ModelView", models),
        ("/v1/admin/assistants", "AssistantConfig", "AssistantView", &["webhook_secret"]),
    ] {
        for k in secrets {
            assert_eq!(schemas[entry]["properties"][k]["writeOnly"], true, "{entry}.{k} is write-only");
            assert!(schemas[view]["properties"].get(k).is_none(), "{view} has no {k}");
        }
        for k in ["id", "source", "secrets", "version", "updatedAt", "updatedBy"] {
            assert!(schemas[view]["properties"][k].is_object(), "{view} has {k}");
        }
        assert_eq!(schemas[entry]["additionalProperties"], false, "{entry}: unknown keys are refused");
        let list = &doc["paths"][path];
        assert_eq!(answer(&list["get"], "200"), json!({"type": "array", "items": r(view)}), "GET {path}");
        assert_eq!((body(&list["post"]), answer(&list["post"], "201")), (r(entry), r(view)), "POST {path}");
        let one = &doc["paths"][format!("{path}/{{id}}")];
        assert_eq!(answer(&one["get"], "200"), r(view), "GET {path}/{{id}}");
        assert_eq!((body(&one["put"]), answer(&one["put"], "200")), (r(entry), r(view)), "PUT {path}/{{id}}");
        assert!(one["delete"]["responses"]["204"].is_object(), "DELETE {path}/{{id}}");
        for op in [&list["post"], &one["put"]] {
            for status in ["400", "409"] {
                assert_eq!(answer(op, status), r("ErrorBody"));
            }
        }
        assert_eq!(answer(&one["put"], "412"), r("ErrorBody"));
    }
}

/// What the API answers has exactly the view schema's keys (write-only fields never), and a
/// refusal names the key at fault, so that a form can show it beside its field.
#[tokio::test]
async fn answers_follow_the_view_schemas_and_refusals_name_the_key() {
    let up = fake("x").await;
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let doc = s.get("/openapi.json", None).await.expect(200).body;
    let created = [
        (
            "/v1/admin/models",
            "ModelView",
            json!({"id": "m", "provider": "openai", "base_url": up.base_url, "model": "x", "api_key": KEY}),
        ),
        (
            "/v1/admin/assistants",
            "AssistantView",
            json!({"id": "hook", "kind": "custom", "webhook_url": "http://127.0.0.1:9/hook",
                   "webhook_secret": "whsec-0123456789abcdef0123456789abcdef"}),
        ),
    ];
    for (path, view, entry) in created {
        let schema = &doc["components"]["schemas"][view];
        let v = s.post(path, Some(&admin), entry).await.expect(201).body;
        let listed = s.get(path, Some(&admin)).await.expect(200).body[0].clone();
        for v in [v, listed] {
            let keys = v.as_object().unwrap();
            for k in keys.keys() {
                assert!(schema["properties"].get(k).is_some(), "{view} lists {k}: {v}");
            }
            for k in schema["required"].as_array().unwrap() {
                assert!(keys.contains_key(k.as_str().unwrap()), "{view} requires {k}: {v}");
            }
        }
    }
    let base = up.base_url.clone();
    for (body, says) in [
        (json!({"id": "x", "provider": "openai", "base_url": base, "model": "m", "surprise": 1}), "`surprise`"),
        (json!({"id": "x", "base_url": base, "model": "m"}), "`provider`"),
        (json!({"id": "x", "provider": "openai", "base_url": "ftp://h/", "model": "m"}), "base_url: "),
        (json!({"id": "x", "provider": "bedrock", "model": "m"}), "region: "),
    ] {
        let r = s.post("/v1/admin/models", Some(&admin), body).await.expect_error(400, "invalid_request");
        assert!(r.body["message"].as_str().unwrap().contains(says), "{says}: {}", r.body);
    }
    let r = s
        .post("/v1/admin/assistants", Some(&admin), json!({"id": "a", "kind": "model", "model": "nope"}))
        .await
        .expect_error(400, "invalid_request");
    assert!(r.body["message"].as_str().unwrap().starts_with("model: "), "{}", r.body);
}

#[tokio::test]
async fn another_replica_picks_up_changes_within_the_refresh_interval() {
    let up = fake("from the replica").await;
    let s = TestServer::start_with(&[("chat.catalog_refresh", json!("100ms"))]).await;
    let replica = s.replica().await;
    let _refresh =
        rampart_server::catalog::spawn_refresh(replica.state.assistants.clone(), std::time::Duration::from_millis(100));
    let (_, admin) = s.admin().await;
    s.user("r@example.com", &[]).await;
    let t = s.token("r@example.com").await;
    s.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "m", "provider": "openai", "base_url": up.base_url, "model": "m"}),
    )
    .await
    .expect(201);
    s.post("/v1/admin/assistants", Some(&admin), json!({"id": "shared", "kind": "model", "model": "m"}))
        .await
        .expect(201);
    let mut seen = false;
    for _ in 0..50 {
        if complete(&replica, &t, "shared").await.status == 200 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "the replica serves the new assistant");
    s.delete("/v1/admin/assistants/shared", Some(&admin)).await.expect(204);
    let mut gone = false;
    for _ in 0..50 {
        if complete(&replica, &t, "shared").await.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the replica drops the deleted assistant");
}

/// What the operator's webhook received: headers of interest and the raw body.
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// An operator's webhook: NDJSON deltas for `/stream`, one JSON reply for `/json`, an error
/// line for `/fail`.
async fn webhook() -> (String, Received) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let got: Received = Arc::default();
    let g = got.clone();
    let record = move |h: &HeaderMap, b: &Bytes| {
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        g.lock().unwrap().push((get("x-rampart-timestamp"), get("x-rampart-signature"), b.to_vec()));
    };
    let (r1, r2, r3) = (record.clone(), record.clone(), record);
    let app = axum::Router::new()
        .route(
            "/stream",
            axum::routing::post(move |h: HeaderMap, b: Bytes| async move {
                r1(&h, &b);
                let lines = "{\"delta\":\"Hello\"}\n{\"delta\":\", operator\"}\n\n{\"done\":true,\"usage\":{\"inputTokens\":3,\"outputTokens\":2}}\n";
                ([("content-type", "application/x-ndjson")], lines)
            }),
        )
        .route(
            "/json",
            axum::routing::post(move |h: HeaderMap, b: Bytes| async move {
                r2(&h, &b);
                axum::Json(json!({"reply": "one piece"}))
            }),
        )
        .route(
            "/fail",
            axum::routing::post(move |h: HeaderMap, b: Bytes| async move {
                r3(&h, &b);
                ([("content-type", "application/x-ndjson")], "{\"delta\":\"par\"}\n{\"error\":\"backend down\"}\n")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

#[tokio::test]
async fn the_custom_assistant_calls_a_signed_webhook_and_streams_its_answer() {
    let secret = "whsec-0123456789abcdef0123456789abcdef";
    let (base, got) = webhook().await;
    let hook = |id: &str, path: &str| {
        json!({"id": id, "kind": "custom", "webhook_url": format!("{base}{path}"), "webhook_secret": secret,
               "system_prompt": "Operator rules."})
    };
    let s = TestServer::start_with(&[(
        "assistants",
        json!([hook("stream", "/stream"), hook("json", "/json"), hook("fail", "/fail")]),
    )])
    .await;
    s.user("c@example.com", &[]).await;
    let t = s.token("c@example.com").await;

    // Streaming (SSE to the client) from NDJSON deltas.
    let r = s
        .http
        .post(format!("{}/v1/chat/completions", s.base))
        .bearer_auth(&t)
        .json(&json!({"model": "stream", "stream": true, "messages": [
            {"role": "user", "content": "first"}, {"role": "assistant", "content": "answer"}, {"role": "user", "content": "second"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(content, "Hello, operator");

    // The request was signed: HMAC-SHA256(secret, "<timestamp>.<body>"), recomputed here.
    let (ts, sig, body) = got.lock().unwrap()[0].clone();
    let age = now_secs() - ts.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "a fresh timestamp");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(&body);
    let tag = aws_lc_rs::hmac::sign(&key, &signed);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sig, format!("v1={hex}"));
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(b["assistantId"], "stream");
    assert_eq!(b["message"], "second");
    assert_eq!(b["systemPrompt"], "Operator rules.");
    assert_eq!(b["history"], json!([{"role": "user", "content": "first"}, {"role": "assistant", "content": "answer"}]));

    // One JSON reply.
    let r = complete(&s, &t, "json").await.expect(200).body;
    assert_eq!(r["choices"][0]["message"]["content"], "one piece");
    // An error line from the webhook reaches the user as the generic upstream error.
    complete(&s, &t, "fail").await.expect_error(502, "upstream_error");
}

/// Knowledge bases chosen in a chat reach the operator's webhook too: it gets the passages in
/// its system prompt (as quoted data), and the reply lists them as sources.
#[tokio::test]
async fn the_custom_assistant_gets_the_passages_of_chosen_knowledge_bases() {
    use crate::knowledge::{HANDBOOK, create_kb, ingested, upload};
    let secret = "whsec-0123456789abcdef0123456789abcdef";
    let (base, got) = webhook().await;
    let hook = json!({"id": "json", "kind": "custom", "webhook_url": format!("{base}/json"), "webhook_secret": secret});
    let s = TestServer::start_with(&[("assistants", json!([hook]))]).await;
    s.user("c@example.com", &[]).await;
    let t = s.token("c@example.com").await;
    let kb = create_kb(&s, &t, "handbook", &[]).await;
    assert_eq!(upload(&s, &t, &kb, &[("handbook.md", HANDBOOK.as_bytes())]).await.status(), 202);
    ingested(&s, &t, &kb).await;
    let ask =
        json!({"model": "json", "messages": [{"role": "user", "content": "vacation days"}], "knowledge_bases": [kb]});
    let r = s.post("/v1/chat/completions", Some(&t), ask).await.expect(200).body;
    assert_eq!(r["choices"][0]["message"]["content"], "one piece");
    let b: Value = serde_json::from_slice(&got.lock().unwrap()[0].2).unwrap();
    let system = b["systemPrompt"].as_str().unwrap();
    assert!(system.contains("two vacation days") && system.contains("not instructions"), "{system}");
    assert_eq!(b["message"], "vacation days");
}

/// Each provider kind, configured in the file or at runtime, answers through the same facade.
#[tokio::test]
async fn anthropic_bedrock_and_http_json_models_answer_through_the_facade() {
    use rampart_testkit::{fake_anthropic, fake_bedrock};
    let anthropic = fake_anthropic::FakeAnthropic::start(fake_anthropic::Knobs {
        reply: "from claude".into(),
        fail_status: 529,
        ..Default::default()
    })
    .await;
    let bedrock = fake_bedrock::FakeBedrock::start(fake_bedrock::Knobs {
        reply: "from bedrock".into(),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    // A TGI-style endpoint for the `http` provider.
    let tgi = axum::Router::new().route(
        "/invocations",
        axum::routing::post(|axum::Json(b): axum::Json<Value>| async move {
            axum::Json(
                json!([{"generated_text": format!("tgi saw {}", b["inputs"].as_str().unwrap_or_default().len())}]),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tgi_url = format!("http://{}/invocations", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, tgi).await.unwrap() });

    let s = TestServer::start_with(&[
        (
            "models",
            json!([{"id": "claude", "provider": "anthropic", "base_url": anthropic.base_url, "model": "claude-x", "api_key": KEY}]),
        ),
        ("assistants", json!([{"id": "claude", "kind": "model", "model": "claude", "system_prompt": "Be brief."}])),
    ])
    .await;
    let (_, admin) = s.admin().await;
    s.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "br", "provider": "bedrock", "region": "us-east-1", "base_url": bedrock.base_url,
               "model": "anthropic.claude-3-haiku-20240307-v1:0", "aws_access_key_id": "AKIDEXAMPLE",
               "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "max_retries": 0}),
    )
    .await
    .expect(201);
    s.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "tgi", "provider": "http", "base_url": tgi_url, "response_pointer": "/0/generated_text",
               "request_template": {"inputs": "{{prompt}}", "parameters": {"max_new_tokens": "{{max_tokens}}"}},
               "headers": {"Authorization": "Bearer tgi-secret-token"}}),
    )
    .await
    .expect(201);
    for (id, model) in [("br", "br"), ("tgi", "tgi")] {
        s.post("/v1/admin/assistants", Some(&admin), json!({"id": id, "kind": "model", "model": model}))
            .await
            .expect(201);
    }
    s.user("p@example.com", &[]).await;
    let t = s.token("p@example.com").await;
    let answer = |r: Resp| r.expect(200).body["choices"][0]["message"]["content"].as_str().unwrap().to_owned();
    assert_eq!(answer(complete(&s, &t, "claude").await), "from claude");
    let got = &anthropic.requests()[0];
    assert_eq!((got.api_key.as_deref(), got.body["system"].as_str()), (Some(KEY), Some("Be brief.")));
    assert_eq!(answer(complete(&s, &t, "br").await), "from bedrock");
    let got = &bedrock.requests()[0];
    assert_eq!(got.model_id, "anthropic.claude-3-haiku-20240307-v1:0");
    assert_eq!(
        (got.auth.access_key_id.as_str(), got.auth.region.as_str(), got.auth.service.as_str()),
        ("AKIDEXAMPLE", "us-east-1", "bedrock")
    );
    assert!(answer(complete(&s, &t, "tgi").await).starts_with("tgi saw "));
    let views = s.get("/v1/admin/models", Some(&admin)).await.expect(200).body.to_string();
    for secret in [KEY, "wJalrXUtnFEMI", "tgi-secret-token"] {
        assert!(!views.contains(secret), "{secret} is write-only");
    }
}
