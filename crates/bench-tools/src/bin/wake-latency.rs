//! The meeting assistant's answer to the wake phrase, as a participant sees it: from the wake
//! phrase's final segment on the meeting's realtime channel (`/meetings/{key}`) to the
//! assistant's "Checking…" and to the first `AGENT_ASSISTANT` segment that carries answer text.
//!
//! Meetings run one after another (mono, through the audio socket `/api/v1/ws`); each asks
//! `--questions` questions, one at a time (the server ignores a wake phrase while an answer is
//! being written): it streams the `--context` WAV, waits for its final, streams the `--question`
//! WAV, and waits for the answer's final segment. The audio (speech with a trailing pause, so
//! the server's voice-activity detector closes the utterance) is sent as fast as the socket
//! takes it: what is measured starts after the recogniser. The server is meant to transcribe
//! with an OpenAI-compatible engine that answers `--context-text` and `--question-text` in turn
//! (`fake-upstream --stt-text`); each final is checked against the text expected, so a shifted
//! script is an error, not a wrong measurement. Both times are taken on the same socket, as the
//! events arrive. Prints a summary and one `WAKE_RESULT key=value…` line.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool writes its results and errors to the terminal"
)]

use clap::Parser;
use futures::SinkExt;
use rampart_bench_tools::creds::{Cred, read_creds};
use rampart_bench_tools::live::{Ws, next_text, read_wav, realtime, subscribe};
use rampart_bench_tools::summarize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// What the assistant says while it works (`rampart_meetings::assist::CHECKING`).
const CHECKING: &str = "Checking…";
const ASSISTANT: &str = "AGENT_ASSISTANT";

