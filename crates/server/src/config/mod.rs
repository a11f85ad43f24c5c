//! Configuration: defaults < TOML file (`RAMPART_CONFIG`) < environment < command line.
//!
//! Every key has an environment form, `RAMPART_` + the path in upper case with `__` between
//! levels (`RAMPART_AUTH__MFA=required`); values are read as TOML (`true`, `5`, `["a"]`) and
//! otherwise as strings. Unknown keys, in the file or the environment, are refused by name.
//! Secrets also accept `…_file` (`RAMPART_CRYPTO__MASTER_KEY_FILE`).

use anyhow::{Context, bail};
use rampart_crypto::{PasswordParams, SigningAlg};
use rampart_identity::{ExternalIssuerConfig, MfaPolicy, PasswordPolicy};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Value;

/// A duration written as `"90s"`, `"15m"`, `"1h"`, `"30d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub crypto: CryptoConfig,
    pub edge: EdgeConfig,
    pub chat: ChatSection,
    pub realtime: RealtimeConfig,
    pub bus: BusConfig,
    pub knowledge: KnowledgeSection,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    pub tls: TlsConfig,
    pub access_log: AccessLogConfig,
    pub otel: OtelConfig,
    /// Model endpoints (`[[models]]`, DESIGN.md §3.3).
    pub models: Vec<ModelConfig>,
    /// Assistants (`[[assistants]]`); none configured: the built-in `extractive` one, `default`.
    pub assistants: Vec<AssistantConfig>,
}

fn default_model_timeout() -> Dur {
    Dur(Duration::from_secs(60))
}
fn default_model_retries() -> u32 {
    2
}

/// A model endpoint (`[[models]]`, or added by an administrator through `/v1/admin/models` with
/// the same keys). Upstream URLs come from here only, never from a request. Secret fields
/// ([`MODEL_SECRETS`]) are never serialized.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub id: String,
    /// `chat` (the default: assistants answer with it), `embedding` (vectors for knowledge
    /// bases) or `rerank` (reorders retrieved passages).
    #[serde(default = "default_model_kind")]
    pub kind: String,
    /// `openai` (OpenAI-compatible: OpenAI, vLLM, Ollama, llama.cpp, LM Studio), `anthropic`,
    /// `bedrock` or `http` (a generic JSON endpoint, SageMaker-style).
    pub provider: String,
    /// `openai`: required; `anthropic`: default `https://api.anthropic.com`; `bedrock`: an
    /// endpoint override (VPC endpoints, tests); `http`: the endpoint's URL, required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The upstream's model name (`http`: the id reported in message metadata; default `id`).
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing)]
    pub api_key: Option<rampart_core::Secret<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    #[serde(default = "default_model_timeout")]
    pub timeout: Dur,
    #[serde(default = "default_model_retries")]
    pub max_retries: u32,
    /// `bedrock`: the AWS region, and static credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    #[serde(default, skip_serializing)]
    pub aws_secret_access_key: Option<rampart_core::Secret<String>>,
    #[serde(default, skip_serializing)]
    pub aws_session_token: Option<rampart_core::Secret<String>>,
    /// `http`: the request body with placeholders, and where the answer holds the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_template: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_pointer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_input_pointer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_output_pointer: Option<String>,
    /// `http`: extra request headers (values are secrets, e.g. `Authorization`).
    #[serde(default, skip_serializing)]
    pub headers: std::collections::BTreeMap<String, rampart_core::Secret<String>>,
    /// `embedding`: vector size asked of models that can shorten theirs (OpenAI
    /// `text-embedding-3-*`, Titan v2), prefixes some models want (E5: `"query: "` and
    /// `"passage: "`), and texts per request (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

fn default_model_kind() -> String {
    "chat".into()
}

/// Write-only fields of a model: stored sealed, never shown.
pub const MODEL_SECRETS: &[&str] = &["api_key", "aws_secret_access_key", "aws_session_token", "headers"];
/// Write-only fields of an assistant.
pub const ASSISTANT_SECRETS: &[&str] = &["webhook_secret"];

/// Providers per model kind.
pub const CHAT_PROVIDERS: &[&str] = &["openai", "anthropic", "bedrock", "http"];
/// `openai`: `POST {base_url}/embeddings` (OpenAI, vLLM, Ollama's /v1, llama.cpp, TEI);
/// `ollama`: `POST {base_url}/api/embed`; `bedrock`: Titan or Cohere embeddings.
pub const EMBEDDING_PROVIDERS: &[&str] = &["openai", "ollama", "bedrock"];
/// `cohere`: `POST {base_url}/rerank` with `documents` (Cohere, Jina, vLLM, llama.cpp,
/// Infinity); `tei`: text-embeddings-inference's `POST {base_url}/rerank` with `texts`.
pub const RERANK_PROVIDERS: &[&str] = &["cohere", "tei"];

impl ModelConfig {
    /// Checks one entry on its own (ids, URLs, provider-specific keys).
    pub fn validate(&self) -> anyhow::Result<()> {
        check_name("models", &self.id)?;
        let id = &self.id;
        let providers = match self.kind.as_str() {
            "chat" => CHAT_PROVIDERS,
            "embedding" => EMBEDDING_PROVIDERS,
            "rerank" => RERANK_PROVIDERS,
            other => bail!("models {id}: kind {other:?} is not one of chat, embedding, rerank"),
        };
        if !providers.contains(&self.provider.as_str()) {
            bail!(
                "models {id}: provider {:?} is not one of {} for kind {}",
                self.provider,
                providers.join(", "),
                self.kind
            );
        }
        let embedding_keys = self.dimensions.is_some()
            || self.query_prefix.is_some()
            || self.document_prefix.is_some()
            || self.batch_size.is_some();
        if embedding_keys && self.kind != "embedding" {
            bail!("models {id}: dimensions, query_prefix, document_prefix and batch_size are for kind \"embedding\"");
        }
        if self.dimensions.is_some_and(|d| !(1..=16_384).contains(&d))
            || self.batch_size.is_some_and(|b| !(1..=2048).contains(&b))
            || self.query_prefix.as_ref().is_some_and(|p| p.len() > 256)
            || self.document_prefix.as_ref().is_some_and(|p| p.len() > 256)
        {
            bail!("models {id}: dimensions 1-16384, batch_size 1-2048, prefixes at most 256 bytes");
        }
        if let Some(b) = &self.base_url {
            let u = url::Url::parse(b).with_context(|| format!("models {id}: base_url {b:?} is not a URL"))?;
            if !matches!(u.scheme(), "http" | "https") || u.query().is_some() && self.provider != "http" {
                bail!("models {id}: base_url must be an http(s) URL without a query");
            }
            if !u.username().is_empty() || u.password().is_some() {
                bail!("models {id}: base_url must not carry credentials (use api_key)");
            }
        }
        if self.api_key.is_some() && self.api_key_file.is_some() {
            bail!("models {id}: set api_key or api_key_file, not both");
        }
        if self.max_retries > 10 || self.timeout.0.is_zero() {
            bail!("models {id}: max_retries must be at most 10 and timeout above 0");
        }
        let needs_model = self.provider != "http";
        if needs_model && (self.model.is_empty() || self.model.len() > 256) {
            bail!("models {id}: model must name the upstream model (1-256 characters)");
        }
        let bedrock_keys = self.region.is_some()
            || self.aws_access_key_id.is_some()
            || self.aws_secret_access_key.is_some()
            || self.aws_session_token.is_some();
        let http_keys = self.request_template.is_some()
            || self.response_pointer.is_some()
            || self.usage_input_pointer.is_some()
            || self.usage_output_pointer.is_some()
            || !self.headers.is_empty();
        match self.provider.as_str() {
            "openai" | "ollama" | "cohere" | "tei" if self.base_url.is_none() => {
                bail!("models {id}: provider {} needs base_url", self.provider)
            }
            "http" if self.base_url.is_none() || self.request_template.is_none() || self.response_pointer.is_none() => {
                bail!("models {id}: provider http needs base_url, request_template and response_pointer")
            }
            "bedrock" if self.region.as_deref().is_none_or(str::is_empty) => {
                bail!("models {id}: provider bedrock needs region")
            }
            "bedrock" if self.aws_access_key_id.is_none() || self.aws_secret_access_key.is_none() => {
                bail!("models {id}: provider bedrock needs aws_access_key_id and aws_secret_access_key")
            }
            _ => {}
        }
        if bedrock_keys && self.provider != "bedrock" {
            bail!("models {id}: region and aws_* keys are for provider bedrock");
        }
        if http_keys && self.provider != "http" {
            bail!("models {id}: request_template, response_pointer, usage_*_pointer and headers are for provider http");
        }
        Ok(())
    }
}

