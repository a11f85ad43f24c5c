//! Temporary databases. SQLite: a file in a temp dir. PostgreSQL: a fresh database on the
//! server named by `RAMPART_TEST_POSTGRES_URL`, or `None` (and the test says it skipped).

use rampart_storage::Db;
use sqlx::{AnyConnection, Connection, Executor, Row};

/// The PostgreSQL server for tests, if configured.
pub fn pg_url() -> Option<String> {
    std::env::var("RAMPART_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

/// Tests that need PostgreSQL say, by name, that they did not run.
#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
pub fn skipped(test: &str) {
    eprintln!("SKIPPED {test}: RAMPART_TEST_POSTGRES_URL is not set");
}

/// NATS for the scale-out tests (`RAMPART_TEST_NATS_URL`, e.g. `nats://127.0.0.1:4222`).
pub fn nats_url() -> Option<String> {
    std::env::var("RAMPART_TEST_NATS_URL").ok().filter(|s| !s.is_empty())
}

/// Tests that need NATS say, by name, that they did not run.
#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
pub fn skipped_nats(test: &str) {
    eprintln!("SKIPPED {test}: RAMPART_TEST_NATS_URL is not set");
}

/// Redis for the shared-limit tests (`RAMPART_TEST_REDIS_URL`, e.g. `redis://127.0.0.1:6379/0`),
/// or `None` after saying by name that the test did not run.
#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
pub fn redis_url_or_skip(test: &str) -> Option<String> {
    let u = std::env::var("RAMPART_TEST_REDIS_URL").ok().filter(|s| !s.is_empty());
    if u.is_none() {
        eprintln!("SKIPPED {test}: RAMPART_TEST_REDIS_URL is not set");
    }
    u
}

/// A database that exists for one test.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::open(&url).await.expect("open sqlite");
        TestDb { db, url, _dir: Some(dir), pg: None }
    }

    /// A fresh PostgreSQL database, or `None` after printing that `test` was skipped.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let Some(base) = pg_url() else {
            skipped(test);
            return None;
        };
        let url = Self::create_pg_database(&base).await;
        let db = Db::open(&url.1).await.expect("open postgres");
        Some(TestDb { db, url: url.1.clone(), _dir: None, pg: Some((base, url.0)) })
    }

    /// Creates an empty database; returns (name, url). Also drops test databases left over
    /// from runs more than an hour old.
    pub async fn create_pg_database(base: &str) -> (String, String) {
        sqlx::any::install_default_drivers();
        let mut c = AnyConnection::connect(base).await.expect("connect to RAMPART_TEST_POSTGRES_URL");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let old = sqlx::query("SELECT datname::text FROM pg_database WHERE datname LIKE 'rampart_t_%'")
            .fetch_all(&mut c)
            .await
            .expect("list databases");
        for r in old {
            let name: String = r.try_get(0).expect("name");
            let ts: u64 = name.split('_').nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
            if ts + 3600 < now {
                let _ = c.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\""))).await;
            }
        }
        let name = format!("rampart_t_{now}_{}", uuid::Uuid::now_v7().simple());
        c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await.expect("create database");
        let url = match base.rfind('/') {
            Some(i) if base[..i].contains("://") && !base[i..].contains('@') => {
                let tail = &base[i + 1..];
                let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
                format!("{}/{name}{query}", &base[..i])
            }
            _ => format!("{}/{name}", base.trim_end_matches('/')),
        };
        (name, url)
    }

    /// Drops the PostgreSQL database (SQLite temp dirs go away on drop).
    pub async fn cleanup(self) {
        self.db.close().await;
        if let Some((base, name)) = self.pg
            && let Ok(mut c) = AnyConnection::connect(&base).await
        {
            {
                let _ =
                    c.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).await;
            }
        }
    }
}
