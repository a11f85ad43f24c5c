-- Past meetings as knowledge: a finished meeting's transcript (its final segments grouped into
-- passages of one speaker) and its summary, in passages that meeting search indexes and cites.
-- What was said and who said it are sealed in `body` (the passage's id as associated data), its
-- vector in `embedding` (with the id of the model that made it); times and channel stay in the
-- clear, as the segments' do. `kind` is `transcript` or `summary`; summaries have no times.
-- The passages go with their meeting; readers are the meeting's (owner, shared-with,
-- administrators), checked against `meetings` at every search.
-- `meetings.indexed_at`: when the transcript was made into passages (NULL: not yet; the next
-- start or check does it).

ALTER TABLE meetings ADD COLUMN indexed_at BIGINT;

CREATE TABLE meeting_passages (
    id TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    channel TEXT,
    start_ms BIGINT,
    end_ms BIGINT,
    body {{BLOB}} NOT NULL,
    embedding {{BLOB}},
    embedding_model TEXT
);
CREATE UNIQUE INDEX meeting_passages_order ON meeting_passages (meeting_id, kind, ordinal);
