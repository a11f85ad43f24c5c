//! Past meetings as knowledge (issue 17): `GET /v1/meetings/search` over finished meetings'
//! transcripts (streamed through the audio socket, uploaded, or imported with real words) and
//! summaries, with the passages that matched and their times; every bad input refused; each
//! meeting's own access evaluated at every search (another user's meeting never found, a share
//! found at once, an unshare gone at once, administrators see all, a deleted meeting gone) —
//! on SQLite and on PostgreSQL. Then retention, a crash after the end, and a replica's index
//! rebuilt from the database.

use crate::common::*;
use crate::meetings::{enc, stream_meeting, upload, wav};
use rampart_meetings::segment::{ChannelRole, Segment};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs a test body on SQLite, then on PostgreSQL when it is configured.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(crate::common::TestServer::start_with(&super::tweak()).await).await; })* }
        mod postgres { $(#[tokio::test] async fn $name() {
            if let Some(s) = crate::common::TestServer::start_pg(concat!("meeting_search::postgres::", stringify!($name)), &super::tweak()).await { super::$name(s).await; }
        })* }
    };
}

both!(finished_meetings_are_found_with_their_passages_and_times, search_follows_each_meetings_access_at_every_query);

fn tweak() -> Vec<(&'static str, Value)> {
    vec![("speech.passthrough_interval", json!("1s")), ("meetings.final_timeout", json!("5s"))]
}

fn seg(i: usize, who: &str, start: f64, text: &str) -> Segment {
    let channel = if who == "Me" { ChannelRole::Agent } else { ChannelRole::Caller };
    Segment {
        segment_id: format!("s{i}"),
        channel,
        speaker: who.into(),
        start_time: start,
        end_time: start + 4.0,
        transcript: text.into(),
        is_partial: false,
        sentiment: None,
        sentiment_score: None,
    }
}

/// A finished meeting of the token's user with these `(speaker, start, words)`, searchable.
async fn import(s: &TestServer, t: &str, title: &str, lines: &[(&str, f64, &str)]) -> rampart_core::MeetingKey {
    let p = s.state.identity.authenticate(rampart_core::Credential::Bearer(t)).await.unwrap();
    let segs: Vec<Segment> = lines.iter().enumerate().map(|(i, (who, at, text))| seg(i, who, *at, text)).collect();
    s.state.meetings.import(&p, title, &segs).await.unwrap().key
}

async fn search(s: &TestServer, t: &str, query: &str) -> Vec<Value> {
    let body = s.get(&format!("/v1/meetings/search?q={}", enc(query)), Some(t)).await.expect(200).body;
    body["items"].as_array().unwrap().clone()
}

/// The search's results once it finds `n` meetings (meetings are indexed just after they end).
async fn found(s: &TestServer, t: &str, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let items = search(s, t, query).await;
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{query:?} did not find {n} meeting(s): {:?}", search(s, t, query).await);
}

fn titles(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["meeting"]["title"].as_str().unwrap()).collect()
}

