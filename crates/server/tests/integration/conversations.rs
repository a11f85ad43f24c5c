//! Everyday chat (issue 16): the assistant picker's names, rename / pin / archive, search,
//! export and the prompt library — on SQLite and on PostgreSQL. Every id-taking route refuses
//! another user's id as not found.

use crate::chat::exchange;
use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Runs a test body on SQLite, then on PostgreSQL when it is configured.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(crate::common::TestServer::start_with(&super::tweak()).await).await; })* }
        mod postgres { $(#[tokio::test] async fn $name() {
            if let Some(s) = crate::common::TestServer::start_pg(concat!("conversations::postgres::", stringify!($name)), &super::tweak()).await { super::$name(s).await; }
        })* }
    };
}

both!(
    assistants_are_listed_with_names_and_descriptions,
    sessions_are_renamed_pinned_archived_and_refused_to_others,
    search_finds_titles_and_content_in_steps,
    export_is_markdown_or_json_and_refused_to_others,
    prompt_library_is_private_sealed_and_validated,
    chosen_knowledge_bases_are_kept_with_the_session
);

fn tweak() -> Vec<(&'static str, Value)> {
    vec![(
        "assistants",
        json!([
            {"id": "default", "kind": "extractive", "name": "Handbook helper", "description": "Answers from the staff handbook."},
            {"id": "plain", "kind": "extractive"},
            {"id": "hr-only", "kind": "extractive", "name": "HR", "groups": ["hr"]}
        ]),
    )]
}

async fn patch(s: &TestServer, path: &str, t: &str, body: Value) -> Resp {
    s.req(Method::PATCH, path, Some(t), Some(body)).await
}

/// The knowledge bases chosen in a chat are kept with it (the chat reopens with them): only
/// readable ones, at most 20; another user's session is not found.
async fn chosen_knowledge_bases_are_kept_with_the_session(s: TestServer) {
    use crate::knowledge::create_kb;
    let a = s.user("a@example.com", &[]).await;
    s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let (mine, theirs) = (create_kb(&s, &ta, "handbook", &[]).await, create_kb(&s, &tb, "board", &[]).await);
    let (sid, _) = exchange(&s, &a, "first").await;
    let path = format!("/v1/sessions/{sid}");
    assert!(s.get(&path, Some(&ta)).await.expect(200).body.get("knowledgeBases").is_none());
    let r = patch(&s, &path, &ta, json!({"knowledgeBases": [mine, mine]})).await.expect(200).body;
    assert_eq!(r["knowledgeBases"], json!([mine]));
    assert_eq!(s.get(&path, Some(&ta)).await.body["knowledgeBases"], json!([mine]));
    let listed = s.get("/v1/sessions", Some(&ta)).await.body;
    assert_eq!(listed["items"][0]["knowledgeBases"], json!([mine]));
    // Not readable, too many, not ids: refused, nothing changed.
    patch(&s, &path, &ta, json!({"knowledgeBases": [mine, theirs]})).await.expect_error(404, "not_found");
    let many: Vec<String> = (0..21).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    patch(&s, &path, &ta, json!({"knowledgeBases": many})).await.expect_error(400, "invalid_request");
    assert_eq!(patch(&s, &path, &ta, json!({"knowledgeBases": ["x"]})).await.status.as_u16(), 400);
    assert_eq!(s.get(&path, Some(&ta)).await.body["knowledgeBases"], json!([mine]));
    // Another user's session: not found, unchanged.
    patch(&s, &path, &tb, json!({"knowledgeBases": [theirs]})).await.expect_error(404, "not_found");
    patch(&s, &path, &tb, json!({"knowledgeBases": []})).await.expect_error(404, "not_found");
    assert_eq!(s.get(&path, Some(&ta)).await.body["knowledgeBases"], json!([mine]));
    // `[]` forgets the choice.
    patch(&s, &path, &ta, json!({"knowledgeBases": []})).await.expect(200);
    assert!(s.get(&path, Some(&ta)).await.body.get("knowledgeBases").is_none());
}

