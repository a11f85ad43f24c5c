//! The lexical index: BM25 over entries' text with tantivy, stemmed for the configured language.
//! It holds entry, document and scope ids (chunk, document and knowledge base; passage,
//! transcript or summary, and meeting) and the inverted index of the text (the text itself is
//! not stored: the database keeps it, sealed). Access control is part of every query: a search
//! names the scopes the caller may read, and the index only scores entries of those (a
//! `TermSetQuery` on the scope id that must match), so nothing unreadable is counted, ranked or
//! returned. The index is rebuildable from the database.
//!
//! The terms are keyed: after stemming, each term is replaced by a keyed hash of it
//! (SipHash-2-4 under a key derived from the active master key), the query's terms likewise, so
//! the index files on disk hold no words of the documents — only their counts and positions.
//! The index directory records which master key its terms were keyed with; opened with another,
//! it starts empty and is rebuilt from the database.

use crate::IndexId;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermSetQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// A stemming language (see [`language`]).
pub use tantivy::tokenizer::Language;

const TOKENIZER: &str = "rampart";
/// The file in the index directory naming the key its terms are keyed with.
const KEY_MARKER: &str = "rampart-terms-key";

/// The key of the index's terms, and its id (which master key it comes from, and the scheme).
#[derive(Clone)]
pub struct TermKey {
    id: String,
    key: [u8; 16],
}

impl std::fmt::Debug for TermKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TermKey({})", self.id)
    }
}

impl TermKey {
    /// The key derived from the keyring's active master key.
    pub fn from_keyring(keyring: &rampart_crypto::Keyring) -> Self {
        let k = keyring.derive("lexical-index-terms");
        let mut key = [0u8; 16];
        key.copy_from_slice(&k[..16]);
        Self { id: format!("siphash24-64:{}", keyring.active_id()), key }
    }

    /// A fixed key (tests and benchmarks).
    pub fn fixed(id: &str, key: [u8; 16]) -> Self {
        Self { id: format!("siphash24-64:{id}"), key }
    }
}

/// Replaces each term by the hex of its 64-bit keyed hash.
#[derive(Clone)]
struct KeyedTerms([u8; 16]);

impl TokenFilter for KeyedTerms {
    type Tokenizer<T: Tokenizer> = KeyedTermsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        KeyedTermsFilter { key: self.0, inner: tokenizer }
    }
}

#[derive(Clone)]
struct KeyedTermsFilter<T> {
    key: [u8; 16],
    inner: T,
}

impl<T: Tokenizer> Tokenizer for KeyedTermsFilter<T> {
    type TokenStream<'a> = KeyedTermsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        KeyedTermsStream { key: self.key, tail: self.inner.token_stream(text) }
    }
}

struct KeyedTermsStream<S> {
    key: [u8; 16],
    tail: S,
}

impl<S: TokenStream> TokenStream for KeyedTermsStream<S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        use std::fmt::Write;
        use std::hash::Hasher;
        let mut h = siphasher::sip::SipHasher24::new_with_key(&self.key);
        let t = self.tail.token_mut();
        h.write(t.text.as_bytes());
        t.text.clear();
        let _ = write!(t.text, "{:016x}", h.finish());
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}
/// Memory for the index writer's buffer.
const WRITER_HEAP: usize = 50 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("index directory {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// The writer's lock is held elsewhere.
    #[error("index: {0} (is another Rampart process using this data directory?)")]
    Busy(tantivy::TantivyError),
    /// A change after the index was closed (shutdown).
    #[error("index: closed")]
    Closed,
}

/// A language name from configuration (`english`, `german`, …).
pub fn language(name: &str) -> Option<Language> {
    Some(match name.to_ascii_lowercase().as_str() {
        "arabic" => Language::Arabic,
        "danish" => Language::Danish,
        "dutch" => Language::Dutch,
        "english" => Language::English,
        "finnish" => Language::Finnish,
        "french" => Language::French,
        "german" => Language::German,
        "greek" => Language::Greek,
        "hungarian" => Language::Hungarian,
        "italian" => Language::Italian,
        "norwegian" => Language::Norwegian,
        "portuguese" => Language::Portuguese,
        "romanian" => Language::Romanian,
        "russian" => Language::Russian,
        "spanish" => Language::Spanish,
        "swedish" => Language::Swedish,
        "tamil" => Language::Tamil,
        "turkish" => Language::Turkish,
        _ => return None,
    })
}

