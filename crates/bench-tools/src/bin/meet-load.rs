//! Many live meetings at once through Rampart's audio WebSocket (`/api/v1/ws`, LMA's protocol),
//! each followed on its realtime channel (`/meetings/{key}`) by a subscriber of the same user.
//!
//! Each meeting: opens the audio socket (Bearer header), sends `START` (two channels), reads
//! `started`, subscribes on the realtime socket to the meeting's channel, then streams `--secs`
//! of two-channel PCM at real-time pace in `--frame-ms` frames, and `END`. With the server's
//! pass-through recogniser (`speech.engine = "passthrough"`, `passthrough_interval = --interval`)
//! the final segment of utterance k of a channel is due the moment the sample at
//! `(k + 1) × interval` arrives: the time from sending the frame that holds it to the subscriber
//! receiving the segment is the pipeline's added latency (recogniser → storage → hub → socket),
//! network included. Afterwards the stored transcript is read: every final received must be
//! stored. Prints a summary and one `MEET_RESULT key=value…` line.
//!
//! With `--wav FILE` (16-bit mono speech, e.g. flite's) the meetings carry that speech instead
//! of a tone — channel 0 the file, channel 1 the file rotated by half its length, so both
//! channels speak, partly at once — for a real recogniser. The latency is then from the end of
//! each utterance (its final segment's `EndTime`, on the meeting's clock) to the subscriber
//! receiving that final: the end of speech to the text on screen, which grows without bound
//! once the recogniser falls behind real time.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool writes its results and errors to the terminal"
)]

use clap::Parser;
use futures::SinkExt;
use rampart_bench_tools::creds::{Cred, read_creds};
use rampart_bench_tools::live::{next_text, read_wav, realtime, subscribe};
use rampart_bench_tools::summarize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser, Debug)]
#[command(about = "Concurrent live meetings over Rampart's audio WebSocket, followed on their channels")]
struct Args {
    #[arg(long)]
    base: String,
    /// File of `<userId> <bearer|apikey> <secret>` lines; meeting `i` uses line `i mod lines`.
    #[arg(long)]
    creds: std::path::PathBuf,
    #[arg(long, default_value_t = 200)]
    meetings: usize,
    /// Seconds of audio per meeting.
    #[arg(long, default_value_t = 30.0)]
    secs: f64,
    #[arg(long, default_value_t = 16_000)]
    rate: u32,
    #[arg(long, default_value_t = 100)]
    frame_ms: u64,
    /// The server's `speech.passthrough_interval`, seconds.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Speech to stream instead of a tone: a 16-bit mono WAV at `--rate` (`--secs` is ignored).
    #[arg(long)]
    wav: Option<std::path::PathBuf>,
    /// Seconds between meeting starts (spreads the handshakes).
    #[arg(long, default_value_t = 0.01)]
    stagger: f64,
}

/// One meeting's outcome.
#[derive(Default)]
struct Outcome {
    finals_received: usize,
    finals_stored: usize,
    latencies: Vec<Duration>,
    error: Option<String>,
}

/// The two-channel audio of each meeting, in frames: `secs` of a tone, or the speech of `wav`.
fn audio(args: &Args) -> Result<Vec<Vec<u8>>, String> {
    let (ch0, ch1) = match &args.wav {
        None => {
            let n = (f64::from(args.rate) * args.secs) as usize;
            let tone: Vec<i16> = (0..n).map(|i| ((i as f32 * 0.03).sin() * 3000.0) as i16).collect();
            let half = tone.iter().map(|v| v / 2).collect();
            (tone, half)
        }
        Some(path) => {
            let speech = read_wav(path, args.rate)?;
            let mut rotated = speech.clone();
            rotated.rotate_left(speech.len() / 2);
            (speech, rotated)
        }
    };
    let mut pcm = Vec::with_capacity(ch0.len() * 4);
    for (a, b) in ch0.iter().zip(&ch1) {
        pcm.extend_from_slice(&a.to_le_bytes());
        pcm.extend_from_slice(&b.to_le_bytes());
    }
    let per = (args.rate as usize * args.frame_ms as usize / 1000) * 4;
    Ok(pcm.chunks(per).map(<[u8]>::to_vec).collect())
}

async fn meeting(args: Arc<Args>, host: String, c: Arc<Cred>, i: usize, frames: Arc<Vec<Vec<u8>>>) -> Outcome {
    let mut out = Outcome::default();
    if let Err(e) = run(&args, &host, &c, i, &frames, &mut out).await {
        out.error = Some(e);
    }
    out
}

