-- Models and assistants added at runtime by administrators (the config file's are not stored).
-- `spec` is the entry's JSON without secrets; `secrets` is a sealed JSON object of the
-- write-only fields (API keys, webhook secrets), bound to (kind, id) as associated data.

CREATE TABLE catalog (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    spec TEXT NOT NULL,
    secrets {{BLOB}},
    updated_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