/// An assistant: a named way of answering (`[[assistants]]`, or `/v1/admin/assistants`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantConfig {
    pub id: String,
    /// `model`, `custom` (the operator's HTTP webhook) or `extractive`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_top_p: Option<f32>,
    /// Groups allowed to use it; empty: every signed-in user.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `custom`: the webhook's URL, the HMAC-SHA256 key its requests are signed with, and the
    /// time allowed for its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing)]
    pub webhook_secret: Option<rampart_core::Secret<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_timeout: Option<Dur>,
    /// `rag`: knowledge-base names, GAIA's `kbNumberOfResults` (1-100, default 5),
    /// `promptTemplate` (with `$search_results$` and `$output_format_instructions$`) and
    /// `displayInlineCitations` (default true). `model` is optional for `rag`: without one,
    /// the answer quotes the best passages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge_bases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kb_number_of_results: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_inline_citations: Option<bool>,
}

impl AssistantConfig {
    /// Checks one entry; `model_exists` says whether a model id is defined.
    pub fn validate(&self, model_exists: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        check_name("assistants", &self.id)?;
        let id = &self.id;
        match self.kind.as_str() {
            "model" => {
                let m = self
                    .model
                    .as_deref()
                    .with_context(|| format!("assistants {id}: kind \"model\" needs model = \"<a models id>\""))?;
                if !model_exists(m) {
                    bail!("assistants {id}: model {m:?} is not a defined model id");
                }
            }
            "custom" => {
                let u = self
                    .webhook_url
                    .as_deref()
                    .with_context(|| format!("assistants {id}: kind \"custom\" needs webhook_url"))?;
                let parsed =
                    url::Url::parse(u).with_context(|| format!("assistants {id}: webhook_url is not a URL"))?;
                if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() {
                    bail!("assistants {id}: webhook_url must be an http(s) URL without credentials");
                }
                if self.webhook_secret.as_ref().is_none_or(|s| s.expose().len() < 32) {
                    bail!("assistants {id}: kind \"custom\" needs webhook_secret of at least 32 characters");
                }
            }
            "rag" => {
                if self.knowledge_bases.is_empty() || self.knowledge_bases.len() > 20 {
                    bail!("assistants {id}: kind \"rag\" needs knowledge_bases = [\"<name>\", …] (1-20)");
                }
                if let Some(m) = &self.model
                    && !model_exists(m)
                {
                    bail!("assistants {id}: model {m:?} is not a defined model id");
                }
                if self.kb_number_of_results.is_some_and(|n| !(1..=100).contains(&n)) {
                    bail!("assistants {id}: kb_number_of_results must be 1-100");
                }
                if let Some(t) = &self.prompt_template
                    && (!t.contains("$search_results$") || t.len() > 32 * 1024)
                {
                    bail!("assistants {id}: prompt_template must contain $search_results$ (and be at most 32 KiB)");
                }
            }
            "extractive" => {}
            other => bail!("assistants {id}: kind {other:?} is not one of model, rag, custom, extractive"),
        }
        if !matches!(self.kind.as_str(), "model" | "rag") && self.model.is_some() {
            bail!("assistants {id}: model is for kinds \"model\" and \"rag\"");
        }
        if self.kind != "rag"
            && (!self.knowledge_bases.is_empty()
                || self.kb_number_of_results.is_some()
                || self.prompt_template.is_some()
                || self.display_inline_citations.is_some())
        {
            bail!(
                "assistants {id}: knowledge_bases, kb_number_of_results, prompt_template and display_inline_citations are for kind \"rag\""
            );
        }
        if self.kind != "custom" && (self.webhook_url.is_some() || self.webhook_secret.is_some()) {
            bail!("assistants {id}: webhook_url and webhook_secret are for kind \"custom\"");
        }
        if self.inference_temperature.is_some_and(|t| !(0.0..=2.0).contains(&t))
            || self.inference_top_p.is_some_and(|t| !(0.0..=1.0).contains(&t))
        {
            bail!("assistants {id}: inference_temperature must be 0-2 and inference_top_p 0-1");
        }
        if self.inference_max_tokens.is_some_and(|t| t == 0) {
            bail!("assistants {id}: inference_max_tokens must be at least 1");
        }
        if self.system_prompt.as_ref().is_some_and(|p| p.len() > 32 * 1024) {
            bail!("assistants {id}: system_prompt is longer than 32 KiB");
        }
        if self.groups.len() > 100 || self.groups.iter().any(|g| g.is_empty() || g.len() > 128) {
            bail!("assistants {id}: groups must be at most 100 names of 1-128 characters");
        }
        Ok(())
    }
}

fn check_name(what: &str, id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(()) } else { bail!("{what} id {id:?}: use 1-64 characters of a-z, 0-9, '-', '_', '.'") }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatSection {
    /// Reasons users may give for feedback (GAIA's `userFeedback.reasons`).
    pub feedback_reasons: Vec<String>,
    /// A session's title is its first message cut to this many characters.
    pub title_chars: usize,
    /// How often a replica checks for models and assistants changed by administrators
    /// elsewhere (changes made through this replica apply at once).
    pub catalog_refresh: Dur,
}

impl Default for ChatSection {
    fn default() -> Self {
        let d = rampart_chat::ChatConfig::default();
        Self {
            feedback_reasons: d.feedback_reasons,
            title_chars: d.title_chars,
            catalog_refresh: Dur(Duration::from_secs(10)),
        }
    }
}

