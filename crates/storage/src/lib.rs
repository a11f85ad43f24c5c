//! `rampart-storage`: the database. sqlx over SQLite (default, WAL, one file in the data dir)
//! or PostgreSQL (by URL), one migration history, and the repositories of every feature (users
//! and tokens, chat, knowledge, catalog, jobs, audit, retention leases, the sealed-column list
//! that key rotation walks).
//!
//! A shared service (second floor): depends on `rampart-core` only. Repositories take typed ids and return
//! `Result<Option<T>, StorageError>`; owner predicates live in the SQL here, not in callers.
//! Queries go through sqlx's `Any` driver so each statement is written once for both backends
//! (`$n` placeholders, portable types); the few dialect differences are in `migrate.rs`.
//! `config`: the `[database]` section.

#[macro_use]
pub mod repo;
pub mod config;
mod db;
mod migrate;
mod startup_lock;

pub use config::DatabaseConfig;
pub use db::{Backend, Db, StorageError};
pub use migrate::MIGRATIONS;
pub use startup_lock::StartupLock;
