//! BEIR datasets (`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`) and the two measures the
//! retrieval benchmarks report: nDCG@10 and recall@100.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
pub struct Doc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

#[derive(Deserialize)]
struct Query {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// Graded judgements of one query: corpus id → relevance.
pub type Judgements = HashMap<String, u32>;

pub struct Dataset {
    pub docs: Vec<Doc>,
    /// Query id → text.
    pub queries: HashMap<String, String>,
    /// Query id → judgements (the test split).
    pub qrels: HashMap<String, Judgements>,
}

impl Dataset {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(name).display()))
        };
        let docs = jsonl(&read("corpus.jsonl")?)?;
        let queries = jsonl::<Query>(&read("queries.jsonl")?)?.into_iter().map(|q| (q.id, q.text)).collect();
        let mut qrels: HashMap<String, Judgements> = HashMap::new();
        for line in read("qrels/test.tsv")?.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() == 3 {
                qrels.entry(f[0].to_owned()).or_default().insert(f[1].to_owned(), f[2].trim().parse().unwrap_or(0));
            }
        }
        Ok(Self { docs, queries, qrels })
    }

    /// The judged queries that have a text, in a stable order.
    pub fn test_queries(&self) -> Vec<&String> {
        let mut q: Vec<&String> = self.qrels.keys().filter(|q| self.queries.contains_key(*q)).collect();
        q.sort();
        q
    }
}

fn jsonl<T: for<'de> Deserialize<'de>>(text: &str) -> anyhow::Result<Vec<T>> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| Ok(serde_json::from_str(l)?)).collect()
}

/// nDCG@10 of a ranking (corpus ids, best first; `None` for results that are not in the
/// judged corpus).
pub fn ndcg_at_10(ranked: &[Option<&str>], rel: &Judgements) -> f64 {
    let gain = |id: Option<&str>| id.and_then(|i| rel.get(i)).copied().unwrap_or(0) as f64;
    let dcg: f64 = ranked.iter().take(10).enumerate().map(|(i, id)| gain(*id) / ((i + 2) as f64).log2()).sum();
    let mut ideal: Vec<f64> = rel.values().map(|v| *v as f64).collect();
    ideal.sort_by(|x, y| y.total_cmp(x));
    let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| g / ((i + 2) as f64).log2()).sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// Share of the relevant documents found in the first 100 results.
pub fn recall_at_100(ranked: &[Option<&str>], rel: &Judgements) -> f64 {
    let relevant: HashSet<&str> = rel.iter().filter(|(_, v)| **v > 0).map(|(k, _)| k.as_str()).collect();
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranked.iter().take(100).flatten().filter(|id| relevant.contains(*id)).count();
    found as f64 / relevant.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_match_hand_computed_values() {
        let rel: Judgements = [("a".to_owned(), 1), ("b".to_owned(), 1)].into();
        assert!((ndcg_at_10(&[Some("a"), Some("b")], &rel) - 1.0).abs() < 1e-9);
        // One relevant at rank 2 of two: (1/log2 3) / (1 + 1/log2 3).
        let want = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at_10(&[None, Some("b")], &rel) - want).abs() < 1e-9);
        assert!((recall_at_100(&[Some("x"), Some("b")], &rel) - 0.5).abs() < 1e-9);
        assert_eq!(ndcg_at_10(&[], &Judgements::new()), 0.0);
    }
}
