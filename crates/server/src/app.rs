//! `build_state` and `build_app`: what production runs and what tests run.

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, Request, header};
use axum::response::Response;
use rampart_core::clock::SharedClock;
use rampart_core::{ErrorCode, SystemClock};
use rampart_edge::{RequestId, RequestIdLayer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Opens the database (migrating it), loads the keyring and the identity service.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    build_state_with_clock(config, Arc::new(SystemClock)).await
}

pub async fn build_state_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    crate::keys::ensure_data_dir(&config.server.data_dir)?;
    let keyring = crate::keys::load_keyring(&config).await?;
    let db = crate::database::open(&config.database_url()).await?;
    let (identity, lookup) = first_start_state(&config, &db, &keyring, &clock).await?;
    let chat = rampart_chat::ChatService::new(db.clone(), keyring.clone(), clock.clone(), config.chat.clone());
    let edge_metrics = Arc::new(rampart_edge::EdgeMetrics::default());
    let metrics = Arc::new(crate::metrics::Metrics::new(edge_metrics.clone()));
    let catalog = Arc::new(crate::catalog::Catalog::load(&config, db.clone(), keyring.clone(), metrics.clone()).await?);
    let local_embedding = crate::ports::local_embedding(&config.knowledge, &config.server.data_dir);
    let local = local_embedding.embedder.clone();
    check_local_default(&config, &catalog, local.is_some())?;
    let knowledge = build_knowledge(&config, db.clone(), keyring.clone(), clock.clone(), local.is_some())?;
    let models = Arc::new(crate::ports::WithLocalEmbedder { catalog: catalog.clone(), local });
    knowledge.set_models(models.clone());
    chat.set_retriever(Arc::new(crate::ports::KbRetriever {
        knowledge: knowledge.clone(),
        public_url: config.public_url(),
    }));
    let hub = Arc::new(rampart_realtime::Hub::new());
    let bus = config.bus.connect().await.map_err(|e| anyhow::anyhow!("bus: {e}"))?;
    let events = Arc::new(crate::ports::HubMeetingEvents { hub: hub.clone(), bus: bus.clone() });
    let meetings = build_meetings(&config, db.clone(), keyring.clone(), clock.clone(), events, lookup);
    // The tools of /mcp are also the agent's: the meeting assistant's and the chat's, offered to
    // models with tool support (read-only, as the asking user).
    let mcp_tools = crate::mcp::registry(&meetings, &knowledge);
    let agent_tools: Arc<dyn rampart_core::tools::Toolbox> = Arc::new(mcp_tools.clone());
    meetings.set_assistant(Arc::new(crate::ports::ChatMeetingAssistant {
        chat: chat.clone(),
        catalog: catalog.clone(),
        // Weak: the tools hold the meetings service, which holds this assistant (a strong
        // reference would be a cycle that keeps the service and its database pool alive for
        // ever). The state's `chat_tools` keeps them.
        tools: Arc::downgrade(&agent_tools),
    }));
    let chat_tools = crate::state::ChatTools::default();
    chat_tools.set(Some(agent_tools));
    summaries(&config, &meetings, &catalog)?;
    let search = build_meeting_index(&config, &keyring, knowledge.default_embedding_model(), models)?;
    meetings.set_search_index(search);
    let shared_rates = config.edge.shared_rates().await.map_err(|e| e.within("edge"))?;
    let edge_policy = rampart_edge::EdgePolicy { shared_rates: shared_rates.clone(), ..config.edge_policy()? };
    let state = AppState::new(crate::state::AppInner {
        mcp_tools,
        db,
        identity,
        chat,
        assistants: catalog,
        hub,
        meetings,
        realtime_limits: Arc::new(crate::state::RealtimeLimits::new(&config.realtime)),
        knowledge,
        local_embedding,
        bus,
        ready: Arc::new(AtomicBool::new(true)),
        in_flight: Arc::new(AtomicUsize::new(0)),
        edge_metrics,
        edge_policy,
        throttle: crate::state::Throttle::new(&config.edge, shared_rates),
        browser_origins: config.browser_origins(),
        metrics,
        access_log: Arc::new(crate::access_log::AccessLog::open(&config.access_log, &config.server.data_dir)?),
        chat_tools,
        config: Arc::new(config),
    });
    if let Some(bus) = &state.bus {
        let b = bus.clone();
        state.knowledge.on_index_change(move |c| {
            let b = b.clone();
            tokio::spawn(async move { b.control(&crate::control::Control::Index(c)).await });
        });
        if let Some(ix) = state.meetings.search_index() {
            let b = bus.clone();
            ix.on_change(move |c| {
                let b = b.clone();
                tokio::spawn(async move { b.control(&crate::control::Control::MeetingSearch(c)).await });
            });
        }
        let st = state.clone();
        bus.attach(&state.hub, move |msg| crate::control::apply(&st, msg))
            .await
            .map_err(|e| anyhow::anyhow!("bus: {e}"))?;
    }
    Ok(state)
}

