//! Retrieval quality and speed of Rampart's indexes on a BEIR dataset (SciFact in
//! `../shared/data/beir-scifact`): nDCG@10 and recall@100 over the test queries for lexical
//! (BM25), dense (an embedding model behind an OpenAI-compatible `/embeddings` URL, when
//! `--embed-url` is given) and hybrid (reciprocal-rank fusion of both); indexing throughput; and
//! query latency of each, optionally with the corpus repeated `--scale` times (new ids, same text;
//! the copies' vectors slightly perturbed so the graph does not hold exact duplicates) to measure
//! latency at 10k or 100k chunks. Uses `rampart-knowledge`'s indexes and fusion exactly as the
//! server does (one chunk per document: title and abstract), and `rampart-providers`' embedding
//! client or, with `--minilm`, the in-process model (`rampart-minilm`). Latencies are of the index work; the embedding call for a query is timed on its own.

#![expect(clippy::print_stdout, reason = "a command-line tool writes its results and errors to the terminal")]
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measuring tool stops at the first malformed input or failed call"
)]

use clap::Parser;
use rampart_bench_tools::beir::{Dataset, Judgements, ndcg_at_10, recall_at_100};
use rampart_bench_tools::summarize;
use rampart_core::embed::{EmbedPurpose, Embedder};
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};
use rampart_knowledge::dense::{ChunkVector, DenseIndex};
use rampart_knowledge::fuse::{RRF_K, rrf};
use rampart_knowledge::index::{LexicalIndex, TermKey, language};
use rampart_knowledge::service::embed_all;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/test.tsv).
    #[arg(long, default_value = "../shared/data/beir-scifact")]
    data: PathBuf,
    /// Index the corpus this many times (quality is measured on the first copy's ids).
    #[arg(long, default_value_t = 1)]
    scale: usize,
    /// Lexical index on disk in this directory instead of in memory.
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long, default_value = "english")]
    language: String,
    /// An OpenAI-compatible base URL (`…/v1`) serving embeddings; without it, lexical only.
    #[arg(long)]
    embed_url: Option<String>,
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    embed_model: String,
    /// all-MiniLM-L6-v2 in process (rampart-minilm) from this folder (`make minilm-model`'s
    /// `target/models/all-MiniLM-L6-v2`), instead of `--embed-url`.
    #[arg(long, conflicts_with = "embed_url")]
    minilm: Option<PathBuf>,
    /// Depth of each ranking before fusion (the server's `knowledge.fusion_depth` is 50; 100 here
    /// so that recall@100 is of a full list).
    #[arg(long, default_value_t = 100)]
    depth: usize,
}

/// The embedding model asked for: over HTTP (`--embed-url`), in process (`--minilm`), or none.
fn embedder(a: &Args) -> Option<Box<dyn Embedder>> {
    if let Some(dir) = &a.minilm {
        return Some(Box::new(rampart_minilm::LocalMiniLm::new(a.embed_model.clone(), dir.clone())));
    }
    let e = rampart_providers::HttpEmbedder::new(rampart_providers::EmbedConfig {
        id: a.embed_model.clone(),
        api: rampart_providers::EmbedApi::OpenAi,
        base_url: a.embed_url.as_deref()?.parse().expect("embed-url"),
        model: a.embed_model.clone(),
        api_key: None,
        dimensions: None,
        query_prefix: String::new(),
        document_prefix: String::new(),
        max_batch: 64,
        timeout: Duration::from_secs(600),
        max_retries: 2,
    })
    .unwrap();
    Some(Box::new(e))
}

/// nDCG@10 and recall@100 of rankings (corpus ids, best first) against graded judgements.
#[derive(Default)]
struct Quality {
    ndcg: f64,
    recall: f64,
    n: usize,
    latency: Vec<Duration>,
}

impl Quality {
    fn add(&mut self, ranked: &[Option<&str>], rel: &Judgements, took: Duration) {
        self.ndcg += ndcg_at_10(ranked, rel);
        self.recall += recall_at_100(ranked, rel);
        self.n += 1;
        self.latency.push(took);
    }

    fn report(&self, name: &str) {
        let l = summarize(&self.latency);
        let n = self.n.max(1) as f64;
        println!(
            "| {name} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} |",
            self.ndcg / n,
            self.recall / n,
            l.median_us / 1e3,
            l.p99_us / 1e3,
            l.max_us / 1e3
        );
    }
}

/// A small deterministic generator for the copies' perturbation.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }
}

