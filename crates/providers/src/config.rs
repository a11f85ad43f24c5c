//! `[[models]]` entries (also what administrators add through `/v1/admin/models`): their
//! checks, and the clients built from them ([`ModelConfig::chat_model`],
//! [`ModelConfig::embedder`], [`ModelConfig::reranker`]).

use crate::ProviderError;
use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur, check_id};
use rampart_core::embed::{Embedder, Reranker};
use rampart_core::llm::ChatModel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What a model is used for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Assistants answer with it.
    #[default]
    Chat,
    /// Vectors for knowledge bases.
    Embedding,
    /// Reorders retrieved passages.
    Rerank,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
            ModelKind::Rerank => "rerank",
        }
    }

    /// The providers a model of this kind may name.
    pub fn providers(self) -> &'static [ModelProvider] {
        use ModelProvider::*;
        match self {
            ModelKind::Chat => &[Openai, Anthropic, Bedrock, Http],
            ModelKind::Embedding => &[Openai, Ollama, Bedrock],
            ModelKind::Rerank => &[Cohere, Tei],
        }
    }
}

/// The wire format a model is reached with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelProvider {
    /// OpenAI-compatible: OpenAI, vLLM, Ollama, llama.cpp, LM Studio (`chat`); `POST
    /// {base_url}/embeddings` (OpenAI, vLLM, Ollama's /v1, llama.cpp, TEI) for `embedding`.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Amazon Bedrock: ConverseStream (`chat`), Titan or Cohere embeddings (`embedding`).
    Bedrock,
    /// A generic JSON endpoint, SageMaker-style.
    Http,
    /// `POST {base_url}/api/embed`.
    Ollama,
    /// `POST {base_url}/rerank` with `documents` (Cohere, Jina, vLLM, llama.cpp, Infinity).
    Cohere,
    /// text-embeddings-inference's `POST {base_url}/rerank` with `texts`.
    Tei,
}

impl ModelProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelProvider::Openai => "openai",
            ModelProvider::Anthropic => "anthropic",
            ModelProvider::Bedrock => "bedrock",
            ModelProvider::Http => "http",
            ModelProvider::Ollama => "ollama",
            ModelProvider::Cohere => "cohere",
            ModelProvider::Tei => "tei",
        }
    }
}

fn default_model_timeout() -> Dur {
    Dur::secs(60)
}
fn default_model_retries() -> u32 {
    2
}

/// Write-only fields of a model: stored sealed, never shown.
pub const MODEL_SECRETS: &[&str] = &["api_key", "aws_secret_access_key", "aws_session_token", "headers"];

