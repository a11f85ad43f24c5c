//! In-process fan-out. Each connection has a bounded outbox; a subscriber whose outbox is full
//! is a slow consumer: it is told to close (memory stays bounded) instead of blocking others.

use rampart_core::UserId;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, watch};

pub type ConnId = u64;

/// A connection's queue of frames to send, and the switch that closes it.
#[derive(Clone, Debug)]
pub struct Outbox {
    pub tx: mpsc::Sender<String>,
    pub kill: watch::Sender<bool>,
}

struct Sub {
    conn: ConnId,
    /// Whose subscription it is (so that losing access ends it).
    user: UserId,
    sub_id: String,
    out: Outbox,
}

#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    channels: Mutex<HashMap<String, Vec<Sub>>>,
    /// Other replicas (the NATS bus), when configured.
    remote: std::sync::OnceLock<mpsc::Sender<(String, Value)>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn connection_id(&self) -> ConnId {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Sub>>> {
        self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn subscribe(&self, channel: &str, conn: ConnId, user: UserId, sub_id: &str, out: Outbox) {
        self.lock().entry(channel.to_owned()).or_default().push(Sub { conn, user, sub_id: sub_id.to_owned(), out });
    }

    /// Ends these users' subscriptions to `channel` on this replica (they lost access to it);
    /// how many there were.
    pub fn revoke(&self, channel: &str, users: &[UserId]) -> usize {
        let mut map = self.lock();
        let Some(subs) = map.get_mut(channel) else { return 0 };
        let before = subs.len();
        subs.retain(|s| !users.contains(&s.user));
        let n = before - subs.len();
        if subs.is_empty() {
            map.remove(channel);
        }
        n
    }

    /// Removes one subscription of `conn` on `channel`; true if it existed.
    pub fn unsubscribe(&self, channel: &str, conn: ConnId, sub_id: &str) -> bool {
        let mut map = self.lock();
        let Some(subs) = map.get_mut(channel) else { return false };
        let before = subs.len();
        subs.retain(|s| !(s.conn == conn && s.sub_id == sub_id));
        let found = subs.len() != before;
        if subs.is_empty() {
            map.remove(channel);
        }
        found
    }

    /// Removes every subscription of a connection (on close); `channels` are the ones it used.
    pub fn drop_connection<'a>(&self, conn: ConnId, channels: impl IntoIterator<Item = &'a str>) {
        let mut map = self.lock();
        for c in channels {
            if let Some(subs) = map.get_mut(c) {
                subs.retain(|s| s.conn != conn);
                if subs.is_empty() {
                    map.remove(c);
                }
            }
        }
    }

    /// Channels with at least one subscriber (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.lock().len()
    }

    /// Sends what this hub publishes to other replicas too (set once).
    pub fn set_remote(&self, tx: mpsc::Sender<(String, Value)>) {
        let _ = self.remote.set(tx);
    }

    /// Sends an event to every subscriber of `channel`, on this replica and (with a bus) on
    /// the others; returns how many local subscribers got it.
    pub fn publish(&self, channel: &str, event: &Value) -> usize {
        if let Some(r) = self.remote.get()
            && r.try_send((channel.to_owned(), event.clone())).is_err()
        {
            tracing::warn!("bus: outgoing queue full; an event was not sent to other replicas");
        }
        self.deliver_local(channel, event)
    }

    /// Sends an event to this replica's subscribers only.
    pub fn deliver_local(&self, channel: &str, event: &Value) -> usize {
        let map = self.lock();
        let Some(subs) = map.get(channel) else { return 0 };
        let mut n = 0;
        for s in subs {
            match s.out.tx.try_send(crate::frames::data(&s.sub_id, event)) {
                Ok(()) => n += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(conn = s.conn, "slow consumer: closing its connection");
                    let _ = s.out.kill.send(true);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        n
    }
}