/// Knowledge bases: ingestion limits, chunking, the lexical index.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeSection {
    /// Stemming language of the lexical index (`english`, `german`, `french`, …).
    pub language: String,
    /// Documents parsed at once.
    pub ingest_concurrency: usize,
    /// Largest document accepted (bytes).
    pub max_document_bytes: usize,
    /// Largest upload request (all files together).
    pub max_upload_bytes: usize,
    /// PDF pages per document.
    pub max_pages: usize,
    /// Target chunk size and overlap, in `chunk_unit`s (`chars` or `words`).
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    pub chunk_unit: String,
    /// Where the lexical index lives; default `{data_dir}/index/lexical`.
    pub index_dir: Option<PathBuf>,
    /// Where the dense (vector) indexes live; default `{data_dir}/index/dense`.
    pub dense_index_dir: Option<PathBuf>,
    /// The embedding model (a `[[models]]` id of kind `embedding`) of knowledge bases created
    /// without naming one; unset: they are lexical only.
    pub embedding_model: Option<String>,
    /// A reranking model (`[[models]]` id of kind `rerank`) for every retrieval; unset: none.
    pub reranker: Option<String>,
    /// Fused candidates the reranker reorders (at least the number of results asked for).
    pub rerank_candidates: usize,
    /// How deep the lexical and dense rankings go before they are fused.
    pub fusion_depth: usize,
}

impl Default for KnowledgeSection {
    fn default() -> Self {
        Self {
            language: "english".into(),
            ingest_concurrency: 2,
            max_document_bytes: 50 * 1024 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            max_pages: 2000,
            chunk_size: 1000,
            chunk_overlap: 150,
            chunk_unit: "chars".into(),
            index_dir: None,
            dense_index_dir: None,
            embedding_model: None,
            reranker: None,
            rerank_candidates: 20,
            fusion_depth: 50,
        }
    }
}

/// Messages between replicas.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// e.g. `nats://127.0.0.1:4222`; unset: one replica, in-process only.
    pub nats_url: Option<String>,
    /// Subject prefix, to keep deployments sharing a NATS server apart.
    pub subject_prefix: String,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self { nats_url: None, subject_prefix: "rampart".into() }
    }
}

/// Limits of the realtime (AppSync Events) endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// Open WebSocket connections one user may hold (per replica).
    pub max_connections_per_user: usize,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Replies one user may have in progress at once.
    pub max_replies_per_user: usize,
    /// Publishes (WebSocket or `POST /event`) per user: sustained rate per second and burst.
    pub publish_rate: u32,
    pub publish_burst: u32,
    /// Frames queued for one connection; a client that falls further behind is disconnected.
    pub outbox_frames: usize,
    /// How often the server sends `ka` (and a WebSocket ping).
    pub keepalive_interval: Dur,
    /// A connection from which nothing arrives (no frame, no pong) for this long is closed;
    /// also sent to clients as `connectionTimeoutMs`.
    pub idle_timeout: Dur,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_connections_per_user: 32,
            max_subscriptions: 100,
            max_replies_per_user: 8,
            publish_rate: 5,
            publish_burst: 20,
            outbox_frames: 1024,
            keepalive_interval: Dur(Duration::from_secs(60)),
            idle_timeout: Dur(Duration::from_secs(300)),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Default `http://{listen}`.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    pub request_timeout: Dur,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Dur,
    /// Above this many requests in flight, `/readyz` answers 503 `saturated`.
    pub max_in_flight: usize,
    /// Serve plain HTTP on a non-loopback address (behind a proxy that terminates TLS).
    /// Without `[tls]` and without this, only loopback addresses may be used.
    pub allow_plain_http: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Default `sqlite://{data_dir}/rampart.db`.
    pub url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mfa: MfaPolicy,
    pub self_signup: bool,
    pub signup_email_domains: Vec<String>,
    pub access_token_ttl: Dur,
    pub refresh_token_ttl: Dur,
    pub allowed_groups: Vec<String>,
    pub signing_alg: String,
    pub client_id: String,
    pub password: PasswordPolicy,
    pub argon2: PasswordParams,
    pub lockout_threshold: u32,
    pub lockout_window: Dur,
    pub lockout_duration: Dur,
    pub ip_failure_limit: u32,
    pub token_leeway: Dur,
    /// How often the server re-reads its signing keys (picks up `rampart keys rotate-signing`
    /// and rotations by other replicas).
    pub signing_key_reload_interval: Dur,
    /// How long a verified credential is remembered; changes made on another replica take
    /// effect here within this time ("0s" turns the cache off).
    pub session_cache_ttl: Dur,
    /// Minimum time between JWKS refreshes per external issuer (an unknown `kid` triggers one).
    pub jwks_refresh_min_interval: Dur,
    pub external_issuers: Vec<ExternalIssuerConfig>,
    /// Applications that sign users in through Rampart (authorization code + PKCE).
    pub oauth_clients: Vec<rampart_identity::OAuthClientConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoConfig {
    /// `local` (the key itself in a file or the configuration), `aws-kms` or `vault-transit`
    /// (the key file holds the master key wrapped by that service).
    pub key_source: String,
    /// The master key itself (base64 of 32 bytes). Prefer `master_key_file`. `local` only.
    pub master_key: Option<rampart_core::Secret<String>>,
    /// Default `{data_dir}/master.key` (`local`) or `{data_dir}/master.key.wrapped`; generated
    /// (mode 0600) on first start.
    pub master_key_file: Option<PathBuf>,
    /// Older master keys (files, in the same form) still accepted for decryption during a rotation.
    pub previous_key_files: Vec<PathBuf>,
    pub aws_kms: AwsKmsSection,
    pub vault: VaultSection,
}

impl Default for CryptoConfig {
    fn default() -> Self {
        Self {
            key_source: "local".into(),
            master_key: None,
            master_key_file: None,
            previous_key_files: Vec::new(),
            aws_kms: AwsKmsSection::default(),
            vault: VaultSection::default(),
        }
    }
}

/// `crypto.key_source = "aws-kms"`: the master key wrapped by a KMS key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsKmsSection {
    /// Key id, key ARN, alias name (`alias/rampart`) or alias ARN.
    pub key_id: String,
    pub region: String,
    /// A VPC endpoint (default: the regional endpoint).
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<rampart_core::Secret<String>>,
    pub secret_access_key: Option<rampart_core::Secret<String>>,
    pub session_token: Option<rampart_core::Secret<String>>,
}

/// `crypto.key_source = "vault-transit"`: the master key wrapped by a Vault transit key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSection {
    /// e.g. `https://vault.internal:8200` (http only on loopback).
    pub address: String,
    /// The transit engine's mount path.
    pub mount: String,
    pub key_name: String,
    /// A token allowed to encrypt and decrypt with `key_name`; prefer `token_file`.
    pub token: Option<rampart_core::Secret<String>>,
    pub token_file: Option<PathBuf>,
    /// Vault Enterprise namespace.
    pub namespace: Option<String>,
}

