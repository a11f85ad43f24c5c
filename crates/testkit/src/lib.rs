//! `rampart-testkit`: test fixtures shared by every crate's tests (dev-dependency only).
//!
//! Temporary SQLite and PostgreSQL databases, a fake OpenAI-compatible upstream. The server-level `TestServer`
//! lives in the server crate's tests, since this crate must not depend on `server`.

pub mod db;
pub mod fake_anthropic;
pub mod fake_bedrock;
pub mod fake_openai;

pub use db::{TestDb, pg_url, skipped};
