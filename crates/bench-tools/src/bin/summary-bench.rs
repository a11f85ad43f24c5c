//! Meeting summaries of a long transcript (bench/summary.sh): a meeting of `--minutes` of
//! synthetic talk (`--words-per-minute`, a fixed vocabulary, deterministic) is stored through the
//! meetings service (sealed, as any transcript), then summarized `--runs` times the way a meeting
//! end does: the sealed transcript read, the templates in effect, map-reduce within
//! `--context-tokens`, one call per section to `--upstream` (an OpenAI-compatible server, e.g.
//! bench-tools' fake-upstream), the sections sealed and stored. Without `--upstream` the summary
//! is the extractive one. Prints one JSON object: the transcript's size, and per run the wall
//! time and the model calls (map steps among them).

#![expect(clippy::print_stdout, reason = "a command-line tool writes its results to the terminal")]

use clap::Parser;
use rampart_core::{AuthMethod, Principal, Scope};
use rampart_meetings::segment::{ChannelRole, Segment};
use rampart_server::config::{Config, Overrides};
use serde_json::json;
use toml::Value;

#[derive(Parser)]
struct Args {
    /// The OpenAI-compatible base URL (…/v1); none: the extractive summary.
    #[arg(long)]
    upstream: Option<String>,
    #[arg(long, default_value_t = 60)]
    minutes: u32,
    #[arg(long, default_value_t = 150)]
    words_per_minute: u32,
    /// `meetings.summary_context_tokens`.
    #[arg(long, default_value_t = 8192)]
    context_tokens: i64,
    /// `meetings.summary_max_tokens`.
    #[arg(long, default_value_t = 1024)]
    max_tokens: i64,
    /// `meetings.summary_concurrency`.
    #[arg(long, default_value_t = 4)]
    concurrency: i64,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A fresh directory for the data (SQLite); default a new one under the temporary dir.
    #[arg(long)]
    data_dir: Option<String>,
}

const WORDS: &[&str] = &[
    "budget",
    "launch",
    "customer",
    "roadmap",
    "security",
    "review",
    "migration",
    "schedule",
    "team",
    "release",
    "feedback",
    "deadline",
    "vendor",
    "contract",
    "design",
    "testing",
    "hiring",
    "quarter",
    "report",
    "metrics",
    "we",
    "should",
    "will",
    "need",
    "to",
    "the",
    "a",
    "for",
    "on",
    "by",
    "Friday",
    "next",
    "week",
    "agreed",
    "check",
    "send",
    "update",
    "plan",
    "issue",
    "risk",
    "owner",
    "decide",
    "today",
    "and",
    "with",
    "before",
    "after",
];
const SPEAKERS: &[&str] = &["Ana", "Bo", "Cy", "Dee"];

/// `minutes` of talk, one segment of about 12 words every ~5 seconds (xorshift: the same text
/// every run).
fn transcript(minutes: u32, wpm: u32) -> Vec<Segment> {
    let words_total = u64::from(minutes) * u64::from(wpm);
    let per_segment = 12u64;
    let n = words_total.div_ceil(per_segment);
    let secs = f64::from(minutes) * 60.0 / n as f64;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let words: Vec<&str> = (0..per_segment).map(|_| WORDS[(next() % WORDS.len() as u64) as usize]).collect();
            Segment {
                segment_id: format!("b{i}"),
                channel: if i % 3 == 0 { ChannelRole::Agent } else { ChannelRole::Caller },
                speaker: SPEAKERS[(i % SPEAKERS.len() as u64) as usize].to_owned(),
                start_time: i as f64 * secs,
                end_time: (i + 1) as f64 * secs - 0.2,
                transcript: format!("{}.", words.join(" ")),
                is_partial: false,
                sentiment: None,
                sentiment_score: None,
            }
        })
        .collect()
}

fn config(a: &Args, dir: &str) -> anyhow::Result<Config> {
    let mut o = vec![
        ("server.data_dir".to_owned(), Value::String(dir.to_owned())),
        ("access_log.target".to_owned(), Value::String("off".into())),
        ("speech.engine".to_owned(), Value::String("passthrough".into())),
        ("meetings.summary_context_tokens".to_owned(), Value::Integer(a.context_tokens)),
        ("meetings.summary_max_tokens".to_owned(), Value::Integer(a.max_tokens)),
        ("meetings.summary_concurrency".to_owned(), Value::Integer(a.concurrency)),
    ];
    if let Some(u) = &a.upstream {
        let model: toml::Table = toml::from_str(&format!(
            "id = \"bench\"\nprovider = \"openai\"\nbase_url = \"{u}\"\nmodel = \"fake-model\"\nmax_retries = 0"
        ))?;
        let assistant: toml::Table = toml::from_str("id = \"default\"\nkind = \"model\"\nmodel = \"bench\"")?;
        o.push(("models".to_owned(), Value::Array(vec![Value::Table(model)])));
        o.push(("assistants".to_owned(), Value::Array(vec![Value::Table(assistant)])));
    }
    Config::load(None, &[], &Overrides(o))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let dir = a.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rampart-summary-bench-{}", uuid::Uuid::now_v7())).display().to_string()
    });
    let st = rampart_server::build_state(config(&a, &dir)?).await?;
    st.meetings.install_default_templates().await?;
    let meta = rampart_identity::RequestMeta::default();
    let email = "bench-summary@example.com";
    let c = st.identity.create_user(None, email, None, &[], None, &meta).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let p = Principal {
        user_id: c.user.id,
        email: email.to_owned(),
        display_name: "Bench".into(),
        groups: Vec::new(),
        scopes: vec![Scope::Meetings],
        auth_method: AuthMethod::Ticket,
        mfa_enabled: false,
    };
    let segments = transcript(a.minutes, a.words_per_minute);
    let text = rampart_meetings::segment::to_text(&segments);
    let meeting = st.meetings.import(&p, "Benchmark meeting", &segments).await?;
    let mut runs = Vec::new();
    for _ in 0..a.runs {
        let t0 = std::time::Instant::now();
        let r = st.meetings.summarize_now(meeting.key).await?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        runs.push(json!({"wallMs": (ms * 10.0).round() / 10.0, "extractive": r.extractive, "sections": r.sections,
            "modelCalls": r.model_calls, "mapCalls": r.map_calls}));
    }
    st.db.close().await;
    if a.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "{}",
        json!({
            "minutes": a.minutes,
            "segments": segments.len(),
            "words": segments.iter().map(|s| s.transcript.split_whitespace().count()).sum::<usize>(),
            "transcriptChars": text.len(),
            "estimatedTokens": rampart_meetings::summary::generate::tokens(&text),
            "contextTokens": a.context_tokens,
            "maxTokens": a.max_tokens,
            "concurrency": a.concurrency,
            "model": a.upstream.is_some(),
            "runs": runs,
        })
    );
    Ok(())
}