impl Default for VaultSection {
    fn default() -> Self {
        Self {
            address: String::new(),
            mount: "transit".into(),
            key_name: "rampart".into(),
            token: None,
            token_file: None,
            namespace: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Proxies (CIDRs) whose `X-Forwarded-For` / `Forwarded` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The seeds' `WAFAllowedIPv4Ranges`: `["0.0.0.0/0"]` (the default) means off; otherwise
    /// IPv4 clients outside these ranges are refused.
    pub allowed_ipv4_ranges: Vec<ipnet::Ipv4Net>,
    /// IPv6 clients allowed; default `["::/0"]`. When either list restricts, the other one is
    /// enforced too (set `allowed_ipv6_ranges = []` to refuse IPv6 altogether).
    pub allowed_ipv6_ranges: Vec<ipnet::Ipv6Net>,
    /// Always refused (IPv4 and IPv6).
    pub denied_ranges: Vec<ipnet::IpNet>,
    /// SQL-injection / XSS inspection: `block`, `count` or `off`.
    pub waf_mode: String,
    /// More routes whose body (or query) is not inspected, besides the built-in ones.
    pub waf_exclusions: Vec<WafExclusionConfig>,
    pub max_header_bytes: usize,
    pub max_headers_total: usize,
    pub max_query_bytes: usize,
    pub max_json_depth: usize,
    pub max_json_string: usize,
    /// Rate-based rule per client address, every path: this many requests per `ip_rate_window`
    /// (0: off). Default 2,000 per 5 minutes, like the seeds' WAF rule.
    pub ip_rate_limit: u32,
    pub ip_rate_window: Dur,
    /// Sign-in, sign-up, MFA and token endpoints, per client address: this many per minute (0: off).
    pub auth_rate_per_minute: u32,
    /// Addresses the two per-address rules do not apply to (default loopback: local probes and
    /// a same-host reverse proxy that is not configured as trusted).
    pub rate_exempt: Vec<ipnet::IpNet>,
    /// Token bucket per API key (requests per second, burst), as the seeds' API Gateway usage plan.
    pub api_key_rate: u32,
    pub api_key_burst: u32,
    /// Token bucket per signed-in user on other credentials (0: off).
    pub user_rate: u32,
    pub user_burst: u32,
    /// The `X-Origin-Verify` value a fronting CDN adds (as GAIA's CloudFront). When set, every
    /// request but `/healthz` and `/readyz` must carry it.
    pub origin_verify_secret: Option<rampart_core::Secret<String>>,
    /// Browser origins allowed to call the API cross-origin (exact `scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    /// Redis (`redis://[user:password@]host:port/db`, `rediss://` for TLS) to share the
    /// per-address rules and the per-key / per-user buckets across replicas. Unset: every limit
    /// is per process.
    pub redis_url: Option<rampart_core::Secret<String>>,
    /// A PEM CA certificate that `rediss://` is verified against instead of the system's roots
    /// (a private CA).
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of the Redis keys (several deployments on one Redis).
    pub redis_prefix: String,
    /// A MaxMind-format country database (`.mmdb`: GeoLite2/GeoIP2 Country or City, DB-IP…).
    pub geo_database: Option<PathBuf>,
    /// ISO 3166 country codes allowed (empty: no allow-list); others are refused.
    pub geo_allow_countries: Vec<String>,
    /// ISO 3166 country codes refused.
    pub geo_deny_countries: Vec<String>,
}

/// Routes whose request bodies are data, not queries: they keep the JSON depth limit but are
/// not scanned for injections (a user may well ask the assistant about `UNION SELECT`).
const BODY_EXCLUSIONS: &[&str] = &[
    "/v1/chat/completions",
    "/v1/jobs",
    "/event",
    "/v1/feedback",
    "/v1/knowledge-bases/*/retrieve",
    "/v1/bot-management/interruptions",
    "/v1/admin/assistants/**",
    "/v1/admin/models/**",
];

/// Paths the per-address sign-in limit covers.
const AUTH_PATHS: &[&str] = &[
    "/v1/auth/login",
    "/v1/auth/challenge",
    "/v1/auth/register",
    "/v1/auth/bootstrap",
    "/v1/auth/refresh",
    "/v1/auth/mfa/**",
    "/oauth2/token",
    "/oauth2/authorize",
];

/// The country rules, with their database opened.
fn geo_policy(e: &EdgeConfig) -> anyhow::Result<Option<Arc<rampart_edge::geo::GeoPolicy>>> {
    let codes = |key: &str, v: &[String]| -> anyhow::Result<Vec<String>> {
        v.iter()
            .map(|c| {
                if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
                    Ok(c.to_ascii_uppercase())
                } else {
                    bail!("edge.{key}: {c:?} is not an ISO 3166 alpha-2 country code")
                }
            })
            .collect()
    };
    let allow = codes("geo_allow_countries", &e.geo_allow_countries)?;
    let deny = codes("geo_deny_countries", &e.geo_deny_countries)?;
    let Some(path) = &e.geo_database else {
        if !allow.is_empty() || !deny.is_empty() {
            bail!("edge.geo_allow_countries / geo_deny_countries need edge.geo_database (a .mmdb country database)");
        }
        return Ok(None);
    };
    if allow.is_empty() && deny.is_empty() {
        return Ok(None);
    }
    let db = rampart_edge::geo::GeoDb::open(path).map_err(|e| anyhow::anyhow!("edge.geo_database {e}"))?;
    Ok(Some(Arc::new(rampart_edge::geo::GeoPolicy { db, allow, deny })))
}

/// The edge policy from `[edge]` (and `server.max_body_bytes`); also the check of `[edge]`.
fn edge_policy(config: &Config) -> anyhow::Result<rampart_edge::EdgePolicy> {
    use rampart_edge::waf::{Exclusion, PathPattern};
    let e = &config.edge;
    if e.max_json_depth < 4 || e.max_header_bytes < 1024 || e.max_headers_total < e.max_header_bytes {
        bail!(
            "edge limits too small: max_json_depth >= 4, max_header_bytes >= 1024, max_headers_total >= max_header_bytes"
        );
    }
    if e.ip_rate_limit > 0 && e.ip_rate_window.0 < Duration::from_secs(1) {
        bail!("edge.ip_rate_window must be at least 1s");
    }
    if e.api_key_rate == 0 || e.api_key_burst == 0 {
        bail!("edge.api_key_rate and edge.api_key_burst must be at least 1");
    }
    if e.origin_verify_secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
        bail!("edge.origin_verify_secret must be at least 16 characters");
    }
    for o in &e.cors_origins {
        let u = url::Url::parse(o).with_context(|| format!("edge.cors_origins: {o:?} is not an origin"))?;
        if u.origin().ascii_serialization() != o.trim_end_matches('/') {
            bail!(
                "edge.cors_origins: {o:?} must be an exact origin such as https://app.example.com (no wildcard, no path)"
            );
        }
    }
    let v4_all = e.allowed_ipv4_ranges.iter().any(|n| n.prefix_len() == 0);
    let v6_all = e.allowed_ipv6_ranges.iter().any(|n| n.prefix_len() == 0);
    let allow = (!(v4_all && v6_all)).then(|| {
        rampart_edge::IpSet::new(
            e.allowed_ipv4_ranges
                .iter()
                .map(|n| ipnet::IpNet::V4(*n))
                .chain(e.allowed_ipv6_ranges.iter().map(|n| ipnet::IpNet::V6(*n))),
        )
    });
    let mut exclusions: Vec<Exclusion> = BODY_EXCLUSIONS
        .iter()
        .map(|p| Exclusion { method: None, path: PathPattern::new(p), body: true, query: false })
        .collect();
    for x in &e.waf_exclusions {
        if !x.path.starts_with('/') {
            bail!("edge.waf_exclusions: path {:?} must start with /", x.path);
        }
        let method = match &x.method {
            Some(m) => Some(m.parse().map_err(|_| anyhow::anyhow!("edge.waf_exclusions: bad method {m:?}"))?),
            None => None,
        };
        exclusions.push(Exclusion { method, path: PathPattern::new(&x.path), body: x.body, query: x.query });
    }
    Ok(rampart_edge::EdgePolicy {
        trusted_proxies: e.trusted_proxies.clone(),
        allow,
        deny: rampart_edge::IpSet::new(e.denied_ranges.iter().copied()),
        ip_rate: (e.ip_rate_limit > 0).then_some(rampart_edge::Rate {
            n: e.ip_rate_limit,
            window: e.ip_rate_window.0,
            burst: e.ip_rate_limit,
        }),
        auth_rate: (e.auth_rate_per_minute > 0).then_some(rampart_edge::Rate {
            n: e.auth_rate_per_minute,
            window: Duration::from_secs(60),
            burst: e.auth_rate_per_minute,
        }),
        auth_paths: AUTH_PATHS.iter().map(|s| PathPattern::new(s)).collect(),
        rate_exempt: rampart_edge::IpSet::new(e.rate_exempt.iter().copied()),
        origin_secret: e.origin_verify_secret.clone(),
        origin_exempt: vec![PathPattern::new("/healthz"), PathPattern::new("/readyz")],
        waf_mode: e.waf_mode.parse().map_err(|m: String| anyhow::anyhow!("edge.waf_mode: {m}"))?,
        limits: rampart_edge::waf::Limits {
            max_header_bytes: e.max_header_bytes,
            max_headers_total: e.max_headers_total,
            max_query_bytes: e.max_query_bytes,
            max_json_depth: e.max_json_depth,
            max_json_string: e.max_json_string,
        },
        exclusions,
        max_body_bytes: config.server.max_body_bytes,
        shared_rates: None,
        geo: geo_policy(e)?,
    })
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafExclusionConfig {
    /// `*` matches one path segment, a trailing `**` any rest.
    pub path: String,
    /// Default: every method.
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default = "yes")]
    pub body: bool,
    #[serde(default)]
    pub query: bool,
}

