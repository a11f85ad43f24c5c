//! Many concurrent chat streams over Rampart's AppSync-Events WebSocket (`/event/realtime`,
//! docs/realtime-protocol.md).
//!
//! Each connection: offers `aws-appsync-event-ws` and `header-<base64url {host, credential}>`,
//! sends `connection_init` (→ `connection_ack`), subscribes to `/out/{userId}/{sessionId}` with
//! a new session id (→ `subscribe_success`). When every connection is ready or has failed, all
//! publish one message to `/in/{userId}/{sessionId}` at once (→ `publish_success`) and read
//! `data` frames (`textDelta`…, then `end`). Connections stay open until every stream has
//! ended, so the server holds all of them at its peak; then all close.
//!
//! Credentials file: one `<userId> <bearer|apikey> <secret>` per line; connection `i` uses
//! line `i mod lines`. Prints a summary, one `WS_RESULT key=value…` line and one `WS_ERROR`
//! line per kind of failure.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool writes its results and errors to the terminal"
)]

use clap::Parser;
use futures::{SinkExt, StreamExt};
use rampart_bench_tools::creds::{Cred, appsync_request, read_creds};
use rampart_bench_tools::summarize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Parser, Debug)]
#[command(about = "Concurrent chat streams over Rampart's /event/realtime WebSocket")]
struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// File of `<userId> <bearer|apikey> <secret>` lines.
    #[arg(long)]
    creds: std::path::PathBuf,
    /// Concurrent connections, one stream each.
    #[arg(long, default_value_t = 1000)]
    conns: usize,
    /// Handshakes in progress at once while connecting.
    #[arg(long, default_value_t = 64)]
    connect_parallel: usize,
    /// The message each connection publishes.
    #[arg(long, default_value = "Say hello.")]
    text: String,
    /// Milliseconds to wait with every connection open before publishing (lets a sampler see
    /// the server holding idle connections).
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
    /// Time limit for each step (connect, ack, subscribe) and for a whole stream, seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Why a connection failed: a short kind (for counting) and one detail.
struct Fail(String, String);

fn fail(kind: &str, detail: impl std::fmt::Display) -> Fail {
    Fail(kind.to_owned(), detail.to_string())
}

/// A finished stream's timings (from sending the publish).
struct Done {
    ack: Duration,
    first_delta: Duration,
    end: Duration,
    deltas: usize,
}

struct Conn {
    ws: Ws,
    user: String,
    sid: String,
    step: Duration,
}

/// The next JSON frame that is not a keep-alive.
async fn next_frame(ws: &mut Ws, limit: Duration, during: &str) -> Result<Value, Fail> {
    loop {
        let m = match tokio::time::timeout(limit, ws.next()).await {
            Err(_) => return Err(fail(&format!("timeout_{during}"), format!("no frame in {limit:?}"))),
            Ok(None) => return Err(fail(&format!("closed_{during}"), "the server closed the connection")),
            Ok(Some(Err(e))) => return Err(fail(&format!("ws_error_{during}"), e)),
            Ok(Some(Ok(m))) => m,
        };
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).map_err(|e| fail("bad_frame", e))?;
            if v["type"] != "ka" {
                return Ok(v);
            }
        }
    }
}

async fn send(ws: &mut Ws, v: Value, during: &str) -> Result<(), Fail> {
    ws.send(Message::Text(v.to_string().into())).await.map_err(|e| fail(&format!("send_{during}"), e))
}

/// `{type}` or, for an error frame, `{type}:{errorType}`.
fn expect(v: &Value, want: &str) -> Result<(), Fail> {
    let t = v["type"].as_str().unwrap_or("?");
    if t == want {
        return Ok(());
    }
    let et = v["errors"][0]["errorType"].as_str().unwrap_or("");
    Err(fail(&format!("{t}:{et}"), v))
}

