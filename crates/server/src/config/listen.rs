//! The server's own listening sections: `[server]` and `[tls]`.

use rampart_core::config::{ByteSize, ConfigError, Dur};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Default `http://{listen}`.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    /// Largest accepted request body.
    pub max_body_bytes: ByteSize,
    pub request_timeout: Dur,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Dur,
    /// Above this many requests in flight, `/readyz` answers 503 `saturated`.
    pub max_in_flight: usize,
    /// Serve plain HTTP on a non-loopback address (behind a proxy that terminates TLS).
    /// Without `[tls]` and without this, only loopback addresses may be used.
    pub allow_plain_http: bool,
    /// Start on a data directory that other users may read or write (refused by default: it
    /// holds the database, the master key, recordings and logs).
    pub allow_open_data_dir: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            max_body_bytes: ByteSize::mib(1),
            request_timeout: Dur::secs(60),
            shutdown_grace: Dur::secs(20),
            max_in_flight: 4096,
            allow_plain_http: false,
            allow_open_data_dir: false,
        }
    }
}

impl ServerConfig {
    /// Checks the section on its own (whether plain HTTP may be served, and the public URL's
    /// scheme, depend on `[tls]`: see `Config::validate`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.max_body_bytes.0 < 1024 {
            return Err(ConfigError::new("max_body_bytes", "must be at least 1024"));
        }
        Ok(())
    }

    /// `listen` as an address.
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::new("listen", format!("{:?} must be an address such as 127.0.0.1:8080", self.listen))
        })
    }
}

/// The oldest TLS version accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

/// HTTPS on `server.listen` (rustls; TLS 1.2 and 1.3 only).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first). With `key_file`, turns TLS on.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// `1.2` or `1.3`.
    pub min_version: TlsVersion,
    /// How often the files are checked for changes (a changed pair is loaded without restart).
    pub reload_interval: Dur,
    /// A plain-HTTP listener that redirects every request to the public `https://` URL (e.g.
    /// `0.0.0.0:80`).
    pub redirect_listen: Option<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            min_version: TlsVersion::Tls12,
            reload_interval: Dur(Duration::from_secs(30)),
            redirect_listen: None,
        }
    }
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), Some(_)) | (None, None) => {}
            (Some(_), None) => return Err(ConfigError::new("key_file", "cert_file and key_file go together")),
            (None, Some(_)) => return Err(ConfigError::new("cert_file", "cert_file and key_file go together")),
        }
        if let Some(r) = &self.redirect_listen {
            if !self.enabled() {
                return Err(ConfigError::new("redirect_listen", "needs tls.cert_file and tls.key_file"));
            }
            r.parse::<std::net::SocketAddr>().map_err(|_| {
                ConfigError::new("redirect_listen", format!("{r:?} must be an address such as 0.0.0.0:80"))
            })?;
        }
        Ok(())
    }
}