fn yes() -> bool {
    true
}

impl Default for EdgeConfig {
    fn default() -> Self {
        let l = rampart_edge::waf::Limits::default();
        Self {
            trusted_proxies: Vec::new(),
            allowed_ipv4_ranges: vec![ipnet::Ipv4Net::default()],
            allowed_ipv6_ranges: vec![ipnet::Ipv6Net::default()],
            denied_ranges: Vec::new(),
            waf_mode: "block".into(),
            waf_exclusions: Vec::new(),
            max_header_bytes: l.max_header_bytes,
            max_headers_total: l.max_headers_total,
            max_query_bytes: l.max_query_bytes,
            max_json_depth: l.max_json_depth,
            max_json_string: l.max_json_string,
            ip_rate_limit: 2000,
            ip_rate_window: Dur(Duration::from_secs(300)),
            auth_rate_per_minute: 60,
            rate_exempt: vec!["127.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")],
            api_key_rate: 100,
            api_key_burst: 50,
            user_rate: 100,
            user_burst: 50,
            origin_verify_secret: None,
            cors_origins: Vec::new(),
            redis_url: None,
            redis_ca_file: None,
            redis_prefix: "rampart".into(),
            geo_database: None,
            geo_allow_countries: Vec::new(),
            geo_deny_countries: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` or `text`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,rampart_identity=debug`.
    pub level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            max_body_bytes: 1024 * 1024,
            request_timeout: Dur(Duration::from_secs(60)),
            shutdown_grace: Dur(Duration::from_secs(20)),
            max_in_flight: 4096,
            allow_plain_http: false,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        let d = rampart_identity::IdentityConfig::new("");
        Self {
            mfa: d.mfa,
            self_signup: d.self_signup,
            signup_email_domains: Vec::new(),
            access_token_ttl: Dur(d.access_token_ttl),
            refresh_token_ttl: Dur(d.refresh_token_ttl),
            allowed_groups: Vec::new(),
            signing_alg: "RS256".into(),
            client_id: d.client_id,
            password: d.password_policy,
            argon2: d.password_hashing,
            lockout_threshold: d.lockout_threshold,
            lockout_window: Dur(d.lockout_window),
            lockout_duration: Dur(d.lockout_duration),
            ip_failure_limit: d.ip_failure_limit,
            token_leeway: Dur(d.leeway),
            jwks_refresh_min_interval: Dur(d.jwks_refresh_min_interval),
            session_cache_ttl: Dur(d.session_cache_ttl),
            signing_key_reload_interval: Dur(Duration::from_secs(30)),
            external_issuers: Vec::new(),
            oauth_clients: Vec::new(),
        }
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
    pub headers: std::collections::BTreeMap<String, rampart_core::Secret<String>>,
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
            headers: Default::default(),
            sample_ratio: 1.0,
            service_name: "rampart".into(),
            export_interval: Dur(Duration::from_secs(5)),
        }
    }
}

/// One JSON line per request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// `stdout`, `file` (daily files in `dir`) or `off`.
    pub target: String,
    /// Default `{data_dir}/logs`.
    pub dir: Option<PathBuf>,
    /// Daily files kept (older ones are deleted at rotation): the access logs' retention.
    pub max_files: usize,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self { target: "stdout".into(), dir: None, max_files: 14 }
    }
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
    pub min_version: String,
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
            min_version: "1.2".into(),
            reload_interval: Dur(Duration::from_secs(30)),
            redirect_listen: None,
        }
    }
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }
}

/// How long data is kept (DESIGN.md §3.3). `0` keeps forever. The sweeper deletes expired
/// rows in batches, one replica at a time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Chat sessions not active for this many days, with their messages and feedback.
    pub sessions_days: u32,
    /// Feedback older than this (the conversation stays).
    pub feedback_days: u32,
    /// Meetings, transcripts and recordings (the seeds' `MeetingRecordExpirationInDays`);
    /// applied by the meeting assistant, which stores none yet.
    pub meetings_days: u32,
    pub transcripts_days: u32,
    pub recordings_days: u32,
    /// Short-lived results: finished background jobs.
    pub event_cache_hours: u32,
    /// Audit records (trimmed from the front of the hash chain).
    pub audit_days: u32,
    /// How often the sweeper runs.
    pub interval: Dur,
    /// Rows deleted per statement; the sweeper pauses between batches.
    pub batch: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            sessions_days: 0,
            feedback_days: 0,
            meetings_days: 90,
            transcripts_days: 90,
            recordings_days: 90,
            event_cache_hours: 24,
            audit_days: 365,
            interval: Dur(Duration::from_secs(3600)),
            batch: 500,
        }
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
    /// The separate listener's address, checked.
    pub fn listen_addr(&self) -> anyhow::Result<Option<std::net::SocketAddr>> {
        let Some(l) = self.listen.as_deref().filter(|l| !l.is_empty()) else { return Ok(None) };
        let a: std::net::SocketAddr =
            l.parse().with_context(|| format!("metrics.listen {l:?} must be an address such as 127.0.0.1:9464"))?;
        if !a.ip().is_loopback() && !self.allow_remote {
            bail!(
                "metrics.listen {l:?} is not a loopback address and the metrics listener has no authentication; \
                 set metrics.allow_remote = true if only the scraper can reach it"
            );
        }
        Ok(Some(a))
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: "json".into(), level: "info".into() }
    }
}

