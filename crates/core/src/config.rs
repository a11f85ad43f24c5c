//! What every crate's configuration section is made of: durations ([`Dur`]), sizes
//! ([`ByteSize`]), identifiers of configured entries ([`check_id`]) and the error a section's
//! `validate()` returns ([`ConfigError`]: the key, relative to the section, and why). `server`
//! composes the sections and prefixes each error with the section's path.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A value of a configuration section that is refused: the key (relative to the section that
/// checked it, `password.min_length`) and what to do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Empty when the error is about the section (or entry) as a whole.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.key, self.message) }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }

    /// The same error seen from one level up: `section` goes in front of the key
    /// (`min_length` within `password` within `auth` is `auth.password.min_length`).
    #[must_use]
    pub fn within(self, section: &str) -> Self {
        let key = if self.key.is_empty() { section.to_owned() } else { format!("{section}.{}", self.key) };
        Self { key, message: self.message }
    }
}

/// Checks the id of a configured entry (`[[models]]`, `[[assistants]]`).
pub fn check_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new("id", format!("{id:?}: use 1-64 characters of a-z, 0-9, '-', '_', '.'")))
    }
}

/// For `#[serde(skip_serializing_if = "rampart_core::config::write_only")]` on secret fields:
/// never serialized, like `skip_serializing`, but still listed (write-only) in the OpenAPI
/// schema, which leaves out `skip_serializing` fields altogether.
pub fn write_only<T>(_: &T) -> bool {
    true
}

/// A duration written as `"90s"`, `"15m"`, `"1h"`, `"30d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(Dur).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration {s:?} ({e}); use e.g. \"90s\", \"1h\", \"30d\""))
        })
    }
}

impl utoipa::PartialSchema for Dur {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A duration such as \"90s\", \"15m\", \"1h\", \"30d\"."))
            .examples(["60s"])
            .into()
    }
}
impl utoipa::ToSchema for Dur {}

/// A size in bytes: an integer (`1048576`, what the example configuration shows) or a string
/// with a unit (`"50MiB"`, `"512 KiB"`, `"1MB"`). Written back as the integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub usize);

impl ByteSize {
    pub const fn kib(n: usize) -> Self {
        ByteSize(n * 1024)
    }
    pub const fn mib(n: usize) -> Self {
        ByteSize(n * 1024 * 1024)
    }

    /// Parses `"50MiB"`, `"512 KiB"`, `"1MB"`, `"100"` (bytes).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        let n: usize = n.parse().ok()?;
        let mult: usize = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1000 * 1000,
            "MiB" => 1 << 20,
            "GB" => 1000 * 1000 * 1000,
            "GiB" => 1 << 30,
            _ => return None,
        };
        n.checked_mul(mult).map(ByteSize)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0 as u64)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a size in bytes, e.g. 1048576 or \"1MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                usize::try_from(v).map(ByteSize).map_err(|_| E::custom(format!("size {v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map_err(|_| E::custom(format!("size {v} is negative"))).and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).ok_or_else(|| {
                    E::custom(format!("invalid size {v:?}; use bytes (1048576) or e.g. \"512KiB\", \"50MiB\""))
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_integers_and_units() {
        let de = |v: serde_json::Value| serde_json::from_value::<ByteSize>(v).map(|b| b.0).ok();
        assert_eq!(de(serde_json::json!(1_048_576)), Some(1_048_576));
        assert_eq!(de(serde_json::json!("50MiB")), Some(50 << 20));
        assert_eq!(de(serde_json::json!("512 KiB")), Some(512 << 10));
        assert_eq!(de(serde_json::json!("1MB")), Some(1_000_000));
        assert_eq!(de(serde_json::json!("100")), Some(100));
        assert_eq!(de(serde_json::json!(-1)), None);
        assert_eq!(de(serde_json::json!("1 parsec")), None);
        assert_eq!(de(serde_json::json!(1.5)), None);
        assert_eq!(serde_json::to_value(ByteSize::mib(1)).unwrap(), serde_json::json!(1_048_576));
    }

    #[test]
    fn durations_round_trip_and_errors_name_the_key() {
        let d: Dur = serde_json::from_value(serde_json::json!("90s")).unwrap();
        assert_eq!(d, Dur::secs(90));
        assert_eq!(serde_json::to_value(Dur::secs(3600)).unwrap(), serde_json::json!("1h"));
        assert!(serde_json::from_value::<Dur>(serde_json::json!("soon")).is_err());
        let e = ConfigError::new("min_length", "must be at least 8").within("password").within("auth");
        assert_eq!(e.to_string(), "auth.password.min_length: must be at least 8");
        assert!(check_id("gpt-4.1").is_ok());
        assert_eq!(check_id("Bad Id").unwrap_err().key, "id");
    }
}
