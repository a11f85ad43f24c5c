//! Configuration: defaults < TOML file (`RAMPART_CONFIG`) < environment < command line.
//!
//! Every key has an environment form, `RAMPART_` + the path in upper case with `__` between
//! levels (`RAMPART_AUTH__MFA=required`); values are read as TOML (`true`, `5`, `["a"]`) and
//! otherwise as strings. Unknown keys, in the file or the environment, are refused by name.
//! Secrets also accept `…_file` (`RAMPART_CRYPTO__MASTER_KEY_FILE`).
//!
//! Each crate owns its section — its type, defaults and a `validate()` that names keys relative
//! to the section: `[auth]` is `identity`'s, `[edge]` `edge`'s, `[chat]` and `[[assistants]]`
//! `chat`'s, `[knowledge]` `knowledge`'s, `[realtime]` and `[bus]` `realtime`'s, `[[models]]`
//! `providers`', `[database]` `storage`'s. The server's own sections are in this module's
//! files. Here the layers are merged ([`layers`]), the sections composed into [`Config`], their
//! errors given the full key path, and the checks that span sections made.

mod crypto;
mod env_names;
mod layers;
mod listen;
mod mail;
mod observe;
mod retention;
#[cfg(test)]
mod tests;

pub use crypto::{AwsKmsSection, CryptoConfig, KeySource, VaultSection};
pub use layers::Overrides;
pub use listen::{ServerConfig, TlsConfig, TlsVersion};
pub use mail::{MailConfig, MailTls};
pub use observe::{AccessLogConfig, AccessLogTarget, LogConfig, LogFormat, MetricsConfig, OtelConfig};
pub use retention::RetentionConfig;

// The sections other crates own, under the names the server has always used.
pub use rampart_chat::ChatConfig;
pub use rampart_chat::config::{ASSISTANT_SECRETS, AssistantConfig, AssistantType};
pub use rampart_core::config::{ByteSize, ConfigError, Dur};
pub use rampart_edge::EdgeConfig;
pub use rampart_identity::AuthConfig;
pub use rampart_knowledge::config::KnowledgeSection;
pub use rampart_meetings::MeetingsConfig;
pub use rampart_providers::config::{MODEL_SECRETS, ModelConfig, ModelKind, ModelProvider};
pub use rampart_realtime::{BusConfig, RealtimeConfig};
pub use rampart_speech::{SpeechConfig, SpeechEngine};
pub use rampart_storage::DatabaseConfig;

use anyhow::bail;
use std::collections::HashSet;
use std::path::Path;

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub crypto: CryptoConfig,
    pub edge: EdgeConfig,
    pub chat: ChatConfig,
    pub realtime: RealtimeConfig,
    pub bus: BusConfig,
    pub knowledge: KnowledgeSection,
    pub meetings: MeetingsConfig,
    pub speech: SpeechConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    pub tls: TlsConfig,
    pub access_log: AccessLogConfig,
    pub otel: OtelConfig,
    /// The SMTP server for password reset links (`[mail]`).
    pub mail: MailConfig,
    /// Model endpoints (`[[models]]`, DESIGN.md §3.3).
    pub models: Vec<ModelConfig>,
    /// Assistants (`[[assistants]]`); none configured: the built-in `extractive` one, `default`.
    pub assistants: Vec<AssistantConfig>,
}

/// The commented reference printed by `rampart config example`. A test loads it, so it
/// stays valid, and checks that it mentions every key.
pub const EXAMPLE: &str = include_str!("../../config.example.toml");

/// A section's check, its errors given the section's path.
fn section(path: &str, r: Result<(), ConfigError>) -> Result<(), ConfigError> {
    r.map_err(|e| e.within(path))
}

/// That an assistant's `model` names a model of kind `chat` (`chat_model` says whether an id
/// does). Kinds without a model are refused a `model` by the assistant's own check.
pub fn check_assistant_model(a: &AssistantConfig, chat_model: impl Fn(&str) -> bool) -> Result<(), ConfigError> {
    match &a.model {
        Some(m) if !chat_model(m) => Err(ConfigError::new("model", format!("{m:?} is not a defined model id"))),
        _ => Ok(()),
    }
}

