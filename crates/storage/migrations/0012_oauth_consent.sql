-- Rampart as an OpenID provider: consent remembered per user and client (the scopes granted),
-- when the user signed in for a code (auth_time), and the scope of a client's sign-in (so a
-- refresh never widens it).

CREATE TABLE oauth_consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

ALTER TABLE oauth_codes ADD COLUMN auth_time BIGINT;

ALTER TABLE token_families ADD COLUMN scope TEXT;
ALTER TABLE token_families ADD COLUMN auth_time BIGINT;
