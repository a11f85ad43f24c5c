//! Shared application state: built once by `build_app`, no global singletons.

use crate::config::Config;
use rampart_identity::Identity;
use rampart_storage::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub identity: Identity,
    pub chat: rampart_chat::ChatService,
    pub assistants: Arc<rampart_chat::assistants::Assistants>,
    pub hub: Arc<rampart_realtime::Hub>,
    /// Cleared when shutdown starts, so `/readyz` turns 503 and load balancers drain us.
    pub ready: Arc<AtomicBool>,
    /// Requests being served right now; above `server.max_in_flight`, `/readyz` says saturated.
    pub in_flight: Arc<AtomicUsize>,
}

impl AppState {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    pub fn set_ready(&self, v: bool) {
        self.ready.store(v, Ordering::SeqCst);
    }
    pub fn saturated(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > self.config.server.max_in_flight || self.db.saturated()
    }
}