/// A lexical index of entries `E` of documents `D` in scopes `S`.
pub struct LexicalIndex<S, D, E> {
    index: Index,
    /// Taken on the first write: tantivy allows one writer per index directory, and commands
    /// that only read (or never touch the index) must not hold it while a server runs.
    writer: Mutex<Option<IndexWriter>>,
    reader: IndexReader,
    chunk: Field,
    doc: Field,
    kb: Field,
    text: Field,
    ids: Ids<S, D, E>,
}

/// The id types, held by none of the index's values (so the index is `Send` and `Sync` whatever
/// they are).
type Ids<S, D, E> = PhantomData<fn() -> (S, D, E)>;

impl<S, D, E> std::fmt::Debug for LexicalIndex<S, D, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LexicalIndex")
    }
}

fn schema() -> (Schema, [Field; 4]) {
    let mut b = Schema::builder();
    let chunk = b.add_text_field("chunk", STRING | STORED);
    let doc = b.add_text_field("doc", STRING);
    let kb = b.add_text_field("kb", STRING);
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let text = b.add_text_field("text", opts);
    (b.build(), [chunk, doc, kb, text])
}

impl<S: IndexId, D: IndexId, E: IndexId> LexicalIndex<S, D, E> {
    /// Opens the index in `dir` (created if missing; started afresh, empty, if its schema is not
    /// ours or its terms were keyed with another key: the caller rebuilds it from the database).
    pub fn open(dir: &Path, lang: Language, key: &TermKey) -> Result<Self, IndexError> {
        let io = |source: std::io::Error| IndexError::Io { path: dir.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, _) = schema();
        let marker = dir.join(KEY_MARKER);
        let keyed_with = std::fs::read_to_string(&marker).ok();
        let has_index = dir.join("meta.json").exists();
        let opened = if has_index && keyed_with.as_deref() != Some(key.id.as_str()) {
            tracing::info!("lexical index keyed with another master key (or none); starting it afresh");
            None
        } else {
            let mmap = tantivy::directory::MmapDirectory::open(dir)?;
            Index::open_or_create(mmap, schema.clone())
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "lexical index unreadable or from another version; starting it afresh");
                })
                .ok()
        };
        let index = match opened {
            Some(i) => i,
            None => {
                for entry in std::fs::read_dir(dir).map_err(io)?.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
                let mmap = tantivy::directory::MmapDirectory::open(dir)?;
                Index::create(mmap, schema, tantivy::IndexSettings::default())?
            }
        };
        if keyed_with.as_deref() != Some(key.id.as_str()) {
            std::fs::write(&marker, &key.id).map_err(io)?;
        }
        Self::with_index(index, lang, key)
    }

    /// An index in memory (tests, and deployments that rebuild at start).
    pub fn in_memory(lang: Language, key: &TermKey) -> Result<Self, IndexError> {
        Self::with_index(Index::create_in_ram(schema().0), lang, key)
    }

    fn with_index(index: Index, lang: Language, key: &TermKey) -> Result<Self, IndexError> {
        let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(lang))
            .filter(KeyedTerms(key.key))
            .build();
        index.tokenizers().register(TOKENIZER, analyzer);
        let s = index.schema();
        let field = |n: &str| s.get_field(n);
        let (chunk, doc, kb, text) = (field("chunk")?, field("doc")?, field("kb")?, field("text")?);
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { index, writer: Mutex::new(None), reader, chunk, doc, kb, text, ids: PhantomData })
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>, IndexError> {
        let mut g = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.is_none() {
            *g = Some(self.index.writer_with_num_threads(1, WRITER_HEAP).map_err(IndexError::Busy)?);
        }
        Ok(g)
    }

    /// Sees what other writers committed (another process rebuilding, say).
    pub fn refresh(&self) -> Result<(), IndexError> {
        Ok(self.reader.reload()?)
    }

    fn commit(&self, w: &mut Option<IndexWriter>) -> Result<(), IndexError> {
        if let Some(w) = w.as_mut() {
            w.commit()?;
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Replaces a document's entries (deletes what the index had for it first) and commits.
    pub fn put_document(&self, kb: S, doc: D, chunks: &[(E, String)]) -> Result<(), IndexError> {
        self.stage_document(kb, doc, chunks)?;
        self.flush()
    }

    /// Replaces a document's entries without committing: searches see them after the next
    /// [`Self::flush`] (ingestion commits once for many documents: a commit writes and syncs
    /// segment files, which one commit per document would do thousands of times).
    pub fn stage_document(&self, kb: S, doc: D, chunks: &[(E, String)]) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or(IndexError::Closed)?;
        w.delete_term(Term::from_field_text(self.doc, &doc.to_string()));
        for (id, text) in chunks {
            w.add_document(self.entry(kb, doc, *id, text))?;
        }
        Ok(())
    }

    /// Adds entries without deleting or committing (rebuilds); call [`Self::flush`] after.
    pub fn add_chunks(&self, chunks: &[(S, D, E, String)]) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or(IndexError::Closed)?;
        for (kb, doc, id, text) in chunks {
            w.add_document(self.entry(*kb, *doc, *id, text))?;
        }
        Ok(())
    }

    fn entry(&self, kb: S, doc: D, id: E, text: &str) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(self.chunk, id.to_string());
        d.add_text(self.doc, doc.to_string());
        d.add_text(self.kb, kb.to_string());
        d.add_text(self.text, text);
        d
    }

    pub fn flush(&self) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        self.commit(&mut g)
    }

    pub fn delete_document(&self, doc: D) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or(IndexError::Closed)?;
        w.delete_term(Term::from_field_text(self.doc, &doc.to_string()));
        self.commit(&mut g)
    }

    pub fn delete_kb(&self, kb: S) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or(IndexError::Closed)?;
        w.delete_term(Term::from_field_text(self.kb, &kb.to_string()));
        self.commit(&mut g)
    }

    /// Empties the index (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or(IndexError::Closed)?;
        w.delete_all_documents()?;
        self.commit(&mut g)
    }

    /// Deletes every entry in the next commit only: searches keep seeing the old entries until
    /// the entries added after this are committed (`flush`), so a rebuild has no empty moment.
    pub fn replace_all(&self) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or(IndexError::Closed)?;
        w.delete_all_documents()?;
        Ok(())
    }

    /// Entries in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The best `limit` entries for `query` among the scopes `kbs` (the caller's readable
    /// ones), with their BM25 scores, best first. Query syntax in user text is not interpreted
    /// beyond words and quoted phrases; malformed parts are ignored.
    pub fn search(&self, query: &str, kbs: &[S], limit: usize) -> Result<Vec<(E, f32)>, IndexError> {
        if kbs.is_empty() {
            return Ok(Vec::new());
        }
        let allowed = TermSetQuery::new(kbs.iter().map(|k| Term::from_field_text(self.kb, &k.to_string())));
        self.search_with(query, Some(Box::new(allowed)), limit)
    }

    /// As [`Self::search`] for a caller who may read every scope (an administrator with no
    /// other restriction): the same query without the scopes' clause, which costs a posting
    /// list per scope. What it returns is for the caller to check against the database, as
    /// every result is.
    pub fn search_everywhere(&self, query: &str, limit: usize) -> Result<Vec<(E, f32)>, IndexError> {
        self.search_with(query, None, limit)
    }

    fn search_with(
        &self,
        query: &str,
        scopes: Option<Box<dyn Query>>,
        limit: usize,
    ) -> Result<Vec<(E, f32)>, IndexError> {
        if limit == 0 || query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let parser = QueryParser::for_index(&self.index, vec![self.text]);
        // Only words: field names, ranges, boosts and boolean operators in user text would
        // otherwise be query syntax.
        let cleaned: String =
            query.chars().map(|c| if c.is_alphanumeric() || c == '"' || c.is_whitespace() { c } else { ' ' }).collect();
        let (text_query, _errors) = parser.parse_query_lenient(&cleaned);
        let mut q: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query)];
        q.extend(scopes.map(|s| (Occur::Must, s)));
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(q), &TopDocs::with_limit(limit).order_by_score())?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = d.get_first(self.chunk).and_then(|v| v.as_str()).and_then(E::parse_id) {
                out.push((id, score));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};

    type LexicalIndex = super::LexicalIndex<KnowledgeBaseId, DocumentId, ChunkId>;

    #[test]
    fn searches_only_the_given_knowledge_bases_with_stemming() -> Result<(), IndexError> {
        let ix = LexicalIndex::in_memory(Language::English, &TermKey::fixed("test", [7; 16]))?;
        let (a, b) = (KnowledgeBaseId::new(), KnowledgeBaseId::new());
        let (da, db) = (DocumentId::new(), DocumentId::new());
        let (ca, cb) = (ChunkId::new(), ChunkId::new());
        ix.put_document(a, da, &[(ca, "Employees accrue vacation days monthly.".into())])?;
        ix.put_document(b, db, &[(cb, "Vacation policy for executives: unlimited.".into())])?;
        let hits = ix.search("vacations", &[a], 10)?;
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![ca], "stemmed, and only from a");
        assert_eq!(ix.search("vacation", &[a, b], 10)?.len(), 2);
        assert!(ix.search("vacation", &[], 10)?.is_empty());
        assert_eq!(ix.search_everywhere("vacation", 10)?.len(), 2, "no scope clause");
        // Query syntax in user text is plain words.
        assert_eq!(ix.search("kb:* OR chunk:[a TO z] vacation^100", &[a], 10)?.len(), 1);
        ix.delete_document(da)?;
        assert!(ix.search("vacation", &[a], 10)?.is_empty());
        ix.put_document(b, db, &[(cb, "replaced text".into())])?;
        assert!(ix.search("vacation", &[b], 10)?.is_empty(), "put replaces a document's chunks");
        assert_eq!(ix.len(), 1);
        ix.delete_kb(b)?;
        assert!(ix.is_empty());
        Ok(())
    }

    /// A rebuild (`replace_all`, new entries, `flush`) has no empty moment: until the commit,
    /// searches see the old entries; after it, only the new ones.
    #[test]
    fn a_rebuild_replaces_every_entry_at_one_commit() -> Result<(), IndexError> {
        let ix = LexicalIndex::in_memory(Language::English, &TermKey::fixed("test", [7; 16]))?;
        let (kb, old, new) = (KnowledgeBaseId::new(), DocumentId::new(), DocumentId::new());
        let (c1, c2) = (ChunkId::new(), ChunkId::new());
        ix.put_document(kb, old, &[(c1, "The quarterly budget was approved.".into())])?;
        ix.replace_all()?;
        ix.add_chunks(&[(kb, new, c2, "The budget moved to the next quarter.".into())])?;
        assert_eq!(
            ix.search("budget", &[kb], 10)?.iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![c1],
            "old until the commit"
        );
        ix.flush()?;
        assert_eq!(
            ix.search("budget", &[kb], 10)?.iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![c2],
            "then only the new"
        );
        assert_eq!(ix.len(), 1);
        Ok(())
    }

    /// The files hold keyed terms only; another key starts the index afresh (and finds nothing
    /// of what the first one wrote until it is rebuilt), the same key keeps it.
    #[test]
    fn terms_on_disk_are_keyed_and_the_key_is_checked_on_open() -> Result<(), IndexError> {
        let dir = tempfile::tempdir().map_err(|source| IndexError::Io { path: "temp".into(), source })?;
        let k1 = TermKey::fixed("one", [1; 16]);
        let (kb, doc, chunk) = (KnowledgeBaseId::new(), DocumentId::new(), ChunkId::new());
        {
            let ix = LexicalIndex::open(dir.path(), Language::English, &k1)?;
            ix.put_document(kb, doc, &[(chunk, "Quokkas photobomb zanzibarian tourists".into())])?;
            assert_eq!(ix.search("quokka", &[kb], 10)?.len(), 1, "stemmed and keyed alike on both sides");
        }
        // What anyone with the files can read: the text field's term dictionary.
        let raw = Index::open_in_dir(dir.path())?;
        let field = raw.schema().get_field("text")?;
        let mut terms = Vec::new();
        for seg in raw.reader()?.searcher().segment_readers() {
            let inverted = seg.inverted_index(field)?;
            let mut stream =
                inverted.terms().stream().map_err(|source| IndexError::Io { path: "terms".into(), source })?;
            while stream.advance() {
                terms.push(String::from_utf8_lossy(stream.key()).into_owned());
            }
        }
        assert_eq!(terms.len(), 4, "{terms:?}");
        for t in &terms {
            assert!(t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit()), "a term in the clear: {t}");
        }
        let ix = LexicalIndex::open(dir.path(), Language::English, &k1)?;
        assert_eq!(ix.len(), 1, "the same key keeps the index");
        drop(ix);
        let ix = LexicalIndex::open(dir.path(), Language::English, &TermKey::fixed("two", [2; 16]))?;
        assert!(ix.is_empty(), "another key starts it afresh");
        ix.put_document(kb, doc, &[(chunk, "Quokkas photobomb zanzibarian tourists".into())])?;
        assert_eq!(ix.search("quokkas", &[kb], 10)?.len(), 1);
        Ok(())
    }
}