/// A model endpoint (`[[models]]`, or added by an administrator through `/v1/admin/models` with
/// the same keys). Upstream URLs come from here only, never from a request. Secret fields
/// ([`MODEL_SECRETS`]) are never serialized.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// What assistants and knowledge bases name it by: 1-64 characters of a-z, 0-9, `-`, `_`,
    /// `.`, unique among models.
    pub id: String,
    /// `chat` (the default: assistants answer with it), `embedding` (vectors for knowledge
    /// bases) or `rerank` (reorders retrieved passages).
    #[serde(default)]
    #[schema(default = "chat")]
    pub kind: ModelKind,
    /// `openai` (OpenAI-compatible: OpenAI, vLLM, Ollama, llama.cpp, LM Studio), `anthropic`,
    /// `bedrock` or `http` (a generic JSON endpoint, SageMaker-style); `embedding`: `openai`,
    /// `ollama` or `bedrock`; `rerank`: `cohere` or `tei`.
    pub provider: ModelProvider,
    /// `openai`: required; `anthropic`: default `https://api.anthropic.com`; `bedrock`: an
    /// endpoint override (VPC endpoints, tests); `http`: the endpoint's URL, required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The upstream's model name (`http`: the id reported in message metadata; default `id`).
    #[serde(default)]
    pub model: String,
    /// The upstream's API key (not for `bedrock`, whose keys are `aws_*`, nor `http`, whose
    /// are `headers`).
    #[serde(default, skip_serializing_if = "rampart_core::config::write_only")]
    #[schema(value_type = Option<String>, write_only)]
    pub api_key: Option<Secret<String>>,
    /// The config file only: a file holding the API key, instead of `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub api_key_file: Option<PathBuf>,
    /// How long the upstream may take to the first byte, and between streamed chunks.
    #[serde(default = "default_model_timeout")]
    #[schema(default = "1m")]
    pub timeout: Dur,
    /// Retries of a retryable failure (429, 5xx, network) before any output: 0-10.
    #[serde(default = "default_model_retries")]
    #[schema(default = 2)]
    pub max_retries: u32,
    /// `bedrock`: the AWS region (e.g. `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `bedrock`: the access key id of static AWS credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    /// `bedrock`: the secret access key that goes with `aws_access_key_id`.
    #[serde(default, skip_serializing_if = "rampart_core::config::write_only")]
    #[schema(value_type = Option<String>, write_only)]
    pub aws_secret_access_key: Option<Secret<String>>,
    /// `bedrock`: a session token, for temporary credentials.
    #[serde(default, skip_serializing_if = "rampart_core::config::write_only")]
    #[schema(value_type = Option<String>, write_only)]
    pub aws_session_token: Option<Secret<String>>,
    /// `http`: the JSON request body, with placeholders replaced by values (`{{prompt}}`,
    /// `{{messages}}`, `{{system}}`, `{{last_user_message}}`, `{{max_tokens}}`,
    /// `{{temperature}}`, `{{top_p}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub request_template: Option<serde_json::Value>,
    /// `http`: where the answer holds the reply text (an RFC 6901 JSON pointer, e.g.
    /// `/0/generated_text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_pointer: Option<String>,
    /// `http`: where the answer holds the input token count (a JSON pointer), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_input_pointer: Option<String>,
    /// `http`: where the answer holds the output token count (a JSON pointer), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_output_pointer: Option<String>,
    /// `http`: extra request headers (values are secrets, e.g. `Authorization`).
    #[serde(default, skip_serializing_if = "rampart_core::config::write_only")]
    #[schema(schema_with = write_only_map)]
    pub headers: BTreeMap<String, Secret<String>>,
    /// `embedding`: the vector size asked of models that can shorten theirs (OpenAI
    /// `text-embedding-3-*`, Titan v2): 1-16384.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// `embedding`: put before queries, for models that want it (E5: `"query: "`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_prefix: Option<String>,
    /// `embedding`: put before passages, for models that want it (E5: `"passage: "`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_prefix: Option<String>,
    /// `embedding`: texts per request, 1-2048.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(default = 64)]
    pub batch_size: Option<usize>,
    /// `chat` with `openai`, `anthropic` or `bedrock`: the model can call tools (function
    /// calling), so assistants may offer it theirs. Off by default: many models served through
    /// these APIs cannot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schema(default = false)]
    pub tools: bool,
}

/// The schema of `headers`: names and values, write-only as a whole (`#[schema(write_only)]`
/// is not applied to a map; with `schema_with`, the field's doc is not either).
fn write_only_map() -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, schema::Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .write_only(Some(true))
        .description(Some("`http`: extra request headers (values are secrets, e.g. `Authorization`)."))
        .build()
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

/// The first key of `keys` that is set.
fn first_set<'a>(keys: &[(&'a str, bool)]) -> Option<&'a str> {
    keys.iter().find(|(_, set)| *set).map(|(k, _)| *k)
}