/// Short environment names of DESIGN.md §3.1, and what they stand for.
const ALIASES: &[(&str, &str)] = &[
    ("RAMPART_LISTEN", "server.listen"),
    ("RAMPART_DATA_DIR", "server.data_dir"),
    ("RAMPART_PUBLIC_URL", "server.public_url"),
    ("RAMPART_DATABASE_URL", "database.url"),
    ("RAMPART_MASTER_KEY_FILE", "crypto.master_key_file"),
    ("RAMPART_MASTER_KEY", "crypto.master_key"),
];

/// Environment variables that are not configuration keys.
fn ignored_env(name: &str) -> bool {
    name == "RAMPART_CONFIG" || name.starts_with("RAMPART_TEST_") || name == "RAMPART_LOG"
}

/// Command-line overrides (the highest layer).
#[derive(Clone, Debug, Default)]
pub struct Overrides(pub Vec<(String, Value)>);

fn set_path(root: &mut toml::Table, path: &str, v: Value) -> anyhow::Result<()> {
    let mut parts = path.split('.').peekable();
    let mut cur = root;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.to_owned(), v);
            return Ok(());
        }
        let e = cur.entry(p.to_owned()).or_insert_with(|| Value::Table(toml::Table::new()));
        cur = match e {
            Value::Table(t) => t,
            _ => bail!("configuration key {path}: {p} is not a section"),
        };
    }
    Ok(())
}

fn env_value(raw: &str) -> Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

impl Config {
    /// Loads and validates every layer.
    pub fn load(file: Option<&Path>, env: &[(String, String)], overrides: &Overrides) -> anyhow::Result<Config> {
        let mut root = toml::Table::new();
        if let Some(f) = file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read configuration file {}", f.display()))?;
            root = toml::from_str(&text).with_context(|| format!("{} is not valid TOML", f.display()))?;
        }
        for (k, v) in env {
            if !k.starts_with("RAMPART_") || ignored_env(k) {
                continue;
            }
            let path = match ALIASES.iter().find(|(a, _)| a == k) {
                Some((_, p)) => (*p).to_owned(),
                None => k["RAMPART_".len()..].to_lowercase().replace("__", "."),
            };
            let value = if path == "server.data_dir"
                || path.ends_with("_file")
                || path.ends_with("url")
                || path == "server.listen"
            {
                Value::String(v.clone())
            } else {
                env_value(v)
            };
            set_path(&mut root, &path, value).with_context(|| format!("environment variable {k}"))?;
        }
        for (p, v) in &overrides.0 {
            set_path(&mut root, p, v.clone())?;
        }
        let de = toml::Value::Table(root);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            anyhow::anyhow!("configuration key `{path}`: {}", e.into_inner())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// What the edge layer enforces, from `[edge]`.
    pub fn edge_policy(&self) -> anyhow::Result<rampart_edge::EdgePolicy> {
        edge_policy(self)
    }

    /// Browser origins that may call the API and open WebSockets: the public URL's origin and
    /// `edge.cors_origins`.
    pub fn browser_origins(&self) -> Vec<String> {
        let own = url::Url::parse(&self.public_url()).map(|u| u.origin().ascii_serialization()).ok();
        own.into_iter().chain(self.edge.cors_origins.iter().map(|o| o.trim_end_matches('/').to_owned())).collect()
    }

