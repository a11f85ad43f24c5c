//! Shared application state: built once by `build_app`, no global singletons.

use crate::config::Config;
use rampart_core::{SessionId, UserId};
use rampart_identity::Identity;
use rampart_storage::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Per-user limits of the realtime endpoint (per replica): open connections and publish rate.
pub struct RealtimeLimits {
    max_connections: usize,
    connections: std::sync::Mutex<std::collections::HashMap<UserId, usize>>,
    publishes: rampart_edge::KeyedRate<UserId>,
}

/// An open connection, counted until dropped.
pub struct ConnectionSlot {
    limits: Arc<RealtimeLimits>,
    user: UserId,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut m = self.limits.lock();
        if let Some(n) = m.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.user);
            }
        }
    }
}

impl RealtimeLimits {
    pub fn new(c: &crate::config::RealtimeConfig) -> Self {
        Self {
            max_connections: c.max_connections_per_user,
            connections: Default::default(),
            publishes: rampart_edge::KeyedRate::new(rampart_edge::Rate::per_second(c.publish_rate, c.publish_burst)),
        }
    }

    /// Open connections on this replica, all users together.
    pub fn open_connections(&self) -> usize {
        self.lock().values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<UserId, usize>> {
        self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection slot for `user`, or `None` at the limit.
    pub fn open(self: &Arc<Self>, user: UserId) -> Option<ConnectionSlot> {
        let mut m = self.lock();
        let n = m.entry(user).or_insert(0);
        if *n >= self.max_connections {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot { limits: self.clone(), user })
    }

    /// Open connections of a user.
    pub fn connections(&self, user: UserId) -> usize {
        self.lock().get(&user).copied().unwrap_or(0)
    }

    /// Takes one publish from the user's bucket; `false` when it is empty.
    pub fn publish(&self, user: UserId) -> bool {
        self.publishes.check(&user).allowed
    }
}

/// The application state handlers and layers receive: one reference-counted pointer, so that
/// the several copies a request makes (extractors, middleware) cost one atomic increment each.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: AppInner) -> Self {
        Self(Arc::new(inner))
    }
}

pub struct AppInner {
    pub config: Arc<Config>,
    pub db: Db,
    pub identity: Identity,
    pub chat: rampart_chat::ChatService,
    /// The assistants (and their models): the config file's and the administrators'.
    pub assistants: Arc<crate::catalog::Catalog>,
    pub hub: Arc<rampart_realtime::Hub>,
    pub realtime_limits: Arc<RealtimeLimits>,
    /// Knowledge bases, documents, ingestion, retrieval.
    pub knowledge: rampart_knowledge::service::KnowledgeService,
    /// The in-process embedding model and what the status page says of it.
    pub local_embedding: crate::ports::LocalEmbedding,
    /// Meetings: live ones, transcripts, recordings, sharing.
    pub meetings: rampart_meetings::MeetingService,
    /// The tools `/mcp` serves (the feature crates' own, over their services).
    pub mcp_tools: rampart_core::tools::ToolRegistry,
    /// Fan-out and control messages between replicas (NATS), when `bus.nats_url` is set.
    pub bus: Option<Arc<rampart_realtime::bus::NatsBus>>,
    /// Cleared when shutdown starts, so `/readyz` turns 503 and load balancers drain us.
    pub ready: Arc<AtomicBool>,
    /// Requests being served right now; above `server.max_in_flight`, `/readyz` says saturated.
    pub in_flight: Arc<AtomicUsize>,
    /// What the edge layer enforces (from `[edge]`).
    pub edge_policy: rampart_edge::EdgePolicy,
    /// Edge refusals and WAF matches by rule.
    pub edge_metrics: Arc<rampart_edge::EdgeMetrics>,
    /// Token buckets per API key and per user (`edge.api_key_rate`, `edge.user_rate`).
    pub throttle: Throttle,
    /// The public URL's origin and `edge.cors_origins`, without trailing slashes.
    pub browser_origins: Vec<String>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub access_log: Arc<crate::access_log::AccessLog>,
    /// Tools offered to the chat channel's turns.
    pub chat_tools: ChatTools,
}

