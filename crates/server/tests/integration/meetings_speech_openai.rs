//! A meeting transcribed by the remote OpenAI-compatible engine (`speech.engine = "openai"`)
//! through the real socket: sentences spoken by Debian's `flite` with pauses between them,
//! streamed at real-time pace through `/api/v1/ws` to the real server, whose engine sends each
//! utterance to testkit's fake transcription server (the real multipart wire format, strict WAV
//! checks, a bearer key, one overloaded answer first). The stored transcript must hold one final
//! segment per sentence with the scripted texts and sane times, and the WAVs the fake received
//! must be as long as the segments and the sentences. Without `flite` and `sox` it prints
//! SKIPPED.

use crate::common::*;
use crate::meetings_speech::{CALLER, read_wav, speak, stream};
use rampart_testkit::fake_openai_stt::{FakeOpenAiStt, SttKnobs};
use serde_json::{Value, json};

const KEY: &str = "sk-remote-stt-test-key";

#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
fn tools() -> bool {
    let ok = ["flite", "sox"].iter().all(|t| std::process::Command::new(t).arg("--version").output().is_ok());
    if !ok {
        eprintln!("SKIPPED meetings_speech_openai: needs flite and sox (`make sysdeps`)");
    }
    ok
}

#[tokio::test]
async fn a_meeting_through_a_remote_openai_compatible_engine_is_one_segment_per_utterance() {
    if !tools() {
        return;
    }
    let texts = ["Good morning, everyone.", "The customer portal.", "The new layout."];
    let fake = FakeOpenAiStt::start(SttKnobs {
        texts: texts.iter().map(|t| (*t).to_owned()).collect(),
        api_key: Some(KEY.into()),
        fail_first: 1,
        fail_status: 503,
        ..SttKnobs::default()
    })
    .await;
    let s = TestServer::start_with(&[
        ("speech.engine", json!("openai")),
        ("speech.openai_base_url", json!(fake.base_url)),
        ("speech.openai_api_key", json!(KEY)),
        ("speech.openai_model", json!("Systran/faster-whisper-small")),
        ("speech.openai_language", json!("en-GB")),
    ])
    .await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let sentences = &CALLER[..3];
    let pcm = speak(dir.path(), "o", sentences, 16_000);
    let spoken: Vec<f64> = (0..sentences.len())
        .map(|i| read_wav(&dir.path().join(format!("o{i}-16000.wav"))).1.len() as f64 / 16_000.0)
        .collect();
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let tr = stream(&s, &t, "remote-stt", 16_000, 1, &bytes).await;

    let mut segs: Vec<&Value> = tr["segments"].as_array().unwrap().iter().filter(|s| s["IsPartial"] == false).collect();
    segs.sort_by(|a, b| a["StartTime"].as_f64().unwrap().total_cmp(&b["StartTime"].as_f64().unwrap()));
    let said: Vec<&str> = segs.iter().map(|s| s["Transcript"].as_str().unwrap()).collect();
    assert_eq!(said, texts, "one final segment per utterance, the scripted texts in order");
    let times: Vec<(f64, f64)> =
        segs.iter().map(|s| (s["StartTime"].as_f64().unwrap(), s["EndTime"].as_f64().unwrap())).collect();
    assert!(times.iter().all(|(a, b)| 0.0 <= *a && a < b), "{times:?}");
    assert!(times.windows(2).all(|w| w[0].1 <= w[1].0), "segments do not overlap and follow each other: {times:?}");
    // Sentence i starts after the sentences before it, each followed by a second of silence.
    let mut at = 0.0;
    for (i, (start, _)) in times.iter().enumerate() {
        assert!((start - at).abs() < 0.6, "segment {i} starts at {start}, its sentence at {at}");
        at += spoken[i] + 1.0;
    }
    assert!(segs.iter().all(|s| s["Channel"] == "CALLER" && s["Sentiment"].is_string()));

    let reqs = fake.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 200, 200, 200],
        "the overloaded answer was retried"
    );
    let answered: Vec<_> = reqs.iter().filter(|r| r.status == 200).collect();
    for ((r, (start, end)), len) in answered.iter().zip(&times).zip(&spoken) {
        assert_eq!((r.sample_rate, r.channels), (16_000, 1));
        assert_eq!(r.model, "Systran/faster-whisper-small");
        assert_eq!(r.language.as_deref(), Some("en"));
        assert!((r.duration - (end - start)).abs() < 0.01, "a {} s WAV for a segment of {} s", r.duration, end - start);
        // flite's file, give or take the detector's pre-roll, tail and flite's own silences.
        assert!((r.duration - len).abs() < 0.7, "a {} s WAV for a sentence of {len} s", r.duration);
    }
}