    /// Checks that values make sense together; fails closed with advice.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.metrics.listen_addr()?;
        if let Some(e) = &self.otel.endpoint {
            let u = url::Url::parse(e).with_context(|| format!("otel.endpoint {e:?} is not a URL"))?;
            if !matches!(u.scheme(), "http" | "https") {
                bail!("otel.endpoint must be http(s)://");
            }
        }
        if !(0.0..=1.0).contains(&self.otel.sample_ratio) {
            bail!("otel.sample_ratio must be between 0 and 1");
        }
        match self.crypto.key_source.as_str() {
            "local" => {}
            "aws-kms" | "vault-transit" => {
                if self.crypto.master_key.is_some() {
                    bail!(
                        "crypto.master_key is for key_source = \"local\"; with {} the key file holds the wrapped key",
                        self.crypto.key_source
                    );
                }
            }
            other => bail!("crypto.key_source {other:?} must be local, aws-kms or vault-transit"),
        }
        if !matches!(self.access_log.target.as_str(), "stdout" | "file" | "off") {
            bail!("access_log.target must be stdout, file or off");
        }
        if self.access_log.max_files == 0 {
            bail!("access_log.max_files must be at least 1");
        }
        let t = &self.tls;
        match (&t.cert_file, &t.key_file) {
            (Some(_), Some(_)) | (None, None) => {}
            _ => bail!("tls.cert_file and tls.key_file go together"),
        }
        if !matches!(t.min_version.as_str(), "1.2" | "1.3") {
            bail!("tls.min_version must be \"1.2\" or \"1.3\" (older versions are not supported)");
        }
        if t.redirect_listen.is_some() && !t.enabled() {
            bail!("tls.redirect_listen needs tls.cert_file and tls.key_file");
        }
        if t.enabled() && self.server.public_url.as_deref().is_some_and(|u| u.starts_with("http://")) {
            bail!("server.public_url must be https:// when TLS is on");
        }
        if let Some(r) = &t.redirect_listen {
            r.parse::<std::net::SocketAddr>()
                .with_context(|| format!("tls.redirect_listen {r:?} must be an address such as 0.0.0.0:80"))?;
        }
        if let Ok(a) = self.server.listen.parse::<std::net::SocketAddr>()
            && !a.ip().is_loopback()
            && !t.enabled()
            && !self.server.allow_plain_http
        {
            bail!(
                "server.listen {} is not a loopback address and TLS is off: set tls.cert_file and tls.key_file, \
                 or server.allow_plain_http = true when a proxy in front terminates TLS",
                self.server.listen
            );
        }
        if self.retention.batch == 0 || self.retention.batch > 100_000 {
            bail!("retention.batch must be between 1 and 100000");
        }
        if self.retention.interval.0 < Duration::from_secs(1) {
            bail!("retention.interval must be at least 1s");
        }
        self.server.listen.parse::<std::net::SocketAddr>().with_context(|| {
            format!("server.listen {:?} must be an address such as 127.0.0.1:8080", self.server.listen)
        })?;
        let pu = self.public_url();
        let u = url::Url::parse(&pu).with_context(|| format!("server.public_url {pu:?} is not a URL"))?;
        if !matches!(u.scheme(), "http" | "https") || u.query().is_some() || u.fragment().is_some() {
            bail!("server.public_url {pu:?} must be an http(s) URL without query or fragment");
        }
        if let Some(url) = &self.database.url
            && rampart_storage::Backend::from_url(url).is_none()
        {
            bail!("database.url must start with sqlite: or postgres:// (got an unsupported or ambiguous URL)");
        }
        SigningAlg::parse(&self.auth.signing_alg)
            .with_context(|| format!("auth.signing_alg {:?}: use RS256, ES256 or EdDSA", self.auth.signing_alg))?;
        let a = &self.auth;
        if a.password.min_length < 8 {
            bail!("auth.password.min_length must be at least 8");
        }
        if a.argon2.memory_kib < 8 * 1024 || a.argon2.iterations < 1 {
            bail!("auth.argon2 is too weak: use memory_kib >= 8192 and iterations >= 1 (default 19456 / 2)");
        }
        if a.access_token_ttl.0 < Duration::from_secs(60) || a.access_token_ttl.0 > Duration::from_secs(86400) {
            bail!("auth.access_token_ttl must be between 1m and 24h");
        }
        if a.refresh_token_ttl.0 < a.access_token_ttl.0 || a.refresh_token_ttl.0 > Duration::from_secs(3650 * 86400) {
            bail!("auth.refresh_token_ttl must be at least the access token ttl and at most 3650d");
        }
        if a.signing_key_reload_interval.0 < Duration::from_secs(1)
            || a.signing_key_reload_interval.0 > Duration::from_secs(3600)
        {
            bail!("auth.signing_key_reload_interval must be between 1s and 1h");
        }
        if a.session_cache_ttl.0 > Duration::from_secs(60) {
            bail!(
                "auth.session_cache_ttl must be at most 60s (it bounds how long a change on another replica takes to apply)"
            );
        }
        if a.lockout_threshold == 0 || a.ip_failure_limit == 0 {
            bail!("auth.lockout_threshold and auth.ip_failure_limit must be at least 1");
        }
        if a.self_signup && a.signup_email_domains.iter().any(|d| d.is_empty() || d.contains('@')) {
            bail!("auth.signup_email_domains must be bare domains such as \"example.com\"");
        }
        for i in &a.external_issuers {
            rampart_identity::external::check_issuer_config(i)
                .map_err(|e| anyhow::anyhow!("auth.external_issuers: {e}"))?;
        }
        for c in &a.oauth_clients {
            if c.client_id.is_empty() || c.client_id.len() > 128 || c.client_id == a.client_id {
                bail!("auth.oauth_clients: client_id must be 1-128 characters and differ from auth.client_id");
            }
            if c.redirect_uris.is_empty() {
                bail!("auth.oauth_clients {}: list at least one redirect_uri", c.client_id);
            }
            for r in &c.redirect_uris {
                let u = url::Url::parse(r).with_context(|| {
                    format!("auth.oauth_clients {}: redirect_uri {r:?} is not an absolute URL", c.client_id)
                })?;
                let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if u.fragment().is_some() || !(u.scheme() == "https" || (u.scheme() == "http" && loopback)) {
                    bail!(
                        "auth.oauth_clients {}: redirect_uri {r:?} must be https (http only on loopback) and have no fragment",
                        c.client_id
                    );
                }
            }
        }
        self.edge_policy()?;
        let mut seen = std::collections::HashSet::new();
        for m in &self.models {
            m.validate()?;
            if !seen.insert(&m.id) {
                bail!("models: id {:?} is used twice", m.id);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.assistants {
            a.validate(|m| self.models.iter().any(|x| x.id == m && x.kind == "chat"))?;
            if !seen.insert(&a.id) {
                bail!("assistants: id {:?} is used twice", a.id);
            }
        }
        if self.chat.feedback_reasons.is_empty()
            || self.chat.feedback_reasons.iter().any(|r| r.is_empty() || r.len() > 64)
        {
            bail!("chat.feedback_reasons must list 1-64 character reasons");
        }
        if !(10..=1000).contains(&self.chat.title_chars) {
            bail!("chat.title_chars must be between 10 and 1000");
        }
        if self.chat.catalog_refresh.0 < Duration::from_millis(100) {
            bail!("chat.catalog_refresh must be at least 100ms");
        }
        if let Some(u) = &self.bus.nats_url {
            let parsed = url::Url::parse(u).with_context(|| format!("bus.nats_url {u:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "nats" | "tls") {
                bail!("bus.nats_url must be a nats:// or tls:// URL");
            }
        }
        let prefix_ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 64
                && p.split('.')
                    .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
        };
        if !prefix_ok(&self.bus.subject_prefix) {
            bail!("bus.subject_prefix must be NATS subject tokens (letters, digits, '-', '_', separated by '.')");
        }
        let k = &self.knowledge;
        if rampart_knowledge::index::language(&k.language).is_none() {
            bail!("knowledge.language {:?} has no stemmer (english, german, french, spanish, …)", k.language);
        }
        if !(1..=64).contains(&k.ingest_concurrency) || k.max_document_bytes == 0 || k.max_pages == 0 {
            bail!("knowledge: ingest_concurrency must be 1-64, max_document_bytes and max_pages above 0");
        }
        if k.max_upload_bytes < k.max_document_bytes {
            bail!("knowledge.max_upload_bytes must be at least max_document_bytes");
        }
        if !(50..=100_000).contains(&k.chunk_size)
            || k.chunk_overlap >= k.chunk_size
            || !matches!(k.chunk_unit.as_str(), "chars" | "words")
        {
            bail!("knowledge: chunk_size 50-100000, chunk_overlap below it, chunk_unit \"chars\" or \"words\"");
        }
        if !(1..=200).contains(&k.rerank_candidates) || !(1..=1000).contains(&k.fusion_depth) {
            bail!("knowledge: rerank_candidates must be 1-200 and fusion_depth 1-1000");
        }
        for (key, id, kind) in
            [("embedding_model", &k.embedding_model, "embedding"), ("reranker", &k.reranker, "rerank")]
        {
            if let Some(id) = id
                && !self.models.iter().any(|m| &m.id == id && m.kind == kind)
            {
                bail!("knowledge.{key} {id:?} is not a [[models]] id of kind \"{kind}\"");
            }
        }
        let r = &self.realtime;
        if r.max_connections_per_user == 0
            || r.max_subscriptions == 0
            || r.max_replies_per_user == 0
            || r.publish_rate == 0
            || r.publish_burst == 0
            || r.outbox_frames < 16
        {
            bail!("realtime: limits must be at least 1 (outbox_frames at least 16)");
        }
        if r.keepalive_interval.0 < Duration::from_millis(10) || r.idle_timeout.0 <= r.keepalive_interval.0 {
            bail!("realtime: keepalive_interval must be at least 10ms and idle_timeout longer than it");
        }
        if !matches!(self.log.format.as_str(), "json" | "text") {
            bail!("log.format must be \"json\" or \"text\"");
        }
        if self.server.max_body_bytes < 1024 {
            bail!("server.max_body_bytes must be at least 1024");
        }
        Ok(())
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
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.server.data_dir.join("rampart.db").display()))
    }

    pub fn identity_config(&self) -> rampart_identity::IdentityConfig {
        let a = &self.auth;
        let mut c = rampart_identity::IdentityConfig::new(self.public_url());
        c.client_id = a.client_id.clone();
        c.mfa = a.mfa;
        c.self_signup = a.self_signup;
        c.signup_email_domains = a.signup_email_domains.iter().map(|d| d.to_lowercase()).collect();
        c.access_token_ttl = a.access_token_ttl.0;
        c.refresh_token_ttl = a.refresh_token_ttl.0;
        c.allowed_groups = a.allowed_groups.clone();
        c.password_policy = a.password.clone();
        c.password_hashing = a.argon2;
        c.signing_alg = SigningAlg::parse(&a.signing_alg).unwrap_or(SigningAlg::RS256);
        c.lockout_threshold = a.lockout_threshold;
        c.lockout_window = a.lockout_window.0;
        c.lockout_duration = a.lockout_duration.0;
        c.ip_failure_limit = a.ip_failure_limit;
        c.leeway = a.token_leeway.0;
        c.jwks_refresh_min_interval = a.jwks_refresh_min_interval.0;
        c.session_cache_ttl = a.session_cache_ttl.0;
        c.external_issuers = a.external_issuers.clone();
        c.oauth_clients = a.oauth_clients.clone();
        c
    }
}

