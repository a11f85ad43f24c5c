//! Login throttling counters, keyed by a hashed account name or a client address. Kept in the
//! database so that every replica sees the same counts.

use crate::{Db, StorageError};
use rampart_core::Timestamp;
use sqlx::Row;

impl Db {
    /// If `key` is locked at `now`, until when.
    pub async fn throttle_locked_until(&self, key: &str, now: Timestamp) -> Result<Option<Timestamp>, StorageError> {
        let r = sqlx::query("SELECT locked_until FROM login_throttle WHERE throttle_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        let until = r.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?.flatten();
        Ok(until.filter(|u| *u > now.millis()).map(Timestamp::from_millis))
    }

    /// Counts a failure (or an attempt) in a fixed window, atomically: one upsert, so
    /// concurrent failures are all counted. Once the count reaches `max`, the key is locked
    /// until `now + lock_ms`; returns that time while the count is at or above `max`.
    pub async fn throttle_fail(
        &self,
        key: &str,
        now: Timestamp,
        window_ms: i64,
        max: i64,
        lock_ms: i64,
    ) -> Result<Option<Timestamp>, StorageError> {
        let row = sqlx::query(
            "INSERT INTO login_throttle (throttle_key, failures, window_start, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE NULL END) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.window_start + $3 < $2 THEN 1 ELSE login_throttle.failures + 1 END, \
               window_start = CASE WHEN login_throttle.window_start + $3 < $2 THEN $2 ELSE login_throttle.window_start END, \
               locked_until = CASE \
                 WHEN (CASE WHEN login_throttle.window_start + $3 < $2 THEN 1 ELSE login_throttle.failures + 1 END) >= $4 \
                 THEN $2 + $5 ELSE login_throttle.locked_until END \
             RETURNING failures, locked_until",
        )
        .bind(key)
        .bind(now.millis())
        .bind(window_ms)
        .bind(max)
        .bind(lock_ms)
        .fetch_one(self.writer())
        .await?;
        let failures: i64 = row.try_get(0)?;
        let until: Option<i64> = row.try_get(1)?;
        Ok(until.filter(|_| failures >= max).map(Timestamp::from_millis))
    }

    /// Clears `prefix` and every key that starts with `prefix:` (an account's locks).
    pub async fn throttle_clear_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let like = format!("{}:%", super::escape_like(prefix));
        Ok(sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1 OR throttle_key LIKE $2 ESCAPE '\\'")
            .bind(prefix)
            .bind(like)
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    /// Clears a key after a success.
    pub async fn throttle_clear(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1").bind(key).execute(self.writer()).await?;
        Ok(())
    }
}
