//! `rampart-testkit`: test fixtures shared by every crate's tests (dev-dependency only).
//!
//! Temporary SQLite and PostgreSQL databases; fake upstreams speaking the OpenAI (chat,
//! embeddings, audio transcriptions), Anthropic, Bedrock and Transcribe streaming wire formats;
//! a local SMTP server (`smtp_sink`). The chat fakes can be scripted to call tools (`script`).
//! The server-level `TestServer` lives in the server crate's tests, since this crate must not
//! depend on `server`.

#![expect(
    clippy::expect_used,
    reason = "test fixtures: one that cannot start (bind, temp dir, database) fails the test at once"
)]

pub mod db;
pub mod fake_anthropic;
pub mod fake_bedrock;
pub mod fake_keys;
pub mod fake_openai;
pub mod fake_openai_stt;
pub mod fake_transcribe;
pub mod script;
pub mod smtp_sink;

pub use db::{TestDb, nats_url, pg_url, redis_url_or_skip, skipped, skipped_nats};
