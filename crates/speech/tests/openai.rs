//! The remote OpenAI-compatible engine against testkit's fake transcription server (the real
//! multipart wire format, strict WAV checks): speech synthesised by Debian's `flite` (voice
//! `rms`, 16 kHz) goes through the real voice-activity detector; each utterance must come back
//! as one final with the utterance's times, in order, across retries. Without `flite` the tests
//! print SKIPPED.

#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

use futures::StreamExt;
use rampart_core::Secret;
use rampart_core::speech::{Hypothesis, SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use rampart_providers::TranscriptionConfig;
use rampart_speech::openai::{OpenAiOptions, OpenAiSpeech};
use rampart_speech::segmented::SegmentedOptions;
use rampart_testkit::fake_openai_stt::{FakeOpenAiStt, SttKnobs};
use std::time::Duration;

const KEY: &str = "sk-test-transcription-key";

/// Samples, and where each sentence lies in them (seconds from the start).
type Spoken = (Vec<i16>, Vec<(f64, f64)>);

/// 16 kHz samples of `sentences`, each after a second of silence, and a second of silence at
/// the end; with where each sentence's audio lies (seconds).
#[expect(clippy::print_stderr, reason = "a skipped test says so")]
fn speech(sentences: &[&str]) -> Option<Spoken> {
    if std::process::Command::new("flite").arg("--version").output().is_err() {
        eprintln!("SKIPPED: needs Debian's flite");
        return None;
    }
    let dir = tempfile_dir();
    let (mut pcm, mut spans) = (Vec::new(), Vec::new());
    for (i, s) in sentences.iter().enumerate() {
        pcm.extend(std::iter::repeat_n(0i16, 16_000));
        let f = dir.join(format!("s{i}.wav"));
        let ok = std::process::Command::new("flite").args(["-voice", "rms", "-t", s, "-o"]).arg(&f).status().unwrap();
        assert!(ok.success());
        let b = std::fs::read(&f).unwrap();
        let (rate, channels, _) = rampart_testkit::fake_openai_stt::parse_wav(&b).unwrap();
        assert_eq!((rate, channels), (16_000, 1));
        let start = pcm.len() as f64 / 16_000.0;
        pcm.extend(b[44..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])));
        spans.push((start, pcm.len() as f64 / 16_000.0));
    }
    pcm.extend(std::iter::repeat_n(0i16, 16_000));
    let _ = std::fs::remove_dir_all(dir);
    Some((pcm, spans))
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rampart-speech-openai-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn engine(base_url: &str, max_retries: u32, max_concurrent: usize, partial_every: Option<Duration>) -> OpenAiSpeech {
    OpenAiSpeech::new(OpenAiOptions {
        transcription: TranscriptionConfig {
            base_url: base_url.parse().unwrap(),
            model: "whisper-large-v3".into(),
            api_key: Some(Secret::new(KEY.into())),
            timeout: Duration::from_secs(10),
            max_retries,
        },
        max_concurrent,
        prompt: Some("Rampart, LMA".into()),
        language: Some("en-US".into()),
        segmented: SegmentedOptions { partial_every, ..SegmentedOptions::default() },
    })
    .unwrap()
}

fn knobs(texts: &[&str]) -> SttKnobs {
    SttKnobs {
        texts: texts.iter().map(|t| (*t).to_owned()).collect(),
        api_key: Some(KEY.into()),
        ..SttKnobs::default()
    }
}

/// Streams `pcm` in 100 ms chunks as fast as the engine takes it, then finishes; every item of
/// the hypotheses stream.
async fn run(e: &OpenAiSpeech, pcm: &[i16]) -> Vec<Result<Hypothesis, SpeechError>> {
    let SpeechStream { mut audio, hypotheses } =
        e.open(StreamSpec { label: "test".into(), language: None }).await.unwrap();
    let collect = tokio::spawn(hypotheses.collect::<Vec<_>>());
    for c in pcm.chunks(1600) {
        if audio.send(c.to_vec()).await.is_err() {
            break;
        }
    }
    audio.finish().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), collect).await.unwrap().unwrap()
}

fn finals(got: &[Result<Hypothesis, SpeechError>]) -> Vec<Hypothesis> {
    got.iter().filter_map(|h| h.as_ref().ok()).filter(|h| h.is_final).cloned().collect()
}

#[tokio::test]
async fn each_utterance_is_sent_as_a_wav_and_comes_back_as_a_final_with_its_times() {
    let Some((pcm, spans)) = speech(&["Good morning everyone, thanks for joining.", "Let's look at the budget."])
    else {
        return;
    };
    let fake = FakeOpenAiStt::start(knobs(&["Good morning.", "The budget."])).await;
    let got = run(&engine(&fake.base_url, 0, 4, None), &pcm).await;
    assert!(got.iter().all(Result::is_ok), "{got:?}");
    let f = finals(&got);
    assert_eq!(
        f.iter().map(|h| (h.utterance, h.text.as_str())).collect::<Vec<_>>(),
        [(0, "Good morning."), (1, "The budget.")]
    );
    assert_eq!(got.len(), 2, "no partials unless asked for");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    for ((h, (s, e)), r) in f.iter().zip(&spans).zip(&reqs) {
        // The detector's utterance covers the sentence, with its pre-roll and tail.
        assert!(h.start <= s + 0.3 && h.start >= s - 0.4, "start {} for speech at {s}", h.start);
        assert!(h.end >= e - 0.4 && h.end <= e + 0.4, "end {} for speech ending at {e}", h.end);
        assert_eq!((r.sample_rate, r.channels), (16_000, 1));
        assert!((r.duration - (h.end - h.start)).abs() < 0.02, "{} s of WAV for {h:?}", r.duration);
        assert_eq!(r.model, "whisper-large-v3");
        assert_eq!(r.language.as_deref(), Some("en"), "ISO-639-1 from en-US");
        assert_eq!(r.prompt.as_deref(), Some("Rampart, LMA"));
        assert_eq!(r.response_format, "json");
        assert_eq!(r.file_name.as_deref(), Some("audio.wav"));
    }
}

