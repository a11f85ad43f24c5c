//! Seeds a data directory for the meeting search benchmark (bench/meet-search.sh): `--users`
//! users (and one administrator) and `--meetings` finished meetings spread over them, each
//! `--segments` final segments of three speakers, whose words are drawn from a fixed
//! vocabulary with a Zipf-like skew (a few words in most meetings, most words in few), every
//! tenth meeting shared with the next user. Meetings are stored and indexed through the
//! meetings service (`import`: sealed segments and passages, the lexical index),
//! as meetings that ended are. Deterministic for a given `--seed`. Prints
//! `{"password", "users", "admin", "queries"}` as JSON: the queries are words of several
//! frequencies and two-word phrases.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool writes its results and progress to the terminal"
)]

use clap::Parser;
use rampart_core::error::PublicError as _;
use rampart_meetings::segment::{ChannelRole, Segment};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    data_dir: String,
    #[arg(long, default_value_t = 1000)]
    meetings: usize,
    #[arg(long, default_value_t = 10)]
    users: usize,
    #[arg(long, default_value_t = 60)]
    segments: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const PASSWORD: &str = "bench meetings passphrase";

/// Words of meetings: the vocabulary the transcripts are drawn from (most frequent first).
const WORDS: &str = "the we to and a of that is it for on this in be so have you they will our with can \
    just think about need what next week team project customer update plan budget timeline \
    review release roadmap design feature launch meeting question issue risk deadline priority \
    sprint backlog estimate marketing sales revenue quarter target growth pipeline deal contract \
    pricing discount renewal churn onboarding support ticket escalation outage incident postmortem \
    latency database migration deployment infrastructure security audit compliance policy vendor \
    hiring candidate interview offer headcount budgetary forecast invoice payment procurement \
    legal partnership integration api mobile dashboard analytics metrics experiment survey \
    feedback research prototype usability accessibility localization translation documentation \
    training workshop offsite conference webinar newsletter campaign brand logo website blog \
    podcast video social partner reseller channel enterprise startup investor board shareholder \
    acquisition merger valuation runway expense travel equipment laptop license subscription \
    storage network firewall encryption backup recovery failover scaling kubernetes terraform \
    monitoring alerting oncall rotation handover retrospective demo milestone dependency blocker";

/// A small, fast generator (xorshift64*): deterministic data, not secrets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// An index in `0..n`, small ones far more often (the square of a uniform draw).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as usize
    }
}

fn sentence(rng: &mut Rng, words: &[&str]) -> String {
    let n = 8 + rng.below(14);
    let mut s: Vec<&str> = (0..n).map(|_| words[rng.skewed(words.len())]).collect();
    let first = s[0].to_owned();
    let mut out = first[..1].to_uppercase() + &first[1..];
    s.remove(0);
    for w in s {
        out.push(' ');
        out.push_str(w);
    }
    out.push('.');
    out
}

fn transcript(rng: &mut Rng, words: &[&str], n: usize) -> Vec<Segment> {
    let speakers = ["Ana", "Bo", "Me"];
    let (mut t, mut who) = (0.0, 0);
    (0..n)
        .map(|i| {
            if rng.below(3) == 0 {
                who = (who + 1 + rng.below(2)) % speakers.len();
            }
            let text = sentence(rng, words);
            let len = 2.0 + text.len() as f64 / 15.0;
            let s = Segment {
                segment_id: format!("s{i}"),
                channel: if speakers[who] == "Me" { ChannelRole::Agent } else { ChannelRole::Caller },
                speaker: speakers[who].into(),
                start_time: t,
                end_time: t + len,
                transcript: text,
                is_partial: false,
                sentiment: None,
                sentiment_score: None,
            };
            t += len + 0.5;
            s
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let st = rampart_bench_tools::seeding_state(&a.data_dir).await?;
    let meta = rampart_identity::RequestMeta::default();
    let err = |e: rampart_identity::IdentityError| anyhow::anyhow!("{}", e.public_message());
    let admin = "bench-admin@example.com";
    st.identity.create_user(None, admin, Some(PASSWORD), &["admin".to_owned()], None, &meta).await.map_err(err)?;
    let mut users = Vec::new();
    for i in 0..a.users.max(1) {
        let email = format!("meet{i}@example.com");
        let c = st.identity.create_user(None, &email, Some(PASSWORD), &[], None, &meta).await.map_err(err)?;
        users.push((email, principal(&c.user)));
    }
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut rng = Rng(a.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let started = std::time::Instant::now();
    for i in 0..a.meetings {
        let (_, owner) = &users[i % users.len()];
        let segs = transcript(&mut rng, &words, a.segments);
        let title = format!("{} {} #{i}", words[20 + rng.below(40)], words[60 + rng.below(60)]);
        let m = st.meetings.import(owner, &title, &segs).await?;
        if i % 10 == 0 {
            let next = (i + 1) % users.len();
            st.db.share_meeting(m.key, &[users[next].1.user_id], st.identity.now()).await?;
        }
    }
    eprintln!("seeded {} meetings in {:.1} s", a.meetings, started.elapsed().as_secs_f64());
    st.db.close().await;
    let queries = ["budget", "kubernetes failover", "customer renewal pricing", "postmortem", "\"release timeline\""];
    let emails: Vec<&str> = users.iter().map(|u| u.0.as_str()).collect();
    println!("{}", serde_json::json!({"password": PASSWORD, "users": emails, "admin": admin, "queries": queries}));
    Ok(())
}

/// The principal of a user made here (meetings are imported as them).
fn principal(u: &rampart_storage::repo::users::UserRecord) -> rampart_core::Principal {
    rampart_core::Principal {
        user_id: u.id,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        groups: Vec::new(),
        scopes: rampart_core::Scope::ALL.to_vec(),
        auth_method: rampart_core::AuthMethod::Session { family: rampart_core::TokenFamilyId::new() },
        mfa_enabled: false,
    }
}
