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

    /// Counts a failure in a fixed window; locks the key for `lock_ms` once `max` is reached.
    /// Returns the lock end if this failure caused a lock.
    pub async fn throttle_fail(
        &self,
        key: &str,
        now: Timestamp,
        window_ms: i64,
        max: i64,
        lock_ms: i64,
    ) -> Result<Option<Timestamp>, StorageError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("SELECT failures, window_start FROM login_throttle WHERE throttle_key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let (failures, start) = match row {
            Some(r) => {
                let f: i64 = r.try_get(0)?;
                let s: i64 = r.try_get(1)?;
                if now.millis() - s > window_ms { (1, now.millis()) } else { (f + 1, s) }
            }
            None => (1, now.millis()),
        };
        let locked = (failures >= max).then(|| now.millis() + lock_ms);
        let (failures, start) = if locked.is_some() { (0, now.millis()) } else { (failures, start) };
        sqlx::query(
            "INSERT INTO login_throttle (throttle_key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (throttle_key) DO UPDATE SET failures = $2, window_start = $3, \
             locked_until = COALESCE($4, login_throttle.locked_until)",
        )
        .bind(key)
        .bind(failures)
        .bind(start)
        .bind(locked)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(locked.map(Timestamp::from_millis))
    }

    /// Clears a key after a success.
    pub async fn throttle_clear(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1").bind(key).execute(self.pool()).await?;
        Ok(())
    }
}
