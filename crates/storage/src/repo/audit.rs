//! The audit log: who did what to whom, with what outcome. Never passwords, codes or tokens.
//!
//! The log is a hash chain. Every record has a gap-free sequence number and
//! `hash = SHA-256(canonical(prev_hash, seq, id, at, fields…))`, where `prev_hash` is the previous
//! record's hash (64 zeros before the first). Editing a record breaks its hash; deleting or
//! inserting one breaks the sequence or the next record's `prev_hash`. Retention removes the
//! oldest records and records where the chain now starts (the *anchor*, in `meta`), so a
//! front-trimmed chain still verifies and an unrecorded trim does not. Truncating the newest
//! records is only detectable against a head recorded elsewhere ([`Db::verify_audit`] takes one).

use super::{id, paginate, ts};
use crate::db::Backend;
use crate::{Db, StorageError};
use rampart_core::{AuditId, AuditOutcome, Page, PageRequest, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const ANCHOR_KEY: &str = "audit_anchor";
macro_rules! columns {
    () => {
        "id, at, actor_id, actor, action, target, outcome, client_ip, request_id, detail, seq, prev_hash, hash"
    };
}

#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub actor_id: Option<UserId>,
    /// A readable actor (email, `system`, `cli`).
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// A short machine-readable reason; never secret material.
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry with no actor, target, address or detail yet.
    pub fn new(action: impl Into<String>, outcome: AuditOutcome) -> Self {
        Self {
            actor_id: None,
            actor: None,
            action: action.into(),
            target: None,
            outcome,
            client_ip: None,
            request_id: None,
            detail: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: AuditId,
    pub at: Timestamp,
    pub entry: AuditEntry,
    /// Position in the chain (absent only on rows that were never chained: tampering).
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<UserId>,
    pub outcome: Option<AuditOutcome>,
    pub target: Option<String>,
    /// Inclusive lower bound on `at`.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound on `at`.
    pub to: Option<Timestamp>,
}

/// What [`Db::verify_audit`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditVerification {
    pub records: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The hash of the newest record (record it elsewhere to detect truncation later).
    pub head: Option<String>,
    /// Human-readable problems, at most [`MAX_PROBLEMS`]; empty means the chain is intact.
    pub problems: Vec<String>,
}

pub const MAX_PROBLEMS: usize = 50;

impl AuditVerification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

fn outcome(s: &str) -> Result<AuditOutcome, StorageError> {
    AuditOutcome::parse(s).ok_or_else(|| StorageError::Corrupt(format!("unknown audit outcome {s:?}")))
}

fn from_row(r: &AnyRow) -> Result<AuditRecord, StorageError> {
    let actor_id: Option<String> = r.try_get("actor_id")?;
    Ok(AuditRecord {
        id: id(r, "id")?,
        at: ts(r, "at")?,
        entry: AuditEntry {
            actor_id: actor_id.and_then(|s| s.parse().ok()),
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            outcome: outcome(&r.try_get::<String, _>("outcome")?)?,
            client_ip: r.try_get("client_ip")?,
            request_id: r.try_get("request_id")?,
            detail: r.try_get("detail")?,
        },
        seq: r.try_get("seq")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// The record's hash: SHA-256 over length-prefixed fields, so no two different records encode
/// alike (a field boundary cannot be moved).
pub fn record_hash(prev_hash: &str, seq: i64, id: &str, at: i64, e: &AuditEntry) -> String {
    let mut buf = Vec::with_capacity(256);
    let mut field = |v: Option<&[u8]>| match v {
        None => buf.push(0),
        Some(b) => {
            buf.push(1);
            buf.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
            buf.extend_from_slice(b);
        }
    };
    let actor_id = e.actor_id.map(|u| u.to_string());
    field(Some(b"rampart-audit-v1"));
    field(Some(prev_hash.as_bytes()));
    field(Some(&seq.to_be_bytes()));
    field(Some(id.as_bytes()));
    field(Some(&at.to_be_bytes()));
    field(actor_id.as_deref().map(str::as_bytes));
    field(e.actor.as_deref().map(str::as_bytes));
    field(Some(e.action.as_bytes()));
    field(e.target.as_deref().map(str::as_bytes));
    field(Some(e.outcome.as_str().as_bytes()));
    field(e.client_ip.as_deref().map(str::as_bytes));
    field(e.request_id.as_deref().map(str::as_bytes));
    field(e.detail.as_deref().map(str::as_bytes));
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &buf))
}

/// The state of a walk along the chain, record by record.
struct Walk<'a> {
    v: AuditVerification,
    want_seq: i64,
    want_prev: String,
    expect_head: Option<(i64, &'a str)>,
    expect_seen: bool,
}

impl Walk<'_> {
    /// Checks the next record; returns its sequence number.
    fn check(&mut self, r: &AnyRow) -> Result<i64, StorageError> {
        let seq: i64 = r.try_get::<Option<i64>, _>("seq")?.unwrap_or_default();
        let id: String = r.try_get("id")?;
        let prev: String = r.try_get::<Option<String>, _>("prev_hash")?.unwrap_or_default();
        let stored: String = r.try_get::<Option<String>, _>("hash")?.unwrap_or_default();
        let v = &mut self.v;
        v.records += 1;
        v.first_seq.get_or_insert(seq);
        v.last_seq = Some(seq);
        if seq != self.want_seq {
            let want = self.want_seq;
            v.problem(format!("records {want}..{} are missing (deleted) before record {seq}", seq.saturating_sub(1)));
        }
        if prev != self.want_prev {
            v.problem(format!("record {seq} ({id}) does not link to the record before it"));
        }
        match from_row(r) {
            Ok(rec) => {
                if record_hash(&prev, seq, &id, rec.at.millis(), &rec.entry) != stored {
                    v.problem(format!("record {seq} ({id}) was modified: its content does not match its hash"));
                }
            }
            // A value no version writes (an edited outcome): the record was modified.
            Err(StorageError::Corrupt(why)) => v.problem(format!("record {seq} ({id}) was modified: {why}")),
            Err(e) => return Err(e),
        }
        if let Some((s, h)) = self.expect_head
            && s == seq
        {
            self.expect_seen = true;
            if stored != h {
                v.problem(format!("record {seq} has hash {stored}, but {h} was recorded for it"));
            }
        }
        self.want_seq = seq + 1;
        // Link the next record to what this one claims; a modified record is reported once,
        // not again for its successor.
        self.want_prev = stored;
        Ok(seq)
    }

    fn finish(mut self) -> AuditVerification {
        self.v.head = (self.v.records > 0).then(|| self.want_prev.clone());
        if let Some((s, _)) = self.expect_head
            && !self.expect_seen
        {
            self.v.problem(format!(
                "record {s} (the recorded head) is no longer in the chain: newer records were deleted"
            ));
        }
        self.v
    }
}

fn parse_anchor(v: &str) -> Result<(i64, String), StorageError> {
    let (s, h) = v.split_once(':').ok_or_else(|| StorageError::Corrupt("audit anchor".into()))?;
    Ok((s.parse().map_err(|_| StorageError::Corrupt("audit anchor".into()))?, h.to_owned()))
}

/// The (seq, prev_hash) the next record takes, read inside the appending transaction.
async fn next_link(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<(i64, String), StorageError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(r) = head {
        let seq: i64 = r.try_get(0)?;
        let hash: Option<String> = r.try_get(1)?;
        return Ok((seq + 1, hash.ok_or_else(|| StorageError::Corrupt("audit head has no hash".into()))?));
    }
    let anchor = sqlx::query("SELECT meta_value FROM meta WHERE meta_key = $1")
        .bind(ANCHOR_KEY)
        .fetch_optional(&mut **tx)
        .await?;
    match anchor {
        Some(r) => parse_anchor(&r.try_get::<String, _>(0)?),
        None => Ok((1, GENESIS.to_owned())),
    }
}

/// On PostgreSQL, replicas append one at a time (a transaction-scoped advisory lock); SQLite's
/// `BEGIN IMMEDIATE` already serialises writers.
async fn lock_chain(db: &Db, tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<(), StorageError> {
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7301001)").execute(&mut **tx).await?;
    }
    Ok(())
}