async fn open(args: &Args, host: &str, cred: &Cred) -> Result<Conn, Fail> {
    let step = Duration::from_secs(args.timeout);
    let req = appsync_request(host, cred).map_err(|e| fail("request", e))?;
    let (mut ws, _) = match tokio::time::timeout(step, tokio_tungstenite::connect_async(req)).await {
        Err(_) => return Err(fail("timeout_connect", "no handshake in time")),
        Ok(Err(e)) => return Err(fail("connect", e)),
        Ok(Ok(c)) => c,
    };
    send(&mut ws, json!({"type": "connection_init"}), "init").await?;
    expect(&next_frame(&mut ws, step, "init").await?, "connection_ack")?;
    let sid = uuid::Uuid::now_v7().to_string();
    let channel = format!("/out/{}/{sid}", cred.user);
    send(&mut ws, json!({"type": "subscribe", "id": "out", "channel": channel}), "subscribe").await?;
    expect(&next_frame(&mut ws, step, "subscribe").await?, "subscribe_success")?;
    Ok(Conn { ws, user: cred.user.clone(), sid, step })
}

async fn stream(c: &mut Conn, text: &str) -> Result<Done, Fail> {
    let started = Instant::now();
    let deadline = started + c.step;
    let event = json!({"payload": {"text": text, "sessionId": c.sid}}).to_string();
    let publish =
        json!({"type": "publish", "id": "in", "channel": format!("/in/{}/{}", c.user, c.sid), "events": [event]});
    send(&mut c.ws, publish, "publish").await?;
    let (mut ack, mut first_delta, mut deltas) = (None, None, 0usize);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = next_frame(&mut c.ws, left, "stream").await?;
        match v["type"].as_str() {
            Some("publish_success") => ack = Some(started.elapsed()),
            Some("data") => {
                let ev: Value =
                    serde_json::from_str(v["event"].as_str().unwrap_or("")).map_err(|e| fail("bad_event", e))?;
                match (ev["content"]["type"].as_str(), ev["action"].as_str()) {
                    (Some("textDelta"), _) => {
                        deltas += 1;
                        first_delta.get_or_insert_with(|| started.elapsed());
                    }
                    (Some("end"), _) => {
                        let end = started.elapsed();
                        let ack = ack.ok_or_else(|| fail("end_before_publish_success", ""))?;
                        let first_delta = first_delta.ok_or_else(|| fail("end_without_text", &ev))?;
                        return Ok(Done { ack, first_delta, end, deltas });
                    }
                    (_, Some("error")) => return Err(fail("stream_error", &ev["data"]["content"])),
                    // Other content (citationEvent, source…) is part of a healthy stream.
                    (Some(_), _) => {}
                    (None, _) => return Err(fail("unexpected_event", &ev)),
                }
            }
            _ => expect(&v, "data")?,
        }
    }
}

/// Where a connection reports: readiness once, then the stream's outcome once.
struct Report {
    ready: mpsc::UnboundedSender<bool>,
    outcome: mpsc::UnboundedSender<Result<Done, Fail>>,
}

/// One connection's life: open, report readiness, wait for `go`, stream, report, then stay
/// open until `close`.
async fn client(
    args: Arc<Args>,
    host: Arc<str>,
    cred: Arc<Cred>,
    gate: Arc<Semaphore>,
    report: Report,
    mut go: watch::Receiver<bool>,
    mut close: watch::Receiver<bool>,
) {
    let opened = {
        match gate.acquire().await {
            Ok(_permit) => open(&args, &host, &cred).await,
            Err(e) => Err(fail("internal", e)),
        }
    };
    let _ = report.ready.send(opened.is_ok());
    let mut c = match opened {
        Ok(c) => c,
        Err(e) => {
            let _ = report.outcome.send(Err(e));
            return;
        }
    };
    if go.wait_for(|g| *g).await.is_err() {
        return;
    }
    let _ = report.outcome.send(stream(&mut c, &args.text).await);
    let _ = close.wait_for(|g| *g).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), c.ws.close(None)).await;
}

