-- The audit log becomes a hash chain: each record carries its position (`seq`, gap-free from 1
-- or from the retention anchor) and the SHA-256 of the previous record's hash and its own
-- fields. Records written before this migration are chained at start-up, in id order.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
