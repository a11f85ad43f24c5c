//! Retention: deleting expired data in bounded batches, and the lease that keeps it to one
//! sweeper per cluster.

use crate::{Db, StorageError};
use rampart_core::Timestamp;

/// What a sweep deletes. Each kind is one statement deleting at most `batch` rows older than
/// the cutoff; rows that depend on them go with them (`ON DELETE CASCADE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiring {
    /// Chat sessions not active since the cutoff, with their messages and feedback.
    Sessions,
    /// Feedback given before the cutoff.
    Feedback,
    /// Finished background jobs (their sealed results) last updated before the cutoff.
    FinishedJobs,
    /// Sign-in challenges, OAuth codes and socket tickets that expired before the cutoff.
    Challenges,
    /// Sign-ins (token families with their refresh tokens) expired or revoked before the cutoff.
    SignIns,
}

impl Expiring {
    pub fn name(self) -> &'static str {
        match self {
            Expiring::Sessions => "sessions",
            Expiring::Feedback => "feedback",
            Expiring::FinishedJobs => "jobs",
            Expiring::Challenges => "challenges",
            Expiring::SignIns => "sign_ins",
        }
    }

    fn statements(self) -> &'static [&'static str] {
        match self {
            Expiring::Sessions => &["DELETE FROM chat_sessions WHERE id IN \
                 (SELECT id FROM chat_sessions WHERE updated_at < $1 ORDER BY updated_at LIMIT $2)"],
            Expiring::Feedback => &[
                "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
            ],
            Expiring::FinishedJobs => {
                &["DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('succeeded', 'failed') \
                 AND updated_at < $1 ORDER BY updated_at LIMIT $2)"]
            }
            Expiring::Challenges => &[
                "DELETE FROM auth_challenges WHERE id_hash IN \
                 (SELECT id_hash FROM auth_challenges WHERE expires_at < $1 LIMIT $2)",
                "DELETE FROM oauth_codes WHERE code_hash IN (SELECT code_hash FROM oauth_codes WHERE expires_at < $1 LIMIT $2)",
                "DELETE FROM ws_tickets WHERE hash IN (SELECT hash FROM ws_tickets WHERE expires_at < $1 LIMIT $2)",
                "DELETE FROM password_resets WHERE token_hash IN \
                 (SELECT token_hash FROM password_resets WHERE expires_at < $1 LIMIT $2)",
            ],
            Expiring::SignIns => &["DELETE FROM token_families WHERE id IN (SELECT id FROM token_families \
                 WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)"],
        }
    }
}

impl Db {
    /// Deletes at most `batch` rows (per statement) of `kind` older than `cutoff`.
    pub async fn delete_expired(&self, kind: Expiring, cutoff: Timestamp, batch: u32) -> Result<u64, StorageError> {
        let mut n = 0;
        for sql in kind.statements() {
            n += sqlx::query(*sql)
                .bind(cutoff.millis())
                .bind(i64::from(batch))
                .execute(self.writer())
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// Takes or renews the lease `name` for `holder` until `now + ttl`; false while another
    /// holder's lease runs. One statement, so two contenders cannot both win.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: std::time::Duration,
    ) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3 \
             WHERE leases.expires_at < $4 OR leases.holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(now.plus(ttl).millis())
        .bind(now.millis())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives the lease up (if `holder` has it), so another replica may take it at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
