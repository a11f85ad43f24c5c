-- Passwords: a change required at the next sign-in (set with a temporary password), and the
-- single-use reset links sent by email (only the SHA-256 of each link's token is stored).
ALTER TABLE users ADD COLUMN password_must_change BIGINT NOT NULL DEFAULT 0;

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE INDEX password_resets_expires ON password_resets (expires_at);