impl ModelConfig {
    /// Checks one entry on its own (id, provider for the kind, URLs, provider-specific keys).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_id(&self.id)?;
        let providers = self.kind.providers();
        if !providers.contains(&self.provider) {
            let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
            return Err(err(
                "provider",
                format!(
                    "{} is not one of {} for kind {}",
                    self.provider.as_str(),
                    names.join(", "),
                    self.kind.as_str()
                ),
            ));
        }
        self.validate_embedding_keys()?;
        if self.tools
            && (self.kind != ModelKind::Chat
                || !matches!(self.provider, ModelProvider::Openai | ModelProvider::Anthropic | ModelProvider::Bedrock))
        {
            return Err(err("tools", "tools is for kind \"chat\" with provider openai, anthropic or bedrock"));
        }
        self.validate_base_url()?;
        if self.api_key.is_some() && self.api_key_file.is_some() {
            return Err(err("api_key", "set api_key or api_key_file, not both"));
        }
        if self.max_retries > 10 {
            return Err(err("max_retries", "must be at most 10"));
        }
        if self.timeout.0.is_zero() {
            return Err(err("timeout", "must be above 0"));
        }
        if self.provider != ModelProvider::Http && (self.model.is_empty() || self.model.len() > 256) {
            return Err(err("model", "must name the upstream model (1-256 characters)"));
        }
        self.validate_provider_keys()
    }

    fn validate_embedding_keys(&self) -> Result<(), ConfigError> {
        let set = first_set(&[
            ("dimensions", self.dimensions.is_some()),
            ("query_prefix", self.query_prefix.is_some()),
            ("document_prefix", self.document_prefix.is_some()),
            ("batch_size", self.batch_size.is_some()),
        ]);
        if let Some(key) = set
            && self.kind != ModelKind::Embedding
        {
            return Err(err(
                key,
                "dimensions, query_prefix, document_prefix and batch_size are for kind \"embedding\"",
            ));
        }
        if self.dimensions.is_some_and(|d| !(1..=16_384).contains(&d)) {
            return Err(err("dimensions", "must be 1-16384"));
        }
        if self.batch_size.is_some_and(|b| !(1..=2048).contains(&b)) {
            return Err(err("batch_size", "must be 1-2048"));
        }
        for (key, p) in [("query_prefix", &self.query_prefix), ("document_prefix", &self.document_prefix)] {
            if p.as_ref().is_some_and(|p| p.len() > 256) {
                return Err(err(key, "must be at most 256 bytes"));
            }
        }
        Ok(())
    }

    fn validate_base_url(&self) -> Result<(), ConfigError> {
        let Some(b) = &self.base_url else { return Ok(()) };
        let u = url::Url::parse(b).map_err(|_| err("base_url", format!("{b:?} is not a URL")))?;
        if !matches!(u.scheme(), "http" | "https") || u.query().is_some() && self.provider != ModelProvider::Http {
            return Err(err("base_url", "must be an http(s) URL without a query"));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(err("base_url", "must not carry credentials (use api_key)"));
        }
        Ok(())
    }

    /// Keys one provider needs, and keys only one provider takes.
    fn validate_provider_keys(&self) -> Result<(), ConfigError> {
        use ModelProvider as P;
        let p = self.provider;
        match p {
            P::Openai | P::Ollama | P::Cohere | P::Tei if self.base_url.is_none() => {
                return Err(err("base_url", format!("provider {} needs base_url", p.as_str())));
            }
            P::Http => {
                let missing = first_set(&[
                    ("base_url", self.base_url.is_none()),
                    ("request_template", self.request_template.is_none()),
                    ("response_pointer", self.response_pointer.is_none()),
                ]);
                if let Some(key) = missing {
                    return Err(err(key, "provider http needs base_url, request_template and response_pointer"));
                }
            }
            P::Bedrock if self.region.as_deref().is_none_or(str::is_empty) => {
                return Err(err("region", "provider bedrock needs region"));
            }
            P::Bedrock if self.aws_access_key_id.is_none() || self.aws_secret_access_key.is_none() => {
                let key = if self.aws_access_key_id.is_none() { "aws_access_key_id" } else { "aws_secret_access_key" };
                return Err(err(key, "provider bedrock needs aws_access_key_id and aws_secret_access_key"));
            }
            P::Openai | P::Ollama | P::Cohere | P::Tei | P::Anthropic | P::Bedrock => {}
        }
        let bedrock_keys = first_set(&[
            ("region", self.region.is_some()),
            ("aws_access_key_id", self.aws_access_key_id.is_some()),
            ("aws_secret_access_key", self.aws_secret_access_key.is_some()),
            ("aws_session_token", self.aws_session_token.is_some()),
        ]);
        if let Some(key) = bedrock_keys
            && p != P::Bedrock
        {
            return Err(err(key, "region and aws_* keys are for provider bedrock"));
        }
        let http_keys = first_set(&[
            ("request_template", self.request_template.is_some()),
            ("response_pointer", self.response_pointer.is_some()),
            ("usage_input_pointer", self.usage_input_pointer.is_some()),
            ("usage_output_pointer", self.usage_output_pointer.is_some()),
            ("headers", !self.headers.is_empty()),
        ]);
        if let Some(key) = http_keys
            && p != P::Http
        {
            return Err(err(
                key,
                "request_template, response_pointer, usage_*_pointer and headers are for provider http",
            ));
        }
        Ok(())
    }
}

