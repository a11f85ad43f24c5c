//! The start-up lock: replicas that start at the same moment on one PostgreSQL database (a
//! Kubernetes Deployment with several replicas) take turns at migrating and at writing the
//! one-time state (signing key, key check value…), so that the first one writes it and the
//! others find it. Without it two replicas applied the same migration or created two signing
//! keys, and one of them stopped with "a row with the same unique key exists".
//!
//! A PostgreSQL session-level advisory lock on a connection of its own, taken from the pool and
//! never given back to it: if the holder dies, or the guard is dropped on an error path, the
//! connection closes and PostgreSQL releases the lock with the session. (A transaction-pooling
//! proxy such as PgBouncer in transaction mode does not keep session locks; point `database.url`
//! at PostgreSQL itself or at a session-pooling proxy.) SQLite is one process's database: the
//! lock is nothing there.

use crate::db::{Backend, Db, StorageError};
use sqlx::pool::PoolConnection;
use std::time::Duration;

/// The advisory lock's key, Rampart's own (the audit chain's is 7301001).
const STARTUP_LOCK_KEY: i64 = 7_301_000;

/// How often a waiting replica tries again, and how often it says it is still waiting.
const RETRY_EVERY: Duration = Duration::from_millis(100);
const SAY_EVERY: Duration = Duration::from_secs(30);

/// Held while a process migrates or writes start-up state; [`StartupLock::release`] when done.
#[must_use = "the lock is held until released or dropped"]
pub struct StartupLock {
    conn: Option<PoolConnection<sqlx::Any>>,
}

impl Db {
    /// Waits until no other process sharing this database is in its start-up section, then
    /// holds the lock. There is no time limit: a migration of a large table may take long, and
    /// a holder that dies releases the lock with its connection. Not re-entrant: a holder must
    /// not call it again before releasing.
    pub async fn startup_lock(&self) -> Result<StartupLock, StorageError> {
        if self.backend() == Backend::Sqlite {
            return Ok(StartupLock { conn: None });
        }
        let mut conn = self.pool().acquire().await?;
        // Closed rather than pooled when dropped: a pooled session would keep the lock.
        conn.close_on_drop();
        let started = tokio::time::Instant::now();
        let mut said = started;
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(STARTUP_LOCK_KEY)
                .fetch_one(&mut *conn)
                .await?;
            if got {
                return Ok(StartupLock { conn: Some(conn) });
            }
            if said == started || said.elapsed() >= SAY_EVERY {
                tracing::info!(
                    waited_secs = started.elapsed().as_secs(),
                    "waiting for another process on this database to finish its start-up (migrations, first-start state)"
                );
                said = tokio::time::Instant::now();
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }
}

impl StartupLock {
    /// Releases the lock and closes its connection.
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)").bind(STARTUP_LOCK_KEY).execute(&mut *conn).await {
            // Closing the session below releases it all the same.
            tracing::warn!(error = %e, "could not release the start-up lock; closing its connection");
        }
        let _ = conn.close().await;
    }
}
