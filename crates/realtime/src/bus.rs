//! Fan-out between replicas over NATS (core publish/subscribe; nothing is persisted).
//!
//! Each replica publishes what its hub publishes to `{prefix}.rt.{user}` and subscribes to
//! `{prefix}.rt.>`, handing other replicas' events to its own hub, so a client connected to
//! one replica receives a reply generated on another. Control messages (stop a generation,
//! reload the catalog…) go to `{prefix}.ctl` as JSON and reach every other replica; their type
//! is the server's (it knows every feature), the bus only carries them. Messages
//! carry the sender's origin id so a replica ignores its own. Delivery is at most once, like
//! the in-process hub: a client that missed events fetches the stored session.

use crate::hub::Hub;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events waiting to be sent to NATS; beyond this, events are dropped (and counted in the log).
const QUEUE: usize = 16_384;
/// Largest message accepted from the bus.
const MAX_MESSAGE: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("cannot subscribe on NATS: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("NATS did not confirm the subscriptions: {0}")]
    Flush(#[from] async_nats::client::FlushError),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: String,
    channel: String,
    event: Value,
}

#[derive(Serialize, Deserialize)]
struct ControlEnvelope<C> {
    origin: String,
    control: C,
}

/// A connection to NATS shared by the hub (events) and the server (control messages).
pub struct NatsBus {
    client: async_nats::Client,
    prefix: String,
    origin: String,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NatsBus({})", self.prefix)
    }
}

/// The subject token for a channel: its user segment when it is a safe token, else `_`.
fn token(channel: &str) -> &str {
    let user = channel.trim_start_matches('/').split('/').nth(1).unwrap_or("_");
    if !user.is_empty() && user.len() <= 64 && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        user
    } else {
        "_"
    }
}

impl NatsBus {
    /// Connects; `prefix` separates deployments (and tests) sharing one NATS server.
    pub async fn connect(url: &str, prefix: &str) -> Result<Arc<Self>, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name("rampart")
            .connection_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Arc::new(Self { client, prefix: prefix.to_owned(), origin: uuid::Uuid::now_v7().to_string() }))
    }

    /// Wires `hub` to the bus: its publishes go out, other replicas' come in. `on_control`
    /// receives other replicas' control messages.
    pub async fn attach<C: DeserializeOwned + Send + 'static>(
        self: &Arc<Self>,
        hub: &Arc<Hub>,
        on_control: impl Fn(C) + Send + Sync + 'static,
    ) -> Result<(), BusError> {
        let (tx, mut rx) = mpsc::channel::<(String, Value)>(QUEUE);
        hub.set_remote(tx);
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((channel, event)) = rx.recv().await {
                let subject = format!("{}.rt.{}", me.prefix, token(&channel));
                let env = Envelope { origin: me.origin.clone(), channel, event };
                let Ok(bytes) = serde_json::to_vec(&env) else { continue };
                if let Err(e) = me.client.publish(subject, bytes.into()).await {
                    tracing::warn!(error = %e, "bus: could not publish an event");
                }
            }
        });
        let mut events = self.client.subscribe(format!("{}.rt.>", self.prefix)).await?;
        let (me, hub) = (self.clone(), hub.clone());
        tokio::spawn(async move {
            while let Some(m) = events.next().await {
                if m.payload.len() > MAX_MESSAGE {
                    continue;
                }
                match serde_json::from_slice::<Envelope>(&m.payload) {
                    Ok(env) if env.origin != me.origin => {
                        hub.deliver_local(&env.channel, &env.event);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "bus: unreadable event"),
                }
            }
        });
        let mut control = self.client.subscribe(format!("{}.ctl", self.prefix)).await?;
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(m) = control.next().await {
                if m.payload.len() > MAX_MESSAGE {
                    continue;
                }
                match serde_json::from_slice::<ControlEnvelope<C>>(&m.payload) {
                    Ok(env) if env.origin != me.origin => on_control(env.control),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "bus: unreadable control message"),
                }
            }
        });
        // The subscriptions are registered with the server before `attach` returns.
        self.client.flush().await?;
        Ok(())
    }

    /// Sends a control message to every other replica (best effort).
    pub async fn control<C: Serialize>(&self, control: &C) {
        let env = ControlEnvelope { origin: self.origin.clone(), control };
        let Ok(bytes) = serde_json::to_vec(&env) else { return };
        if let Err(e) = self.client.publish(format!("{}.ctl", self.prefix), bytes.into()).await {
            tracing::warn!(error = %e, "bus: could not publish a control message");
        }
        let _ = self.client.flush().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subject_tokens_are_safe() {
        assert_eq!(super::token("/out/0190a0e2-7c4e-7000-8000-000000000000/s"), "0190a0e2-7c4e-7000-8000-000000000000");
        assert_eq!(super::token("out/a.b/s"), "_");
        assert_eq!(super::token("/out/*/s"), "_");
        assert_eq!(super::token("/x"), "_");
    }
}
