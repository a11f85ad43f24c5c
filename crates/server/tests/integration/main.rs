//! In-process integration tests: the real router from `build_app`, real HTTP, real SQLite
//! (and PostgreSQL where `RAMPART_TEST_POSTGRES_URL` is set).

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at the first broken step")]

mod common;

mod access_log;
mod admin;
mod attachments;
mod attacks;
mod auth_flow;
mod bad_input;
mod branches;
mod catalog;
mod chat;
mod conversations;
mod credentials;
mod data_protection;
mod dense;
mod edge;
mod firstrun;
mod interrupted;

mod knowledge;
mod local_embed;
mod mcp;
mod meeting_assistant;
mod meeting_chat;
mod meeting_injection;
mod meeting_search;
mod meetings;
mod meetings_speech;
mod meetings_speech_openai;
mod meetings_transcribe;
mod metrics;
mod oauth;
mod oidc_provider;
mod openai;
mod passwords;
mod platform;
mod realtime;
mod replicas_start;
mod retention;
mod scaleout;
mod summaries;
mod tools;
mod web;