async fn finished_meetings_are_found_with_their_passages_and_times(s: TestServer) {
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    // Streamed through LMA's socket (the pass-through recogniser says "utterance N ends"):
    // searchable once it ends.
    let id = "Weekly sync - 2026-12-07-10:30:00.000";
    stream_meeting(&s, &t, id, 16_000, 3.0).await;
    let hit = &found(&s, &t, "utterance", 1).await[0];
    assert_eq!((hit["meeting"]["id"].as_str(), hit["meeting"]["title"].as_str()), (Some(id), Some("Weekly sync")));
    assert!(hit["meeting"]["startedAt"].is_string() && hit["meeting"]["status"] == "ended", "{hit}");
    let p = &hit["passages"][0];
    assert!(p["text"].as_str().unwrap().contains("utterance"), "{p}");
    assert_eq!(p["kind"], "transcript");
    assert!(p["startMs"].as_i64().unwrap() < p["endMs"].as_i64().unwrap(), "{p}");
    assert!(["CALLER", "AGENT"].contains(&p["channel"].as_str().unwrap()) && p["speaker"].is_string(), "{p}");
    // Uploaded and transcribed: likewise.
    let (status, m) = upload(&s, &t, wav(16_000, 2.0), "Board call").await;
    assert_eq!(status, 202, "{m}");
    assert_eq!(titles(&found(&s, &t, "utterance", 2).await).len(), 2);

    // Real words: ranked, grouped by meeting, with the passage's times (ms from the start).
    import(
        &s,
        &t,
        "Roadmap review",
        &[
            ("Bo", 0.0, "Welcome everyone, let's start with the roadmap."),
            ("Bo", 4.5, "We need to finish the quarterly budget before March."),
            ("Me", 12.0, "The hiring plan depends on that budget too."),
            ("Cy", 20.0, "Marketing wants a bigger budget for the launch."),
        ],
    )
    .await;
    import(&s, &t, "Design critique", &[("Cy", 3.0, "The new logo colours are far too bright.")]).await;
    let items = search(&s, &t, "budget").await;
    assert_eq!(titles(&items), ["Roadmap review"]);
    let passages = items[0]["passages"].as_array().unwrap();
    assert_eq!(passages.len(), 3, "{passages:?}");
    assert!(passages.iter().all(|p| p["text"].as_str().unwrap().contains("budget")));
    let bo = passages.iter().find(|p| p["speaker"] == "Bo").unwrap();
    assert_eq!((bo["startMs"].as_i64(), bo["endMs"].as_i64()), (Some(0), Some(8500)), "Bo's two segments, one passage");
    let me = passages.iter().find(|p| p["speaker"] == "Me").unwrap();
    assert_eq!((me["startMs"].as_i64(), me["channel"].as_str()), (Some(12_000), Some("AGENT")));
    assert_eq!(titles(&search(&s, &t, "bright colour").await), ["Design critique"], "stemmed");
    assert!(search(&s, &t, "zebra").await.is_empty());
    let one = s.get("/v1/meetings/search?q=utterance%20budget&limit=1", Some(&t)).await.expect(200).body;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);

    // A summary is searchable with its meeting (no times).
    let key = import(&s, &t, "Offsite", &[("Bo", 0.0, "Hello.")]).await;
    s.state.meetings.index_summary(key, "## Summary\n\nThe team chose a zebra as the mascot.").await.unwrap();
    let z = search(&s, &t, "zebra mascot").await;
    assert_eq!((titles(&z), z[0]["passages"][0]["kind"].as_str()), (vec!["Offsite"], Some("summary")));
    assert!(z[0]["passages"][0].get("startMs").is_none(), "{z:?}");

    bad_input_is_refused(&s, &t).await;
    // Deleted: gone from search.
    s.delete(&format!("/v1/meetings/{}", enc(hit["meeting"]["id"].as_str().unwrap())), Some(&t)).await.expect(204);
    assert_eq!(titles(&search(&s, &t, "utterance").await), ["Board call"]);
}

async fn bad_input_is_refused(s: &TestServer, t: &str) {
    let long = "x".repeat(1001);
    for q in [
        "",
        "q=",
        "q=%20%20",
        &format!("q={long}"),
        "q=budget&limit=0",
        "q=budget&limit=51",
        "q=budget&limit=ten",
        "q=budget&from=yesterday",
        "q=budget&from=2026-12-08&to=2026-12-07",
        "q=budget&sort=date",
    ] {
        let r = s.get(&format!("/v1/meetings/search?{q}"), Some(t)).await;
        r.expect_error(400, "invalid_request");
    }
    s.get("/v1/meetings/search?q=budget", None).await.expect(401);
    let key = s.post("/v1/me/api-keys", Some(t), json!({"name": "chat", "scopes": ["chat"]})).await.expect(201).body;
    s.get("/v1/meetings/search?q=budget", Some(key["key"].as_str().unwrap())).await.expect_error(403, "forbidden");
    // Dates: meetings started in the range only.
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let path =
        |from: chrono::NaiveDate, to: chrono::NaiveDate| format!("/v1/meetings/search?q=budget&from={from}&to={to}");
    assert_eq!(s.get(&path(today, tomorrow), Some(t)).await.expect(200).body["items"].as_array().unwrap().len(), 1);
    let later = tomorrow.succ_opt().unwrap();
    assert!(s.get(&path(tomorrow, later), Some(t)).await.expect(200).body["items"].as_array().unwrap().is_empty());
}