/// What the first start on a database writes and every later one reads: the master key's check
/// value, the JWT signing key (in the identity service) and meetings' lookup key. Under the
/// start-up lock, so that replicas starting together on one PostgreSQL database write it once
/// and all use the same (each write is also safe on its own where it can be: first writer wins,
/// then read back).
async fn first_start_state(
    config: &Config,
    db: &rampart_storage::Db,
    keyring: &rampart_crypto::Keyring,
    clock: &SharedClock,
) -> anyhow::Result<(rampart_identity::Identity, zeroize::Zeroizing<[u8; 32]>)> {
    let mailer: Option<Arc<dyn rampart_core::mail::Mailer>> = match config.mail.enabled() {
        true => Some(Arc::new(crate::mail::SmtpMailer::new(&config.mail)?)),
        false => None,
    };
    let identity_config = config.identity_config()?;
    let lock = db.startup_lock().await?;
    let made = async {
        crate::keys::check_master_key(db, keyring).await?;
        let identity =
            rampart_identity::Identity::new(db.clone(), keyring.clone(), clock.clone(), identity_config, mailer)
                .await
                .map_err(|e| anyhow::anyhow!("identity: {e}"))?;
        let lookup =
            rampart_meetings::service::lookup_key(db, keyring).await.map_err(|e| anyhow::anyhow!("meetings: {e}"))?;
        anyhow::Ok((identity, lookup))
    }
    .await;
    lock.release().await;
    made
}

/// The meetings service, its events going to the realtime hub and its speech recogniser the
/// configured engine.
fn build_meetings(
    config: &Config,
    db: rampart_storage::Db,
    keyring: rampart_crypto::Keyring,
    clock: SharedClock,
    events: Arc<crate::ports::HubMeetingEvents>,
    lookup: zeroize::Zeroizing<[u8; 32]>,
) -> rampart_meetings::MeetingService {
    let dir = config.meetings.recordings_dir(&config.server.data_dir);
    let m = rampart_meetings::MeetingService::new(
        db,
        keyring,
        clock,
        config.meetings.clone(),
        dir,
        config.public_url(),
        lookup,
    );
    m.set_events(events);
    m.set_recognizer(crate::ports::speech_recognizer(&config.speech, &config.server.data_dir));
    m
}

/// Meeting summaries' model (from the catalog) and the meeting-end webhook, when configured.
fn summaries(
    config: &Config,
    meetings: &rampart_meetings::MeetingService,
    catalog: &Arc<crate::catalog::Catalog>,
) -> anyhow::Result<()> {
    let model = config.meetings.summary_model.clone();
    meetings.set_summary_models(Arc::new(crate::ports::CatalogSummaryModels { catalog: catalog.clone(), model }));
    let Some(url) = &config.meetings.webhook_url else { return Ok(()) };
    let secret = config.meetings.webhook_key().map_err(|e| e.within("meetings"))?;
    let secret = secret.ok_or_else(|| anyhow::anyhow!("meetings.webhook_url needs webhook_secret"))?;
    let client = rampart_edge::SafeClient::new(config.edge.outbound_policy(), config.meetings.webhook_timeout.0)
        .map_err(|e| anyhow::anyhow!("meetings webhook: {e}"))?;
    let url = url.parse().map_err(|e| anyhow::anyhow!("meetings.webhook_url: {e}"))?;
    meetings.set_end_hook(Arc::new(crate::ports::SignedEndHook { client, url, secret }));
    Ok(())
}