/// Building clients: what `validate` checked is assumed; what can still fail (reading
/// `api_key_file`, a provider this build lacks, a client the provider refuses) is an error.
impl ModelConfig {
    fn api_key(&self) -> Result<Option<Secret<String>>, ConfigError> {
        Ok(match (&self.api_key, &self.api_key_file) {
            (Some(k), _) => Some(k.clone()),
            (None, Some(f)) => {
                let k = std::fs::read_to_string(f)
                    .map_err(|e| err("api_key_file", format!("cannot read {}: {e}", f.display())))?;
                Some(Secret::new(k.trim().to_owned()))
            }
            (None, None) => None,
        })
    }

    fn base_url(&self) -> Result<url::Url, ConfigError> {
        self.base_url
            .as_deref()
            .ok_or_else(|| err("base_url", format!("provider {} needs base_url", self.provider.as_str())))?
            .parse()
            .map_err(|e| err("base_url", format!("{e}")))
    }

    fn unavailable(&self) -> ConfigError {
        err(
            "provider",
            format!("{} is not available for kind {} in this build", self.provider.as_str(), self.kind.as_str()),
        )
    }

    #[cfg(feature = "bedrock")]
    fn bedrock_config(&self) -> Result<crate::BedrockConfig, ConfigError> {
        Ok(crate::BedrockConfig {
            region: self.region.clone().unwrap_or_default(),
            model: self.model.clone(),
            endpoint_url: self.base_url.as_ref().map(|_| self.base_url()).transpose()?,
            access_key_id: self.aws_access_key_id.clone().map(Secret::new),
            secret_access_key: self.aws_secret_access_key.clone(),
            session_token: self.aws_session_token.clone(),
            timeout: self.timeout.0,
            max_retries: self.max_retries,
            tools: self.tools,
        })
    }

    /// The client of a model of kind `chat`.
    pub fn chat_model(&self) -> Result<Arc<dyn ChatModel>, ConfigError> {
        let api_key = self.api_key()?;
        let (timeout, max_retries) = (self.timeout.0, self.max_retries);
        Ok(match self.provider {
            ModelProvider::Openai => Arc::new(
                crate::OpenAiCompatible::new(crate::OpenAiConfig {
                    base_url: self.base_url()?,
                    model: self.model.clone(),
                    api_key,
                    timeout,
                    max_retries,
                    tools: self.tools,
                })
                .map_err(refused)?,
            ),
            ModelProvider::Anthropic => Arc::new(
                crate::Anthropic::new(crate::AnthropicConfig {
                    base_url: match self.base_url {
                        Some(_) => self.base_url()?,
                        None => crate::AnthropicConfig::default_base_url(),
                    },
                    model: self.model.clone(),
                    api_key,
                    timeout,
                    max_retries,
                    tools: self.tools,
                })
                .map_err(refused)?,
            ),
            ModelProvider::Http => Arc::new(
                crate::HttpJson::new(crate::HttpJsonConfig {
                    url: self.base_url()?,
                    headers: self.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    request_template: self.request_template.clone().unwrap_or(serde_json::Value::Null),
                    response_pointer: self.response_pointer.clone().unwrap_or_default(),
                    usage_input_pointer: self.usage_input_pointer.clone(),
                    usage_output_pointer: self.usage_output_pointer.clone(),
                    model: if self.model.is_empty() { self.id.clone() } else { self.model.clone() },
                    timeout,
                    max_retries,
                })
                .map_err(refused)?,
            ),
            #[cfg(feature = "bedrock")]
            ModelProvider::Bedrock => Arc::new(crate::Bedrock::new(self.bedrock_config()?).map_err(refused)?),
            _ => return Err(self.unavailable()),
        })
    }