#[tokio::test]
async fn a_wrong_key_ends_the_stream_with_a_non_retryable_error_and_no_request_is_recorded() {
    let Some((pcm, _)) = speech(&["Hello there."]) else { return };
    let fake = FakeOpenAiStt::start(SttKnobs { api_key: Some("sk-other".into()), ..knobs(&["x"]) }).await;
    let got = run(&engine(&fake.base_url, 3, 4, None), &pcm).await;
    let err = got.iter().find_map(|h| h.as_ref().err()).expect("an error");
    assert!(!err.retryable, "{err}");
    assert!(err.detail.contains("401"), "{err}");
    assert!(!err.detail.contains(KEY), "the key is not in errors");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn overload_and_outage_are_retried_and_the_final_arrives() {
    for status in [429u16, 503] {
        let Some((pcm, _)) = speech(&["Please send me your updates."]) else { return };
        let fake =
            FakeOpenAiStt::start(SttKnobs { fail_first: 2, fail_status: status, ..knobs(&["Send updates."]) }).await;
        let got = run(&engine(&fake.base_url, 3, 4, None), &pcm).await;
        assert_eq!(finals(&got).iter().map(|h| h.text.as_str()).collect::<Vec<_>>(), ["Send updates."], "{status}");
        let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [status, status, 200]);
    }
}

#[tokio::test]
async fn a_failure_that_persists_ends_the_stream_with_a_retryable_error_and_refuses_audio() {
    let Some((pcm, _)) = speech(&["The design review is finished."]) else { return };
    let fake = FakeOpenAiStt::start(SttKnobs { fail_first: 1000, fail_status: 503, ..knobs(&["x"]) }).await;
    let e = engine(&fake.base_url, 1, 4, None);
    let SpeechStream { mut audio, hypotheses } = e.open(StreamSpec::default()).await.unwrap();
    let collect = tokio::spawn(hypotheses.collect::<Vec<_>>());
    let mut refused = false;
    // The speech, then silence at 5× real time until the stream refuses audio.
    let silence = vec![0i16; 1600];
    let chunks = pcm.chunks(1600).chain(std::iter::repeat_n(&silence[..], 500));
    for c in chunks {
        if audio.send(c.to_vec()).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "audio after the failure is refused, so the caller reopens the stream");
    let got = tokio::time::timeout(Duration::from_secs(10), collect).await.unwrap().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let err = got[0].as_ref().expect_err("the stream ends with the failure");
    assert!(err.retryable, "{err}");
    assert_eq!(fake.requests().len(), 2, "one try and one retry");
}

#[tokio::test]
async fn finals_keep_their_order_while_a_request_is_retried() {
    let sentences = ["One, the first sentence.", "Two, the second one.", "Three, and the last."];
    let Some((pcm, _)) = speech(&sentences) else { return };
    let fake = FakeOpenAiStt::start(SttKnobs {
        fail_first: 1,
        fail_status: 503,
        delay: Duration::from_millis(400),
        ..knobs(&["one", "two", "three"])
    })
    .await;
    let got = run(&engine(&fake.base_url, 3, 4, None), &pcm).await;
    let f = finals(&got);
    assert_eq!(
        f.iter().map(|h| (h.utterance, h.text.as_str())).collect::<Vec<_>>(),
        [(0, "one"), (1, "two"), (2, "three")]
    );
    assert!(f.windows(2).all(|w| w[0].end <= w[1].start), "times increase: {f:?}");
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn streams_share_the_request_slots() {
    let Some((pcm, _)) = speech(&["Most people found the new search easy.", "The login page loads slowly."]) else {
        return;
    };
    let fake = FakeOpenAiStt::start(SttKnobs { delay: Duration::from_millis(300), ..knobs(&["a"]) }).await;
    let e = engine(&fake.base_url, 0, 1, None);
    let (a, b, c) = tokio::join!(run(&e, &pcm), run(&e, &pcm), run(&e, &pcm));
    for got in [a, b, c] {
        assert_eq!(finals(&got).len(), 2, "{got:?}");
    }
    assert_eq!(fake.peak_in_flight(), 1, "one request at a time across streams");
}

#[tokio::test]
async fn partials_resend_the_open_utterance_when_asked_for() {
    let Some((pcm, _)) = speech(&["Let's schedule a follow up meeting next week, on Tuesday afternoon."]) else {
        return;
    };
    let fake = FakeOpenAiStt::start(knobs(&["so far"])).await;
    let got = run(&engine(&fake.base_url, 0, 4, Some(Duration::from_millis(500))), &pcm).await;
    let hyps: Vec<Hypothesis> = got.into_iter().map(Result::unwrap).collect();
    let (partials, finals): (Vec<_>, Vec<_>) = hyps.iter().partition(|h| !h.is_final);
    assert!(!partials.is_empty(), "{hyps:?}");
    assert_eq!(finals.len(), 1);
    assert!(partials.iter().all(|p| p.utterance == 0 && p.start == finals[0].start), "{hyps:?}");
    assert!(partials.windows(2).all(|w| w[0].end < w[1].end), "{hyps:?}");
    assert!(hyps.last().unwrap().is_final, "the final comes last");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), hyps.len());
    let partial_secs: Vec<f64> = reqs[..reqs.len() - 1].iter().map(|r| r.duration).collect();
    assert!(
        partial_secs.windows(2).all(|w| w[0] < w[1]),
        "each partial re-sends the utterance so far: {partial_secs:?}"
    );
}
