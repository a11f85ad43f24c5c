//! The MCP server's protocol (Model Context Protocol over streamable HTTP), free of HTTP types:
//! a POST's body and its `MCP-*` headers in, a status and a JSON-RPC message (or `202`) out.
//! The route (`routes::mcp`) authenticates, checks `Origin`, `Accept` and `Content-Type`, and
//! calls [`handle`].
//!
//! Both eras of the specification are served on the one endpoint, statelessly:
//! - **Handshake era** (`2025-03-26`, `2025-06-18`, `2025-11-25`): `initialize` negotiates the
//!   version (the client's when supported, else the newest), `notifications/initialized` and
//!   every other notification are `202`, then `ping`, `tools/list`, `tools/call`, each request
//!   carrying the `MCP-Protocol-Version` it negotiated (none: `2025-03-26`).
//! - **Per-request era** (`2026-07-28`): no handshake; every request carries its version and
//!   capabilities in `params._meta`, mirrored in the `MCP-Protocol-Version`, `Mcp-Method` and
//!   `Mcp-Name` headers (checked against the body: `-32020`); `server/discover` says what is
//!   served; an unsupported version is `-32022` naming the supported ones.
//!
//! No sessions (`Mcp-Session-Id` is neither minted nor read) and no server-initiated stream
//! (`GET` is `405`): every request is complete in itself and authenticated on its own, so any
//! replica answers any request and nothing outlives the request — the way the current revision
//! of the specification defines the transport. Tools come from the feature crates
//! (`core::tools`), and each evaluates the caller's access when it runs.

mod methods;
mod rpc;

pub use rpc::{Headers, Reply, handle};

/// Protocol versions of the handshake era this server negotiates, newest first.
pub const HANDSHAKE_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// Protocol versions of the per-request era this server serves, newest first.
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];

/// The tools `/mcp` offers: each feature crate's, over its service.
pub fn registry(
    meetings: &rampart_meetings::MeetingService,
    knowledge: &rampart_knowledge::service::KnowledgeService,
) -> rampart_core::tools::ToolRegistry {
    let mut tools = rampart_meetings::tools::tools(meetings);
    tools.extend(rampart_knowledge::tools::tools(knowledge));
    rampart_core::tools::ToolRegistry::new(tools)
}
