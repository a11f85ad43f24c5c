//! The dense index: approximate nearest neighbours over entries' vectors (HNSW, from usearch),
//! one graph per scope (a knowledge base, a meeting), saved in `{dir}/{scope}.graph`.
//!
//! One graph per scope is how access control stays inside the query: a search names the scopes
//! the caller may read and only their graphs are walked, so an unreadable entry is never
//! scored, counted or returned (and a filter on one shared graph would lose recall when the
//! readable part is small). It also lets each knowledge base use its own model.
//!
//! The database is the truth: the graph holds vectors and 64-bit keys (the random low half of
//! the entry's UUID), and which entry and document a key stands for is read from the database
//! when a graph is opened. A graph file that does not hold exactly the database's keys (a crash
//! before a save, a lost message from another replica) is rebuilt from the database's vectors.
//! Graphs are saved when they changed, by [`DenseIndex::save_dirty`] (periodically, and at
//! shutdown), not after every document: a save writes the whole graph. The files are sealed
//! like the database's content (envelope encryption under the master key, the knowledge base
//! bound as associated data): embeddings can be partly inverted to text, so they are not left
//! in the clear. A file that does not open (another master key, no longer loaded) is rebuilt.

use crate::IndexId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

#[derive(Debug, thiserror::Error)]
#[error("dense index: {0}")]
pub struct DenseError(pub String);

fn err(e: impl std::fmt::Display) -> DenseError {
    DenseError(e.to_string())
}

/// The graph key of an entry: the low 64 bits of its UUID (v7: 62 of them random).
pub fn key<E: IndexId>(id: E) -> u64 {
    id.low64()
}

/// Search breadth: candidates kept while walking the graph (usearch's `expansion_search`).
const EXPANSION_SEARCH: usize = 128;

struct Graph<D, E> {
    index: Index,
    chunks: HashMap<u64, (E, D)>,
    docs: HashMap<D, Vec<u64>>,
    dirty: bool,
}

/// One scope's graph; its model and dimensions are fixed for its life.
struct KbGraph<D, E> {
    model: String,
    dims: usize,
    graph: Mutex<Graph<D, E>>,
}

