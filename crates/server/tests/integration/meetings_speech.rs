//! The real recogniser through the real socket: meetings spoken by Debian's `flite` (voice
//! `rms`) and the LibriVox utterances of Debian's `pocketsphinx-testdata`, streamed at real-time
//! pace through `/api/v1/ws` to the embedded Whisper, and the word error rate of the stored final
//! transcript. Needs the model (`RAMPART_TEST_WHISPER_MODEL`, set by `make test`) and the Debian
//! packages (`make sysdeps`); without them the tests print SKIPPED.

use crate::common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// What the meeting side says (channel 0) and what the user says (channel 1).
pub(crate) const CALLER: &[&str] = &[
    "Good morning everyone, thanks for joining the weekly planning meeting.",
    "Let's start with the status of the customer portal project.",
    "The design review is finished and the team agreed on the new layout.",
    "We still need approval from the security team before the release.",
    "Please send me your updates before the end of the day.",
];
const AGENT: &[&str] = &[
    "Thanks, I can share the latest results from the user testing.",
    "Most people found the new search feature easy to use.",
    "The main complaint was that the login page loads slowly.",
    "I will ask the platform team to look at the performance problem.",
    "Let's schedule a follow up meeting next week.",
];
const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";

#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
fn model() -> Option<String> {
    let m = std::env::var("RAMPART_TEST_WHISPER_MODEL").ok().filter(|m| Path::new(m).join("model.bin").is_file());
    let tools = ["flite", "sox"].iter().all(|t| std::process::Command::new(t).arg("--version").output().is_ok());
    if m.is_none() || !tools || !Path::new(LIBRIVOX).is_dir() {
        eprintln!("SKIPPED meetings_speech: needs RAMPART_TEST_WHISPER_MODEL (make test sets it) and `make sysdeps`");
        return None;
    }
    m
}

async fn server(model: &str) -> TestServer {
    TestServer::start_with(&[
        ("speech.engine", json!("whisper")),
        ("speech.model_dir", json!(model)),
        ("speech.replicas", json!(2)),
        ("meetings.final_timeout", json!("60s")),
    ])
    .await
}

/// 16-bit mono samples of a WAV file (the 44-byte canonical header flite and sox write).
pub(crate) fn read_wav(path: &Path) -> (u32, Vec<i16>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"RIFF", "{}", path.display());
    let rate = u32::from_le_bytes(b[24..28].try_into().unwrap());
    let channels = u16::from_le_bytes(b[22..24].try_into().unwrap());
    assert_eq!(channels, 1);
    let data = b.windows(4).position(|w| w == b"data").unwrap() + 8;
    (rate, b[data..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect())
}

/// Each sentence spoken by flite at `rate`, with a second of silence after it.
pub(crate) fn speak(dir: &Path, tag: &str, sentences: &[&str], rate: u32) -> Vec<i16> {
    let mut out = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        let raw = dir.join(format!("{tag}{i}.wav"));
        let ok = std::process::Command::new("flite").args(["-voice", "rms", "-t", s, "-o"]).arg(&raw).status().unwrap();
        assert!(ok.success());
        let at = dir.join(format!("{tag}{i}-{rate}.wav"));
        let ok = std::process::Command::new("sox").arg(&raw).args(["-r", &rate.to_string()]).arg(&at).status().unwrap();
        assert!(ok.success());
        out.extend(read_wav(&at).1);
        out.extend(std::iter::repeat_n(0i16, rate as usize));
    }
    out
}

pub(crate) fn interleave(a: &[i16], b: &[i16]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n * 4);
    for i in 0..n {
        out.extend_from_slice(&a.get(i).copied().unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&b.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    out
}

/// The audio socket of a live meeting.
pub(crate) type AudioSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Streams `pcm` (`channels` interleaved at `rate`) at real-time pace in 100 ms frames, then
/// ends the meeting; returns the stored transcript.
pub(crate) async fn stream(s: &TestServer, token: &str, call_id: &str, rate: u32, channels: u16, pcm: &[u8]) -> Value {
    let mut ws = start(s, token, call_id, rate, channels).await;
    send_paced(&mut ws, rate, channels, pcm).await;
    end(&mut ws, call_id).await;
    s.get(&format!("/v1/meetings/{call_id}/transcript"), Some(token)).await.expect(200).body
}

/// A meeting started on a new audio socket.
pub(crate) async fn start(s: &TestServer, token: &str, call_id: &str, rate: u32, channels: u16) -> AudioSocket {
    let host = s.base.trim_start_matches("http://");
    let mut req = format!("ws://{host}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let start = json!({"callEvent": "START", "callId": call_id, "agentId": "Ana", "fromNumber": "Team",
                       "toNumber": "Planning", "samplingRate": rate, "channels": channels});
    ws.send(Message::Text(start.to_string().into())).await.unwrap();
    ws
}

