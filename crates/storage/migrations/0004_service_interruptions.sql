-- Service interruptions (GAIA bot management): while active, replies are the configured message.

CREATE TABLE service_interruptions (
    service_type TEXT PRIMARY KEY,
    message TEXT NOT NULL,
    reason TEXT NOT NULL,
    activated_by TEXT,
    activated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
