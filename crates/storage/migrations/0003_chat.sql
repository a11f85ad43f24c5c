-- Chat (GAIA): sessions, one row per message (no whole-conversation blob), feedback.
-- Message content, titles and feedback text are sealed by `crypto` before they arrive here.

CREATE TABLE chat_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assistant_id TEXT NOT NULL,
    title {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chat_sessions_user ON chat_sessions (user_id, updated_at, id);
CREATE INDEX chat_sessions_updated ON chat_sessions (updated_at, id);

CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    content {{BLOB}} NOT NULL,
    parts {{BLOB}},
    model_id TEXT,
    response_time_ms BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX chat_messages_session_seq ON chat_messages (session_id, seq);

CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    rating TEXT NOT NULL,
    reason TEXT,
    text_feedback {{BLOB}},
    created_at BIGINT NOT NULL
);
CREATE INDEX feedback_user ON feedback (user_id, id);
CREATE INDEX feedback_created ON feedback (created_at, id);