/// The commented reference printed by `rampart config example`. A test loads it, so it
/// stays valid, and checks that it mentions every key.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn layers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:9000\"\n[auth]\nmfa = \"off\"\naccess_token_ttl = \"2h\"\n")
            .unwrap();
        let c = Config::load(
            Some(&f),
            &env(&[("RAMPART_AUTH__MFA", "required"), ("RAMPART_TEST_POSTGRES_URL", "x")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.auth.mfa, MfaPolicy::Required, "env beats file");
        assert_eq!(c.auth.access_token_ttl.0, Duration::from_secs(7200));
        let o = Overrides(vec![("server.listen".into(), Value::String("127.0.0.1:9001".into()))]);
        let c = Config::load(Some(&f), &env(&[("RAMPART_LISTEN", "127.0.0.1:9002")]), &o).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9001", "CLI beats env");
        let c = Config::load(
            None,
            &env(&[("RAMPART_AUTH__SIGNUP_EMAIL_DOMAINS", "[\"a.com\"]"), ("RAMPART_AUTH__SELF_SIGNUP", "true")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.auth.signup_email_domains, vec!["a.com"]);
        assert!(c.auth.self_signup);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::load(None, &env(&[("RAMPART_AUTH__MFAA", "off")]), &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("mfaa"), "{e:#}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[server]\nlisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&f), &[], &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("lisen"), "{e:#}");
        let e =
            Config::load(None, &env(&[("RAMPART_AUTH__ACCESS_TOKEN_TTL", "soon")]), &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("auth.access_token_ttl"), "{e:#}");
    }

    #[test]
    fn fails_closed_on_bad_values() {
        for (k, v) in [
            ("RAMPART_DATABASE_URL", "mysql://x"),
            ("RAMPART_AUTH__PASSWORD__MIN_LENGTH", "4"),
            ("RAMPART_AUTH__SIGNING_ALG", "HS256"),
            ("RAMPART_LISTEN", "nope"),
            ("RAMPART_AUTH__ARGON2__MEMORY_KIB", "64"),
            ("RAMPART_MODELS", r#"[{id = "m", provider = "mystery", base_url = "https://x", model = "c"}]"#),
            ("RAMPART_MODELS", r#"[{id = "m", provider = "bedrock", model = "c"}]"#),
            ("RAMPART_MODELS", r#"[{id = "m", provider = "http", base_url = "https://x/invocations"}]"#),
            (
                "RAMPART_ASSISTANTS",
                r#"[{id = "a", kind = "custom", webhook_url = "https://x", webhook_secret = "short"}]"#,
            ),
            ("RAMPART_MODELS", r#"[{id = "m", provider = "openai", base_url = "ftp://x", model = "c"}]"#),
            ("RAMPART_ASSISTANTS", r#"[{id = "a", kind = "model", model = "missing"}]"#),
            ("RAMPART_ASSISTANTS", r#"[{id = "a", kind = "rag"}]"#),
            ("RAMPART_ASSISTANTS", r#"[{id = "Bad Id", kind = "extractive"}]"#),
            ("RAMPART_AUTH__OAUTH_CLIENTS", r#"[{client_id = "w", redirect_uris = ["http://wiki.example.com/cb"]}]"#),
            (
                "RAMPART_AUTH__OAUTH_CLIENTS",
                r#"[{client_id = "w", redirect_uris = ["https://wiki.example.com/cb#x"]}]"#,
            ),
            (
                "RAMPART_AUTH__OAUTH_CLIENTS",
                r#"[{client_id = "rampart", redirect_uris = ["https://wiki.example.com/cb"]}]"#,
            ),
        ] {
            assert!(Config::load(None, &env(&[(k, v)]), &Overrides::default()).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn example_is_valid_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("example.toml");
        std::fs::write(&f, EXAMPLE).unwrap();
        Config::load(Some(&f), &[], &Overrides::default()).unwrap();
        for key in [
            "listen",
            "public_url",
            "data_dir",
            "max_body_bytes",
            "request_timeout",
            "shutdown_grace",
            "max_in_flight",
            "url",
            "mfa",
            "self_signup",
            "signup_email_domains",
            "access_token_ttl",
            "refresh_token_ttl",
            "allowed_groups",
            "signing_alg",
            "client_id",
            "min_length",
            "require_lowercase",
            "require_uppercase",
            "require_digit",
            "require_symbol",
            "memory_kib",
            "iterations",
            "parallelism",
            "lockout_threshold",
            "lockout_window",
            "lockout_duration",
            "ip_failure_limit",
            "token_leeway",
            "external_issuers",
            "issuer",
            "jwks_url",
            "oauth_clients",
            "redirect_uris",
            "client_ids",
            "token_use",
            "groups_claim",
            "group_map",
            "algorithms",
            "master_key",
            "master_key_file",
            "previous_key_files",
            "trusted_proxies",
            "[[models]]",
            "provider",
            "base_url",
            "api_key_file",
            "max_retries",
            "[[assistants]]",
            "kind",
            "system_prompt",
            "inference_max_tokens",
            "inference_temperature",
            "inference_top_p",
            "feedback_reasons",
            "title_chars",
            "catalog_refresh",
            "nats_url",
            "subject_prefix",
            "language",
            "ingest_concurrency",
            "max_document_bytes",
            "max_upload_bytes",
            "max_pages",
            "chunk_size",
            "chunk_overlap",
            "chunk_unit",
            "index_dir",
            "dense_index_dir",
            "embedding_model",
            "reranker",
            "rerank_candidates",
            "fusion_depth",
            "dimensions",
            "query_prefix",
            "document_prefix",
            "batch_size",
            "knowledge_bases",
            "kb_number_of_results",
            "prompt_template",
            "display_inline_citations",
            "region",
            "aws_access_key_id",
            "request_template",
            "response_pointer",
            "webhook_url",
            "webhook_secret",
            "max_connections_per_user",
            "max_subscriptions",
            "max_replies_per_user",
            "publish_rate",
            "publish_burst",
            "outbox_frames",
            "keepalive_interval",
            "idle_timeout",
            "format",
            "level",
            "allow_remote",
            "admin_endpoint",
            "allow_plain_http",
            "sample_ratio",
            "service_name",
            "export_interval",
            "key_source",
            "key_id",
            "key_name",
            "token_file",
            "geo_database",
            "geo_allow_countries",
            "geo_deny_countries",
            "redis_url",
            "redis_ca_file",
            "redis_prefix",
            "target",
            "max_files",
            "cert_file",
            "key_file",
            "min_version",
            "reload_interval",
            "redirect_listen",
            "sessions_days",
            "feedback_days",
            "meetings_days",
            "event_cache_hours",
            "audit_days",
        ] {
            assert!(EXAMPLE.contains(key), "example misses {key}");
        }
    }
}
