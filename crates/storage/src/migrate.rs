//! The one migration history.
//!
//! Hand-written rather than `sqlx::migrate!` because sqlx keeps one history per database
//! kind, while we want a single ordered history whose statements differ only where the SQL
//! dialects do (`{{BLOB}}`). Applied migrations are recorded with a SHA-256 checksum; a changed
//! migration or a schema newer than the binary stops start-up.

use crate::db::{Backend, Db, StorageError};
use sqlx::{Executor, Row};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "identity", sql: include_str!("../migrations/0001_identity.sql") },
    Migration { version: 2, name: "oauth_codes", sql: include_str!("../migrations/0002_oauth_codes.sql") },
    Migration { version: 3, name: "chat", sql: include_str!("../migrations/0003_chat.sql") },
    Migration {
        version: 4,
        name: "service_interruptions",
        sql: include_str!("../migrations/0004_service_interruptions.sql"),
    },
    Migration { version: 5, name: "jobs", sql: include_str!("../migrations/0005_jobs.sql") },
    Migration { version: 6, name: "catalog", sql: include_str!("../migrations/0006_catalog.sql") },
    Migration { version: 7, name: "knowledge", sql: include_str!("../migrations/0007_knowledge.sql") },
    Migration { version: 8, name: "dense_retrieval", sql: include_str!("../migrations/0008_dense_retrieval.sql") },
    Migration { version: 9, name: "audit_chain", sql: include_str!("../migrations/0009_audit_chain.sql") },
    Migration { version: 10, name: "retention", sql: include_str!("../migrations/0010_retention.sql") },
    Migration { version: 11, name: "meetings", sql: include_str!("../migrations/0011_meetings.sql") },
    Migration { version: 12, name: "oauth_consent", sql: include_str!("../migrations/0012_oauth_consent.sql") },
    Migration { version: 13, name: "password_change", sql: include_str!("../migrations/0013_password_change.sql") },
    Migration { version: 14, name: "chat_everyday", sql: include_str!("../migrations/0014_chat_everyday.sql") },
    Migration { version: 16, name: "chat_branches", sql: include_str!("../migrations/0016_chat_branches.sql") },
    Migration { version: 17, name: "chat_attachments", sql: include_str!("../migrations/0017_chat_attachments.sql") },
    Migration { version: 18, name: "meeting_summaries", sql: include_str!("../migrations/0018_meeting_summaries.sql") },
    Migration { version: 19, name: "meeting_search", sql: include_str!("../migrations/0019_meeting_search.sql") },
    Migration { version: 21, name: "chat_session_kbs", sql: include_str!("../migrations/0021_chat_session_kbs.sql") },
    Migration { version: 22, name: "meeting_chats", sql: include_str!("../migrations/0022_meeting_chats.sql") },
];

fn render(sql: &str, backend: Backend) -> String {
    let blob = match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    };
    sql.replace("{{BLOB}}", blob)
}

fn checksum(sql: &str) -> String {
    use std::fmt::Write as _;
    // Not security-relevant; a stable fingerprint of the file is enough.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut s = String::new();
    let _ = write!(s, "{h:016x}");
    s
}

impl Db {
    /// Applies every migration not yet applied, each in its own transaction.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        self.migrate_up_to(i64::MAX).await
    }

    /// Applies the migrations up to `version` (tests of upgrades with data in the old schema).
    /// Under the start-up lock: replicas starting together take turns, and the later ones find
    /// the migrations applied (PostgreSQL's `CREATE TABLE IF NOT EXISTS` itself is not safe
    /// against a concurrent one).
    pub async fn migrate_up_to(&self, version: i64) -> Result<(), StorageError> {
        let lock = self.startup_lock().await?;
        let done = self.migrate_locked(version).await;
        lock.release().await;
        done
    }

    async fn migrate_locked(&self, version: i64) -> Result<(), StorageError> {
        self.writer()
            .execute(
                "CREATE TABLE IF NOT EXISTS rampart_migrations (version BIGINT PRIMARY KEY, \
                 name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let rows = sqlx::query("SELECT version, checksum FROM rampart_migrations ORDER BY version")
            .fetch_all(self.pool())
            .await?;
        let applied: Vec<(i64, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        if let Some((v, _)) = applied.iter().find(|(v, _)| !MIGRATIONS.iter().any(|m| m.version == *v)) {
            return Err(StorageError::SchemaTooNew(*v));
        }
        for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
            let sum = checksum(m.sql);
            if let Some((_, c)) = applied.iter().find(|(v, _)| *v == m.version) {
                if *c != sum {
                    return Err(StorageError::MigrationChanged { version: m.version });
                }
                continue;
            }
            let mut tx = self.begin_write().await?;
            tx.execute(sqlx::AssertSqlSafe(render(m.sql, self.backend()))).await?;
            sqlx::query("INSERT INTO rampart_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(m.version)
                .bind(m.name)
                .bind(sum)
                .bind(chrono::Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
        Ok(())
    }

    /// A normalised description of the schema (tables, columns with type class and
    /// nullability, indexes), used to check that both backends end up the same.
    pub async fn schema_fingerprint(&self) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        match self.backend() {
            Backend::Sqlite => {
                let tables = sqlx::query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .fetch_all(self.pool())
                .await?;
                for t in tables {
                    let name: String = t.try_get(0)?;
                    let cols =
                        sqlx::query(sqlf!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{name}')"))
                            .fetch_all(self.pool())
                            .await?;
                    for c in cols {
                        let cname: String = c.try_get(0)?;
                        let ty: String = c.try_get(1)?;
                        let notnull: i64 = c.try_get(2)?;
                        let pk: i64 = c.try_get(3)?;
                        out.push(format!(
                            "{name}.{cname}:{}:{}",
                            type_class(&ty),
                            if notnull != 0 || pk != 0 { "not null" } else { "null" }
                        ));
                    }
                }
                let idx = sqlx::query(
                    "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(self.pool())
                .await?;
                for i in idx {
                    out.push(format!("index {}.{}", i.try_get::<String, _>(0)?, i.try_get::<String, _>(1)?));
                }
            }
            Backend::Postgres => {
                let cols = sqlx::query("SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns WHERE table_schema = current_schema()")
                    .fetch_all(self.pool()).await?;
                for c in cols {
                    let t: String = c.try_get(0)?;
                    let n: String = c.try_get(1)?;
                    let ty: String = c.try_get(2)?;
                    let nl: String = c.try_get(3)?;
                    out.push(format!("{t}.{n}:{}:{}", type_class(&ty), if nl == "NO" { "not null" } else { "null" }));
                }
                let idx = sqlx::query("SELECT tablename::text, indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey'")
                    .fetch_all(self.pool()).await?;
                for i in idx {
                    out.push(format!("index {}.{}", i.try_get::<String, _>(0)?, i.try_get::<String, _>(1)?));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn type_class(t: &str) -> &'static str {
    match t.to_ascii_lowercase().as_str() {
        "text" | "character varying" => "text",
        "bigint" | "integer" | "int8" => "integer",
        "blob" | "bytea" => "bytes",
        _ => "other",
    }
}
