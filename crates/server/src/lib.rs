//! `rampart-server`: the composition root.
//!
//! Owns configuration, `AppState`, `build_app()`, the axum routes per feature, extractors,
//! error → HTTP mapping, the OpenAPI document and the CLI. The only crate that knows axum;
//! it may depend on every other Rampart crate.

pub mod access_log;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod control;
pub mod database;
pub mod error;
pub mod extract;
pub mod keys;
pub mod mail;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod ports;
pub mod retention;
pub mod routes;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod web;

pub use app::{build_app, build_state};
pub use config::Config;
pub use state::AppState;