async fn search_follows_each_meetings_access_at_every_query(s: TestServer) {
    s.user("ana@example.com", &[]).await;
    s.user("bo@example.com", &[]).await;
    let (_, admin) = s.admin().await;
    let (ana, bo) = (s.token("ana@example.com").await, s.token("bo@example.com").await);
    import(&s, &ana, "Ana's notes", &[("Ana", 0.0, "Pineapple pizza is on the menu.")]).await;
    import(&s, &bo, "Bo's plan", &[("Bo", 5.0, "The pineapple merger stays secret.")]).await;
    let bos = search(&s, &bo, "pineapple").await;
    assert_eq!(titles(&bos), ["Bo's plan"]);
    let bo_id = bos[0]["meeting"]["id"].as_str().unwrap().to_owned();

    let mine = search(&s, &ana, "pineapple merger secret").await;
    assert_eq!(titles(&mine), ["Ana's notes"], "another user's meeting never appears");
    assert!(!format!("{mine:?}").contains("merger"), "nor its words");
    let users = json!({"users": ["ana@example.com"]});
    s.post(&format!("/v1/meetings/{}/share", enc(&bo_id)), Some(&bo), users.clone()).await.expect(200);
    let shared = search(&s, &ana, "pineapple merger").await;
    assert_eq!(titles(&shared), ["Bo's plan", "Ana's notes"], "shared: found at once, best first");
    assert_eq!(shared[0]["passages"][0]["startMs"], 5000);
    s.post(&format!("/v1/meetings/{}/unshare", enc(&bo_id)), Some(&bo), users).await.expect(200);
    assert_eq!(titles(&search(&s, &ana, "pineapple merger").await), ["Ana's notes"], "unshared: gone at once");

    past_meetings_port_answers_as_the_principal(&s, &ana, &bo).await;

    let mut all = titles(&search(&s, &admin, "pineapple").await).into_iter().map(str::to_owned).collect::<Vec<_>>();
    all.sort();
    assert_eq!(all, ["Ana's notes", "Bo's plan"], "administrators find every meeting");
    s.delete(&format!("/v1/meetings/{}", enc(&bo_id)), Some(&bo)).await.expect(204);
    assert_eq!(titles(&search(&s, &admin, "pineapple").await), ["Ana's notes"], "deleted: gone");
}

/// The port the assistant's tools and the MCP server call: the same access, evaluated at call
/// time, with LMA's arguments (`query`, `startDate`, `endDate`, `maxResults`).
async fn past_meetings_port_answers_as_the_principal(s: &TestServer, ana: &str, bo: &str) {
    use rampart_core::meetings::{MeetingSearchQuery, PastMeetings};
    let port: std::sync::Arc<dyn PastMeetings> = std::sync::Arc::new(s.state.meetings.clone());
    let id = &s.state.identity;
    let ana = id.authenticate(rampart_core::Credential::Bearer(ana)).await.unwrap();
    let bo = id.authenticate(rampart_core::Credential::Bearer(bo)).await.unwrap();
    let q = |query: &str, n| MeetingSearchQuery { query: query.into(), start: None, end: None, max_results: n };
    let hits = port.search(&ana, &q("pineapple", 5)).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.meeting.title.as_str()).collect::<Vec<_>>(), ["Ana's notes"]);
    assert_eq!(hits[0].passages[0].speaker.as_deref(), Some("Ana"));
    let recent = port.recent(&bo, None, None, 10).await.unwrap();
    assert_eq!(recent.iter().map(|m| m.title.as_str()).collect::<Vec<_>>(), ["Bo's plan"], "only bo's own");
    let later = s.state.identity.now().plus(Duration::from_secs(3600));
    assert!(port.recent(&bo, Some(later), None, 10).await.unwrap().is_empty(), "startDate");
    let future = MeetingSearchQuery { start: Some(later), ..q("pineapple", 5) };
    assert!(port.search(&ana, &future).await.unwrap().is_empty());
    let bad = port.search(&ana, &q("pineapple", 0)).await.unwrap_err();
    assert_eq!(
        (bad.code, bad.message.as_str()),
        (rampart_core::ErrorCode::InvalidRequest, "The number of results must be 1-50.")
    );
    assert_eq!(port.recent(&ana, None, None, 0).await.unwrap_err().code, rampart_core::ErrorCode::InvalidRequest);
}

