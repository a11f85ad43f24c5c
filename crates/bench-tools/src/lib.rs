//! Load-test tools for `bench/` (not part of the server): `fake-upstream` (a fast
//! OpenAI-compatible model server), `ttft` (time to first token over sequential streaming
//! requests), `ws-load` (many concurrent chat streams over `/event/realtime`), `meet-load` (live
//! meetings over the audio socket), `wake-latency` (the meeting assistant's answer to the wake
//! phrase, on the meeting's channel), `kb-load` and
//! `waf-eval` (through a running server's API), `ir-eval` (Rampart's indexes in process), and
//! the seeders `seed-web` and `seed-meetings` (a data dir filled in process, before a server
//! opens it).
//!
//! The tools that measure a running server speak the public wire protocols only, so they measure
//! it as a client sees it; only `ir-eval` and the seeders link Rampart's crates.

pub mod beir;
pub mod creds;
pub mod live;
pub mod sse;

use std::time::Duration;

/// The server's state over `data_dir`, for a seeder to write into before any server runs; the
/// users it makes get a cheap password hash (their sign-in is not what is measured).
pub async fn seeding_state(data_dir: &str) -> anyhow::Result<rampart_server::state::AppState> {
    use toml::Value;
    let o = vec![
        ("server.data_dir".to_owned(), Value::String(data_dir.to_owned())),
        ("auth.argon2.memory_kib".to_owned(), Value::Integer(8192)),
        ("auth.argon2.iterations".to_owned(), Value::Integer(1)),
    ];
    let cfg = rampart_server::config::Config::load(None, &[], &rampart_server::config::Overrides(o))?;
    rampart_server::build_state(cfg).await
}

/// Latency figures of one series, in microseconds (nearest-rank percentiles).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

/// The nearest-rank percentile `p` (0-100) of sorted samples.
fn nearest_rank(sorted: &[Duration], p: f64) -> Duration {
    let n = sorted.len();
    // Rank ceil(p/100 · n), 1-based, clamped to [1, n].
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median, p90, p99, max and mean of `samples` (empty: all zero).
pub fn summarize(samples: &[Duration]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    let total: Duration = s.iter().sum();
    Summary {
        n: s.len(),
        median_us: micros(nearest_rank(&s, 50.0)),
        p90_us: micros(nearest_rank(&s, 90.0)),
        p99_us: micros(nearest_rank(&s, 99.0)),
        max_us: micros(s[s.len() - 1]),
        mean_us: micros(total) / s.len() as f64,
    }
}

impl Summary {
    /// `median 1.234 ms, p90 …` with microsecond precision.
    pub fn human(&self) -> String {
        format!(
            "median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms (n={})",
            self.median_us / 1e3,
            self.p90_us / 1e3,
            self.p99_us / 1e3,
            self.max_us / 1e3,
            self.mean_us / 1e3,
            self.n
        )
    }

    /// `median_us p90_us p99_us max_us`, whole microseconds, for scripts.
    pub fn fields(&self) -> String {
        format!("{:.0} {:.0} {:.0} {:.0}", self.median_us, self.p90_us, self.p99_us, self.max_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = summarize(&ms(&(1..=100).collect::<Vec<_>>()));
        assert_eq!((s.median_us, s.p90_us, s.p99_us, s.max_us), (50e3, 90e3, 99e3, 100e3));
        let s = summarize(&ms(&[5, 1, 3]));
        assert_eq!((s.n, s.median_us, s.p99_us, s.mean_us), (3, 3e3, 5e3, 3e3));
        assert_eq!(summarize(&[]), Summary::default());
        assert_eq!(summarize(&ms(&[7])).fields(), "7000 7000 7000 7000");
    }
}