/// The tools offered to turns of the chat channel (`/in/{userId}/{sessionId}`), used by
/// `model` assistants whose model supports tools. None are built in yet: the meeting assistant
/// gives its turns its own; a composition (or a test) may register a toolbox here.
#[derive(Default)]
pub struct ChatTools(std::sync::RwLock<Option<Arc<dyn rampart_core::tools::Toolbox>>>);

impl ChatTools {
    pub fn set(&self, toolbox: Option<Arc<dyn rampart_core::tools::Toolbox>>) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = toolbox;
    }

    /// The tools of one turn, if any are registered.
    pub fn for_turn(&self) -> Option<rampart_chat::turn::TurnTools> {
        let t = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        t.map(rampart_chat::turn::TurnTools::new)
    }
}

/// Per-credential throttling, applied once a request is authenticated.
pub struct Throttle {
    api_keys: rampart_edge::SharedRate<rampart_core::ApiKeyId>,
    users: Option<rampart_edge::SharedRate<UserId>>,
}

impl Throttle {
    pub fn new(c: &crate::config::EdgeConfig, redis: Option<Arc<rampart_edge::RedisRate>>) -> Self {
        let rate = rampart_edge::Rate::per_second;
        Self {
            api_keys: rampart_edge::SharedRate::new(
                "api-key-rate",
                rate(c.api_key_rate, c.api_key_burst),
                redis.clone(),
            ),
            users: (c.user_rate > 0)
                .then(|| rampart_edge::SharedRate::new("user-rate", rate(c.user_rate, c.user_burst), redis)),
        }
    }

    /// Takes one request from the principal's bucket (its API key's, or its user's); the
    /// rule name and decision when the bucket is empty.
    pub async fn refuse(&self, p: &rampart_core::Principal) -> Option<(&'static str, rampart_edge::Decision)> {
        let (rule, d) = match &p.auth_method {
            rampart_core::AuthMethod::ApiKey { key } => ("api-key-rate", self.api_keys.check(key).await),
            _ => ("user-rate", self.users.as_ref()?.check(&p.user_id).await),
        };
        (!d.allowed).then_some((rule, d))
    }
}

impl AppState {
    /// Starts the background work of a serving process (ingestion workers). Commands that only
    /// use the state (`rampart user add`…) do not call it.
    pub async fn start_background(&self) -> anyhow::Result<()> {
        self.knowledge.start().await.map_err(|e| anyhow::anyhow!("knowledge: {e}"))?;
        let meetings = |e: rampart_meetings::MeetingError| anyhow::anyhow!("meetings: {e}");
        self.meetings.install_default_templates().await.map_err(meetings)?;
        // Before unfinished meetings are ended (which asks for their summaries afresh).
        let resumed = self.meetings.resume_summaries().await.map_err(meetings)?;
        if resumed > 0 {
            tracing::info!(summaries = resumed, "resumed meeting summaries a previous process left unfinished");
        }
        let ended = self.meetings.finalize_unfinished().await.map_err(meetings)?;
        if ended > 0 {
            tracing::info!(meetings = ended, "ended meetings a previous process left live");
        }
        // Checked against the database, and caught up, in the background: searches find what
        // is indexed meanwhile.
        self.meetings.start_search();
        Ok(())
    }

    /// Stops a user's generations (one session, or all) here and, with a bus, on the other
    /// replicas; returns how many were running on this one.
    pub async fn stop_generations(&self, user: UserId, session: Option<SessionId>) -> usize {
        let n = match session {
            Some(sid) => self.chat.runs().stop(user, sid),
            None => {
                self.chat.runs().stop_user(user);
                0
            }
        };
        if let Some(bus) = &self.bus {
            bus.control(&crate::control::Control::Stop { user, session }).await;
        }
        n
    }

    /// Tells the other replicas that models or assistants changed.
    pub async fn catalog_changed(&self) {
        if let Some(bus) = &self.bus {
            bus.control(&crate::control::Control::Catalog(crate::control::CatalogChange::Changed)).await;
        }
    }

    /// Whether a browser page at `origin` may talk to us: our own public origin, or one of
    /// `edge.cors_origins`.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.browser_origins.iter().any(|o| o == origin.trim_end_matches('/'))
    }

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
