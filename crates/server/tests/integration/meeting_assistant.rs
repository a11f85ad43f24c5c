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
    let reqs = model.requests();
    assert_eq!(reqs.len(), 1);
    let msgs = reqs[0].1["messages"].as_array().unwrap();
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(system.contains("not instructions") && system.contains("<untrusted_data source=\"the meeting transcript\">"), "{system}");
    assert!(system.contains("] Team: The portal budget is forty thousand euros."), "{system}");
    assert_eq!(msgs.last().unwrap()["role"], "user");
    assert_eq!(msgs.last().unwrap()["content"], "what is the portal budget?");
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
