//! Prometheus metrics (`prometheus-client`, the Prometheus project's own Rust client).
//!
//! Counted as they happen: HTTP requests by route template, method and status, with latency;
//! model calls by provider and model, with latency to the opened stream and failures;
//! generations in flight. Read at scrape time: edge refusals by rule (`EdgeMetrics`), open
//! WebSocket connections, requests in flight, queue depths from the database, resident memory.
//! Labels are bounded: routes are templates (`/v1/sessions/{id}`), never raw paths, and models
//! come from the administrators' configuration. No user data is ever a label.

use futures::StreamExt;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use rampart_core::llm::{ChatModel, ChatRequest, EventStream, ModelError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// The two text formats of `/metrics`, chosen by the scraper's `Accept` (`routes::metrics`).
///
/// `prometheus-client` writes both from the same registry. OpenMetrics 1.0 names a counter's
/// family without `_total` (its samples carry it), has `# UNIT` lines and ends with `# EOF`;
/// the classic format (0.0.4, which `promtool check metrics` and older scrapers read) names
/// the family as its sample, has no `# UNIT` and no `# EOF`, and types an info metric as a
/// gauge. Neither writes `_created` samples: no metric here records a creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// The Prometheus text format, version 0.0.4.
    Classic,
    /// The OpenMetrics text format, version 1.0.0.
    OpenMetrics,
}