/// `pcm` at real-time pace in 100 ms frames.
pub(crate) async fn send_paced(ws: &mut AudioSocket, rate: u32, channels: u16, pcm: &[u8]) {
    let frame = rate as usize / 10 * 2 * usize::from(channels);
    let t0 = Instant::now();
    for (i, f) in pcm.chunks(frame).enumerate() {
        tokio::time::sleep_until((t0 + Duration::from_millis(100) * i as u32).into()).await;
        ws.send(Message::Binary(f.to_vec().into())).await.unwrap();
    }
}

/// Ends the meeting and waits until the server says it has ended.
pub(crate) async fn end(ws: &mut AudioSocket, call_id: &str) {
    ws.send(Message::Text(json!({"callEvent": "END", "callId": call_id}).to_string().into())).await.unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(90), ws.next()).await.expect("ended in time");
        match m {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"ended\"") => break,
            Some(Ok(_)) => {}
            other => panic!("the socket ended without `ended`: {other:?}"),
        }
    }
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .replace('-', " ")
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Word error rate: word-level edit distance over the reference's length.
fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

/// The final segments of one channel, in time order, as one text.
fn said(tr: &Value, channel: &str) -> String {
    let segs = tr["segments"].as_array().unwrap();
    let mut v: Vec<&Value> = segs.iter().filter(|s| s["Channel"] == channel && s["IsPartial"] == false).collect();
    v.sort_by(|a, b| a["StartTime"].as_f64().unwrap().total_cmp(&b["StartTime"].as_f64().unwrap()));
    v.iter().map(|s| s["Transcript"].as_str().unwrap()).collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn a_two_channel_meeting_at_16_and_48_khz_is_transcribed_under_ten_percent_wer() {
    let Some(model) = model() else { return };
    let s = server(&model).await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let mut meetings = Vec::new();
    for rate in [16_000u32, 48_000] {
        let pcm = interleave(&speak(dir.path(), "c", CALLER, rate), &speak(dir.path(), "a", AGENT, rate));
        meetings.push((rate, pcm));
    }
    // Both meetings at once, as two users' meetings would be.
    let (a, b) = tokio::join!(
        stream(&s, &t, "speech-16k", 16_000, 2, &meetings[0].1),
        stream(&s, &t, "speech-48k", 48_000, 2, &meetings[1].1)
    );
    for (rate, tr) in [(16_000, a), (48_000, b)] {
        for (channel, reference) in [("CALLER", CALLER), ("AGENT", AGENT)] {
            let hyp = said(&tr, channel);
            let w = wer(&reference.join(" "), &hyp);
            println!("{rate} Hz {channel}: WER {:.1}%: {hyp}", w * 100.0);
            assert!(w < 0.10, "{rate} Hz {channel}: WER {:.1}% ≥ 10%: {hyp}", w * 100.0);
        }
        let segs = tr["segments"].as_array().unwrap();
        assert!(segs.iter().all(|s| s["Sentiment"].is_string()), "finals carry sentiment");
        let agent: Vec<&Value> = segs.iter().filter(|s| s["Channel"] == "AGENT").collect();
        assert!(agent.iter().all(|s| s["Speaker"] == "Ana"));
    }
}

#[tokio::test]
async fn librivox_utterances_through_the_socket_are_transcribed_under_fifteen_percent_wer() {
    let Some(model) = model() else { return };
    let s = server(&model).await;
    s.user("ana@example.com", &[]).await;
    let t = s.token("ana@example.com").await;
    let refs = std::fs::read_to_string(Path::new(LIBRIVOX).join("transcription")).unwrap();
    let mut pcm = Vec::new();
    let mut reference = Vec::new();
    for line in refs.lines().filter(|l| l.contains("</s>")) {
        let text = line.trim_start_matches("<s>").split("</s>").next().unwrap().trim();
        let id = line.rsplit('(').next().unwrap().trim_end_matches(')').trim();
        let path: PathBuf = Path::new(LIBRIVOX).join(format!("{id}.wav"));
        let (rate, samples) = read_wav(&path);
        assert_eq!(rate, 16_000);
        pcm.extend(samples);
        pcm.extend(std::iter::repeat_n(0i16, 16_000));
        reference.push(text.to_owned());
    }
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let tr = stream(&s, &t, "librivox", 16_000, 1, &bytes).await;
    let hyp = said(&tr, "CALLER");
    let w = wer(&reference.join(" "), &hyp);
    println!("LibriVox: WER {:.1}%: {hyp}", w * 100.0);
    assert!(w < 0.15, "WER {:.1}% ≥ 15%: {hyp}", w * 100.0);
}

#[test]
fn wer_counts_edits_over_the_reference() {
    assert_eq!(wer("the cat sat", "the cat sat"), 0.0);
    assert!((wer("the cat sat down", "a cat sat") - 0.5).abs() < 1e-9);
    assert_eq!(wer("Mister Smith's follow-up", "mister smiths follow up"), 0.0);
}