fn host_of(base: &str) -> Result<String, String> {
    let rest = base.strip_prefix("http://").ok_or("--base must start with http://")?;
    Ok(rest.trim_end_matches('/').to_owned())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (creds, host) = match (read_creds(&args.creds), host_of(&args.base)) {
        (Ok(c), Ok(h)) => (c, h),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ws-load: {e}");
            std::process::exit(2);
        }
    };
    let n = args.conns;
    let users = creds.len().min(n);
    let creds: Vec<Arc<Cred>> = creds.into_iter().map(Arc::new).collect();
    let args = Arc::new(args);
    let host: Arc<str> = host.into();
    let gate = Arc::new(Semaphore::new(args.connect_parallel.max(1)));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (outcome_tx, mut outcome_rx) = mpsc::unbounded_channel();
    let (go_tx, go_rx) = watch::channel(false);
    let (close_tx, close_rx) = watch::channel(false);
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let cred = creds[i % creds.len()].clone();
        let report = Report { ready: ready_tx.clone(), outcome: outcome_tx.clone() };
        let f = client(args.clone(), host.clone(), cred, gate.clone(), report, go_rx.clone(), close_rx.clone());
        tasks.push(tokio::spawn(f));
    }
    drop((ready_tx, outcome_tx));
    // Each task reports readiness exactly once (and keeps its sender until it closes).
    let mut connected = 0;
    for _ in 0..n {
        match ready_rx.recv().await {
            Some(ok) => connected += usize::from(ok),
            None => break,
        }
    }
    let connect_time = t0.elapsed();
    println!(
        "ws-load: {connected}/{n} connections ready ({users} users) in {:.2} s; publishing on all at once",
        connect_time.as_secs_f64()
    );
    println!("WS_PHASE all_connected");
    tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
    println!("WS_PHASE publishing");
    let t1 = Instant::now();
    let _ = go_tx.send(true);
    let mut done = Vec::with_capacity(n);
    let mut errors: BTreeMap<String, (usize, String)> = BTreeMap::new();
    while let Some(r) = outcome_rx.recv().await {
        match r {
            Ok(d) => done.push(d),
            Err(Fail(kind, detail)) => errors.entry(kind).or_insert((0, detail)).0 += 1,
        }
        if done.len() + errors.values().map(|e| e.0).sum::<usize>() == n {
            break;
        }
    }
    let all_ends = t1.elapsed();
    println!("WS_PHASE all_ended");
    let _ = close_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    print_report(n, connected, users, connect_time, all_ends, &done, &errors);
}

fn print_report(
    n: usize,
    connected: usize,
    users: usize,
    connect_time: Duration,
    all_ends: Duration,
    done: &[Done],
    errors: &BTreeMap<String, (usize, String)>,
) {
    let end = summarize(&done.iter().map(|d| d.end).collect::<Vec<_>>());
    let first = summarize(&done.iter().map(|d| d.first_delta).collect::<Vec<_>>());
    let ack = summarize(&done.iter().map(|d| d.ack).collect::<Vec<_>>());
    let (dmin, dmax) =
        (done.iter().map(|d| d.deltas).min().unwrap_or(0), done.iter().map(|d| d.deltas).max().unwrap_or(0));
    let failed: usize = errors.values().map(|e| e.0).sum();
    println!(
        "streams ended: {}/{n}, failed: {failed}; time from publish to the last end: {:.3} s",
        done.len(),
        all_ends.as_secs_f64()
    );
    println!("publish -> publish_success: {}", ack.human());
    println!("publish -> first textDelta: {}", first.human());
    println!("publish -> end:             {}", end.human());
    println!("textDelta frames per stream: min {dmin}, max {dmax}");
    println!(
        "WS_RESULT conns={n} users={users} connected={connected} ok={} failed={failed} connect_s={:.3} all_ends_s={:.3} \
         end_p50_ms={:.1} end_p99_ms={:.1} end_max_ms={:.1} first_p50_ms={:.1} first_p99_ms={:.1} ack_p50_ms={:.1} ack_p99_ms={:.1} \
         deltas_min={dmin} deltas_max={dmax}",
        done.len(),
        connect_time.as_secs_f64(),
        all_ends.as_secs_f64(),
        end.median_us / 1e3,
        end.p99_us / 1e3,
        end.max_us / 1e3,
        first.median_us / 1e3,
        first.p99_us / 1e3,
        ack.median_us / 1e3,
        ack.p99_us / 1e3,
    );
    for (kind, (count, example)) in errors {
        let example: String = example.chars().take(300).collect();
        println!("WS_ERROR {kind} {count} {example}");
    }
}