impl Exposition {
    /// The `Content-Type` that names the format as its parser expects it.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Classic => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// What is read when Prometheus scrapes (the routes gather it).
#[derive(Debug, Default)]
pub struct Scrape {
    pub ws_connections: usize,
    pub http_in_flight: usize,
    /// `(queue, status, count)`; `None` when the database could not say (the last values stay).
    pub queue_depths: Option<Vec<(&'static str, String, i64)>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: Arc<String>,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Arc<String>,
    method: &'static str,
}

/// The method as a label: the standard ones by name, anything else as `other` (a client
/// cannot add label values by inventing methods).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

static UNMATCHED: std::sync::LazyLock<Arc<String>> = std::sync::LazyLock::new(|| Arc::new("unmatched".to_owned()));

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamOutcome {
    provider: String,
    model: String,
    /// `ok`, `error` (the call failed), `stream_error` (the stream failed after opening).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~33 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    upstream_requests: Family<UpstreamOutcome, Counter>,
    upstream_duration: HistogramFamily<UpstreamLabels>,
    generations: Gauge,
    ws_connections: Gauge,
    http_in_flight: Gauge,
    queue_depth: Family<QueueLabels, Gauge>,
    resident_memory: Gauge,
    retention_deleted: Family<KindLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Edge refusals and count-mode matches, read from the edge's own counters at scrape time.
#[derive(Debug)]
struct EdgeCollector(Arc<rampart_edge::EdgeMetrics>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
}

impl Collector for EdgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snap = self.0.snapshot();
        for (name, help, refused) in [
            ("edge_refusals", "Requests refused at the edge, by rule", true),
            ("edge_matches", "Rule matches let through (count mode), by rule", false),
        ] {
            let mut m = encoder.encode_descriptor(name, help, None, prometheus_client::metrics::MetricType::Counter)?;
            for (rule, r, n) in &snap {
                if *r == refused {
                    let labels = RuleLabels { rule: (*rule).to_owned() };
                    ConstCounter::new(*n).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}

impl Metrics {
    pub fn new(edge: Arc<rampart_edge::EdgeMetrics>) -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", http_requests.clone());
        let http_duration =
            HistogramFamily::<RouteLabels>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to the response head, by route template and method",
            Unit::Seconds,
            http_duration.clone(),
        );
        let upstream_requests = Family::<UpstreamOutcome, Counter>::default();
        registry.register(
            "upstream_requests",
            "Model provider calls by provider, model and outcome",
            upstream_requests.clone(),
        );
        let upstream_duration =
            HistogramFamily::<UpstreamLabels>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "upstream_request_duration",
            "Time until a model provider's stream opens (or the call fails), by provider and model",
            Unit::Seconds,
            upstream_duration.clone(),
        );
        let generations = Gauge::default();
        registry.register("generations_in_flight", "Model replies being generated", generations.clone());
        let ws_connections = Gauge::default();
        registry.register(
            "websocket_connections",
            "Open, authenticated realtime WebSocket connections",
            ws_connections.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register("http_requests_in_flight", "HTTP requests being served", http_in_flight.clone());
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Work waiting or running: documents being ingested (queue=ingestion) and background jobs (queue=jobs)",
            queue_depth.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory of this process",
            Unit::Bytes,
            resident_memory.clone(),
        );
        let retention_deleted = Family::<KindLabels, Counter>::default();
        registry.register(
            "retention_deleted",
            "Rows deleted by the retention sweeper, by kind",
            retention_deleted.clone(),
        );
        let info = Family::<Vec<(String, String)>, Gauge>::default();
        info.get_or_create(&vec![("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]).set(1);
        registry.register("build_info", "The running version", info);
        registry.register_collector(Box::new(EdgeCollector(edge)));
        Metrics {
            registry,
            http_requests,
            http_duration,
            upstream_requests,
            upstream_duration,
            generations,
            ws_connections,
            http_in_flight,
            queue_depth,
            resident_memory,
            retention_deleted,
        }
    }

    pub fn retention_deleted(&self, kind: &str, n: u64) {
        self.retention_deleted.get_or_create(&KindLabels { kind: kind.to_owned() }).inc_by(n);
    }

    /// Counts and times a request that reached the router; `route` is its matched template.
    pub fn observe_http(&self, route: Option<Arc<String>>, method: &axum::http::Method, status: u16, secs: f64) {
        let route = route.unwrap_or_else(|| UNMATCHED.clone());
        let method = method_label(method);
        self.http_requests.get_or_create(&HttpLabels { route: route.clone(), method, status }).inc();
        self.http_duration.get_or_create(&RouteLabels { route, method }).observe(secs);
    }

    /// Wraps a model so that its calls are counted and timed.
    pub fn meter(self: &Arc<Self>, provider: &str, model_id: &str, inner: Arc<dyn ChatModel>) -> Arc<dyn ChatModel> {
        Arc::new(MeteredModel {
            inner,
            labels: UpstreamLabels { provider: provider.to_owned(), model: model_id.to_owned() },
            metrics: self.clone(),
        })
    }

    /// The text exposition in `format`, with the values read at scrape time.
    pub fn render(&self, now: Scrape, format: Exposition) -> String {
        self.ws_connections.set(i64::try_from(now.ws_connections).unwrap_or(i64::MAX));
        self.http_in_flight.set(i64::try_from(now.http_in_flight).unwrap_or(i64::MAX));
        for (q, st) in [("ingestion", "pending"), ("ingestion", "processing"), ("jobs", "pending"), ("jobs", "running")]
        {
            self.queue_depth.get_or_create(&QueueLabels { queue: q.into(), status: st.into() }).set(0);
        }
        for (q, st, n) in now.queue_depths.unwrap_or_default() {
            self.queue_depth.get_or_create(&QueueLabels { queue: q.into(), status: st }).set(n);
        }
        if let Some(rss) = resident_bytes() {
            self.resident_memory.set(rss);
        }
        let mut out = String::with_capacity(16 * 1024);
        let written = match format {
            Exposition::Classic => prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry),
            Exposition::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &self.registry),
        };
        if written.is_err() {
            tracing::error!("metrics: encoding failed");
        }
        out
    }
}

fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

struct MeteredModel {
    inner: Arc<dyn ChatModel>,
    labels: UpstreamLabels,
    metrics: Arc<Metrics>,
}

/// Keeps `generations_in_flight` up until the reply's stream is dropped.
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl MeteredModel {
    fn outcome(&self, outcome: &str) {
        self.metrics
            .upstream_requests
            .get_or_create(&UpstreamOutcome {
                provider: self.labels.provider.clone(),
                model: self.labels.model.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    async fn observe(
        &self,
        call: Pin<Box<dyn Future<Output = Result<EventStream, ModelError>> + Send + '_>>,
    ) -> Result<EventStream, ModelError> {
        self.metrics.generations.inc();
        let guard = InFlight(self.metrics.generations.clone());
        // Open until the reply's stream ends (the span handle lives in the stream).
        let span = tracing::info_span!("provider", provider = %self.labels.provider, model = %self.labels.model);
        let t = Instant::now();
        let r = tracing::Instrument::instrument(call, span.clone()).await;
        self.metrics.upstream_duration.get_or_create(&self.labels).observe(t.elapsed().as_secs_f64());
        match r {
            Err(e) => {
                self.outcome("error");
                Err(e)
            }
            Ok(stream) => {
                self.outcome("ok");
                let failed: Counter = self
                    .metrics
                    .upstream_requests
                    .get_or_create(&UpstreamOutcome {
                        provider: self.labels.provider.clone(),
                        model: self.labels.model.clone(),
                        outcome: "stream_error".into(),
                    })
                    .clone();
                Ok(Box::pin(stream.map(move |item| {
                    let _keep = (&guard, &span);
                    if item.is_err() {
                        failed.inc();
                    }
                    item
                })))
            }
        }
    }
}

impl ChatModel for MeteredModel {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn supports_tools(&self) -> bool {
        self.inner.supports_tools()
    }
    fn stream(&self, req: ChatRequest) -> Pin<Box<dyn Future<Output = Result<EventStream, ModelError>> + Send + '_>> {
        Box::pin(self.observe(self.inner.stream(req)))
    }
    fn complete_whole(
        &self,
        req: ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<EventStream, ModelError>> + Send + '_>> {
        Box::pin(self.observe(self.inner.complete_whole(req)))
    }
}
