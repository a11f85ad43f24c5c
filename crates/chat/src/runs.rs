//! Generations in flight, by user and session, so that `stop` can cancel them (here, and, through
//! the server's bus, on other replicas) and so that a user's concurrent replies can be capped.

use rampart_core::{SessionId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio_util::sync::CancellationToken;

type RunMap = HashMap<(UserId, SessionId), Vec<(u64, CancellationToken)>>;

/// The registry of running generations.
#[derive(Default)]
pub struct Runs {
    next: AtomicU64,
    map: Mutex<RunMap>,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runs")
    }
}

/// A registered generation: `stop` cancels its token; dropping it unregisters it, however the
/// generation ends.
#[derive(Debug)]
pub struct RunHandle {
    runs: Arc<Runs>,
    user: UserId,
    session: SessionId,
    id: u64,
    token: CancellationToken,
}

impl RunHandle {
    /// Cancelled when the generation is stopped.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        self.runs.finish(self.user, self.session, self.id);
    }
}

impl Runs {
    fn lock(&self) -> MutexGuard<'_, RunMap> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a generation (before it starts, so that caps and `stop` see it at once).
    pub fn start(self: &Arc<Self>, user: UserId, session: SessionId) -> RunHandle {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        self.lock().entry((user, session)).or_default().push((id, token.clone()));
        RunHandle { runs: self.clone(), user, session, id, token }
    }

    fn finish(&self, user: UserId, session: SessionId, id: u64) {
        let mut m = self.lock();
        if let Some(v) = m.get_mut(&(user, session)) {
            v.retain(|(x, _)| *x != id);
            if v.is_empty() {
                m.remove(&(user, session));
            }
        }
    }

    /// Generations of a user in flight.
    pub fn count_user(&self, user: UserId) -> usize {
        self.lock().iter().filter(|((u, _), _)| *u == user).map(|(_, v)| v.len()).sum()
    }

    /// Cancels every generation of the user's session; how many there were.
    pub fn stop(&self, user: UserId, session: SessionId) -> usize {
        let v = self.lock().remove(&(user, session)).unwrap_or_default();
        v.iter().for_each(|(_, t)| t.cancel());
        v.len()
    }

    /// Cancels every generation of a user (all sessions deleted).
    pub fn stop_user(&self, user: UserId) {
        self.lock().retain(|(u, _), v| {
            if *u == user {
                v.iter().for_each(|(_, t)| t.cancel());
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_unregister_when_dropped_and_stop_cancels() {
        let runs = Arc::new(Runs::default());
        let (u, s) = (UserId::new(), SessionId::new());
        let a = runs.start(u, s);
        let b = runs.start(u, SessionId::new());
        assert_eq!(runs.count_user(u), 2);
        drop(b);
        assert_eq!(runs.count_user(u), 1);
        assert_eq!(runs.stop(u, s), 1);
        assert!(a.token().is_cancelled());
        drop(a);
        assert_eq!(runs.count_user(u), 0);
        let c = runs.start(u, s);
        runs.stop_user(u);
        assert!(c.token().is_cancelled());
        assert_eq!(runs.count_user(u), 0);
    }
}
