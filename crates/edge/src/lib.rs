//! `rampart-edge`: what sits in front of every route, as plain functions and tower layers
//! over `http` types (no web framework): the client address behind trusted proxies, request
//! ids, IP sets, country rules (`geo`), rate limits (shared through Redis by `shared`), the WAF
//! (limits and SQL-injection / XSS detection), origin verification, security headers, refusal
//! counters and the notes a request leaves for the access log; and the SSRF-safe outbound HTTP
//! client (`outbound`). The order of the pipeline is
//! documented in [`layer`] and docs/ARCHITECTURE.md. `config`: the `[edge]` section, which
//! builds the [`EdgePolicy`]. A shared service (second floor): depends on `rampart-core` only.

pub mod client_ip;
pub mod config;
pub mod geo;
pub mod headers;
pub mod ipset;
pub mod layer;
pub mod metrics;
pub mod notes;
pub mod outbound;
pub mod rate;
pub mod request_id;
pub mod shared;
pub mod waf;

pub use client_ip::{ClientIp, client_ip};
pub use config::EdgeConfig;
pub use ipset::IpSet;
pub use layer::{EdgeLayer, EdgePolicy};
pub use metrics::EdgeMetrics;
pub use notes::{Notes, RequestNotes};
pub use outbound::{OutboundError, OutboundPolicy, SafeClient};
pub use rate::{Decision, KeyedRate, Rate};
pub use request_id::{RequestId, RequestIdLayer};
pub use shared::{RedisRate, SharedRate};
