//! waf-eval: detection and false-positive rates of a running Rampart's edge, over the network.
//!
//! 1. The OWASP CRS regression tests (`../shared/data/crs/*.jsonl`: the exact request bytes of
//!    each test): each one is written as is to a fresh TCP connection and counted as *refused* when
//!    the answer is `403` with code `waf_blocked`. A `400` from the HTTP parser (a request hyper
//!    cannot read) is reported apart. Detection = refused positives; false positives = refused
//!    negatives.
//! 2. Benign text (BEIR SciFact queries and abstract sentences): each one sent as a query
//!    parameter (`GET /waf-probe?q=…`) and as a JSON string (`POST /waf-probe {"text": …}`);
//!    every refusal is a false positive.
//!
//! Usage: waf-eval --addr 127.0.0.1:8080 [--crs FILE] [--benign DIR] [--missed FILE]

#![expect(clippy::print_stdout, reason = "a command-line tool writes its results and errors to the terminal")]

use base64::Engine;
use clap::Parser;
use rampart_bench_tools::beir::Dataset;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
struct Args {
    /// The server, host:port.
    #[arg(long)]
    addr: String,
    #[arg(long, default_value = "../shared/data/crs/crs-v4.28.0-941-942.jsonl")]
    crs: String,
    /// A BEIR directory (queries.jsonl, corpus.jsonl) for the false-positive run; empty: skip.
    #[arg(long, default_value = "../shared/data/beir-scifact")]
    benign: String,
    /// How many abstract sentences to send (besides every query).
    #[arg(long, default_value_t = 5000)]
    sentences: usize,
    /// Write the missed positives and refused negatives here.
    #[arg(long)]
    missed: Option<String>,
}

#[derive(Deserialize)]
struct Test {
    rule: String,
    paranoia_level: u8,
    test: String,
    kind: String,
    raw_request_b64: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Refused,
    ParserRejected,
    Passed,
    OtherRefusal(u16),
}

async fn send_raw(addr: &str, raw: &[u8]) -> anyhow::Result<(u16, String)> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await??;
    s.set_nodelay(true)?;
    s.write_all(raw).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head and a little body; the server may keep the connection open.
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0usize);
            if buf.len() >= i + 4 + len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text))
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn outcome(status: u16, text: &str) -> Outcome {
    match status {
        403 if text.contains("\"waf_blocked\"") => Outcome::Refused,
        400 if !text.contains("\"code\"") => Outcome::ParserRejected,
        s if s >= 400 && s != 404 && s != 405 => Outcome::OtherRefusal(s),
        _ => Outcome::Passed,
    }
}