#[derive(Parser, Debug)]
#[command(about = "Wake phrase to the meeting assistant's first answer text, on the meeting's realtime channel")]
struct Args {
    #[arg(long)]
    base: String,
    /// File of `<userId> <bearer|apikey> <secret>` lines (the first is used).
    #[arg(long)]
    creds: std::path::PathBuf,
    /// Meetings, one after another.
    #[arg(long, default_value_t = 20)]
    meetings: usize,
    /// Questions per meeting.
    #[arg(long, default_value_t = 10)]
    questions: usize,
    /// Speech said before each question (16-bit mono WAV at `--rate`, ending in a pause).
    #[arg(long)]
    context: std::path::PathBuf,
    /// The question (same format).
    #[arg(long)]
    question: std::path::PathBuf,
    /// What the recogniser makes of `--context`.
    #[arg(long)]
    context_text: String,
    /// What it makes of `--question` (it must start with the wake phrase).
    #[arg(long)]
    question_text: String,
    /// How the model's answer starts (checked in every answer's final).
    #[arg(long, default_value = "")]
    answer_starts_with: String,
    #[arg(long, default_value_t = 16_000)]
    rate: u32,
    #[arg(long, default_value_t = 100)]
    frame_ms: u64,
    /// The longest wait for any one event, seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// One question's times, from the wake phrase's final at the subscriber.
struct Sample {
    checking: Duration,
    first_text: Duration,
    /// Whether the first answer text came as a partial (else the final was the first).
    first_was_partial: bool,
    done: Duration,
}

/// A transcript segment event of the meeting's channel.
struct Seg {
    channel: String,
    text: String,
    partial: bool,
    at: Instant,
}

/// The next `ADD_TRANSCRIPT_SEGMENT` on the realtime socket (other events skipped).
async fn next_segment(rt: &mut Ws, limit: Duration) -> Result<Seg, String> {
    loop {
        let v = next_text(rt, limit).await?;
        let at = Instant::now();
        if v["type"] == "error" {
            return Err(format!("realtime: {v}"));
        }
        let Some(e) = v["event"].as_str().and_then(|e| serde_json::from_str::<Value>(e).ok()) else { continue };
        if e["EventType"] != "ADD_TRANSCRIPT_SEGMENT" {
            continue;
        }
        return Ok(Seg {
            channel: e["Channel"].as_str().unwrap_or_default().to_owned(),
            text: e["Transcript"].as_str().unwrap_or_default().to_owned(),
            partial: e["IsPartial"] != false,
            at,
        });
    }
}

/// Waits for the final of a participant's utterance; it must read `expected`.
async fn participant_final(rt: &mut Ws, expected: &str, limit: Duration) -> Result<Instant, String> {
    loop {
        let s = next_segment(rt, limit).await?;
        if s.channel == ASSISTANT {
            return Err(format!("an assistant segment while waiting for \"{expected}\": {}", s.text));
        }
        if s.partial {
            continue;
        }
        if s.text != expected {
            return Err(format!("final \"{}\", expected \"{expected}\" (is the recogniser's script shifted?)", s.text));
        }
        return Ok(s.at);
    }
}

/// After the wake phrase's final at `wake`: "Checking…", the first answer text, the final.
async fn answer(rt: &mut Ws, wake: Instant, expected: &str, limit: Duration) -> Result<Sample, String> {
    let (mut checking, mut first) = (None, None);
    loop {
        let s = next_segment(rt, limit).await?;
        if s.channel != ASSISTANT {
            return Err(format!("a participant's segment while the assistant answers: {}", s.text));
        }
        let since = s.at.saturating_duration_since(wake);
        if s.text == CHECKING {
            checking.get_or_insert(since);
        } else if first.is_none() {
            first = Some((since, s.partial));
        }
        if !s.partial {
            let (Some(checking), Some((first_text, first_was_partial))) = (checking, first) else {
                return Err(format!("the answer's final came without \"{CHECKING}\" or text first: {}", s.text));
            };
            if !s.text.starts_with(expected) {
                return Err(format!("not the model's answer: {}", s.text));
            }
            return Ok(Sample { checking, first_text, first_was_partial, done: since });
        }
    }
}

/// Streams mono PCM in frames, as fast as the socket takes them.
async fn send_audio(ws: &mut Ws, pcm: &[u8], frame_bytes: usize) -> Result<(), String> {
    for f in pcm.chunks(frame_bytes) {
        ws.send(Message::Binary(f.to_vec().into())).await.map_err(|e| format!("audio: {e}"))?;
    }
    Ok(())
}

fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

struct Audio {
    context: Vec<u8>,
    question: Vec<u8>,
    frame_bytes: usize,
}

/// One meeting: its samples, or the first failure.
async fn meeting(args: &Args, host: &str, c: &Cred, i: usize, audio: &Audio) -> Result<Vec<Sample>, String> {
    let limit = Duration::from_secs(args.timeout);
    let call_id = format!("wake-{i}-{}", uuid::Uuid::now_v7());
    let mut req = format!("ws://{host}/api/v1/ws").into_client_request().map_err(|e| e.to_string())?;
    let (name, value) = c.http_header();
    req.headers_mut().insert(name, value.parse().map_err(|_| "credential")?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| format!("audio socket: {e}"))?;
    let mut rt = realtime(host, c).await?;
    let start = json!({"callEvent": "START", "callId": call_id, "agentId": "Me", "fromNumber": "Them",
                       "toNumber": "wake", "samplingRate": args.rate, "channels": 1});
    ws.send(Message::Text(start.to_string().into())).await.map_err(|e| e.to_string())?;
    let started = next_text(&mut ws, limit).await?;
    let channel = started["meeting"]["channel"].as_str().ok_or(format!("not started: {started}"))?.to_owned();
    subscribe(&mut rt, &channel).await?;
    let mut samples = Vec::with_capacity(args.questions);
    for _ in 0..args.questions {
        send_audio(&mut ws, &audio.context, audio.frame_bytes).await?;
        participant_final(&mut rt, &args.context_text, limit).await?;
        send_audio(&mut ws, &audio.question, audio.frame_bytes).await?;
        let wake = participant_final(&mut rt, &args.question_text, limit).await?;
        samples.push(answer(&mut rt, wake, &args.answer_starts_with, limit).await?);
    }
    ws.send(Message::Text(json!({"callEvent": "END", "callId": call_id}).to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let ended = next_text(&mut ws, limit).await?;
    if ended["type"] != "ended" {
        return Err(format!("end: {ended}"));
    }
    Ok(samples)
}

fn ms(d: f64) -> f64 {
    d / 1e3
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let fail = |e: String| -> ! {
        eprintln!("{e}");
        std::process::exit(2);
    };
    let cred = read_creds(&args.creds)
        .unwrap_or_else(|e| fail(e))
        .into_iter()
        .next()
        .unwrap_or_else(|| fail("no credential".into()));
    let host = args.base.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let audio = Audio {
        context: pcm_bytes(&read_wav(&args.context, args.rate).unwrap_or_else(|e| fail(e))),
        question: pcm_bytes(&read_wav(&args.question, args.rate).unwrap_or_else(|e| fail(e))),
        frame_bytes: (args.rate as usize * args.frame_ms as usize / 1000).max(1) * 2,
    };
    let t0 = Instant::now();
    let (mut samples, mut failures) = (Vec::new(), Vec::new());
    for i in 0..args.meetings {
        match meeting(&args, &host, &cred, i, &audio).await {
            Ok(s) => samples.extend(s),
            Err(e) => failures.push(e),
        }
    }
    let pick = |f: fn(&Sample) -> Duration| summarize(&samples.iter().map(f).collect::<Vec<_>>());
    let (checking, first, done) = (pick(|s| s.checking), pick(|s| s.first_text), pick(|s| s.done));
    let partial_first = samples.iter().filter(|s| s.first_was_partial).count();
    println!(
        "meetings: {} ok, {} failed; questions answered: {} ({:.1} s)",
        args.meetings - failures.len(),
        failures.len(),
        samples.len(),
        t0.elapsed().as_secs_f64()
    );
    for e in failures.iter().take(5) {
        println!("  failure: {e}");
    }
    println!("wake final → \"{CHECKING}\": {}", checking.human());
    println!("wake final → first answer text: {} ({partial_first} as a partial)", first.human());
    println!("wake final → answer's final: {}", done.human());
    println!(
        "WAKE_RESULT meetings={} failed={} answered={} partial_first={partial_first} checking_p50_ms={:.3} checking_p99_ms={:.3} first_p50_ms={:.3} first_p99_ms={:.3} done_p50_ms={:.3} done_p99_ms={:.3} first_max_ms={:.3}",
        args.meetings,
        failures.len(),
        samples.len(),
        ms(checking.median_us),
        ms(checking.p99_us),
        ms(first.median_us),
        ms(first.p99_us),
        ms(done.median_us),
        ms(done.p99_us),
        ms(first.max_us),
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
