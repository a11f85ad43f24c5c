-- Knowledge bases, their documents (bytes sealed) and chunks (text and section sealed).
-- Readers: the owner, members of the groups in `kb_readers`, and administrators.

CREATE TABLE knowledge_bases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX knowledge_bases_name ON knowledge_bases (name);

CREATE TABLE kb_readers (
    kb_id TEXT NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    PRIMARY KEY (kb_id, group_name)
);

CREATE TABLE kb_documents (
    id TEXT PRIMARY KEY,
    kb_id TEXT NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size BIGINT NOT NULL,
    content {{BLOB}} NOT NULL,
    format TEXT,
    status TEXT NOT NULL,
    error TEXT,
    chunk_count BIGINT NOT NULL,
    uploaded_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX kb_documents_hash ON kb_documents (kb_id, content_hash);
CREATE INDEX kb_documents_status ON kb_documents (status, id);

CREATE TABLE kb_chunks (
    id TEXT PRIMARY KEY,
    kb_id TEXT NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    document_id TEXT NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    ordinal BIGINT NOT NULL,
    body {{BLOB}} NOT NULL,
    page BIGINT,
    page_end BIGINT,
    span_start BIGINT NOT NULL,
    span_end BIGINT NOT NULL
);
CREATE UNIQUE INDEX kb_chunks_doc ON kb_chunks (document_id, ordinal);
CREATE INDEX kb_chunks_kb ON kb_chunks (kb_id, id);
