//! Notes the layers of one request leave for the access log: the client address the edge
//! settled on, the rule that refused the request, the route template, the principal.
//!
//! The access log runs outside every other layer, so it cannot see the extensions they add to
//! the request; they write here instead (a shared slot the access log puts in the request).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct Notes {
    pub client_ip: Option<IpAddr>,
    /// The edge or throttle rule that refused the request.
    pub rule: Option<&'static str>,
    /// The matched route template (`/v1/sessions/{id}`), shared with the metrics labels.
    pub route: Option<Arc<String>>,
    /// The authenticated user's id.
    pub principal: Option<String>,
}

/// A request's notes; cheap to clone (one allocation per request).
#[derive(Clone, Debug, Default)]
pub struct RequestNotes(Arc<Mutex<Notes>>);

impl RequestNotes {
    pub fn update(&self, f: impl FnOnce(&mut Notes)) {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    pub fn take(&self) -> Notes {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}