    /// The client of a model of kind `embedding`.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>, ConfigError> {
        let api = match self.provider {
            ModelProvider::Openai => crate::EmbedApi::OpenAi,
            ModelProvider::Ollama => crate::EmbedApi::Ollama,
            #[cfg(feature = "bedrock")]
            ModelProvider::Bedrock => {
                let cfg = self.bedrock_config()?;
                let e = crate::BedrockEmbedder::new(self.id.clone(), cfg, self.dimensions).map_err(refused)?;
                return Ok(Arc::new(e));
            }
            _ => return Err(self.unavailable()),
        };
        let e = crate::HttpEmbedder::new(crate::EmbedConfig {
            id: self.id.clone(),
            api,
            base_url: self.base_url()?,
            model: self.model.clone(),
            api_key: self.api_key()?,
            dimensions: self.dimensions,
            query_prefix: self.query_prefix.clone().unwrap_or_default(),
            document_prefix: self.document_prefix.clone().unwrap_or_default(),
            max_batch: self.batch_size.unwrap_or(64),
            timeout: self.timeout.0,
            max_retries: self.max_retries,
        })
        .map_err(refused)?;
        Ok(Arc::new(e))
    }

    /// The client of a model of kind `rerank`.
    pub fn reranker(&self) -> Result<Arc<dyn Reranker>, ConfigError> {
        let api = match self.provider {
            ModelProvider::Cohere => crate::RerankApi::Cohere,
            ModelProvider::Tei => crate::RerankApi::Tei,
            _ => return Err(self.unavailable()),
        };
        let r = crate::HttpReranker::new(crate::RerankConfig {
            id: self.id.clone(),
            api,
            base_url: self.base_url()?,
            model: self.model.clone(),
            api_key: self.api_key()?,
            timeout: self.timeout.0,
            max_retries: self.max_retries,
        })
        .map_err(refused)?;
        Ok(Arc::new(r))
    }

    /// Builds the client of this entry's kind, to check that it can be built.
    pub fn check_builds(&self) -> Result<(), ConfigError> {
        match self.kind {
            ModelKind::Chat => self.chat_model().map(drop),
            ModelKind::Embedding => self.embedder().map(drop),
            ModelKind::Rerank => self.reranker().map(drop),
        }
    }
}

/// A client the provider module refused to build (the entry as a whole).
fn refused(e: ProviderError) -> ConfigError {
    ConfigError::new("", e.detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: serde_json::Value) -> Result<ModelConfig, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn entries_are_checked_by_key() {
        let key = |v| entry(v).unwrap().validate().unwrap_err().key;
        assert_eq!(key(serde_json::json!({"id": "m", "provider": "bedrock", "model": "c"})), "region");
        assert_eq!(
            key(serde_json::json!({"id": "m", "provider": "http", "base_url": "https://x/invocations"})),
            "request_template"
        );
        assert_eq!(
            key(serde_json::json!({"id": "m", "provider": "openai", "base_url": "ftp://x", "model": "c"})),
            "base_url"
        );
        assert_eq!(
            key(serde_json::json!({"id": "m", "provider": "ollama", "base_url": "http://x", "model": "c"})),
            "provider"
        );
        assert_eq!(
            key(
                serde_json::json!({"id": "m", "provider": "openai", "base_url": "http://x", "model": "c", "dimensions": 8})
            ),
            "dimensions"
        );
        assert_eq!(
            key(serde_json::json!({"id": "m", "provider": "http", "base_url": "https://x", "tools": true,
                "request_template": {}, "response_pointer": "/x"})),
            "tools"
        );
        let e = entry(serde_json::json!({"id": "m", "provider": "mystery", "base_url": "https://x", "model": "c"}));
        assert!(e.unwrap_err().to_string().contains("unknown variant `mystery`"));
    }

    #[test]
    fn entries_build_and_serialize_as_before() {
        let m = entry(serde_json::json!({
            "id": "e", "kind": "embedding", "provider": "ollama", "base_url": "http://127.0.0.1:11434", "model": "nomic",
            "api_key": "k",
        }))
        .unwrap();
        m.validate().unwrap();
        m.check_builds().unwrap();
        let chat = entry(serde_json::json!({"id": "c", "provider": "anthropic", "model": "claude", "tools": true}));
        assert!(chat.unwrap().chat_model().unwrap().supports_tools());
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["kind"], "embedding");
        assert_eq!(json["provider"], "ollama");
        assert_eq!(json["timeout"], "1m");
        assert!(json.get("api_key").is_none());
        let r = entry(
            serde_json::json!({"id": "r", "kind": "rerank", "provider": "tei", "base_url": "http://x", "model": "b"}),
        );
        assert!(r.unwrap().chat_model().is_err());
    }

    #[test]
    fn the_schema_lists_the_secrets_as_write_only() {
        let s = serde_json::to_value(<ModelConfig as utoipa::PartialSchema>::schema()).unwrap();
        assert!(s["properties"]["provider"].is_object(), "{s}");
        for secret in MODEL_SECRETS {
            assert_eq!(s["properties"][secret]["writeOnly"], true, "{secret}: {s}");
        }
        assert_eq!(s["required"], serde_json::json!(["id", "provider"]), "{s}");
        let p = serde_json::to_value(<ModelProvider as utoipa::PartialSchema>::schema()).unwrap();
        assert!(p.to_string().contains("\"tei\""), "{p}");
    }
}
