//! The models and assistants users can pick: the config file's (read-only here) and those
//! administrators add at runtime through `/v1/admin/models` and `/v1/admin/assistants`
//! (stored in the database; write-only fields sealed with the record's identity as associated
//! data). Requests read an immutable snapshot; a change builds a new one and swaps it in.
//! Other replicas notice a change within `chat.catalog_refresh` (they poll a cheap version).
//! Models of kind `embedding` and `rerank` are served to knowledge bases through
//! `core::embed::ModelDirectory`.
//!
//! The API's entries are the config file's types ([`ModelConfig`], [`AssistantConfig`]: the
//! [`Entry`] trait); what it shows of one is a view ([`ModelView`], [`AssistantView`]): the
//! entry without its write-only fields, and [`EntryMeta`].

use crate::config::{
    ASSISTANT_SECRETS, AssistantConfig, AssistantType, Config, ConfigError, MODEL_SECRETS, ModelConfig, ModelKind,
};
use rampart_chat::assistants::{Assistant, AssistantKind, Assistants};
use rampart_core::embed::{Embedder, ModelDirectory, Reranker};
use rampart_core::llm::ChatModel;
use rampart_core::{Principal, Timestamp};
use rampart_crypto::{EnvelopeError, Keyring};
use rampart_storage::repo::catalog::CatalogRecord;
use rampart_storage::{Db, StorageError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};
use utoipa::openapi::{RefOr, schema::Schema};

mod admin;
mod error;
mod views;

pub use error::CatalogError;
pub use views::{AssistantView, Entry, EntryBody, EntryMeta, ModelView, Source};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Assistant,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Assistant => "assistant",
        }
    }
    fn secrets(self) -> &'static [&'static str] {
        match self {
            Kind::Model => MODEL_SECRETS,
            Kind::Assistant => ASSISTANT_SECRETS,
        }
    }
}

type Result<T> = std::result::Result<T, CatalogError>;
/// What the database holds, decoded.
struct Runtime {
    models: Vec<ModelConfig>,
    assistants: Vec<AssistantConfig>,
    /// `Db::catalog_version` of exactly these rows (computed from them, so that a change made
    /// while they were read cannot be taken as seen).
    version: (i64, i64),
}

/// The chat models of a snapshot, by id, and the default assistant's (what meeting summaries
/// are written with unless `meetings.summary_model` names one).
#[derive(Default)]
struct ChatModels {
    by_id: HashMap<String, Arc<dyn ChatModel>>,
    default: Option<Arc<dyn ChatModel>>,
}

/// The embedding and reranking models of a snapshot, by id.
#[derive(Default)]
struct RetrievalModels {
    embedders: HashMap<String, Arc<dyn Embedder>>,
    rerankers: HashMap<String, Arc<dyn Reranker>>,
}

pub struct Catalog {
    db: Db,
    keyring: Keyring,
    config_models: Vec<ModelConfig>,
    config_assistants: Vec<AssistantConfig>,
    current: RwLock<Arc<Assistants>>,
    retrieval: RwLock<Arc<RetrievalModels>>,
    chat_models: RwLock<Arc<ChatModels>>,
    version: tokio::sync::Mutex<(i64, i64)>,
    /// Serializes administrators' changes in this process (checks, then writes).
    writes: tokio::sync::Mutex<()>,
    /// Every chat model is wrapped to count and time its calls.
    metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog")
    }
}

fn aad(kind: Kind, id: &str) -> Vec<u8> {
    format!("catalog:{}:{id}", kind.as_str()).into_bytes()
}

/// A model entry's error, named by its id.
fn model_error(m: &ModelConfig, e: ConfigError) -> anyhow::Error {
    e.within(&format!("models[{}]", m.id)).into()
}

