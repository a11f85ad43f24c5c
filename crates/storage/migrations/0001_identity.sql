-- Identity: users, groups, MFA, token families, API keys, signing keys, audit, throttling.
-- One history for every backend. `{{BLOB}}` is the dialect's byte-string type (BLOB / BYTEA);
-- everything else is portable SQL. Integers are BIGINT; timestamps are Unix milliseconds, UTC.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT,
    external_issuer TEXT,
    external_subject TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_local_email_uq ON users (email) WHERE external_issuer IS NULL;
CREATE UNIQUE INDEX users_external_uq ON users (external_issuer, external_subject);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_name_uq ON groups (name);
INSERT INTO groups (id, name, description, created_at)
VALUES ('00000000-0000-7000-8000-000000000001', 'admin', 'Administrators (built in)', 0);

CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group ON user_groups (group_id);

CREATE TABLE user_mfa (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    totp_secret {{BLOB}} NOT NULL,
    enabled BIGINT NOT NULL,
    last_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    enabled_at BIGINT
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE token_families (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT,
    client_ip TEXT,
    user_agent TEXT
);
CREATE INDEX token_families_user ON token_families (user_id, id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE auth_challenges (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_prefix_uq ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id, id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    publish_until BIGINT
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    client_ip TEXT,
    request_id TEXT,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);

CREATE TABLE meta (
    meta_key TEXT PRIMARY KEY,
    meta_value TEXT NOT NULL
);