impl<D: IndexId, E: IndexId> KbGraph<D, E> {
    fn new(model: &str, dims: usize) -> Result<Self, DenseError> {
        let opts = IndexOptions {
            dimensions: dims,
            metric: MetricKind::Cos,
            quantization: ScalarKind::F32,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: EXPANSION_SEARCH,
            multi: false,
        };
        let index = Index::new(&opts).map_err(err)?;
        // One thread slot: every call holds the graph's mutex.
        index.reserve_capacity_and_threads(64, 1).map_err(err)?;
        Ok(Self {
            model: model.to_owned(),
            dims,
            graph: Mutex::new(Graph { index, chunks: HashMap::new(), docs: HashMap::new(), dirty: true }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Graph<D, E>> {
        self.graph.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<D: IndexId, E: IndexId> Graph<D, E> {
    fn remove_doc(&mut self, doc: D) -> Result<(), DenseError> {
        for k in self.docs.remove(&doc).unwrap_or_default() {
            self.index.remove(k).map_err(err)?;
            self.chunks.remove(&k);
            self.dirty = true;
        }
        Ok(())
    }

    fn add(&mut self, doc: D, chunk: E, v: &[f32]) -> Result<(), DenseError> {
        let k = key(chunk);
        if self.chunks.contains_key(&k) {
            // Two chunk ids sharing 64 random bits: vanishingly rare; the chunk stays lexical.
            tracing::warn!(chunk = %chunk, "dense index: key collision, chunk left out");
            return Ok(());
        }
        if self.index.size() + 1 > self.index.capacity() {
            let cap = (self.index.capacity() * 2).max(64);
            self.index.reserve_capacity_and_threads(cap, 1).map_err(err)?;
        }
        self.index.add(k, v).map_err(err)?;
        self.chunks.insert(k, (chunk, doc));
        self.docs.entry(doc).or_default().push(k);
        self.dirty = true;
        Ok(())
    }
}

/// An entry's vector for [`DenseIndex::put_document`] and rebuilds.
#[derive(Clone, Debug)]
pub struct ChunkVector<D, E> {
    pub chunk: E,
    pub document: D,
    pub vector: Vec<f32>,
}

/// The dense index of entries `E` of documents `D` in scopes `S`.
pub struct DenseIndex<S, D, E> {
    /// Where graphs are saved, and the keys that seal them; `None` keeps them in memory only
    /// (tests, benchmarks).
    dir: Option<(PathBuf, rampart_crypto::Keyring)>,
    kbs: RwLock<HashMap<S, Arc<KbGraph<D, E>>>>,
}

/// What a sealed graph file holds, before sealing: dimensions and vector count (checked before
/// a graph is made), then usearch's serialized index.
const HEADER: usize = 4 + 8;

fn graph_aad(kb: impl std::fmt::Display) -> Vec<u8> {
    format!("dense-graph:{kb}").into_bytes()
}

impl<S, D, E> std::fmt::Debug for DenseIndex<S, D, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DenseIndex")
    }
}

impl<S: IndexId, D: IndexId, E: IndexId> DenseIndex<S, D, E> {
    /// Graphs saved in `dir`, sealed with `keyring`. Graph files of earlier versions (unsealed
    /// `.usearch`) are deleted: they are rebuilt from the database.
    pub fn open(dir: &Path, keyring: rampart_crypto::Keyring) -> Result<Self, DenseError> {
        let io = |e: std::io::Error| DenseError(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        for e in std::fs::read_dir(dir).map_err(io)?.flatten() {
            if e.path().extension().is_some_and(|x| x == "usearch") {
                std::fs::remove_file(e.path()).map_err(io)?;
            }
        }
        Ok(Self { dir: Some((dir.to_owned(), keyring)), kbs: RwLock::new(HashMap::new()) })
    }

    pub fn in_memory() -> Self {
        Self { dir: None, kbs: RwLock::new(HashMap::new()) }
    }

    /// Where `kb`'s graph is saved, and the keys that seal it (`None`: kept in memory only).
    fn file(&self, kb: S) -> Option<(PathBuf, &rampart_crypto::Keyring)> {
        self.dir.as_ref().map(|(d, keyring)| (d.join(format!("{kb}.graph")), keyring))
    }

    fn get(&self, kb: S) -> Option<Arc<KbGraph<D, E>>> {
        self.kbs.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&kb).cloned()
    }

    /// The graph of `kb` for `model` and `dims`, created empty if missing or made for another
    /// model or size.
    fn graph_for(&self, kb: S, model: &str, dims: usize) -> Result<Arc<KbGraph<D, E>>, DenseError> {
        if let Some(g) = self.get(kb).filter(|g| g.model == model && g.dims == dims) {
            return Ok(g);
        }
        let g = Arc::new(KbGraph::new(model, dims)?);
        self.kbs.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(kb, g.clone());
        Ok(g)
    }

    /// Replaces a document's vectors in its knowledge base's graph (made with `model`).
    pub fn put_document(&self, kb: S, model: &str, doc: D, vectors: &[ChunkVector<D, E>]) -> Result<(), DenseError> {
        self.delete_document(doc)?;
        let Some(dims) = vectors.first().map(|v| v.vector.len()) else { return Ok(()) };
        let g = self.graph_for(kb, model, dims)?;
        // In batches, so that searches of this knowledge base are not held up by a long document.
        for batch in vectors.chunks(64) {
            let mut graph = g.lock();
            for v in batch {
                if v.vector.len() != dims {
                    return Err(DenseError(format!("a vector of {} dimensions in a graph of {dims}", v.vector.len())));
                }
                graph.add(doc, v.chunk, &v.vector)?;
            }
        }
        Ok(())
    }

    /// Removes a document's vectors (wherever they are).
    pub fn delete_document(&self, doc: D) -> Result<(), DenseError> {
        let graphs: Vec<Arc<KbGraph<D, E>>> =
            self.kbs.read().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect();
        for g in graphs {
            let mut graph = g.lock();
            if graph.docs.contains_key(&doc) {
                return graph.remove_doc(doc);
            }
        }
        Ok(())
    }

    /// Drops a knowledge base's graph and its file.
    pub fn delete_kb(&self, kb: S) -> Result<(), DenseError> {
        self.kbs.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&kb);
        if let Some((p, _)) = self.file(kb) {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DenseError(format!("{}: {e}", p.display()))),
            }
        }
        Ok(())
    }

    /// Replaces a knowledge base's graph with one built from `vectors` (a rebuild).
    pub fn rebuild_kb(&self, kb: S, model: &str, vectors: &[ChunkVector<D, E>]) -> Result<(), DenseError> {
        let Some(dims) = vectors.first().map(|v| v.vector.len()) else {
            return self.delete_kb(kb);
        };
        let g = Arc::new(KbGraph::new(model, dims)?);
        {
            let mut graph = g.lock();
            graph.index.reserve_capacity_and_threads(vectors.len().max(64), 1).map_err(err)?;
            for v in vectors {
                if v.vector.len() == dims {
                    graph.add(v.document, v.chunk, &v.vector)?;
                }
            }
        }
        self.kbs.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(kb, g);
        Ok(())
    }

    /// Opens a knowledge base's saved graph if it holds exactly `expected` (chunk, document)
    /// pairs made with `model`; false if there is no such file (the caller rebuilds).
    pub fn load_kb(&self, kb: S, model: &str, expected: &[(E, D)]) -> Result<bool, DenseError> {
        let Some((path, keyring)) = self.file(kb) else { return Ok(false) };
        let sealed = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(DenseError(format!("{}: {e}", path.display()))),
        };
        let plain = match keyring.open(&graph_aad(kb), &sealed) {
            Ok(p) if p.len() > HEADER => zeroize::Zeroizing::new(p),
            Ok(_) | Err(_) => {
                tracing::warn!(kb = %kb, "dense index file unreadable (or sealed under a key not loaded); rebuilding it");
                return Ok(false);
            }
        };
        let (head, body) = plain.split_at(HEADER);
        let dims = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let count = u64::from_le_bytes(head[4..HEADER].try_into().unwrap_or_default());
        if dims == 0 || count != expected.len() as u64 {
            return Ok(false);
        }
        let g = KbGraph::new(model, dims)?;
        {
            let mut graph = g.lock();
            if graph.index.load_from_buffer(body).is_err() || graph.index.dimensions() != dims {
                return Ok(false);
            }
            graph.index.reserve_capacity_and_threads(graph.index.size().max(64), 1).map_err(err)?;
            graph.index.change_expansion_search(EXPANSION_SEARCH);
            for (chunk, doc) in expected {
                let k = key(*chunk);
                if !graph.index.contains(k) {
                    return Ok(false);
                }
                graph.chunks.insert(k, (*chunk, *doc));
                graph.docs.entry(*doc).or_default().push(k);
            }
            graph.dirty = false;
        }
        self.kbs.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(kb, Arc::new(g));
        Ok(true)
    }