impl Db {
    /// Appends a record to the chain.
    pub async fn audit(&self, e: &AuditEntry, now: Timestamp) -> Result<(), StorageError> {
        let id = AuditId::new().to_string();
        let mut tx = self.begin_write().await?;
        lock_chain(self, &mut tx).await?;
        let (seq, prev) = next_link(&mut tx).await?;
        let hash = record_hash(&prev, seq, &id, now.millis(), e);
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_id, actor, action, target, outcome, client_ip, request_id, detail, seq, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(id)
        .bind(now.millis())
        .bind(e.actor_id.map(|u| u.to_string()))
        .bind(e.actor.as_deref())
        .bind(e.action.as_str())
        .bind(e.target.as_deref())
        .bind(e.outcome.as_str())
        .bind(e.client_ip.as_deref())
        .bind(e.request_id.as_deref())
        .bind(e.detail.as_deref())
        .bind(seq)
        .bind(prev)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Chains records written before the chain existed (in id order, which is time order).
    /// Runs at start-up; a no-op once done.
    pub async fn chain_legacy_audit(&self) -> Result<u64, StorageError> {
        let mut n = 0;
        loop {
            let mut tx = self.begin_write().await?;
            lock_chain(self, &mut tx).await?;
            let rows =
                sqlx::query(concat!("SELECT ", columns!(), " FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT 500"))
                    .fetch_all(&mut *tx)
                    .await?;
            if rows.is_empty() {
                tx.commit().await?;
                return Ok(n);
            }
            let (mut seq, mut prev) = next_link(&mut tx).await?;
            for r in &rows {
                let rec = from_row(r)?;
                let hash = record_hash(&prev, seq, &rec.id.to_string(), rec.at.millis(), &rec.entry);
                sqlx::query("UPDATE audit_log SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4")
                    .bind(seq)
                    .bind(&prev)
                    .bind(&hash)
                    .bind(rec.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                seq += 1;
                prev = hash;
                n += 1;
            }
            tx.commit().await?;
        }
    }

    /// Newest first, with optional exact-match filters and a time range.
    pub async fn list_audit(&self, f: &AuditFilter, page: &PageRequest) -> Result<Page<AuditRecord>, StorageError> {
        let before = super::cursor(page)?.unwrap_or_default();
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM audit_log \
             WHERE ($1 = '' OR id < $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR actor_id = $3) AND ($4 = '' OR outcome = $4) \
             AND ($5 = '' OR target = $5) AND at >= $6 AND at < $7 \
             ORDER BY id DESC LIMIT $8",
        ))
        .bind(before)
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.actor_id.map(|u| u.to_string()).unwrap_or_default())
        .bind(f.outcome.map_or("", AuditOutcome::as_str))
        .bind(f.target.clone().unwrap_or_default())
        .bind(f.from.map_or(i64::MIN, Timestamp::millis))
        .bind(f.to.map_or(i64::MAX, Timestamp::millis))
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |a| a.id.to_string()))
    }

    /// Chain order (oldest first) from position `after_seq` (exclusive), for export: the
    /// filter's time range applies, the other filters do not (an export is a verifiable slice).
    pub async fn audit_chain_slice(
        &self,
        after_seq: i64,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM audit_log WHERE seq > $1 AND at >= $2 AND at < $3 ORDER BY seq LIMIT $4"
        ))
        .bind(after_seq)
        .bind(from.map_or(i64::MIN, Timestamp::millis))
        .bind(to.map_or(i64::MAX, Timestamp::millis))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Walks the whole chain. `expect_head` (`seq:hash`, as printed by an earlier run) must
    /// still be in the chain with the same hash, which detects deletion of the newest records.
    pub async fn verify_audit(&self, expect_head: Option<(i64, &str)>) -> Result<AuditVerification, StorageError> {
        let mut v = AuditVerification::default();
        let unchained: i64 =
            sqlx::query("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL").fetch_one(self.pool()).await?.try_get(0)?;
        if unchained > 0 {
            v.problem(format!("{unchained} record(s) are outside the chain (inserted without a sequence number)"));
        }
        let anchor = self.meta_get(ANCHOR_KEY).await?.map(|a| parse_anchor(&a)).transpose()?;
        let (want_seq, want_prev) = anchor.unwrap_or((1, GENESIS.to_owned()));
        let mut walk = Walk { v, want_seq, want_prev, expect_head, expect_seen: false };
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM audit_log WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT 1000"
            ))
            .bind(after)
            .fetch_all(self.pool())
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                after = walk.check(r)?;
            }
        }
        Ok(walk.finish())
    }

    /// Deletes records older than `cutoff` from the front of the chain, at most `batch` at a
    /// time, moving the anchor in the same transaction. Returns how many were deleted.
    pub async fn trim_audit(&self, cutoff: Timestamp, batch: u32) -> Result<u64, StorageError> {
        let mut tx = self.begin_write().await?;
        lock_chain(self, &mut tx).await?;
        // The front of the chain up to the first record that is not yet expired.
        let rows = sqlx::query("SELECT seq, at, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq LIMIT $1")
            .bind(i64::from(batch))
            .fetch_all(&mut *tx)
            .await?;
        let mut last: Option<(i64, String)> = None;
        for r in &rows {
            let at: i64 = r.try_get(1)?;
            if at >= cutoff.millis() {
                break;
            }
            last = Some((r.try_get(0)?, r.try_get::<Option<String>, _>(2)?.unwrap_or_default()));
        }
        let Some((seq, hash)) = last else {
            tx.commit().await?;
            return Ok(0);
        };
        let n = sqlx::query("DELETE FROM audit_log WHERE seq <= $1").bind(seq).execute(&mut *tx).await?.rows_affected();
        sqlx::query(
            "INSERT INTO meta (meta_key, meta_value) VALUES ($1, $2) ON CONFLICT (meta_key) DO UPDATE SET meta_value = $2",
        )
        .bind(ANCHOR_KEY)
        .bind(format!("{}:{hash}", seq + 1))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}