/// Makes the raw request safe to replay against our server: `Host` as given is kept (the
/// server does not route by host); `Connection: close` so the answer ends the stream.
fn prepare(raw: &[u8]) -> Vec<u8> {
    let Some(i) = find(raw, b"\r\n\r\n") else { return raw.to_vec() };
    let head = String::from_utf8_lossy(&raw[..i]);
    let mut out = String::new();
    for (n, line) in head.split("\r\n").enumerate() {
        if n > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut v = out.into_bytes();
    v.extend_from_slice(&raw[i + 4..]);
    v
}

#[derive(Default)]
struct Tally {
    n: usize,
    refused: usize,
    parser: usize,
    other: usize,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        self.n += 1;
        match o {
            Outcome::Refused => self.refused += 1,
            Outcome::ParserRejected => self.parser += 1,
            Outcome::OtherRefusal(_) => self.other += 1,
            Outcome::Passed => {}
        }
    }
    fn pct(&self) -> f64 {
        if self.n == 0 { 0.0 } else { 100.0 * self.refused as f64 / self.n as f64 }
    }
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split(". ").map(str::trim).filter(|s| s.len() >= 20)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut missed = Vec::new();
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let started = Instant::now();
    let data = std::fs::read_to_string(&a.crs)?;
    let mut count = 0usize;
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let t: Test = serde_json::from_str(line)?;
        let raw = base64::engine::general_purpose::STANDARD.decode(&t.raw_request_b64)?;
        let (status, text) = send_raw(&a.addr, &prepare(&raw)).await?;
        let o = outcome(status, &text);
        count += 1;
        let family = &t.rule[..3];
        let pl = if t.paranoia_level == 1 { "PL1" } else { "PL2+" };
        groups.entry(format!("{family} {} {pl}", t.kind)).or_default().add(o);
        groups.entry(format!("{family} {} all", t.kind)).or_default().add(o);
        if t.kind == "positive" && t.paranoia_level == 1 {
            let e = by_rule.entry(t.rule.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(o == Outcome::Refused);
        }
        let wrong = (t.kind == "positive" && o != Outcome::Refused) || (t.kind == "negative" && o == Outcome::Refused);
        if wrong {
            let first =
                String::from_utf8_lossy(&raw).lines().next().unwrap_or("").chars().take(160).collect::<String>();
            missed.push(format!("{} {} #{} PL{} {:?}: {first}", t.kind, t.rule, t.test, t.paranoia_level, o));
        }
    }
    let crs_secs = started.elapsed().as_secs_f64();
    println!("CRS regression tests: {count} requests in {crs_secs:.1} s");
    println!();
    println!("| group | tests | refused (waf_blocked) | rate | HTTP parser 400 | other 4xx |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (g, t) in &groups {
        println!("| {g} | {} | {} | {:.1}% | {} | {} |", t.n, t.refused, t.pct(), t.parser, t.other);
    }
    let pos_pl1: (usize, usize) = by_rule.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!();
    println!(
        "PL1 positives refused: {} / {} = {:.1}% (ModSecurity + CRS 4.28 at PL1: 507 / 507)",
        pos_pl1.1,
        pos_pl1.0,
        100.0 * pos_pl1.1 as f64 / pos_pl1.0.max(1) as f64
    );
    let weak: Vec<String> =
        by_rule.iter().filter(|(_, (n, r))| r < n).map(|(k, (n, r))| format!("{k} {r}/{n}")).collect();
    println!("PL1 rules not fully covered: {}", weak.join(", "));

    if !a.benign.is_empty() {
        let data = Dataset::load(std::path::Path::new(&a.benign))?;
        let mut texts: Vec<String> = data.queries.values().cloned().collect();
        texts.sort();
        let nq = texts.len();
        let sentences = data.docs.iter().flat_map(|d| sentences(&d.text)).take(a.sentences).map(str::to_owned);
        texts.extend(sentences);
        let mut as_query = Tally::default();
        let mut as_json = Tally::default();
        let t0 = Instant::now();
        for t in &texts {
            let enc: String = url::form_urlencoded::byte_serialize(t.as_bytes()).collect();
            let raw = format!(
                "GET /waf-probe?q={enc} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: waf-eval\r\nConnection: close\r\n\r\n"
            );
            let (s, text) = send_raw(&a.addr, raw.as_bytes()).await?;
            let o = outcome(s, &text);
            as_query.add(o);
            if o == Outcome::Refused {
                missed.push(format!("benign query refused: {}", t.chars().take(200).collect::<String>()));
            }
            let body = serde_json::json!({ "text": t }).to_string();
            let raw = format!(
                "POST /waf-probe HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let (s, text) = send_raw(&a.addr, raw.as_bytes()).await?;
            let o = outcome(s, &text);
            as_json.add(o);
            if o == Outcome::Refused {
                missed.push(format!("benign JSON refused: {}", t.chars().take(200).collect::<String>()));
            }
        }
        println!();
        println!(
            "Benign text ({nq} SciFact queries + {} abstract sentences), {:.1} s:",
            texts.len() - nq,
            t0.elapsed().as_secs_f64()
        );
        println!();
        println!("| sent as | texts | refused (false positives) | rate |");
        println!("|---|---:|---:|---:|");
        println!("| query parameter | {} | {} | {:.2}% |", as_query.n, as_query.refused, as_query.pct());
        println!("| JSON string | {} | {} | {:.2}% |", as_json.n, as_json.refused, as_json.pct());
    }
    if let Some(p) = a.missed {
        let mut f = std::fs::File::create(&p)?;
        for m in &missed {
            writeln!(f, "{m}")?;
        }
        println!();
        println!("missed positives, refused negatives and false positives: {p} ({} lines)", missed.len());
    }
    Ok(())
}
