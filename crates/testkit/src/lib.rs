//! `rampart-testkit`: test fixtures shared by every crate's tests (dev-dependency only).
//!
//! Temporary SQLite and PostgreSQL databases, a fixed clock. The server-level `TestServer`
//! lives in the server crate's tests, since this crate must not depend on `server`.

use rampart_core::{Clock, Timestamp};
use std::sync::atomic::{AtomicI64, Ordering};

pub mod db;
pub mod fake_openai;

pub use db::{TestDb, pg_url, skipped};

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn at(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }
    pub fn advance(&self, d: std::time::Duration) {
        self.0.fetch_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}