/// An assistant over already-built models.
fn build_assistant(a: &AssistantConfig, models: &HashMap<String, Arc<dyn ChatModel>>) -> anyhow::Result<Assistant> {
    let kind = match a.kind {
        AssistantType::Model => {
            let m = a.model.as_deref().unwrap_or_default();
            AssistantKind::Model(
                models.get(m).cloned().ok_or_else(|| anyhow::anyhow!("assistants {}: unknown model {m}", a.id))?,
            )
        }
        AssistantType::Custom => {
            let url = a.webhook_url.as_deref().unwrap_or_default();
            let client = rampart_providers::webhook::Webhook::new(rampart_providers::webhook::WebhookConfig {
                url: url.parse().map_err(|e| anyhow::anyhow!("assistants {}: webhook_url: {e}", a.id))?,
                secret: a
                    .webhook_secret
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("assistants {}: webhook_secret is missing", a.id))?,
                assistant_id: a.id.clone(),
                timeout: a.webhook_timeout.map_or(std::time::Duration::from_secs(60), |d| d.0),
            })
            .map_err(|e| anyhow::anyhow!("assistants {}: {}", a.id, e.detail))?;
            AssistantKind::Custom(Arc::new(client))
        }
        AssistantType::Rag => {
            let model = match a.model.as_deref() {
                Some(m) => Some(
                    models.get(m).cloned().ok_or_else(|| anyhow::anyhow!("assistants {}: unknown model {m}", a.id))?,
                ),
                None => None,
            };
            AssistantKind::Rag(Arc::new(rampart_chat::rag::RagAssistant {
                model,
                knowledge_bases: a.knowledge_bases.clone(),
                results: a.kb_number_of_results.unwrap_or(5),
                prompt_template: a
                    .prompt_template
                    .clone()
                    .unwrap_or_else(|| rampart_chat::rag::DEFAULT_PROMPT_TEMPLATE.to_owned()),
                inline_citations: a.display_inline_citations.unwrap_or(true),
                all_readable: false,
                note: None,
            }))
        }
        AssistantType::Extractive => AssistantKind::Extractive,
    };
    Ok(Assistant {
        id: a.id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        kind,
        system_prompt: a.system_prompt.clone(),
        max_tokens: a.inference_max_tokens,
        temperature: a.inference_temperature,
        top_p: a.inference_top_p,
        groups: a.groups.clone(),
    })
}
impl Catalog {
    /// Loads the config file's entries and the database's, and builds the first snapshot. The
    /// config file's entries must build; a broken stored entry is logged and left out.
    pub async fn load(
        config: &Config,
        db: Db,
        keyring: Keyring,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let c = Catalog {
            db,
            keyring,
            config_models: config.models.clone(),
            config_assistants: config.assistants.clone(),
            current: RwLock::new(Arc::new(Assistants::default())),
            retrieval: RwLock::new(Arc::new(RetrievalModels::default())),
            chat_models: RwLock::new(Arc::new(ChatModels::default())),
            version: tokio::sync::Mutex::new((-1, -1)),
            writes: tokio::sync::Mutex::new(()),
            metrics,
        };
        // The config file's own entries fail start-up when they cannot be built.
        let mut models = HashMap::new();
        for m in &c.config_models {
            if m.kind == ModelKind::Chat {
                models.insert(m.id.clone(), m.chat_model().map_err(|e| model_error(m, e))?);
            } else {
                m.check_builds().map_err(|e| model_error(m, e))?;
            }
        }
        for a in &c.config_assistants {
            build_assistant(a, &models)?;
        }
        c.reload().await.map_err(|e| anyhow::anyhow!("catalog: {e}"))?;
        Ok(c)
    }

    pub fn snapshot(&self) -> Arc<Assistants> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn visible_to(&self, p: &Principal) -> Vec<Arc<Assistant>> {
        self.snapshot().visible_to(p)
    }

    pub fn get_for(&self, id: &str, p: &Principal) -> Option<Arc<Assistant>> {
        self.snapshot().get_for(id, p)
    }

    /// A chat model by id (config file's or administrators').
    pub fn chat_model(&self, id: &str) -> Option<Arc<dyn ChatModel>> {
        self.chat_models.read().unwrap_or_else(std::sync::PoisonError::into_inner).by_id.get(id).cloned()
    }

    /// The model of the default assistant (`default`, else the first one), if it has one.
    pub fn default_chat_model(&self) -> Option<Arc<dyn ChatModel>> {
        self.chat_models.read().unwrap_or_else(std::sync::PoisonError::into_inner).default.clone()
    }

    /// The write-only fields of a stored entry (empty when it has none).
    fn open_secrets(&self, kind: Kind, r: &CatalogRecord) -> Result<Map<String, Value>> {
        let Some(sealed) = &r.sealed_secrets else { return Ok(Map::new()) };
        let (k, id) = (kind.as_str(), r.id.clone());
        let plain = self.keyring.open(&aad(kind, &r.id), sealed).map_err(|source| CatalogError::Sealed {
            kind: k,
            id: id.clone(),
            source,
        })?;
        serde_json::from_slice(&plain).map_err(|source| CatalogError::Corrupt { kind: k, id, source })
    }

