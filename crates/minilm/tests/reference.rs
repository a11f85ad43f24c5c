//! Our vectors against reference vectors of all-MiniLM-L6-v2 (`reference.json`, made by
//! `make_reference.py` with bench/embed-server's implementation): the same token ids, cosine ≥
//! 0.999 for every text (long ones truncated at 256 tokens, empty ones, accents, CJK, emoji),
//! batches that pad give the vectors of texts alone, and the `Embedder` port. Needs the model
//! (`RAMPART_TEST_MINILM_MODEL`, set by `make test`); without it the tests print SKIPPED.

#![expect(clippy::unwrap_used, clippy::print_stderr, reason = "tests")]

use rampart_core::embed::{EmbedPurpose, Embedder};
use rampart_minilm::{LocalMiniLm, MAX_TOKENS, MiniLm, installed};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("reference.json")).unwrap()
}

fn model_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RAMPART_TEST_MINILM_MODEL").map(PathBuf::from).filter(|d| installed(d));
    if dir.is_none() {
        eprintln!("SKIPPED {test}: needs RAMPART_TEST_MINILM_MODEL (make test sets it; make minilm-model)");
    }
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn tokens_and_vectors_match_the_reference() {
    let Some(dir) = model_dir("tokens_and_vectors_match_the_reference") else { return };
    let m = MiniLm::load(&dir).unwrap();
    let r = reference();
    assert_eq!(m.dims(), 384);
    assert_eq!(m.tokenize(&r.texts).unwrap(), r.ids, "WordPiece ids");
    assert!(r.ids.iter().any(|ids| ids.len() == MAX_TOKENS), "a text was truncated");
    // One at a time, then all together (padded to 256): both match.
    for (i, text) in r.texts.iter().enumerate() {
        let v = m.embed(std::slice::from_ref(text), 1).unwrap().remove(0);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "unit length: {norm}");
        let c = cosine(&v, &r.vectors[i]);
        assert!(c >= 0.999, "text {i} ({text:.40}): cosine {c}");
        eprintln!("text {i}: cosine {c:.7}, max |diff| {:.2e}", max_diff(&v, &r.vectors[i]));
    }
    let all = m.embed(&r.texts, r.texts.len()).unwrap();
    for (i, v) in all.iter().enumerate() {
        assert!(cosine(v, &r.vectors[i]) >= 0.999, "text {i} in a padded batch");
    }
    // The model's published "hello world" vector (first five dimensions).
    let hello = [-0.034477f32, 0.031023, 0.006735, 0.026109, -0.039362];
    assert!(max_diff(&all[0][..5], &hello) < 1e-4, "{:?}", &all[0][..5]);
}

#[test]
fn padding_does_not_change_a_vector() {
    let Some(dir) = model_dir("padding_does_not_change_a_vector") else { return };
    let m = MiniLm::load(&dir).unwrap();
    let short = "A man is eating food.".to_owned();
    let alone = m.forward(&m.tokenize(std::slice::from_ref(&short)).unwrap()).unwrap().remove(0);
    let seqs = m.tokenize(&[short, "word ".repeat(400)]).unwrap();
    let padded = m.forward(&seqs).unwrap();
    assert!(max_diff(&alone, &padded[0]) < 1e-5, "{}", max_diff(&alone, &padded[0]));
    assert_eq!(padded.len(), 2);
}

#[tokio::test]
async fn the_port_embeds_in_order_and_loads_once() {
    let Some(dir) = model_dir("the_port_embeds_in_order_and_loads_once") else { return };
    let e = LocalMiniLm::new("all-MiniLM-L6-v2", dir);
    assert!(!e.is_loaded(), "nothing read before the first call");
    let r = reference();
    // More texts than one forward pass, of mixed lengths: back in the caller's order.
    let texts: Vec<String> = r.texts.iter().chain(r.texts.iter()).cloned().collect();
    let v = e.embed(&texts, EmbedPurpose::Document).await.unwrap();
    assert!(e.is_loaded());
    assert_eq!((e.model_id(), v.len()), ("all-MiniLM-L6-v2", texts.len()));
    for (i, v) in v.iter().enumerate() {
        assert!(cosine(v, &r.vectors[i % r.texts.len()]) >= 0.999, "text {i}");
    }
    let q = e.embed(&["How many days of holiday do I get?".into()], EmbedPurpose::Query).await.unwrap();
    assert!(cosine(&q[0], &r.vectors[5]) >= 0.999, "queries take no prefix");
    assert!(e.embed(&[], EmbedPurpose::Query).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_folder_without_the_model_fails_clearly() {
    let dir = std::env::temp_dir().join("rampart-minilm-missing");
    assert!(!installed(&dir));
    let err = MiniLm::load(&dir).unwrap_err().to_string();
    assert!(err.contains("lacks config.json") && err.contains("make minilm-model"), "{err}");
    let e = LocalMiniLm::new("m", dir);
    let err = e.embed(&["x".into()], EmbedPurpose::Query).await.unwrap_err();
    assert!(!err.retryable && err.detail.contains("lacks"), "{err:?}");
}

/// Throughput on SciFact abstracts (`cargo test -p rampart-minilm --release -- --ignored
/// throughput --nocapture`; `RAMPART_BENCH_TEXTS`, default 64): texts/s of wall-clock time.
#[test]
#[ignore = "a measurement, not a check"]
fn throughput() {
    let Some(dir) = model_dir("throughput") else { return };
    let n: usize = std::env::var("RAMPART_BENCH_TEXTS").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let corpus = std::fs::read_to_string("/work/shared/data/beir-scifact/corpus.jsonl").unwrap();
    let texts: Vec<String> = corpus
        .lines()
        .take(n)
        .map(|l| {
            let d: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}. {}", d["title"].as_str().unwrap(), d["text"].as_str().unwrap())
        })
        .collect();
    let m = MiniLm::load(&dir).unwrap();
    let t = std::time::Instant::now();
    let seqs = m.tokenize(&texts).unwrap();
    let tokenized = t.elapsed();
    let tokens: usize = seqs.iter().map(Vec::len).sum();
    let t = std::time::Instant::now();
    for batch in [8usize] {
        for group in rampart_minilm::model::by_length(&seqs, batch) {
            let part: Vec<Vec<u32>> = group.iter().map(|&i| seqs[i].clone()).collect();
            m.forward(&part).unwrap();
        }
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "{n} texts, {tokens} tokens: tokenized in {:.3} s; forward {s:.2} s = {:.1} texts/s, {:.0} tokens/s",
        tokenized.as_secs_f64(),
        n as f64 / s,
        tokens as f64 / s
    );
}
