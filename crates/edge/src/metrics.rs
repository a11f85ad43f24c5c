//! Refusal and detection counters by rule, for `/metrics` and tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default, Debug)]
pub struct EdgeMetrics {
    /// (rule, refused) → count. `refused = false`: matched in count mode, let through.
    counts: Mutex<BTreeMap<(&'static str, bool), u64>>,
}

impl EdgeMetrics {
    pub fn count(&self, rule: &'static str, refused: bool) {
        let mut m = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.entry((rule, refused)).or_default() += 1;
    }

    /// Refusals of `rule` so far.
    pub fn refused(&self, rule: &str) -> u64 {
        self.get(rule, true)
    }

    /// Count-mode matches of `rule` so far.
    pub fn matched(&self, rule: &str) -> u64 {
        self.get(rule, false)
    }

    fn get(&self, rule: &str, refused: bool) -> u64 {
        let m = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.iter().filter(|((r, f), _)| *r == rule && *f == refused).map(|(_, n)| *n).sum()
    }

    /// Every counter: (rule, refused, count).
    pub fn snapshot(&self) -> Vec<(&'static str, bool, u64)> {
        let m = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.iter().map(|((r, f), n)| (*r, *f, *n)).collect()
    }
}