    /// Writes every changed graph to its file (atomically: a temporary file renamed).
    pub fn save_dirty(&self) -> Result<usize, DenseError> {
        let graphs: Vec<(S, Arc<KbGraph<D, E>>)> = self
            .kbs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, g)| (*k, g.clone()))
            .collect();
        let mut saved = 0;
        for (kb, g) in graphs {
            let Some((path, keyring)) = self.file(kb) else { continue };
            let mut graph = g.lock();
            if !graph.dirty {
                continue;
            }
            let mut plain = zeroize::Zeroizing::new(vec![0u8; HEADER + graph.index.serialized_length()]);
            plain[..4].copy_from_slice(&u32::try_from(g.dims).unwrap_or(0).to_le_bytes());
            plain[4..HEADER].copy_from_slice(&(graph.chunks.len() as u64).to_le_bytes());
            graph.index.save_to_buffer(&mut plain[HEADER..]).map_err(err)?;
            let sealed = keyring.seal(&graph_aad(kb), &plain);
            let tmp = path.with_extension("graph.tmp");
            let io = |e: std::io::Error| DenseError(format!("{}: {e}", path.display()));
            std::fs::write(&tmp, &sealed).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            graph.dirty = false;
            saved += 1;
        }
        Ok(saved)
    }

    /// Vectors held per knowledge base, with the model of its graph.
    pub fn counts(&self) -> HashMap<S, (String, usize)> {
        self.kbs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, g)| (*k, (g.model.clone(), g.lock().chunks.len())))
            .collect()
    }

    /// The model a knowledge base's graph was made with, and its dimensions.
    pub fn model_of(&self, kb: S) -> Option<(String, usize)> {
        self.get(kb).map(|g| (g.model.clone(), g.dims))
    }

    /// The `limit` chunks nearest to `query` in each of the knowledge bases `kbs` (the caller's
    /// readable ones that use `model`), merged: cosine similarity, best first.
    pub fn search(&self, query: &[f32], model: &str, kbs: &[S], limit: usize) -> Result<Vec<(E, f32)>, DenseError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for kb in kbs {
            let Some(g) = self.get(*kb).filter(|g| g.model == model && g.dims == query.len()) else { continue };
            let graph = g.lock();
            if graph.chunks.is_empty() {
                continue;
            }
            let m = graph.index.search(query, limit).map_err(err)?;
            for (k, d) in m.keys.iter().zip(m.distances.iter()) {
                if let Some((chunk, _)) = graph.chunks.get(k) {
                    out.push((*chunk, 1.0 - d));
                }
            }
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out.truncate(limit);
        Ok(out)
    }
}

