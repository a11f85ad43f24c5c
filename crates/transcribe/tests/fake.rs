//! The engine through the real SDK against testkit's fake Transcribe streaming service, which
//! decodes the SDK's signed event-stream messages with its own codec: hypotheses, their
//! numbering and times, the end of the audio, every audio byte delivered, and errors with the
//! right `retryable`.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at the first broken step")]

use futures::StreamExt;
use rampart_core::Secret;
use rampart_core::speech::{Hypothesis, SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use rampart_testkit::fake_transcribe::{FakeTranscribe, Knobs, Utterance};
use rampart_transcribe::{Transcribe, TranscribeOptions};
use std::time::Duration;

fn engine(fake: &FakeTranscribe, vocabulary: Option<&str>) -> Transcribe {
    Transcribe::new(TranscribeOptions {
        region: "eu-west-1".into(),
        language: "en-US".into(),
        endpoint: Some(fake.base_url.clone()),
        vocabulary: vocabulary.map(str::to_owned),
        access_key_id: Secret::new("AKIDEXAMPLE".into()),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
        session_token: None,
    })
    .unwrap()
}

fn script() -> Knobs {
    Knobs {
        scripts: vec![vec![
            Utterance::new("good morning everyone", 0.2, 1.0),
            Utterance::new("let us start with the status", 1.4, 2.6),
        ]],
        ..Knobs::default()
    }
}

/// `secs` of a tone in 100 ms sends.
fn frames(secs: f64) -> Vec<Vec<i16>> {
    let n = (16_000.0 * secs) as usize;
    let pcm: Vec<i16> = (0..n).map(|i| ((i as f32 * 0.05).sin() * 3000.0) as i16).collect();
    pcm.chunks(1_600).map(<[i16]>::to_vec).collect()
}

/// Every item of the hypotheses stream until it ends.
async fn all(s: &mut rampart_core::speech::HypothesisStream) -> Vec<Result<Hypothesis, SpeechError>> {
    let mut out = Vec::new();
    while let Some(h) = tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("the stream moves on") {
        out.push(h);
    }
    out
}

#[tokio::test]
async fn partials_then_finals_timed_by_the_service_and_finish_ends_the_stream() {
    let fake = FakeTranscribe::start(script()).await;
    let t = engine(&fake, Some("meeting-terms"));
    assert_eq!((t.engine(), t.sample_rate()), ("transcribe", 16_000));
    let SpeechStream { mut audio, mut hypotheses } = t.open(StreamSpec::default()).await.unwrap();
    for f in frames(3.0) {
        audio.send(f).await.unwrap();
    }
    audio.finish().await.unwrap();
    let got: Vec<Hypothesis> = all(&mut hypotheses).await.into_iter().map(Result::unwrap).collect();
    let shape: Vec<(u64, bool, f64, f64, &str)> =
        got.iter().map(|h| (h.utterance, h.is_final, h.start, h.end, h.text.as_str())).collect();
    assert_eq!(
        shape,
        vec![
            (0, false, 0.2, 0.6, "good"),
            (0, true, 0.2, 1.0, "good morning everyone"),
            (1, false, 1.4, 2.0, "let us start"),
            (1, true, 1.4, 2.6, "let us start with the status"),
        ]
    );

    let r = &fake.requests()[0];
    // Without TLS (no ALPN) the SDK's hyper client speaks HTTP/1.1, full duplex: audio up and
    // results down at once, chunked (over TLS to AWS, ALPN picks HTTP/2).
    assert_eq!(r.http_version, "HTTP/1.1");
    let auth = r.auth.clone().unwrap();
    assert_eq!((auth.service.as_str(), auth.region.as_str()), ("transcribe", "eu-west-1"));
    assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
    assert_eq!((r.language_code.as_str(), r.sample_rate, r.media_encoding.as_str()), ("en-US", 16_000, "pcm"));
    assert_eq!(r.vocabulary_name.as_deref(), Some("meeting-terms"));
    assert_eq!(r.framing_error, None);
    assert_eq!(r.audio_bytes, 3 * 16_000 * 2, "every sample arrived");
    assert_eq!(r.audio_events, 30, "one event per 100 ms");
    assert!(r.end_frame, "the signed empty message ended the audio");
    assert_eq!(r.envelopes_signed, r.audio_events + 1, "every message was signed");
}

#[tokio::test]
async fn small_sends_are_gathered_and_the_rest_is_sent_by_finish() {
    let fake = FakeTranscribe::start(Knobs::default()).await;
    let t = engine(&fake, None);
    let spec = StreamSpec { label: "meeting-channel-1".into(), language: Some("de-DE".into()) };
    let SpeechStream { mut audio, mut hypotheses } = t.open(spec).await.unwrap();
    for _ in 0..25 {
        audio.send(vec![7; 160]).await.unwrap();
    }
    audio.finish().await.unwrap();
    assert!(audio.send(vec![1; 10]).await.is_err(), "no audio after finish");
    assert!(all(&mut hypotheses).await.is_empty());
    let r = &fake.requests()[0];
    assert_eq!(r.language_code, "de-DE", "the stream's language wins");
    assert_eq!((r.audio_bytes, r.audio_events), (25 * 160 * 2, 3), "100 ms events, then the rest");
    assert!(r.end_frame);
}

#[tokio::test]
async fn an_exception_mid_stream_ends_it_with_the_right_retryable() {
    for (kind, retryable) in [("LimitExceededException", true), ("BadRequestException", false)] {
        let fake = FakeTranscribe::start(Knobs { exception_at: Some((1.0, kind.into())), ..script() }).await;
        let t = engine(&fake, None);
        let SpeechStream { mut audio, mut hypotheses } = t.open(StreamSpec::default()).await.unwrap();
        let mut refused = None;
        for f in frames(3.0) {
            if let Err(e) = audio.send(f).await {
                refused = Some(e);
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let got = all(&mut hypotheses).await;
        let last = got.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.retryable, retryable, "{kind}: {last}");
        assert!(last.detail.contains(kind), "{}", last.detail);
        assert!(got[..got.len() - 1].iter().all(Result::is_ok), "hypotheses before the exception: {got:?}");
        // The sink reports the stream's failure once it knows it.
        if refused.is_none() {
            refused = audio.send(vec![0; 3_200]).await.err();
        }
        let refused = refused.expect("audio after the exception is refused");
        assert!(!refused.detail.contains("wJalrXUtnFEMI"), "no secret in errors");
    }
}

/// A refused request: the hypotheses stream's only item, and the sink's error.
async fn refusal(t: &Transcribe) -> SpeechError {
    let SpeechStream { mut audio, mut hypotheses } = t.open(StreamSpec::default()).await.unwrap();
    let got = all(&mut hypotheses).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let e = got.into_iter().next().unwrap().unwrap_err();
    let sent = audio.send(vec![0; 3_200]).await.unwrap_err();
    assert_eq!((sent.retryable, &sent.detail), (e.retryable, &e.detail), "the sink knows why");
    e
}

#[tokio::test]
async fn http_errors_say_whether_to_retry() {
    for (status, retryable) in [(429, true), (503, true), (500, true), (400, false), (403, false)] {
        let fake = FakeTranscribe::start(Knobs { fail_first: 1, fail_status: status, ..script() }).await;
        let t = engine(&fake, None);
        let e = refusal(&t).await;
        assert_eq!(e.retryable, retryable, "HTTP {status}: {e}");
        assert!(e.detail.starts_with("transcribe: "), "{e}");
        // The next stream opens (the fake fails only the first request).
        let SpeechStream { mut audio, mut hypotheses } = t.open(StreamSpec::default()).await.unwrap();
        audio.finish().await.unwrap();
        assert!(all(&mut hypotheses).await.is_empty());
        assert!(fake.requests()[1].end_frame);
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_error() {
    let fake = FakeTranscribe::start(Knobs::default()).await;
    let t = engine(&fake, None);
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = refusal(&t).await;
    assert!(e.retryable, "{e}");
}
