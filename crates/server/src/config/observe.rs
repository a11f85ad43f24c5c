//! The server's own observability sections: `[log]`, `[access_log]`, `[metrics]`, `[otel]`.

use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` or `text`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `info,rampart_identity=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Json, level: "info".into() }
    }
}

/// Where the access log goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogTarget {
    Stdout,
    /// Daily files in `access_log.dir`.
    File,
    Off,
}

/// One JSON line per request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// `stdout`, `file` (daily files in `dir`) or `off`.
    pub target: AccessLogTarget,
    /// Default `{data_dir}/logs`.
    pub dir: Option<PathBuf>,
    /// Daily files kept (older ones are deleted at rotation): the access logs' retention.
    pub max_files: usize,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self { target: AccessLogTarget::Stdout, dir: None, max_files: 14 }
    }
}

impl AccessLogConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_files == 0 {
            return Err(ConfigError::new("max_files", "must be at least 1"));
        }
        Ok(())
    }
}

/// Prometheus metrics.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A separate listener serving `GET /metrics` without authentication, e.g. `127.0.0.1:9464`.
    pub listen: Option<String>,
    /// Let `listen` be a non-loopback address (the scraper on another host; firewall it).
    pub allow_remote: bool,
    /// Also serve `GET /metrics` on the main listener, to administrators only.
    pub admin_endpoint: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { listen: None, allow_remote: false, admin_endpoint: true }
    }
}

impl MetricsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr().map(drop)
    }

    /// The separate listener's address, checked.
    pub fn listen_addr(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        let Some(l) = self.listen.as_deref().filter(|l| !l.is_empty()) else { return Ok(None) };
        let a: std::net::SocketAddr = l
            .parse()
            .map_err(|_| ConfigError::new("listen", format!("{l:?} must be an address such as 127.0.0.1:9464")))?;
        if !a.ip().is_loopback() && !self.allow_remote {
            return Err(ConfigError::new(
                "listen",
                format!(
                    "{l:?} is not a loopback address and the metrics listener has no authentication; \
                     set metrics.allow_remote = true if only the scraper can reach it"
                ),
            ));
        }
        Ok(Some(a))
    }
}

/// OpenTelemetry traces over OTLP/HTTP (protobuf).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtelConfig {
    /// The collector's OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318` (spans go to
    /// `{endpoint}/v1/traces`). Unset: no traces.
    pub endpoint: Option<String>,
    /// Headers sent with every export (e.g. a vendor's API key).
    pub headers: BTreeMap<String, Secret<String>>,
    /// Fraction of new traces recorded (a caller's sampled `traceparent` is followed).
    pub sample_ratio: f64,
    pub service_name: String,
    /// How often finished spans are sent.
    pub export_interval: Dur,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            headers: BTreeMap::new(),
            sample_ratio: 1.0,
            service_name: "rampart".into(),
            export_interval: Dur::secs(5),
        }
    }
}

impl OtelConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(e) = &self.endpoint {
            let u = url::Url::parse(e).map_err(|_| ConfigError::new("endpoint", format!("{e:?} is not a URL")))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(ConfigError::new("endpoint", "must be http(s)://"));
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(ConfigError::new("sample_ratio", "must be between 0 and 1"));
        }
        Ok(())
    }
}
