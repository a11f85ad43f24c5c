//! Shared application state: built once by `build_app`, no global singletons.

use crate::config::Config;
use rampart_identity::Identity;
use rampart_storage::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// In-flight chat generations. Stopping one drops its upstream request.
#[derive(Default)]
pub struct Runs(
    std::sync::Mutex<
        std::collections::HashMap<
            (rampart_core::UserId, rampart_core::SessionId),
            Vec<tokio_util::sync::CancellationToken>,
        >,
    >,
);

impl Runs {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<
            (rampart_core::UserId, rampart_core::SessionId),
            Vec<tokio_util::sync::CancellationToken>,
        >,
    > {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a generation; the token is cancelled by `stop`.
    pub fn start(
        &self,
        user: rampart_core::UserId,
        session: rampart_core::SessionId,
    ) -> tokio_util::sync::CancellationToken {
        let t = tokio_util::sync::CancellationToken::new();
        self.lock().entry((user, session)).or_default().push(t.clone());
        t
    }

    pub fn finish(
        &self,
        user: rampart_core::UserId,
        session: rampart_core::SessionId,
        t: &tokio_util::sync::CancellationToken,
    ) {
        let mut m = self.lock();
        if let Some(v) = m.get_mut(&(user, session)) {
            v.retain(|x| !std::ptr::eq(x, t) && !x.is_cancelled());
            if v.is_empty() {
                m.remove(&(user, session));
            }
        }
    }

    /// Cancels every generation of the user's session; how many there were.
    pub fn stop(&self, user: rampart_core::UserId, session: rampart_core::SessionId) -> usize {
        let v = self.lock().remove(&(user, session)).unwrap_or_default();
        v.iter().for_each(tokio_util::sync::CancellationToken::cancel);
        v.len()
    }

    /// Cancels every generation of a user (all sessions deleted).
    pub fn stop_user(&self, user: rampart_core::UserId) {
        let mut m = self.lock();
        m.retain(|(u, _), v| {
            if *u == user {
                v.iter().for_each(tokio_util::sync::CancellationToken::cancel);
                false
            } else {
                true
            }
        });
    }
}

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub identity: Identity,
    pub chat: rampart_chat::ChatService,
    pub assistants: Arc<rampart_chat::assistants::Assistants>,
    pub hub: Arc<rampart_realtime::Hub>,
    /// Generations in flight, by user and session, so they can be stopped.
    pub runs: Arc<Runs>,
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
