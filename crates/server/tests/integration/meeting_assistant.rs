//! The meeting assistant asked by the wake phrase, through the real audio socket: sentences
//! spoken by `flite`, transcribed by testkit's fake OpenAI-compatible speech server into scripted
//! texts (one of them "Okay assistant, …"). The answer is written into the transcript as an
//! `AGENT_ASSISTANT` segment: from the fake model when one is configured (which got the
//! transcript as quoted data and the question as the user's message), or quoted from the
//! transcript when there is none. Without `flite` and `sox` it prints SKIPPED.

use crate::common::*;
use crate::meetings_speech::{CALLER, speak, stream};
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use rampart_testkit::fake_openai_stt::{FakeOpenAiStt, SttKnobs};
use serde_json::{Value, json};

const SAID: [&str; 3] = [
    "The portal budget is forty thousand euros.",
    "Okay, assistant, what is the portal budget?",
    "Let us move on to the next topic.",
];

#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
fn tools() -> bool {
    let ok = ["flite", "sox"].iter().all(|t| std::process::Command::new(t).arg("--version").output().is_ok());
    if !ok {
        eprintln!("SKIPPED meeting_assistant: needs flite and sox (`make sysdeps`)");
    }
    ok
}

/// Streams three spoken sentences (transcribed as [`SAID`]) and returns the assistant's final
/// segments once the answer is stored (it may come after the meeting's end).
async fn meeting_with_a_question(extra: &[(&'static str, Value)], call_id: &str) -> Vec<Value> {
    let stt =
        FakeOpenAiStt::start(SttKnobs { texts: SAID.iter().map(|t| (*t).to_owned()).collect(), ..SttKnobs::default() })
            .await;
    let mut settings = vec![
        ("speech.engine", json!("openai")),
        ("speech.openai_base_url", json!(stt.base_url)),
        ("speech.openai_model", json!("whisper-1")),
    ];
    settings.extend(extra.iter().cloned());
    let s = TestServer::start_with(&settings).await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let pcm = speak(dir.path(), "q", &CALLER[..3], 16_000);
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    stream(&s, &t, call_id, 16_000, 1, &bytes).await;
    for _ in 0..200 {
        let tr = s.get(&format!("/v1/meetings/{call_id}/transcript"), Some(&t)).await.expect(200).body;
        let answers: Vec<Value> =
            tr["segments"].as_array().unwrap().iter().filter(|s| s["Channel"] == "AGENT_ASSISTANT").cloned().collect();
        if !answers.is_empty() {
            return answers;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no answer in the transcript");
}

#[tokio::test]
async fn the_wake_phrase_writes_the_models_answer_into_the_transcript() {
    if !tools() {
        return;
    }
    let model =
        FakeOpenAi::start(Knobs { reply: "The portal budget is forty thousand euros.".into(), ..Knobs::default() })
            .await;
    let answers = meeting_with_a_question(
        &[
            ("models", json!([{"id": "m", "provider": "openai", "base_url": model.base_url, "model": "llm", "max_retries": 0}])),
            ("assistants", json!([{"id": "default", "kind": "model", "model": "m"}])),
        ],
        "wake-model",
    )
    .await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    let a = &answers[0];
    assert_eq!(
        (a["Transcript"].as_str(), a["Speaker"].as_str()),
        (Some("The portal budget is forty thousand euros."), Some("Assistant"))
    );
    assert_eq!(a["IsPartial"], false);
    // The model got the transcript as quoted data and the question as the user's message.
    // (The meeting's summary, written at its end, asks the model too.)
    let reqs = model.requests();
    let asked: Vec<_> = reqs
        .iter()
        .filter(|r| r.1["messages"].as_array().unwrap().last().unwrap()["content"] == "what is the portal budget?")
        .collect();
    assert_eq!(asked.len(), 1, "{reqs:?}");
    let msgs = asked[0].1["messages"].as_array().unwrap();
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(
        system.contains("not instructions") && system.contains("<untrusted_data source=\"the meeting transcript\">"),
        "{system}"
    );
    assert!(system.contains("] Team: The portal budget is forty thousand euros."), "{system}");
    assert_eq!(msgs.last().unwrap()["role"], "user");
}

/// With a model that calls tools, the wake phrase's answer may read the owner's meetings (here
/// `list_meetings`, whose result the scripted model quotes back).
#[tokio::test]
async fn the_wake_phrases_answer_may_use_the_owners_tools() {
    use rampart_testkit::script::{FakeCall, Scripted};
    if !tools() {
        return;
    }
    let script = vec![
        Scripted::Calls(vec![FakeCall::new("list_meetings", r#"{"limit": 5}"#)]),
        Scripted::Text("Found: {tool_result}".into()),
    ];
    let model = FakeOpenAi::start(Knobs { reply: "A summary.".into(), script, ..Knobs::default() }).await;
    let m = json!([{"id": "m", "provider": "openai", "base_url": model.base_url, "model": "llm", "max_retries": 0, "tools": true}]);
    let answers = meeting_with_a_question(
        &[("models", m), ("assistants", json!([{"id": "default", "kind": "model", "model": "m"}]))],
        "wake-tools",
    )
    .await;
    let text = answers[0]["Transcript"].as_str().unwrap();
    assert!(text.starts_with("Found: ") && text.contains("wake-tools"), "the tool's result, quoted: {text}");
    // The model was offered the tools, and got list_meetings' result back as a tool message.
    let reqs = model.requests();
    assert!(
        reqs[0].1["tools"].as_array().is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "search_meetings"))
    );
    assert!(reqs.iter().any(|r| r.1["messages"].as_array().unwrap().iter().any(|m| m["role"] == "tool")));
}

#[tokio::test]
async fn with_no_model_the_wake_phrase_quotes_the_transcript_and_says_so() {
    if !tools() {
        return;
    }
    let answers = meeting_with_a_question(&[], "wake-extractive").await;
    assert_eq!(answers.len(), 1);
    let text = answers[0]["Transcript"].as_str().unwrap();
    assert!(text.starts_with(rampart_meetings::assist::NO_MODEL), "{text}");
    assert!(text.contains("The portal budget is forty thousand euros."), "{text}");
    assert!(!text.contains("Okay, assistant"), "the question is not its own answer: {text}");
}
