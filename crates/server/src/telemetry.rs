//! Logging and tracing set-up: JSON (or text) logs on stderr, and OpenTelemetry traces over
//! OTLP/HTTP when `otel.endpoint` is set.
//!
//! Spans: `request` (method, path without the query, request id, user id) → `auth` (the kind of
//! credential) → `assistant` (id, kind) → `provider` (provider, model; open until the reply's
//! stream ends). Attributes are identifiers only: never message text, credentials or emails.

use crate::config::Config;
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the trace exporter; [`Telemetry::shutdown`] sends what is buffered.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Telemetry(traces: {})", self.provider.is_some())
    }
}

impl Telemetry {
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "traces: flushing at shutdown failed");
        }
    }
}

fn tracer_provider(cfg: &Config) -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler};
    let o = &cfg.otel;
    let Some(endpoint) = &o.endpoint else { return Ok(None) };
    let headers = o.headers.iter().map(|(k, v)| (k.clone(), v.expose().clone())).collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(std::time::Duration::from_secs(10))
        .with_headers(headers)
        .build()
        .map_err(|e| anyhow::anyhow!("otel.endpoint: {e}"))?;
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfigBuilder::default().with_scheduled_delay(o.export_interval.0).build())
        .build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(o.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(batch)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(o.sample_ratio))))
            .with_resource(resource)
            .build(),
    ))
}

/// Installs the global subscriber (once per process; later calls change nothing).
pub fn init(cfg: &Config) -> anyhow::Result<Telemetry> {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("RAMPART_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(&cfg.log.level).unwrap_or_else(|_| EnvFilter::new("info")));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if cfg.log.format == crate::config::LogFormat::Json {
        fmt.json().flatten_event(true).with_current_span(true).with_span_list(false).boxed()
    } else {
        fmt.boxed()
    };
    let provider = tracer_provider(cfg)?;
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("rampart")));
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init();
    Ok(Telemetry { provider })
}

/// Makes `span` a child of the caller's trace when the request carries a W3C `traceparent`.
pub fn follow_traceparent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if !headers.contains_key("traceparent") {
        return;
    }
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(axum::http::HeaderName::as_str).collect()
        }
    }
    let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(cx);
}
