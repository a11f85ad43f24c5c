//! `rampart-realtime`: the AppSync Events wire protocol (docs/realtime-protocol.md) without the
//! transport: frame builders, channel rules, the `header-…` auth object, and an in-process
//! fan-out hub with bounded per-connection queues. Depends on `core` only; `server` owns the
//! WebSocket; `bus`: fan-out between replicas over NATS. `config`: the `[realtime]` and `[bus]`
//! sections.

pub mod bus;
pub mod channel;
pub mod config;
pub mod frames;
pub mod hub;

pub use channel::{Channel, ChannelKind};
pub use config::{BusConfig, RealtimeConfig};
pub use hub::{ConnId, Hub, Outbox};

/// The subprotocol clients offer and the server selects.
pub const SUBPROTOCOL: &str = "aws-appsync-event-ws";

/// Decodes the `header-<base64url JSON>` subprotocol into its (lower-cased) key/value pairs.
pub fn decode_auth_subprotocol(offered: &str) -> Option<Vec<(String, String)>> {
    use base64::Engine as _;
    let enc = offered.strip_prefix("header-")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(enc.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(
        v.as_object()?.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_owned()))).collect(),
    )
}

/// The credential in an auth object (`x-api-key` or `authorization`), looked up case-insensitively.
pub fn credential_of(pairs: &[(String, String)]) -> Option<(&'static str, String)> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    get("x-api-key").map(|v| ("x-api-key", v)).or_else(|| get("authorization").map(|v| ("authorization", v)))
}

/// The credential of a per-operation `authorization` object.
pub fn credential_of_json(v: &serde_json::Value) -> Option<(&'static str, String)> {
    let pairs: Vec<(String, String)> =
        v.as_object()?.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_owned()))).collect();
    credential_of(&pairs)
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
            let pairs = decode_auth_subprotocol(&format!("header-{enc}")).unwrap();
            assert_eq!(credential_of(&pairs), Some(("authorization", "eyJraWQi.x.y".into())));
        }
        assert!(decode_auth_subprotocol("header-%%%").is_none());
        assert!(decode_auth_subprotocol("aws-appsync-event-ws").is_none());
    }
}
