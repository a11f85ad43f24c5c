//! Time to first token: sends N streaming chat completions one after another to an
//! OpenAI-compatible base URL and measures, per request, the time from sending until the first
//! SSE event whose `choices[0].delta.content` is non-empty, and until `data: [DONE]`.
//!
//! One keep-alive client per run (connections reused, as an SDK would); warm-up requests are
//! not counted. Prints a human summary and one `TTFT_RESULT` line for scripts:
//! `TTFT_RESULT <n> <errors> <ttft median p90 p99 max µs> <total median p90 p99 max µs> <chunks>`
//! where `chunks` is the smallest number of content chunks any counted stream carried.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool writes its results and errors to the terminal"
)]

use clap::Parser;
use rampart_bench_tools::sse::SseReader;
use rampart_bench_tools::summarize;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Time to first token over sequential streaming chat completions")]
struct Args {
    /// Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1
    #[arg(long)]
    base_url: String,
    /// Sent as `Authorization: Bearer <key>` (read from the environment so it stays off argv).
    #[arg(long, env = "TTFT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    #[arg(long, default_value = "fake")]
    model: String,
    /// Counted requests.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Requests sent first and not counted.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    #[arg(long, default_value = "Say hello.")]
    prompt: String,
    /// Per-request time limit, seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// A name printed with the results.
    #[arg(long, default_value = "")]
    label: String,
}

/// One stream's timings and how many content chunks it carried.
struct Sample {
    ttft: Duration,
    total: Duration,
    chunks: usize,
}

fn has_content(data: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["choices"][0]["delta"]["content"].as_str().map(|s| !s.is_empty()))
        .unwrap_or(false)
}

async fn one(client: &reqwest::Client, url: &str, args: &Args, body: &str) -> Result<Sample, String> {
    let started = Instant::now();
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(body.to_owned());
    if let Some(k) = &args.api_key {
        req = req.bearer_auth(k);
    }
    let mut resp = req.send().await.map_err(|e| format!("request: {e}"))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        return Err(format!("status {status}: {}", text.chars().take(200).collect::<String>()));
    }
    let mut sse = SseReader::default();
    let (mut ttft, mut chunks) = (None, 0usize);
    loop {
        let Some(bytes) = resp.chunk().await.map_err(|e| format!("body: {e}"))? else {
            return Err("the stream ended without data: [DONE]".into());
        };
        sse.push(&bytes);
        while let Some(data) = sse.next_data() {
            if data.trim() == "[DONE]" {
                let total = started.elapsed();
                let ttft = ttft.ok_or("no content before [DONE]")?;
                return Ok(Sample { ttft, total, chunks });
            }
            if has_content(&data) {
                chunks += 1;
                ttft.get_or_insert_with(|| started.elapsed());
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let url = format!("{}/chat/completions", args.base_url.trim_end_matches('/'));
    let body = serde_json::json!({"model": args.model, "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": args.prompt}]})
    .to_string();
    let client = match reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(args.timeout))
        .pool_max_idle_per_host(1)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ttft: http client: {e}");
            std::process::exit(2);
        }
    };
    let mut samples = Vec::with_capacity(args.requests);
    let mut errors = 0usize;
    let mut first_error = None;
    for i in 0..args.warmup + args.requests {
        match one(&client, &url, &args, &body).await {
            Ok(s) if i >= args.warmup => samples.push(s),
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = &first_error {
        eprintln!("ttft {}: {errors} failed request(s), the first: {e}", args.label);
    }
    let ttft = summarize(&samples.iter().map(|s| s.ttft).collect::<Vec<_>>());
    let total = summarize(&samples.iter().map(|s| s.total).collect::<Vec<_>>());
    let chunks = samples.iter().map(|s| s.chunks).min().unwrap_or(0);
    println!("{} time to first token: {}", args.label, ttft.human());
    println!("{} time to [DONE]:      {}", args.label, total.human());
    println!("TTFT_RESULT {} {errors} {} {} {chunks}", samples.len(), ttft.fields(), total.fields());
    if samples.is_empty() {
        std::process::exit(1);
    }
}
