//! Connection pools and backend selection.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL selects. Anything else is refused (fail closed on ambiguous URLs).
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error("a row with the same unique key exists")]
    Conflict,
    /// The change would leave no active administrator.
    #[error("the last active administrator cannot be removed, disabled or demoted")]
    LastAdmin,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A pagination cursor the caller sent does not parse (client input, not corruption).
    #[error("invalid pagination cursor")]
    InvalidCursor,
    #[error("migration {version} was changed after it was applied")]
    MigrationChanged { version: i64 },
    #[error("the database schema is newer than this binary (version {0})")]
    SchemaTooNew(i64),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StorageError::Conflict,
            _ => StorageError::Database(e),
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// Where writes go. SQLite: one connection of its own, so that writers queue in order
    /// here (a waiter is woken when the connection is free) instead of in SQLite's busy
    /// handler, which sleeps up to 100 ms between tries however soon the lock is free.
    /// PostgreSQL: the same pool.
    writer: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects (creating the SQLite file if needed) without migrating.
    pub async fn connect(url: &str) -> Result<Db, StorageError> {
        install_default_drivers();
        let backend = Backend::from_url(url).ok_or(StorageError::UnsupportedUrl)?;
        let mut url = url.to_owned();
        let opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        match backend {
            Backend::Sqlite => {
                if !url.contains("mode=") && !url.contains(":memory:") {
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str("mode=rwc");
                }
                // A local file cannot go stale like a network connection: skip the ping sqlx
                // sends on every acquire (measured at ~13% of server CPU per request).
                let sqlite = |n: u32| {
                    opts.clone()
                        .max_connections(n)
                        .test_before_acquire(false)
                        .after_connect(|conn, _meta| {
                            Box::pin(async move {
                                conn.execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                                )
                                .await?;
                                Ok(())
                            })
                        })
                        .after_release(|conn, _meta| {
                            // A transaction left open goes back as a closed connection: when a
                            // COMMIT fails on a full disk, SQLite has already rolled back, the
                            // ROLLBACK that sqlx queues fails, and sqlx would keep counting the
                            // transaction on this connection, refusing every later write ("non-zero
                            // transaction depth") until a restart. A dropped transaction's queued
                            // ROLLBACK is waited for first (the ping runs after it).
                            Box::pin(async move {
                                if !conn.is_in_transaction() {
                                    return Ok(true);
                                }
                                conn.ping().await?;
                                let clean = !conn.is_in_transaction();
                                if !clean {
                                    tracing::warn!("a database connection left in a transaction was closed");
                                }
                                Ok(clean)
                            })
                        })
                };
                // The writer first: it creates the file and turns WAL on.
                let writer = sqlite(1).connect(&url).await?;
                let pool = sqlite(8).connect(&url).await?;
                Ok(Db { pool, writer, backend })
            }
            Backend::Postgres => {
                let pool = opts.max_connections(16).connect(&url).await?;
                Ok(Db { writer: pool.clone(), pool, backend })
            }
        }
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str) -> Result<Db, StorageError> {
        let db = Self::connect(url).await?;
        db.migrate().await?;
        let chained = db.chain_legacy_audit().await?;
        if chained > 0 {
            tracing::info!(records = chained, "chained audit records written before the audit chain existed");
        }
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// For statements that write (see the field).
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// True when every pooled connection is in use (requests are queueing for the database).
    pub fn saturated(&self) -> bool {
        let max = self.pool.options().get_max_connections();
        self.pool.size() >= max && self.pool.num_idle() == 0
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes fails with
    /// SQLITE_BUSY under concurrency instead of waiting its turn.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StorageError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The database's size on disk in bytes (SQLite: the main file's pages; PostgreSQL:
    /// `pg_database_size`), for the status page.
    pub async fn database_bytes(&self) -> Result<i64, StorageError> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}
