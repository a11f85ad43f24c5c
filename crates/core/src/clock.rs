//! Time as a port, so tests can fix it. All timestamps are UTC.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;

/// A UTC instant with millisecond precision, stored as Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    #[must_use]
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }
    #[must_use]
    pub fn minus(self, d: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0).single().unwrap_or_default()
    }
    /// An RFC 3339 instant, or a `YYYY-MM-DD` day (its midnight, UTC).
    pub fn parse(v: &str) -> Option<Self> {
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return Some(Self(t.timestamp_millis()));
        }
        let d = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
        Some(Self(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis()))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

/// The source of "now". Production uses [`SystemClock`]; tests may fix time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }
}

pub type SharedClock = Arc<dyn Clock>;