    /// A stored entry, write-only fields included.
    fn open_entry<E: Entry>(&self, r: &CatalogRecord) -> Result<E> {
        let corrupt = |source| CatalogError::Corrupt { kind: E::KIND.as_str(), id: r.id.clone(), source };
        let mut v: Map<String, Value> = serde_json::from_str(&r.spec).map_err(corrupt)?;
        v.extend(self.open_secrets(E::KIND, r)?);
        serde_json::from_value(Value::Object(v)).map_err(corrupt)
    }

    async fn runtime(&self) -> Result<Runtime> {
        let rows = self.db.catalog().await?;
        let version = (
            i64::try_from(rows.len()).unwrap_or(i64::MAX),
            rows.iter().map(|r| r.updated_at.millis()).max().unwrap_or(0),
        );
        let mut rt = Runtime { models: Vec::new(), assistants: Vec::new(), version };
        for r in rows {
            let decoded = match r.kind.as_str() {
                "model" => self.open_entry(&r).map(|m| rt.models.push(m)),
                "assistant" => self.open_entry(&r).map(|a| rt.assistants.push(a)),
                _ => Ok(()),
            };
            if let Err(e) = decoded {
                tracing::error!(kind = %r.kind, id = %r.id, error = %e, "catalog: a stored entry cannot be read; left out");
            }
        }
        Ok(rt)
    }

    /// Rebuilds the snapshot from the config file's entries and the database's.
    pub async fn reload(&self) -> Result<()> {
        let mut version = self.version.lock().await;
        let rt = self.runtime().await?;
        let v = rt.version;
        let mut models: HashMap<String, Arc<dyn ChatModel>> = HashMap::new();
        let mut retrieval = RetrievalModels::default();
        for m in self.config_models.iter().chain(rt.models.iter()) {
            let built = match m.kind {
                ModelKind::Embedding => m.embedder().map(|e| drop(retrieval.embedders.insert(m.id.clone(), e))),
                ModelKind::Rerank => m.reranker().map(|r| drop(retrieval.rerankers.insert(m.id.clone(), r))),
                ModelKind::Chat => m
                    .chat_model()
                    .map(|c| drop(models.insert(m.id.clone(), self.metrics.meter(m.provider.as_str(), &m.id, c)))),
            };
            if let Err(e) = built {
                tracing::error!(model = %m.id, error = %e, "catalog: a model cannot be built; left out");
            }
        }
        let mut list = Vec::new();
        for a in self.config_assistants.iter().chain(rt.assistants.iter()) {
            match build_assistant(a, &models) {
                Ok(x) => list.push(x),
                Err(e) => {
                    tracing::error!(assistant = %a.id, error = %e, "catalog: an assistant cannot be built; left out")
                }
            }
        }
        // With no assistant configured in the file, the built-in one answers as `default`.
        if self.config_assistants.is_empty() && !list.iter().any(|a| a.id == "default") {
            list.insert(0, Assistant::extractive("default"));
        }
        let default = list.iter().find(|a| a.id == "default").or(list.first()).and_then(|a| match &a.kind {
            AssistantKind::Model(m) => Some(m.clone()),
            AssistantKind::Rag(r) => r.model.clone(),
            AssistantKind::Custom(_) | AssistantKind::Extractive => None,
        });
        *self.chat_models.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(ChatModels { by_id: models, default });
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Assistants::new(list));
        *self.retrieval.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(retrieval);
        *version = v;
        Ok(())
    }

    /// Reloads when another replica (or this one) changed the stored entries.
    pub async fn reload_if_changed(&self) -> Result<()> {
        let v = self.db.catalog_version().await?;
        if v != *self.version.lock().await {
            self.reload().await?;
        }
        Ok(())
    }
}

/// Checks every `every` for changes made through other replicas.
pub fn spawn_refresh(catalog: Arc<Catalog>, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = catalog.reload_if_changed().await {
                tracing::warn!(error = %e, "could not refresh models and assistants");
            }
        }
    })
}

impl ModelDirectory for Catalog {
    fn embedder(&self, id: &str) -> Option<Arc<dyn Embedder>> {
        self.retrieval.read().unwrap_or_else(std::sync::PoisonError::into_inner).embedders.get(id).cloned()
    }

    fn reranker(&self, id: &str) -> Option<Arc<dyn Reranker>> {
        self.retrieval.read().unwrap_or_else(std::sync::PoisonError::into_inner).rerankers.get(id).cloned()
    }
}
