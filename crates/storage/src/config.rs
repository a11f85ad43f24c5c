//! The `[database]` section.

use rampart_core::config::ConfigError;
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; default `sqlite://{data_dir}/rampart.db`.
    pub url: Option<String>,
}

impl DatabaseConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.url {
            Some(url) if crate::Backend::from_url(url).is_none() => Err(ConfigError::new(
                "url",
                "must start with sqlite: or postgres:// (got an unsupported or ambiguous URL)",
            )),
            _ => Ok(()),
        }
    }

    /// The configured URL, or the SQLite file in `data_dir`.
    pub fn url_or_default(&self, data_dir: &Path) -> String {
        self.url.clone().unwrap_or_else(|| format!("sqlite://{}", data_dir.join("rampart.db").display()))
    }
}
