-- Dense retrieval: the embedding model of a knowledge base (NULL: lexical only), and each
-- chunk's vector (sealed, little-endian f32) with the id of the model that made it.
ALTER TABLE knowledge_bases ADD COLUMN embedding_model TEXT;
ALTER TABLE kb_chunks ADD COLUMN embedding {{BLOB}};
ALTER TABLE kb_chunks ADD COLUMN embedding_model TEXT;

-- Document bytes in their own table, so that listing documents and counting them (the counts
-- shown while ingesting) do not read every document's content; counts from an index alone.
CREATE TABLE kb_document_contents (
    document_id TEXT PRIMARY KEY REFERENCES kb_documents (id) ON DELETE CASCADE,
    content {{BLOB}} NOT NULL
);
INSERT INTO kb_document_contents (document_id, content) SELECT id, content FROM kb_documents;
ALTER TABLE kb_documents DROP COLUMN content;
CREATE INDEX kb_documents_kb_status ON kb_documents (kb_id, status, chunk_count);
