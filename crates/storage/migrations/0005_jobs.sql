-- Async inference jobs (seed 003): a request runs in the background; the owner polls for it.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assistant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    result {{BLOB}},
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_user ON jobs (user_id, id);
CREATE INDEX jobs_status ON jobs (status);