async fn run(args: &Args, host: &str, c: &Cred, i: usize, frames: &[Vec<u8>], out: &mut Outcome) -> Result<(), String> {
    let call_id = format!("meet-load-{i}-{}", uuid::Uuid::now_v7());
    let mut req = format!("ws://{host}/api/v1/ws").into_client_request().map_err(|e| e.to_string())?;
    let (name, value) = c.http_header();
    req.headers_mut().insert(name, value.parse().map_err(|_| "credential")?);
    let (mut audio_ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| format!("audio socket: {e}"))?;
    let mut rt = realtime(host, c).await?;
    let start = json!({"callEvent": "START", "callId": call_id, "agentId": "Me", "fromNumber": "Them",
                       "toNumber": "load", "samplingRate": args.rate, "channels": 2});
    audio_ws.send(Message::Text(start.to_string().into())).await.map_err(|e| e.to_string())?;
    let started = next_text(&mut audio_ws, Duration::from_secs(30)).await?;
    let channel = started["meeting"]["channel"].as_str().ok_or(format!("not started: {started}"))?.to_owned();
    subscribe(&mut rt, &channel).await?;
    // The subscriber: finals with the time they arrived.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(f64, Instant)>();
    let reader = tokio::spawn(async move {
        while let Ok(v) = next_text(&mut rt, Duration::from_secs(120)).await {
            let Some(e) = v["event"].as_str().and_then(|e| serde_json::from_str::<Value>(e).ok()) else { continue };
            if e["EventType"] == "ADD_TRANSCRIPT_SEGMENT" && e["IsPartial"] == false {
                let _ = tx.send((e["EndTime"].as_f64().unwrap_or(0.0), Instant::now()));
            }
            if e["EventType"] == "END" {
                break;
            }
        }
    });
    let t0 = Instant::now();
    let frame = Duration::from_millis(args.frame_ms);
    let mut sent_at = Vec::with_capacity(frames.len());
    for (n, f) in frames.iter().enumerate() {
        tokio::time::sleep_until((t0 + frame * n as u32).into()).await;
        sent_at.push(Instant::now());
        audio_ws.send(Message::Binary(f.clone().into())).await.map_err(|e| format!("audio: {e}"))?;
    }
    audio_ws
        .send(Message::Text(json!({"callEvent": "END", "callId": call_id}).to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let ended = next_text(&mut audio_ws, Duration::from_secs(300)).await?;
    if ended["type"] != "ended" {
        return Err(format!("end: {ended}"));
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), reader).await;
    let secs_per_frame = args.frame_ms as f64 / 1000.0;
    while let Ok((end_time, at)) = rx.try_recv() {
        out.finals_received += 1;
        if args.wav.is_some() {
            // Speech: from the end of the utterance, on the meeting's clock, to the final.
            let spoken = t0 + Duration::from_secs_f64(end_time.max(0.0));
            out.latencies.push(at.saturating_duration_since(spoken));
            continue;
        }
        // Finals that close a whole interval are due when the frame holding that sample was sent.
        let k = (end_time / args.interval).round();
        if (end_time - k * args.interval).abs() < 1e-6 && k > 0.0 {
            let idx = ((k * args.interval / secs_per_frame).ceil() as usize).saturating_sub(1);
            if let Some(sent) = sent_at.get(idx) {
                out.latencies.push(at.saturating_duration_since(*sent));
            }
        }
    }
    let url = format!("http://{host}/v1/meetings/{}/transcript", percent(&call_id));
    let tr: Value = reqwest::Client::new()
        .get(url)
        .header(name, value)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    out.finals_stored = tr["segments"].as_array().map_or(0, Vec::len);
    Ok(())
}

fn percent(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let creds: Vec<Arc<Cred>> = match read_creds(&args.creds) {
        Ok(c) => c.into_iter().map(Arc::new).collect(),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let host = args.base.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let frames = match audio(&args) {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.meetings {
        let (a, h, c, f) = (args.clone(), host.clone(), creds[i % creds.len()].clone(), frames.clone());
        tasks.push(tokio::spawn(meeting(a, h, c, i, f)));
        tokio::time::sleep(Duration::from_secs_f64(args.stagger)).await;
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap_or_else(|e| Outcome { error: Some(e.to_string()), ..Default::default() }));
    }
    let failed: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    let received: usize = outcomes.iter().map(|o| o.finals_received).sum();
    let stored: usize = outcomes.iter().map(|o| o.finals_stored).sum();
    // With speech, what is due is not known in advance: every final received must be stored.
    let expected = if args.wav.is_some() {
        received
    } else {
        (args.meetings - failed.len()) * 2 * (args.secs / args.interval).ceil() as usize
    };
    let lat: Vec<Duration> = outcomes.iter().flat_map(|o| o.latencies.iter().copied()).collect();
    let s = summarize(&lat);
    println!(
        "meetings: {} ok, {} failed ({:.1} s)",
        args.meetings - failed.len(),
        failed.len(),
        t0.elapsed().as_secs_f64()
    );
    for e in failed.iter().take(5) {
        println!("  failure: {e}");
    }
    println!("final segments: expected {expected}, received live {received}, stored {stored}");
    let what = if args.wav.is_some() { "end of utterance" } else { "frame sent" };
    println!("latency, {what} → final segment at the subscriber: {}", s.human());
    println!(
        "MEET_RESULT meetings={} failed={} expected={expected} received={received} stored={stored} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        args.meetings,
        failed.len(),
        s.median_us / 1e3,
        s.p99_us / 1e3,
        s.max_us / 1e3
    );
}
