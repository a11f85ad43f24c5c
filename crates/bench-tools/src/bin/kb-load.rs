//! End-to-end knowledge-base load through a running server's API: creates a knowledge base,
//! uploads a BEIR corpus as text files (`POST /v1/knowledge-bases/{id}/documents`, `--batch`
//! files per request, `--copies` copies with a copy marker so that none is a duplicate), waits
//! until ingestion is done, and reports documents/s and MB/s of text from the first upload to
//! the last document ready. Then it times the test queries through
//! `POST /v1/knowledge-bases/{id}/retrieve` (one at a time, top 10) for each search type asked,
//! and reports nDCG@10 of the first copy's documents as a check that the answers are right.

#![expect(clippy::print_stdout, reason = "a command-line tool writes its results and errors to the terminal")]
#![expect(clippy::unwrap_used, reason = "a measuring tool stops at the first malformed input or failed call")]

use clap::Parser;
use rampart_bench_tools::beir::{Dataset, ndcg_at_10};
use rampart_bench_tools::summarize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// An API key with the knowledge scope.
    #[arg(long, env = "BENCH_API_KEY")]
    api_key: String,
    #[arg(long, default_value = "../shared/data/beir-scifact")]
    data: PathBuf,
    #[arg(long, default_value_t = 1)]
    copies: usize,
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// The knowledge base's embedding model (`""`: lexical only).
    #[arg(long, default_value = "")]
    embedding_model: String,
    /// Search types to time, comma-separated.
    #[arg(long, default_value = "lexical")]
    search: String,
    #[arg(long, default_value = "bench")]
    name: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let data = Dataset::load(&a.data).unwrap();
    let (docs, queries, qrels) = (&data.docs, &data.queries, &data.qrels);
    let post = |path: String, body: Value| {
        http.post(format!("{}{path}", a.base)).header("x-api-key", &a.api_key).json(&body).send()
    };
    let r = post(
        "/v1/knowledge-bases".into(),
        json!({"name": a.name, "description": "benchmark corpus", "embeddingModel": a.embedding_model}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "create: {}", r.text().await.unwrap());
    let kb = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // Upload: file names carry the corpus id so results can be judged.
    let files: Vec<(String, String)> = (0..a.copies)
        .flat_map(|c| {
            docs.iter().map(move |d| {
                let body = if c == 0 {
                    format!("{}\n\n{}", d.title, d.text)
                } else {
                    format!("{}\n\n{}\n\n(copy {c})", d.title, d.text)
                };
                (format!("{}-{c}.txt", d.id), body)
            })
        })
        .collect();
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let started = Instant::now();
    for batch in files.chunks(a.batch.max(1)) {
        let mut form = reqwest::multipart::Form::new();
        for (name, body) in batch {
            form =
                form.part("file", reqwest::multipart::Part::bytes(body.clone().into_bytes()).file_name(name.clone()));
        }
        let r = http
            .post(format!("{}/v1/knowledge-bases/{kb}/documents", a.base))
            .header("x-api-key", &a.api_key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "upload: {}", r.text().await.unwrap());
    }
    let uploaded = started.elapsed().as_secs_f64();
    let counts = loop {
        let v: Value = http
            .get(format!("{}/v1/knowledge-bases/{kb}", a.base))
            .header("x-api-key", &a.api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["counts"]["pending"] == 0 {
            break v["counts"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = started.elapsed().as_secs_f64();
    let n = files.len();
    let chunks = counts["chunks"].as_f64().unwrap_or(0.0);
    println!(
        "ingested {n} documents ({:.1} MB of text) in {secs:.1} s (uploads done after {uploaded:.1} s): {:.1} documents/s, {:.1} chunks/s, {:.2} MB/s; counts {counts}",
        bytes as f64 / 1e6,
        n as f64 / secs,
        chunks / secs,
        bytes as f64 / 1e6 / secs
    );

    let qids = data.test_queries();
    println!("| search type | queries | p50 ms | p99 ms | max ms | nDCG@10 (first copy) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for mode in a.search.split(',').filter(|m| !m.is_empty()) {
        let mut lat = Vec::new();
        let mut ndcg = 0.0;
        for q in &qids {
            let body = json!({"query": queries[*q], "numberOfResults": 10, "searchType": mode});
            let t = Instant::now();
            let r = post(format!("/v1/knowledge-bases/{kb}/retrieve"), body).await.unwrap();
            let v: Value = r.json().await.unwrap();
            lat.push(t.elapsed());
            let rel = &qrels[*q];
            // A document can be several chunks: judged once, at its best rank.
            let mut ranked: Vec<String> = Vec::new();
            for x in v["results"].as_array().unwrap() {
                let name = x["documentName"].as_str().unwrap();
                let id =
                    if name.ends_with("-0.txt") { name.trim_end_matches("-0.txt").to_owned() } else { String::new() };
                if id.is_empty() || !ranked.contains(&id) {
                    ranked.push(id);
                }
            }
            let ranked: Vec<Option<&str>> = ranked.iter().map(|id| Some(id.as_str())).collect();
            ndcg += ndcg_at_10(&ranked, rel);
        }
        let l = summarize(&lat);
        println!(
            "| {mode} | {} | {:.2} | {:.2} | {:.2} | {:.4} |",
            l.n,
            l.median_us / 1e3,
            l.p99_us / 1e3,
            l.max_us / 1e3,
            ndcg / qids.len().max(1) as f64
        );
    }
}
