//! `rampart-edge`: what sits in front of every route, as plain functions and tower layers
//! over `http` types (no web framework).
//!
//! Now: the client address behind trusted proxies, and request ids. Issue 5 adds IP sets,
//! rate limits, WAF rules, geo, origin verification, CORS and security headers here.
//! Depends on `rampart-core` only.

pub mod client_ip;
pub mod request_id;

pub use client_ip::client_ip;
pub use request_id::{RequestId, RequestIdLayer};