async fn assistants_are_listed_with_names_and_descriptions(s: TestServer) {
    s.user("a@example.com", &[]).await;
    let t = s.token("a@example.com").await;
    let l = s.get("/v1/chat/assistants", Some(&t)).await.expect(200).body;
    assert_eq!(
        l["items"],
        json!([
            {"id": "default", "name": "Handbook helper", "description": "Answers from the staff handbook."},
            {"id": "plain", "name": "plain"}
        ]),
        "the name (or the id), the description; not the assistants of other groups"
    );
    s.get("/v1/chat/assistants", None).await.expect_error(401, "unauthorized");
}

async fn sessions_are_renamed_pinned_archived_and_refused_to_others(s: TestServer) {
    let a = s.user("a@example.com", &[]).await;
    s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let (s1, _) = exchange(&s, &a, "first").await;
    let (s2, _) = exchange(&s, &a, "second").await;
    let (s3, _) = exchange(&s, &a, "third").await;
    let ids = |b: &Value| {
        b["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    // Rename and pin the oldest: it comes first, with its new title.
    let r = patch(&s, &format!("/v1/sessions/{s1}"), &ta, json!({"title": "  Leave policy  ", "pinned": true}))
        .await
        .expect(200)
        .body;
    assert_eq!(
        (r["title"].as_str(), r["pinned"].as_bool(), r["archived"].as_bool()),
        (Some("Leave policy"), Some(true), Some(false))
    );
    let l = s.get("/v1/sessions", Some(&ta)).await.expect(200).body;
    assert_eq!(ids(&l), vec![s1.clone(), s3.clone(), s2.clone()]);
    assert_eq!(l["items"][0]["title"], "Leave policy");
    // Archive: out of the list, into the archived one; unarchive brings it back.
    patch(&s, &format!("/v1/sessions/{s3}"), &ta, json!({"archived": true})).await.expect(200);
    assert_eq!(ids(&s.get("/v1/sessions", Some(&ta)).await.body), vec![s1.clone(), s2.clone()]);
    let archived = s.get("/v1/sessions?archived=true", Some(&ta)).await.expect(200).body;
    assert_eq!(ids(&archived), vec![s3.clone()]);
    assert_eq!(archived["items"][0]["archived"], true);
    s.get(&format!("/v1/sessions/{s3}"), Some(&ta)).await.expect(200);
    patch(&s, &format!("/v1/sessions/{s3}"), &ta, json!({"archived": false})).await.expect(200);
    assert!(ids(&s.get("/v1/sessions?archived=true", Some(&ta)).await.body).is_empty());
    // The stored title is sealed: not in the database as text.
    let raw: Vec<u8> = sqlx::query_scalar("SELECT title FROM chat_sessions WHERE id = $1")
        .bind(&s1)
        .fetch_one(s.state.db.pool())
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("Leave policy"));
    // Bad input: a clear 400, nothing changed.
    for bad in [
        json!({"title": ""}),
        json!({"title": "x".repeat(201)}),
        json!({"title": "a\nb"}),
        json!({"pinned": "yes"}),
        json!({"colour": "red"}),
    ] {
        let r = patch(&s, &format!("/v1/sessions/{s1}"), &ta, bad.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{bad}: {}", r.body);
    }
    s.get("/v1/sessions?archived=maybe", Some(&ta)).await.expect_error(400, "invalid_request");
    assert_eq!(s.get(&format!("/v1/sessions/{s1}"), Some(&ta)).await.body["title"], "Leave policy");
    // Another user's id: not found, and nothing changed.
    patch(&s, &format!("/v1/sessions/{s1}"), &tb, json!({"title": "mine now", "archived": true}))
        .await
        .expect_error(404, "not_found");
    patch(&s, &format!("/v1/sessions/{}", rampart_core::SessionId::new()), &ta, json!({"pinned": true}))
        .await
        .expect_error(404, "not_found");
    let l = s.get("/v1/sessions", Some(&ta)).await.body;
    assert_eq!((l["items"][0]["title"].as_str(), ids(&l).len()), (Some("Leave policy"), 3));
    // Delete still works on an archived one.
    patch(&s, &format!("/v1/sessions/{s2}"), &ta, json!({"archived": true})).await.expect(200);
    s.delete(&format!("/v1/sessions/{s2}"), Some(&ta)).await.expect(204);
    assert!(ids(&s.get("/v1/sessions?archived=true", Some(&ta)).await.body).is_empty());
}

async fn search_finds_titles_and_content_in_steps(s: TestServer) {
    let a = s.user("a@example.com", &[]).await;
    let b = s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let (s1, _) = exchange(&s, &a, "How many days of annual LEAVE?").await;
    let (s2, _) = exchange(&s, &a, "Expense claims").await; // the answer says "object storage"
    let (s3, _) = exchange(&s, &a, "Parking").await;
    exchange(&s, &b, "leave for b").await;
    patch(&s, &format!("/v1/sessions/{s3}"), &ta, json!({"title": "Parking and leave", "archived": true}))
        .await
        .expect(200);
    let hits = |b: &Value| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["id"].as_str().unwrap().to_owned(), i["matched"].as_str().unwrap().to_owned()))
            .collect::<Vec<_>>()
    };
    let r = s.get("/v1/sessions/search?q=leave", Some(&ta)).await.expect(200).body;
    assert_eq!(
        hits(&r),
        vec![(s3.clone(), "title".into()), (s1.clone(), "title".into())],
        "archived ones too, not b's"
    );
    assert_eq!(r["items"][0]["archived"], true);
    assert!(r.get("nextCursor").is_none());
    let r = s.get("/v1/sessions/search?q=OBJECT%20storage", Some(&ta)).await.expect(200).body;
    assert_eq!(hits(&r).len(), 3, "every answer says it");
    assert!(r["items"][0]["snippet"].as_str().unwrap().contains("object storage"));
    // In steps: one hit per page, each cursor going on from where the last stopped.
    let mut found = Vec::new();
    let mut url = "/v1/sessions/search?q=storage&limit=1".to_owned();
    loop {
        let p = s.get(&url, Some(&ta)).await.expect(200).body;
        found.extend(hits(&p).into_iter().map(|h| h.0));
        match p["nextCursor"].as_str() {
            Some(c) => url = format!("/v1/sessions/search?q=storage&limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(found, vec![s3.clone(), s2.clone(), s1.clone()]);
    assert!(hits(&s.get("/v1/sessions/search?q=nothing-like-this", Some(&ta)).await.expect(200).body).is_empty());
    // A search is a question, not an attack: the WAF leaves its query alone.
    s.get("/v1/sessions/search?q=%27%20OR%201%3D1%20--%20UNION%20SELECT", Some(&ta)).await.expect(200);
    assert!(
        hits(&s.get("/v1/sessions/search?q=Expense", Some(&tb)).await.expect(200).body).is_empty(),
        "a's content is not b's"
    );
    for bad in ["", "?q=", "?q=%20%20", "?q=x&limit=0", "?q=x&cursor=bogus", "?q=x&extra=1"] {
        s.get(&format!("/v1/sessions/search{bad}"), Some(&ta)).await.expect_error(400, "invalid_request");
    }
    s.get(&format!("/v1/sessions/search?q={}", "x".repeat(201)), Some(&ta)).await.expect_error(400, "invalid_request");
}

async fn export_is_markdown_or_json_and_refused_to_others(s: TestServer) {
    let a = s.user("a@example.com", &[]).await;
    s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let (sid, _) = exchange(&s, &a, "What is S3?").await;
    let md = s.http.get(format!("{}/v1/sessions/{sid}/export", s.base)).bearer_auth(&ta).send().await.unwrap();
    assert_eq!(md.status().as_u16(), 200);
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");
    assert_eq!(md.headers()["content-disposition"], "attachment; filename=\"what-is-s3.md\"");
    let text = md.text().await.unwrap();
    assert_eq!(
        text,
        "# What is S3?\n\n## You\n\nWhat is S3?\n\n## Assistant\n\nS3 is object storage.\n\nSources:\n\n1. S3 FAQ\n"
    );
    let js = s.get(&format!("/v1/sessions/{sid}/export?format=json"), Some(&ta)).await.expect(200);
    assert_eq!(js.headers["content-disposition"], "attachment; filename=\"what-is-s3.json\"");
    assert_eq!(
        js.body,
        s.get(&format!("/v1/sessions/{sid}"), Some(&ta)).await.body,
        "the shape of GET /v1/sessions/{{id}}"
    );
    s.get(&format!("/v1/sessions/{sid}/export?format=pdf"), Some(&ta)).await.expect_error(400, "invalid_request");
    s.get(&format!("/v1/sessions/{sid}/export"), Some(&tb)).await.expect_error(404, "not_found");
    s.get(&format!("/v1/sessions/{}/export", rampart_core::SessionId::new()), Some(&ta))
        .await
        .expect_error(404, "not_found");
    s.get(&format!("/v1/sessions/{sid}/export"), None).await.expect_error(401, "unauthorized");
}

async fn prompt_library_is_private_sealed_and_validated(s: TestServer) {
    s.user("a@example.com", &[]).await;
    s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let p = s
        .post(
            "/v1/me/prompts",
            Some(&ta),
            json!({"title": "Summarise", "text": "Summarise this in three bullet points:"}),
        )
        .await
        .expect(201)
        .body;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (p["title"].as_str(), p["text"].as_str()),
        (Some("Summarise"), Some("Summarise this in three bullet points:"))
    );
    s.post("/v1/me/prompts", Some(&ta), json!({"title": "Translate", "text": "Translate into French:"}))
        .await
        .expect(201);
    // Prompts are data: SQL in one is not an attack (the WAF leaves these bodies alone).
    let sql = s
        .post(
            "/v1/me/prompts",
            Some(&ta),
            json!({"title": "Explain SQL", "text": "Explain: SELECT * FROM users WHERE name = '' OR 1=1 --"}),
        )
        .await
        .expect(201)
        .body;
    s.delete(&format!("/v1/me/prompts/{}", sql["id"].as_str().unwrap()), Some(&ta)).await.expect(204);
    let l = s.get("/v1/me/prompts", Some(&ta)).await.expect(200).body;
    assert_eq!(
        l["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["Summarise", "Translate"]
    );
    assert!(s.get("/v1/me/prompts", Some(&tb)).await.expect(200).body["items"].as_array().unwrap().is_empty());
    // Sealed at rest.
    let raw: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT body FROM user_prompts").fetch_all(s.state.db.pool()).await.unwrap();
    assert!(
        raw.iter()
            .all(|b| !String::from_utf8_lossy(b).contains("bullet") && !String::from_utf8_lossy(b).contains("French"))
    );
    let r = s
        .req(
            Method::PUT,
            &format!("/v1/me/prompts/{id}"),
            Some(&ta),
            Some(json!({"title": "Summary", "text": "Two bullets:"})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(r["text"], "Two bullets:");
    assert_eq!(s.get(&format!("/v1/me/prompts/{id}"), Some(&ta)).await.expect(200).body["title"], "Summary");
    // Another user's id: not found, for every verb; nothing changed.
    s.get(&format!("/v1/me/prompts/{id}"), Some(&tb)).await.expect_error(404, "not_found");
    s.req(Method::PUT, &format!("/v1/me/prompts/{id}"), Some(&tb), Some(json!({"title": "x", "text": "y"})))
        .await
        .expect_error(404, "not_found");
    s.delete(&format!("/v1/me/prompts/{id}"), Some(&tb)).await.expect_error(404, "not_found");
    assert_eq!(s.get(&format!("/v1/me/prompts/{id}"), Some(&ta)).await.body["text"], "Two bullets:");
    // Bad input.
    for bad in [
        json!({"title": "", "text": "x"}),
        json!({"title": "t", "text": "  "}),
        json!({"title": "a\tb", "text": "x"}),
        json!({"title": "x".repeat(101), "text": "x"}),
        json!({"title": "t"}),
        json!({"title": "t", "text": "x", "extra": 1}),
    ] {
        let r = s.post("/v1/me/prompts", Some(&ta), bad.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{bad}: {}", r.body);
    }
    s.post("/v1/me/prompts", Some(&ta), json!({"title": "t", "text": "x".repeat(20_001)}))
        .await
        .expect_error(400, "invalid_request");
    s.get("/v1/me/prompts/not-an-id", Some(&ta)).await.expect_error(404, "not_found");
    assert_eq!(
        s.get("/v1/me/prompts", Some(&ta)).await.body["items"].as_array().unwrap().len(),
        2,
        "nothing stored half-way"
    );
    s.delete(&format!("/v1/me/prompts/{id}"), Some(&ta)).await.expect(204);
    s.get(&format!("/v1/me/prompts/{id}"), Some(&ta)).await.expect_error(404, "not_found");
}
