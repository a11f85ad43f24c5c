//! `rampart-realtime`: the AppSync Events wire protocol (docs/realtime-protocol.md) without the
//! transport: frame builders, channel rules, the `header-…` auth object, and an in-process
//! fan-out hub with bounded per-connection queues. Depends on `core` only; `server` owns the
//! WebSocket; `bus`: fan-out between replicas over NATS. `config`: the `[realtime]` and `[bus]`
//! sections.

pub mod bus;
pub mod channel;
pub mod config;
pub mod frames;
pub mod gaia;
pub mod hub;

pub use channel::{AnyChannel, Channel, ChannelKind};
pub use config::{BusConfig, RealtimeConfig};
pub use hub::{ConnId, Hub, Outbox};
use rampart_core::CredentialHeaders;

/// The subprotocol clients offer and the server selects.
pub const SUBPROTOCOL: &str = "aws-appsync-event-ws";

/// Decodes the `header-<base64url JSON>` subprotocol into the credential values it carries
/// (read by `rampart_core::credential`, the one reader every transport uses).
pub fn decode_auth_subprotocol(offered: &str) -> Option<CredentialHeaders> {
    use base64::Engine as _;
    let enc = offered.strip_prefix("header-")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(enc.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    auth_object(&v)
}

/// The credential values of an auth object (`{"host", "Authorization"}` or `{"x-api-key"}`),
/// as a per-operation `authorization` field or inside the subprotocol.
pub fn auth_object(v: &serde_json::Value) -> Option<CredentialHeaders> {
    let pairs = v.as_object()?.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)));
    Some(CredentialHeaders::from_pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    #[test]
    fn decodes_padded_and_unpadded_auth_objects() {
        let json = r#"{"host":"example.com:8443","Authorization":"eyJraWQi.x.y"}"#;
        for enc in [
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json),
            base64::engine::general_purpose::URL_SAFE.encode(json),
        ] {
            let h = decode_auth_subprotocol(&format!("header-{enc}")).unwrap();
            assert_eq!(h.credential(), Ok(Some(rampart_core::Credential::Bearer("eyJraWQi.x.y"))));
        }
        assert!(decode_auth_subprotocol("header-%%%").is_none());
        assert!(decode_auth_subprotocol("aws-appsync-event-ws").is_none());
    }
}