/// Sealed-vector encoding: little-endian f32s.
pub fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) || b.is_empty() {
        return None;
    }
    Some(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};

    type DenseIndex = super::DenseIndex<KnowledgeBaseId, DocumentId, ChunkId>;
    type ChunkVector = super::ChunkVector<DocumentId, ChunkId>;

    fn unit(i: usize, dims: usize) -> Vec<f32> {
        // Distinct, deterministic directions.
        let mut v: Vec<f32> = (0..dims).map(|d| ((i * 31 + d * 17) % 13) as f32 - 6.0).collect();
        v[i % dims] += 20.0;
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn vectors(doc: DocumentId, range: std::ops::Range<usize>) -> Vec<ChunkVector> {
        range.map(|i| ChunkVector { chunk: ChunkId::new(), document: doc, vector: unit(i, 16) }).collect()
    }

    #[test]
    fn searches_only_the_given_knowledge_bases_and_follows_changes() -> Result<(), DenseError> {
        let ix = DenseIndex::in_memory();
        let (a, b) = (KnowledgeBaseId::new(), KnowledgeBaseId::new());
        let (da, db) = (DocumentId::new(), DocumentId::new());
        let va = vectors(da, 0..10);
        let vb = vectors(db, 10..20);
        ix.put_document(a, "m", da, &va)?;
        ix.put_document(b, "m", db, &vb)?;
        let hits = ix.search(&unit(3, 16), "m", &[a], 5)?;
        assert_eq!(hits[0].0, va[3].chunk, "the exact vector first");
        assert!((hits[0].1 - 1.0).abs() < 1e-4);
        assert!(hits.iter().all(|h| va.iter().any(|v| v.chunk == h.0)), "only a's chunks");
        assert!(ix.search(&unit(3, 16), "m", &[], 5)?.is_empty());
        assert!(ix.search(&unit(3, 16), "other-model", &[a], 5)?.is_empty(), "a query vector of another model");
        let both = ix.search(&unit(12, 16), "m", &[a, b], 3)?;
        assert_eq!(both[0].0, vb[2].chunk);
        // Replacing a document drops its old vectors.
        let va2 = vectors(da, 30..32);
        ix.put_document(a, "m", da, &va2)?;
        assert_eq!(ix.counts()[&a].1, 2);
        assert!(ix.search(&unit(3, 16), "m", &[a], 10)?.iter().all(|h| va2.iter().any(|v| v.chunk == h.0)));
        ix.delete_document(da)?;
        assert!(ix.search(&unit(30, 16), "m", &[a], 10)?.is_empty());
        ix.delete_kb(b)?;
        assert!(ix.search(&unit(12, 16), "m", &[b], 10)?.is_empty());
        Ok(())
    }

    #[test]
    fn saved_graphs_load_only_when_they_match_the_database() -> Result<(), DenseError> {
        let dir = tempfile::tempdir().map_err(err)?;
        let ring = rampart_crypto::Keyring::new(rampart_crypto::MasterKey::generate());
        let kb = KnowledgeBaseId::new();
        let doc = DocumentId::new();
        let vs = vectors(doc, 0..200);
        let expected: Vec<(ChunkId, DocumentId)> = vs.iter().map(|v| (v.chunk, doc)).collect();
        {
            let ix = DenseIndex::open(dir.path(), ring.clone())?;
            ix.put_document(kb, "m", doc, &vs)?;
            assert_eq!(ix.save_dirty()?, 1);
            assert_eq!(ix.save_dirty()?, 0, "nothing changed since");
        }
        let ix = DenseIndex::open(dir.path(), ring.clone())?;
        assert!(!ix.load_kb(kb, "m", &expected[..199])?, "one vector more than the database has");
        let mut other = expected.clone();
        other[5].0 = ChunkId::new();
        assert!(!ix.load_kb(kb, "m", &other)?, "a key the database does not have");
        assert!(ix.load_kb(kb, "m", &expected)?);
        let hits = ix.search(&unit(42, 16), "m", &[kb], 1)?;
        assert_eq!(hits[0].0, vs[42].chunk);
        assert!(!ix.load_kb(KnowledgeBaseId::new(), "m", &[])?, "no file");
        // Sealed: no vector's bytes are in the file, and without the key it does not open.
        let file = std::fs::read(dir.path().join(format!("{kb}.graph"))).map_err(err)?;
        let v42: Vec<u8> = vs[42].vector.iter().flat_map(|f| f.to_le_bytes()).collect();
        assert!(!file.windows(v42.len()).any(|w| w == v42), "a vector in the clear");
        // (The needle is a real one: the unsealed serialization holds it.)
        let g = ix.get(kb).ok_or_else(|| DenseError("no graph".into()))?;
        let graph = g.lock();
        let mut plain = vec![0u8; graph.index.serialized_length()];
        graph.index.save_to_buffer(&mut plain).map_err(err)?;
        assert!(plain.windows(v42.len()).any(|w| w == v42));
        drop(graph);
        let other_key = rampart_crypto::Keyring::new(rampart_crypto::MasterKey::generate());
        assert!(!DenseIndex::open(dir.path(), other_key)?.load_kb(kb, "m", &expected)?, "another master key: rebuilt");
        // Bound to its knowledge base: a graph file copied onto another does not open.
        let other_kb = KnowledgeBaseId::new();
        std::fs::copy(dir.path().join(format!("{kb}.graph")), dir.path().join(format!("{other_kb}.graph")))
            .map_err(err)?;
        assert!(!DenseIndex::open(dir.path(), ring.clone())?.load_kb(other_kb, "m", &expected)?);
        std::fs::write(dir.path().join(format!("{kb}.graph")), b"garbage").map_err(err)?;
        assert!(
            !DenseIndex::open(dir.path(), ring.clone())?.load_kb(kb, "m", &expected)?,
            "a broken file is rebuilt, not trusted"
        );
        // Unsealed files of earlier versions are removed on open.
        std::fs::write(dir.path().join(format!("{kb}.usearch")), b"old plaintext graph").map_err(err)?;
        DenseIndex::open(dir.path(), ring)?;
        assert!(!dir.path().join(format!("{kb}.usearch")).exists());
        Ok(())
    }

    #[test]
    fn vectors_round_trip_and_bad_bytes_are_refused() {
        let v = vec![0.5f32, -1.25, 3.0];
        assert_eq!(decode(&encode(&v)), Some(v));
        assert_eq!(decode(&[1, 2, 3]), None);
        assert_eq!(decode(&[]), None);
    }
}