impl Config {
    /// Loads and validates every layer.
    pub fn load(file: Option<&Path>, env: &[(String, String)], overrides: &Overrides) -> anyhow::Result<Config> {
        let root = layers::merge(file, env, overrides)?;
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(root)).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().message().to_owned();
            match env_names::explain(&path, &message, env) {
                Some(m) => anyhow::anyhow!(m),
                None => anyhow::anyhow!("configuration key `{path}`: {message}"),
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that values make sense, alone and together; fails closed with advice.
    pub fn validate(&self) -> anyhow::Result<()> {
        section("server", self.server.validate())?;
        section("tls", self.tls.validate())?;
        self.validate_listening()?;
        section("metrics", self.metrics.validate())?;
        section("otel", self.otel.validate())?;
        section("access_log", self.access_log.validate())?;
        section("retention", self.retention.validate())?;
        section("mail", self.mail.validate())?;
        section("crypto", self.crypto.validate())?;
        section("database", self.database.validate())?;
        section("auth", self.auth.validate())?;
        section("edge", self.edge.validate())?;
        self.edge_policy()?;
        self.validate_catalog()?;
        section("chat", self.chat.validate())?;
        section("bus", self.bus.validate())?;
        section("realtime", self.realtime.validate())?;
        section("knowledge", self.knowledge.validate())?;
        self.validate_knowledge_models()?;
        section("meetings", self.meetings.validate())?;
        self.validate_summary_model()?;
        section("speech", self.speech.validate())?;
        Ok(())
    }

    /// `[server]` and `[tls]` together: HTTPS when TLS is on, plain HTTP only on loopback
    /// unless asked for.
    fn validate_listening(&self) -> anyhow::Result<()> {
        let tls = self.tls.enabled();
        if tls && self.server.public_url.as_deref().is_some_and(|u| u.starts_with("http://")) {
            bail!("server.public_url must be https:// when TLS is on");
        }
        let listen = self.server.listen_addr().map_err(|e| e.within("server"))?;
        if !listen.ip().is_loopback() && !tls && !self.server.allow_plain_http {
            bail!(
                "server.listen {} is not a loopback address and TLS is off: set tls.cert_file and tls.key_file, \
                 or server.allow_plain_http = true when a proxy in front terminates TLS",
                self.server.listen
            );
        }
        let pu = self.public_url();
        let u = url::Url::parse(&pu).map_err(|_| anyhow::anyhow!("server.public_url {pu:?} is not a URL"))?;
        if !matches!(u.scheme(), "http" | "https") || u.query().is_some() || u.fragment().is_some() {
            bail!("server.public_url {pu:?} must be an http(s) URL without query or fragment");
        }
        Ok(())
    }

    /// `[[models]]` and `[[assistants]]`: each entry, unique ids, and assistants' models.
    fn validate_catalog(&self) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for m in &self.models {
            m.validate().map_err(|e| e.within(&format!("models[{}]", m.id)))?;
            if !seen.insert(&m.id) {
                return Err(ConfigError::new("models", format!("id {:?} is used twice", m.id)));
            }
        }
        let chat_model = |id: &str| self.models.iter().any(|m| m.id == id && m.kind == ModelKind::Chat);
        let mut seen = HashSet::new();
        for a in &self.assistants {
            a.validate()
                .and_then(|()| check_assistant_model(a, chat_model))
                .map_err(|e| e.within(&format!("assistants[{}]", a.id)))?;
            if !seen.insert(&a.id) {
                return Err(ConfigError::new("assistants", format!("id {:?} is used twice", a.id)));
            }
        }
        Ok(())
    }

    /// `meetings.summary_model` names a chat model of the file's `[[models]]`.
    fn validate_summary_model(&self) -> Result<(), ConfigError> {
        match &self.meetings.summary_model {
            Some(id) if !self.models.iter().any(|m| &m.id == id && m.kind == ModelKind::Chat) => {
                let message = format!("{id:?} is not a [[models]] id of kind \"chat\"");
                Err(ConfigError::new("summary_model", message).within("meetings"))
            }
            _ => Ok(()),
        }
    }

    /// `knowledge.embedding_model` and `knowledge.reranker` name models of the right kind (or,
    /// for the embedding model, the in-process one: its weights are checked at start).
    fn validate_knowledge_models(&self) -> Result<(), ConfigError> {
        let k = &self.knowledge;
        for (key, id, kind) in [
            ("embedding_model", &k.embedding_model, ModelKind::Embedding),
            ("reranker", &k.reranker, ModelKind::Rerank),
        ] {
            // The in-process model's id needs no entry (unless it is turned off).
            let local = kind == ModelKind::Embedding
                && k.local_embedder
                && id.as_deref() == Some(rampart_knowledge::config::LOCAL_EMBEDDING_MODEL);
            if let Some(id) = id
                && !local
                && !self.models.iter().any(|m| &m.id == id && m.kind == kind)
            {
                let message = format!("{id:?} is not a [[models]] id of kind \"{}\"", kind.as_str());
                return Err(ConfigError::new(key, message).within("knowledge"));
            }
        }
        Ok(())
    }

    /// What the edge layer enforces, from `[edge]` (and `server.max_body_bytes`).
    pub fn edge_policy(&self) -> Result<rampart_edge::EdgePolicy, ConfigError> {
        self.edge.policy(self.server.max_body_bytes.0).map_err(|e| e.within("edge"))
    }

    /// Browser origins that may call the API and open WebSockets: the public URL's origin and
    /// `edge.cors_origins`.
    pub fn browser_origins(&self) -> Vec<String> {
        let own = url::Url::parse(&self.public_url()).map(|u| u.origin().ascii_serialization()).ok();
        own.into_iter().chain(self.edge.cors_origins.iter().map(|o| o.trim_end_matches('/').to_owned())).collect()
    }

    pub fn public_url(&self) -> String {
        self.server
            .public_url
            .clone()
            .unwrap_or_else(|| {
                format!("{}://{}", if self.tls.enabled() { "https" } else { "http" }, self.server.listen)
            })
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn database_url(&self) -> String {
        self.database.url_or_default(&self.server.data_dir)
    }

    /// The identity service's settings: `[auth]`, issuing as the public URL.
    pub fn identity_config(&self) -> Result<rampart_identity::IdentityConfig, ConfigError> {
        self.auth.identity_config(self.public_url())
    }
}