/// Meeting search's indexes: the lexical one in `meetings.index_dir` (keyed terms, stemmed
/// in `knowledge.language`), the dense one in memory (rebuilt from the database's sealed
/// vectors at start); passages embed with the default embedding model of knowledge bases.
fn build_meeting_index(
    config: &Config,
    keyring: &rampart_crypto::Keyring,
    model: Option<&str>,
    models: Arc<dyn rampart_core::embed::ModelDirectory>,
) -> anyhow::Result<Arc<rampart_meetings::search::MeetingIndex>> {
    use rampart_meetings::search::{DenseIndex, LexicalIndex, MeetingIndex};
    let lang = config.knowledge.stemmer().map_err(|e| e.within("knowledge"))?;
    let dir = config.meetings.index_dir(&config.server.data_dir);
    let key = rampart_knowledge::index::TermKey::from_keyring(keyring);
    let lexical = LexicalIndex::open(&dir, lang, &key).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(MeetingIndex::new(lexical, DenseIndex::in_memory(), model.map(str::to_owned), models)))
}

/// Fails start-up when `knowledge.embedding_model` names the in-process model and it cannot run
/// (no catalog entry of that id stands in for it).
fn check_local_default(config: &Config, catalog: &crate::catalog::Catalog, local_ready: bool) -> anyhow::Result<()> {
    use rampart_core::embed::ModelDirectory;
    let id = rampart_knowledge::config::LOCAL_EMBEDDING_MODEL;
    if config.knowledge.embedding_model.as_deref() == Some(id) && !local_ready && catalog.embedder(id).is_none() {
        let dir = config.knowledge.local_model_dir(&config.server.data_dir);
        anyhow::bail!(
            "knowledge.embedding_model is {id:?}, the in-process model, but its weights are not in {} \
             (run `make minilm-model`, or set knowledge.local_model_dir)",
            dir.display()
        );
    }
    Ok(())
}

/// The knowledge service over its indexes; knowledge bases created without naming a model embed
/// with the configured one, else with the in-process one when it can run (`local_ready`).
fn build_knowledge(
    config: &Config,
    db: rampart_storage::Db,
    keyring: rampart_crypto::Keyring,
    clock: SharedClock,
    local_ready: bool,
) -> anyhow::Result<rampart_knowledge::service::KnowledgeService> {
    use rampart_knowledge::{dense, index, service};
    let k = &config.knowledge;
    let data_dir = &config.server.data_dir;
    let lang = k.stemmer().map_err(|e| e.within("knowledge"))?;
    let ix = index::LexicalIndex::open(&k.lexical_dir(data_dir), lang, &index::TermKey::from_keyring(&keyring))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let dense = dense::DenseIndex::open(&k.dense_dir(data_dir), keyring.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = service::KnowledgeConfig {
        default_embedding_model: k.default_embedding_model(local_ready),
        ..k.service_config()
    };
    Ok(service::KnowledgeService::new(db, keyring, clock, ix, dense, cfg))
}

async fn method_not_allowed() -> ApiError {
    ApiError::code(ErrorCode::MethodNotAllowed)
}

fn peer_of(ext: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    ext.get::<axum::extract::ConnectInfo<crate::tls::Peer>>()
        .map(|c| c.0.addr.ip())
        .or_else(|| ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()))
}

fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let list: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-api-key"),
                // MCP's streamable HTTP request headers (browser-based MCP clients).
                header::HeaderName::from_static("mcp-protocol-version"),
                header::HeaderName::from_static("mcp-method"),
                header::HeaderName::from_static("mcp-name"),
            ])
            .expose_headers([
                header::HeaderName::from_static("x-request-id"),
                header::RETRY_AFTER,
                header::WWW_AUTHENTICATE,
                header::HeaderName::from_static("ratelimit-limit"),
                header::HeaderName::from_static("ratelimit-remaining"),
                header::HeaderName::from_static("ratelimit-reset"),
            ])
            .allow_credentials(true)
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// CORS where it applies: requests without an `Origin` header (same-origin navigations and API
/// clients) go straight to the app; tower-http's CORS service, which builds its answer headers
/// for every request it sees, only sees cross-origin ones and preflights. The layer (its origin
/// list, methods, headers) is shared, not held in the service: axum clones the service stack
/// for every request, and a `Cors` service inside it cost ~6,000 instructions per request in
/// clones and drops (callgrind, bench/edge-instructions.sh).
#[derive(Clone)]
struct CorsWhenOrigin(Arc<tower_http::cors::CorsLayer>);

impl<S: Clone> tower::Layer<S> for CorsWhenOrigin {
    type Service = CorsWhenOriginService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CorsWhenOriginService { cors: self.0.clone(), inner }
    }
}

#[derive(Clone)]
struct CorsWhenOriginService<S> {
    cors: Arc<tower_http::cors::CorsLayer>,
    inner: S,
}

type BoxFut<R, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<R, E>> + Send>>;

impl<S, B, RB> tower::Service<Request<B>> for CorsWhenOriginService<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFut<Response<RB>, S::Error>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.headers().contains_key(header::ORIGIN) {
            // The service that was polled ready is the one that must be called: it goes into
            // the CORS service, a clone stays here. (`Cors::poll_ready` only asks the inner one.)
            let clone = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, clone);
            Box::pin(tower::Layer::layer(&*self.cors, inner).call(req))
        } else {
            Box::pin(self.inner.call(req))
        }
    }
}

/// Counts requests in flight (the guard also runs if the request is cancelled).
async fn count_in_flight(
    State(s): State<AppState>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    s.in_flight.fetch_add(1, Ordering::Relaxed);
    let _g = Guard(s.in_flight.clone());
    next.run(req).await
}

/// The whole HTTP application.
pub fn build_app(state: AppState) -> Router {
    let limits = crate::openapi::UploadLimits {
        knowledge: state.config.knowledge.max_upload_bytes.0,
        meetings: state.config.meetings.max_upload_bytes.0,
    };
    let (router, api) = crate::openapi::router_with(limits).split_for_parts();
    let api_json = Arc::new(crate::openapi::finish(api).to_json().unwrap_or_else(|_| "{}".into()));
    let body_limit = state.config.server.max_body_bytes.0;
    let timeout = state.config.server.request_timeout.0;
    let edge = rampart_edge::EdgeLayer::new(state.edge_policy.clone(), state.edge_metrics.clone(), peer_of);
    let hsts = state.config.public_url().starts_with("https://");
    let cors = cors_layer(&state.config.edge.cors_origins);
    let access_log = state.access_log.clone();
    let router = if state.config.metrics.admin_endpoint {
        router.route("/metrics", axum::routing::get(crate::routes::metrics::admin_exposition))
    } else {
        router
    };
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let j = api_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], (*j).clone()) }
            }),
        )
        .route("/api/v1/ws", axum::routing::get(crate::routes::meeting_socket::upgrade))
        .route("/event/realtime", axum::routing::get(crate::routes::realtime::upgrade))
        .route("/event", axum::routing::post(crate::routes::realtime::http_publish))
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::routes::metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_in_flight))
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(tower::util::option_layer(cors.map(|c| CorsWhenOrigin(Arc::new(c)))))
        .layer(edge)
        .layer(axum::middleware::map_response(move |mut resp: Response| async move {
            rampart_edge::headers::apply(resp.headers_mut(), hsts);
            resp
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let rid = req.extensions().get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("-");
                    // The path only: query strings may carry values that must not be logged.
                    let span = tracing::info_span!("request", request_id = %rid, method = %req.method(), path = %req.uri().path(), user = tracing::field::Empty);
                    crate::telemetry::follow_traceparent(&span, req.headers());
                    span
                })
                // The access log has the per-request line; this one is for debugging.
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(axum::middleware::from_fn_with_state(access_log, crate::access_log::log))
        .layer(RequestIdLayer)
}
