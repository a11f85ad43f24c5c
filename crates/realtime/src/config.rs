//! The `[realtime]` section (limits of the AppSync Events endpoint) and the `[bus]` section
//! (messages between replicas).

use crate::bus::{BusError, NatsBus};
use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Limits of the realtime (AppSync Events) endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// Open WebSocket connections one user may hold (per replica).
    pub max_connections_per_user: usize,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Replies one user may have in progress at once.
    pub max_replies_per_user: usize,
    /// Publishes (WebSocket or `POST /event`) per user: sustained rate per second and burst.
    pub publish_rate: u32,
    pub publish_burst: u32,
    /// Frames queued for one connection; a client that falls further behind is disconnected.
    pub outbox_frames: usize,
    /// How often the server sends `ka` (and a WebSocket ping).
    pub keepalive_interval: Dur,
    /// A connection from which nothing arrives (no frame, no pong) for this long is closed;
    /// also sent to clients as `connectionTimeoutMs`.
    pub idle_timeout: Dur,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_connections_per_user: 32,
            max_subscriptions: 100,
            max_replies_per_user: 8,
            publish_rate: 5,
            publish_burst: 20,
            outbox_frames: 1024,
            keepalive_interval: Dur::secs(60),
            idle_timeout: Dur::secs(300),
        }
    }
}

impl RealtimeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("max_connections_per_user", self.max_connections_per_user),
            ("max_subscriptions", self.max_subscriptions),
            ("max_replies_per_user", self.max_replies_per_user),
            ("publish_rate", self.publish_rate as usize),
            ("publish_burst", self.publish_burst as usize),
        ] {
            if v == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.outbox_frames < 16 {
            return Err(ConfigError::new("outbox_frames", "must be at least 16"));
        }
        if self.keepalive_interval.0 < Duration::from_millis(10) {
            return Err(ConfigError::new("keepalive_interval", "must be at least 10ms"));
        }
        if self.idle_timeout.0 <= self.keepalive_interval.0 {
            return Err(ConfigError::new("idle_timeout", "must be longer than keepalive_interval"));
        }
        Ok(())
    }
}

/// Messages between replicas.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// e.g. `nats://127.0.0.1:4222`; unset: one replica, in-process only.
    pub nats_url: Option<String>,
    /// Subject prefix, to keep deployments sharing a NATS server apart.
    pub subject_prefix: String,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self { nats_url: None, subject_prefix: "rampart".into() }
    }
}

impl BusConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.nats_url {
            let parsed = url::Url::parse(u).map_err(|_| ConfigError::new("nats_url", format!("{u:?} is not a URL")))?;
            if !matches!(parsed.scheme(), "nats" | "tls") {
                return Err(ConfigError::new("nats_url", "must be a nats:// or tls:// URL"));
            }
        }
        let prefix_ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 64
                && p.split('.')
                    .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
        };
        if !prefix_ok(&self.subject_prefix) {
            return Err(ConfigError::new(
                "subject_prefix",
                "must be NATS subject tokens (letters, digits, '-', '_', separated by '.')",
            ));
        }
        Ok(())
    }

    /// The connection to NATS when `nats_url` is set (`None`: one replica, in process).
    pub async fn connect(&self) -> Result<Option<Arc<NatsBus>>, BusError> {
        match &self.nats_url {
            Some(url) => NatsBus::connect(url, &self.subject_prefix).await.map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_prefixes_are_checked_by_key() {
        assert!(RealtimeConfig::default().validate().is_ok());
        let c = RealtimeConfig { outbox_frames: 8, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "outbox_frames");
        let c = RealtimeConfig { idle_timeout: Dur::secs(1), keepalive_interval: Dur::secs(2), ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "idle_timeout");
        assert!(BusConfig::default().validate().is_ok());
        let b = BusConfig { nats_url: Some("http://x".into()), ..Default::default() };
        assert_eq!(b.validate().unwrap_err().key, "nats_url");
        let b = BusConfig { subject_prefix: "a..b".into(), ..Default::default() };
        assert_eq!(b.validate().unwrap_err().key, "subject_prefix");
    }
}