fn perturbed(v: &[f32], rng: &mut Lcg) -> Vec<f32> {
    let mut out: Vec<f32> = v.iter().map(|x| x + 0.02 * rng.unit()).collect();
    let n = out.iter().map(|x| x * x).sum::<f32>().sqrt();
    out.iter_mut().for_each(|x| *x /= n);
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let data = Dataset::load(&a.data).unwrap();
    let (docs, queries, qrels) = (&data.docs, &data.queries, &data.qrels);
    let qids = data.test_queries();
    let texts: Vec<String> = docs.iter().map(|d| format!("{}. {}", d.title, d.text)).collect();

    let lang = language(&a.language).expect("a known language");
    // Keyed terms, as the server's index (the key itself does not matter here).
    let key = TermKey::fixed("ir-eval", [0x5a; 16]);
    let ix = match &a.dir {
        Some(d) => LexicalIndex::open(d, lang, &key).unwrap(),
        None => LexicalIndex::in_memory(lang, &key).unwrap(),
    };
    let kb = KnowledgeBaseId::new();
    // chunk id → corpus id (first copy only); every copy's ids for the dense graph.
    let mut original: HashMap<ChunkId, String> = HashMap::new();
    let mut ids: Vec<Vec<ChunkId>> = Vec::with_capacity(a.scale);
    let bytes: usize = texts.iter().map(String::len).sum::<usize>() * a.scale;
    let started = Instant::now();
    for copy in 0..a.scale {
        let mut copy_ids = Vec::with_capacity(docs.len());
        for (batch_docs, batch_texts) in docs.chunks(1000).zip(texts.chunks(1000)) {
            let mut rows = Vec::with_capacity(batch_docs.len());
            for (d, t) in batch_docs.iter().zip(batch_texts) {
                let id = ChunkId::new();
                if copy == 0 {
                    original.insert(id, d.id.clone());
                }
                copy_ids.push(id);
                rows.push((kb, DocumentId::new(), id, t.clone()));
            }
            ix.add_chunks(&rows).unwrap();
        }
        ids.push(copy_ids);
    }
    ix.flush().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let chunks = docs.len() * a.scale;
    println!("machine: {} CPUs; corpus {} documents × {} = {chunks} chunks", num_cpus(), docs.len(), a.scale);
    println!(
        "lexical indexing: {chunks} chunks ({:.1} MB of text) in {secs:.2} s: {:.0} chunks/s, {:.2} MB/s",
        bytes as f64 / 1e6,
        chunks as f64 / secs,
        bytes as f64 / 1e6 / secs
    );

    // Dense: embed the corpus once (the first copy) and the queries.
    let dense = match embedder(&a) {
        None => None,
        Some(e) => {
            let e = e.as_ref();
            let t = Instant::now();
            let vectors = embed_all(e, &texts, EmbedPurpose::Document).await.expect("corpus embeddings");
            println!(
                "corpus embedded in {:.1} s: {:.1} chunks/s (an embedding server's cache makes reruns fast)",
                t.elapsed().as_secs_f64(),
                texts.len() as f64 / t.elapsed().as_secs_f64()
            );
            let mut qvec: HashMap<&String, Vec<f32>> = HashMap::new();
            let mut embed_times = Vec::new();
            for q in &qids {
                let t = Instant::now();
                let v = embed_all(e, std::slice::from_ref(&queries[*q]), EmbedPurpose::Query).await.unwrap();
                embed_times.push(t.elapsed());
                qvec.insert(*q, v.into_iter().next().unwrap());
            }
            let e = summarize(&embed_times);
            println!(
                "query embedding (over HTTP: cached after the first run): p50 {:.3} ms, p99 {:.3} ms",
                e.median_us / 1e3,
                e.p99_us / 1e3
            );
            let graph = DenseIndex::in_memory();
            let mut rng = Lcg(42);
            let mut cv = Vec::with_capacity(chunks);
            for (copy, copy_ids) in ids.iter().enumerate() {
                for (id, v) in copy_ids.iter().zip(&vectors) {
                    let vector = if copy == 0 { v.clone() } else { perturbed(v, &mut rng) };
                    cv.push(ChunkVector { chunk: *id, document: DocumentId::new(), vector });
                }
            }
            let t = Instant::now();
            graph.rebuild_kb(kb, &a.embed_model, &cv).unwrap();
            let s = t.elapsed().as_secs_f64();
            println!("dense graph (HNSW) built: {chunks} vectors in {s:.2} s: {:.0} vectors/s", chunks as f64 / s);
            Some((graph, qvec))
        }
    };

    let (mut lex, mut den, mut hyb) = (Quality::default(), Quality::default(), Quality::default());
    for qid in &qids {
        let rel = &qrels[*qid];
        let text = &queries[*qid];
        let t = Instant::now();
        let l = ix.search(text, &[kb], a.depth).unwrap();
        let lt = t.elapsed();
        let ranked: Vec<Option<&str>> = l.iter().map(|(c, _)| original.get(c).map(String::as_str)).collect();
        lex.add(&ranked, rel, lt);
        if let Some((graph, qvec)) = &dense {
            let t = Instant::now();
            let d = graph.search(&qvec[*qid], &a.embed_model, &[kb], a.depth).unwrap();
            let dt = t.elapsed();
            let ranked: Vec<Option<&str>> = d.iter().map(|(c, _)| original.get(c).map(String::as_str)).collect();
            den.add(&ranked, rel, dt);
            let t = Instant::now();
            let li: Vec<ChunkId> = l.iter().map(|h| h.0).collect();
            let di: Vec<ChunkId> = d.iter().map(|h| h.0).collect();
            let fused = rrf(&[&li, &di], RRF_K);
            let ft = t.elapsed();
            let ranked: Vec<Option<&str>> = fused.iter().map(|(c, _)| original.get(c).map(String::as_str)).collect();
            hyb.add(&ranked, rel, lt + dt + ft);
        }
    }
    println!("queries: {} (test split), top {} per ranking\n", lex.n, a.depth);
    println!("| ranking | nDCG@10 | recall@100 | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    lex.report("lexical (BM25, tantivy)");
    if dense.is_some() {
        den.report(&format!("dense ({}, HNSW)", a.embed_model));
        hyb.report("hybrid (RRF k=60)");
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
