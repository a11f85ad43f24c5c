-- Leases: one holder at a time for cluster-wide background work (the retention sweeper).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX jobs_status_updated ON jobs (status, updated_at);
CREATE INDEX token_families_expires ON token_families (expires_at);
