-- Meetings (LMA's calls): one row per meeting, its transcript segments (one row each, upserted
-- by segment id) and the users it is shared with. Names users give (the client's call id, which
-- LMA's web UI makes from the meeting's topic; the title; the participants) and everything said
-- are sealed, the row's identity as associated data; the call id is found by a keyed hash of it
-- (`call_key`: HMAC-SHA256 under a lookup key kept sealed in `meta`).
-- Readers: the owner, the users it is shared with, and administrators.

CREATE TABLE meetings (
    id TEXT PRIMARY KEY,
    call_key TEXT NOT NULL,
    call_id {{BLOB}} NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    details {{BLOB}} NOT NULL,
    sample_rate BIGINT NOT NULL,
    channels BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    duration_ms BIGINT NOT NULL,
    recording_status TEXT NOT NULL,
    recording_bytes BIGINT NOT NULL,
    recording_chunks BIGINT NOT NULL,
    recording_chunk_bytes BIGINT NOT NULL,
    transcript_deleted_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX meetings_call_key ON meetings (call_key);
CREATE INDEX meetings_owner_started ON meetings (owner_id, started_at);
CREATE INDEX meetings_started ON meetings (started_at);
CREATE INDEX meetings_status ON meetings (status, updated_at);

CREATE TABLE meeting_shares (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_shares_user ON meeting_shares (user_id, meeting_id);

CREATE TABLE meeting_segments (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    segment_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    is_partial BIGINT NOT NULL,
    body {{BLOB}} NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, segment_id)
);
CREATE INDEX meeting_segments_time ON meeting_segments (meeting_id, start_ms);

-- Single-use tickets for WebSockets that cannot send headers (the web app's audio socket):
-- stored hashed, good for a minute, for one user and the scopes of the credential that asked.
CREATE TABLE ws_tickets (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ws_tickets_expiry ON ws_tickets (expires_at);
