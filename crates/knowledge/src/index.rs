//! The lexical index: BM25 over chunk text with tantivy, stemmed for the configured language.
//! It holds chunk, document and knowledge-base ids and the inverted index of the text (the text
//! itself is not stored: the database keeps it, sealed). Access control is part of every query:
//! a search names the knowledge bases the caller may read, and the index only scores chunks of
//! those (a `TermSetQuery` on the knowledge-base id that must match), so nothing unreadable is
//! counted, ranked or returned. The index is rebuildable from the database.

use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermSetQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

const TOKENIZER: &str = "rampart";
/// Memory for the index writer's buffer.
const WRITER_HEAP: usize = 50 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("index: {0}")]
pub struct IndexError(pub String);

impl From<tantivy::TantivyError> for IndexError {
    fn from(e: tantivy::TantivyError) -> Self {
        IndexError(e.to_string())
    }
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

pub struct LexicalIndex {
    index: Index,
    /// Taken on the first write: tantivy allows one writer per index directory, and commands
    /// that only read (or never touch the index) must not hold it while a server runs.
    writer: Mutex<Option<IndexWriter>>,
    reader: IndexReader,
    chunk: Field,
    doc: Field,
    kb: Field,
    text: Field,
}

impl std::fmt::Debug for LexicalIndex {
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

impl LexicalIndex {
    /// Opens the index in `dir` (created if missing; rebuilt empty if its schema is not ours).
    pub fn open(dir: &Path, lang: Language) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError(format!("{}: {e}", dir.display())))?;
        let (schema, _) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| IndexError(e.to_string()))?;
        let index = match Index::open_or_create(mmap, schema.clone()) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "lexical index unreadable or from another version; starting it afresh");
                for entry in std::fs::read_dir(dir).map_err(|e| IndexError(e.to_string()))?.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
                let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| IndexError(e.to_string()))?;
                Index::create(mmap, schema, tantivy::IndexSettings::default())?
            }
        };
        Self::with_index(index, lang)
    }

    /// An index in memory (tests, and deployments that rebuild at start).
    pub fn in_memory(lang: Language) -> Result<Self, IndexError> {
        Self::with_index(Index::create_in_ram(schema().0), lang)
    }

    fn with_index(index: Index, lang: Language) -> Result<Self, IndexError> {
        let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(lang))
            .build();
        index.tokenizers().register(TOKENIZER, analyzer);
        let s = index.schema();
        let field = |n: &str| s.get_field(n).map_err(|e| IndexError(e.to_string()));
        let (chunk, doc, kb, text) = (field("chunk")?, field("doc")?, field("kb")?, field("text")?);
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { index, writer: Mutex::new(None), reader, chunk, doc, kb, text })
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>, IndexError> {
        let mut g = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.is_none() {
            *g = Some(
                self.index
                    .writer_with_num_threads(1, WRITER_HEAP)
                    .map_err(|e| IndexError(format!("{e} (is another Rampart process using this data directory?)")))?,
            );
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

    /// Replaces a document's chunks (deletes what the index had for it first) and commits.
    pub fn put_document(
        &self,
        kb: KnowledgeBaseId,
        doc: DocumentId,
        chunks: &[(ChunkId, String)],
    ) -> Result<(), IndexError> {
        self.stage_document(kb, doc, chunks)?;
        self.flush()
    }

    /// Replaces a document's chunks without committing: searches see them after the next
    /// [`Self::flush`] (ingestion commits once for many documents: a commit writes and syncs
    /// segment files, which one commit per document would do thousands of times).
    pub fn stage_document(
        &self,
        kb: KnowledgeBaseId,
        doc: DocumentId,
        chunks: &[(ChunkId, String)],
    ) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or_else(|| IndexError("no writer".into()))?;
        w.delete_term(Term::from_field_text(self.doc, &doc.to_string()));
        for (id, text) in chunks {
            let mut d = TantivyDocument::default();
            d.add_text(self.chunk, id.to_string());
            d.add_text(self.doc, doc.to_string());
            d.add_text(self.kb, kb.to_string());
            d.add_text(self.text, text);
            w.add_document(d)?;
        }
        Ok(())
    }

    /// Adds chunks without deleting or committing (rebuilds); call [`Self::flush`] after.
    pub fn add_chunks(&self, chunks: &[(KnowledgeBaseId, DocumentId, ChunkId, String)]) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or_else(|| IndexError("no writer".into()))?;
        for (kb, doc, id, text) in chunks {
            let mut d = TantivyDocument::default();
            d.add_text(self.chunk, id.to_string());
            d.add_text(self.doc, doc.to_string());
            d.add_text(self.kb, kb.to_string());
            d.add_text(self.text, text);
            w.add_document(d)?;
        }
        Ok(())
    }

    pub fn flush(&self) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        self.commit(&mut g)
    }

    pub fn delete_document(&self, doc: DocumentId) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or_else(|| IndexError("no writer".into()))?;
        w.delete_term(Term::from_field_text(self.doc, &doc.to_string()));
        self.commit(&mut g)
    }

    pub fn delete_kb(&self, kb: KnowledgeBaseId) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or_else(|| IndexError("no writer".into()))?;
        w.delete_term(Term::from_field_text(self.kb, &kb.to_string()));
        self.commit(&mut g)
    }

    /// Empties the index (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        let mut g = self.writer()?;
        let w = g.as_mut().ok_or_else(|| IndexError("no writer".into()))?;
        w.delete_all_documents()?;
        self.commit(&mut g)
    }

    /// Chunks in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The best `limit` chunks for `query` among the knowledge bases `kbs` (the caller's readable
    /// ones), with their BM25 scores, best first. Query syntax in user text is not interpreted
    /// beyond words and quoted phrases; malformed parts are ignored.
    pub fn search(
        &self,
        query: &str,
        kbs: &[KnowledgeBaseId],
        limit: usize,
    ) -> Result<Vec<(ChunkId, f32)>, IndexError> {
        if kbs.is_empty() || limit == 0 || query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let parser = QueryParser::for_index(&self.index, vec![self.text]);
        // Only words: field names, ranges, boosts and boolean operators in user text would
        // otherwise be query syntax.
        let cleaned: String =
            query.chars().map(|c| if c.is_alphanumeric() || c == '"' || c.is_whitespace() { c } else { ' ' }).collect();
        let (text_query, _errors) = parser.parse_query_lenient(&cleaned);
        let allowed = TermSetQuery::new(kbs.iter().map(|k| Term::from_field_text(self.kb, &k.to_string())));
        let q: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query), (Occur::Must, Box::new(allowed))];
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(q), &TopDocs::with_limit(limit).order_by_score())?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = d.get_first(self.chunk).and_then(|v| v.as_str()).and_then(ChunkId::parse) {
                out.push((id, score));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_only_the_given_knowledge_bases_with_stemming() -> Result<(), IndexError> {
        let ix = LexicalIndex::in_memory(Language::English)?;
        let (a, b) = (KnowledgeBaseId::new(), KnowledgeBaseId::new());
        let (da, db) = (DocumentId::new(), DocumentId::new());
        let (ca, cb) = (ChunkId::new(), ChunkId::new());
        ix.put_document(a, da, &[(ca, "Employees accrue vacation days monthly.".into())])?;
        ix.put_document(b, db, &[(cb, "Vacation policy for executives: unlimited.".into())])?;
        let hits = ix.search("vacations", &[a], 10)?;
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![ca], "stemmed, and only from a");
        assert_eq!(ix.search("vacation", &[a, b], 10)?.len(), 2);
        assert!(ix.search("vacation", &[], 10)?.is_empty());
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
}