/// With an embedding model (the fake's: synonyms share a direction), meetings are found by
/// meaning where their words differ — still only the caller's, also on a replica whose graphs
/// were rebuilt from the database's sealed vectors.
#[tokio::test]
async fn with_an_embedding_model_meetings_are_found_by_meaning_within_their_access() {
    use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
    let up =
        FakeOpenAi::start(Knobs { synonyms: vec![vec!["vacation".into(), "holiday".into()]], ..Default::default() })
            .await;
    let models = json!([{"id": "embed", "kind": "embedding", "provider": "openai", "base_url": up.base_url,
                         "model": "fake-embed", "max_retries": 0}]);
    let mut t = tweak();
    t.extend([("models", models), ("knowledge.embedding_model", json!("embed"))]);
    let s = TestServer::start_with(&t).await;
    s.user("ana@example.com", &[]).await;
    s.user("bo@example.com", &[]).await;
    let (ana, bo) = (s.token("ana@example.com").await, s.token("bo@example.com").await);
    import(&s, &ana, "Team plans", &[("Ana", 0.0, "Everyone books their vacation before June.")]).await;
    import(&s, &ana, "Facilities", &[("Ana", 0.0, "Parking permits are renewed in March.")]).await;
    import(&s, &bo, "Bo's trip", &[("Bo", 0.0, "My vacation starts on Monday.")]).await;
    assert_eq!(titles(&search(&s, &ana, "holiday").await), ["Team plans"], "by meaning, and only hers");
    assert_eq!(titles(&search(&s, &ana, "parking").await)[0], "Facilities", "words still count");
    let r = s.replica().await;
    assert!(r.state.meetings.reconcile_search().await.unwrap());
    assert_eq!(titles(&search(&r, &ana, "holiday").await), ["Team plans"], "graphs rebuilt from the database");
    assert_eq!(titles(&search(&r, &bo, "holiday").await), ["Bo's trip"]);
}

#[tokio::test]
async fn retention_a_crash_and_a_new_replica_keep_search_in_step_with_the_database() {
    let mut t = tweak();
    t.extend([("retention.transcripts_days", json!(1)), ("retention.meetings_days", json!(0))]);
    let s = TestServer::start_with(&t).await;
    s.user("ana@example.com", &[]).await;
    let tok = s.token("ana@example.com").await;
    let key = import(&s, &tok, "Retro", &[("Bo", 0.0, "The deployment pipeline broke twice.")]).await;
    s.state.meetings.index_summary(key, "Pipeline failures were discussed.").await.unwrap();
    assert_eq!(search(&s, &tok, "pipeline").await[0]["passages"].as_array().unwrap().len(), 2);

    // A replica with an empty index of its own: rebuilt from the database, it finds the same.
    let r = s.replica().await;
    assert!(search(&r, &tok, "pipeline").await.is_empty(), "not yet checked");
    assert!(r.state.meetings.reconcile_search().await.unwrap(), "rebuilt: it differed from the database");
    assert_eq!(titles(&search(&r, &tok, "pipeline").await), ["Retro"]);
    assert!(!r.state.meetings.reconcile_search().await.unwrap(), "in step now");

    // Retention removes the transcript and what was made of it (the summary): every passage goes.
    let later = s.state.identity.now().plus(Duration::from_secs(2 * 86_400));
    rampart_server::retention::sweep_once(&s.state, later).await.unwrap();
    assert!(search(&s, &tok, "pipeline").await.is_empty());
    assert!(search(&s, &tok, "deployment").await.is_empty());

    // A meeting a crash left live is ended at the next start, and indexed as every end is.
    let p = s.state.identity.authenticate(rampart_core::Credential::Bearer(&tok)).await.unwrap();
    let start = rampart_meetings::protocol::Start {
        call_id: Some("crash-1".into()),
        agent_id: "Me".into(),
        from_number: "Customer".into(),
        to_number: "Crashed".into(),
        sample_rate: 16_000,
        channels: 2,
        active_speaker: "Bo".into(),
        should_record: Some(false),
    };
    let mut live = s.state.meetings.start_live(&p, start).await.unwrap();
    live.audio(&vec![0u8; 16_000 * 4 * 3]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::mem::forget(live);
    assert_eq!(s.state.meetings.finalize_unfinished().await.unwrap(), 1);
    assert_eq!(titles(&found(&s, &tok, "utterance", 1).await), ["Crashed"]);
    // The upkeep's catch-up leaves meetings that just ended to their own end: nothing twice.
    assert_eq!(s.state.meetings.index_pending().await.unwrap(), 0);
}
