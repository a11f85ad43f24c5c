-- Everyday chat (issue 16): pinned and archived conversations, and each user's saved prompts.
-- A prompt's title and text are sealed by `crypto` before they arrive here (the prompt's id
-- is their associated data).

ALTER TABLE chat_sessions ADD COLUMN pinned BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_sessions ADD COLUMN archived_at BIGINT;
CREATE INDEX chat_sessions_user_shelf ON chat_sessions (user_id, pinned, updated_at, id);

CREATE TABLE user_prompts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title {{BLOB}} NOT NULL,
    body {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX user_prompts_user ON user_prompts (user_id, id);
