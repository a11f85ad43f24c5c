//! The models and assistants users can pick: the config file's (read-only here) and those
//! administrators add at runtime through `/v1/admin/models` and `/v1/admin/assistants`
//! (stored in the database; write-only fields sealed with the record's identity as associated
//! data). Requests read an immutable snapshot; a change builds a new one and swaps it in.
//! Other replicas notice a change within `chat.catalog_refresh` (they poll a cheap version).
//! Models of kind `embedding` and `rerank` are served to knowledge bases through
//! `core::embed::ModelDirectory`.

use crate::config::{ASSISTANT_SECRETS, AssistantConfig, AssistantType, Config, MODEL_SECRETS, ModelConfig, ModelKind};
use rampart_chat::assistants::{Assistant, AssistantKind, Assistants};
use rampart_core::embed::{Embedder, ModelDirectory, Reranker};
use rampart_core::llm::ChatModel;
use rampart_core::{Principal, Timestamp};
use rampart_crypto::Keyring;
use rampart_storage::Db;
use rampart_storage::repo::catalog::CatalogRecord;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Assistant,
}

impl Kind {
    fn as_str(self) -> &'static str {
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

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named another version than the stored one.
    #[error("changed since it was read")]
    Changed,
    #[error("{0}")]
    Internal(String),
}

impl From<rampart_storage::StorageError> for CatalogError {
    fn from(e: rampart_storage::StorageError) -> Self {
        match e {
            rampart_storage::StorageError::Conflict => CatalogError::Conflict("The id is already used.".into()),
            e => CatalogError::Internal(e.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, CatalogError>;

/// What the database holds, decoded.
struct Runtime {
    models: Vec<(ModelConfig, CatalogRecord)>,
    assistants: Vec<(AssistantConfig, CatalogRecord)>,
    /// `Db::catalog_version` of exactly these rows (computed from them, so that a change made
    /// while they were read cannot be taken as seen).
    version: (i64, i64),
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
fn model_error(m: &ModelConfig, e: rampart_core::config::ConfigError) -> anyhow::Error {
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
            }))
        }
        AssistantType::Extractive => AssistantKind::Extractive,
    };
    Ok(Assistant {
        id: a.id.clone(),
        kind,
        system_prompt: a.system_prompt.clone(),
        max_tokens: a.inference_max_tokens,
        temperature: a.inference_temperature,
        top_p: a.inference_top_p,
        groups: a.groups.clone(),
    })
}

/// Splits an entry's JSON into what may be shown and the write-only fields.
fn split_secrets(kind: Kind, mut v: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut secrets = Map::new();
    for k in kind.secrets() {
        if let Some(x) = v.remove(*k) {
            secrets.insert((*k).to_owned(), x);
        }
    }
    (v, secrets)
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

    fn open_record(&self, kind: Kind, r: &CatalogRecord) -> Result<Value> {
        let mut v: Map<String, Value> =
            serde_json::from_str(&r.spec).map_err(|e| CatalogError::Internal(format!("stored spec: {e}")))?;
        if let Some(sealed) = &r.sealed_secrets {
            let plain = self
                .keyring
                .open(&aad(kind, &r.id), sealed)
                .map_err(|e| CatalogError::Internal(format!("stored secrets: {e}")))?;
            let s: Map<String, Value> =
                serde_json::from_slice(&plain).map_err(|e| CatalogError::Internal(format!("stored secrets: {e}")))?;
            v.extend(s);
        }
        Ok(Value::Object(v))
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
                "model" => self
                    .open_record(Kind::Model, &r)
                    .and_then(|v| serde_json::from_value(v).map_err(|e| CatalogError::Internal(e.to_string())))
                    .map(|m| rt.models.push((m, r.clone()))),
                "assistant" => self
                    .open_record(Kind::Assistant, &r)
                    .and_then(|v| serde_json::from_value(v).map_err(|e| CatalogError::Internal(e.to_string())))
                    .map(|a| rt.assistants.push((a, r.clone()))),
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
        for m in self.config_models.iter().chain(rt.models.iter().map(|(m, _)| m)) {
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
        for a in self.config_assistants.iter().chain(rt.assistants.iter().map(|(a, _)| a)) {
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

    fn config_view(&self, kind: Kind, id: &str) -> Option<Value> {
        let (mut v, secrets) = match kind {
            Kind::Model => {
                let m = self.config_models.iter().find(|m| m.id == id)?;
                let mut set = Vec::new();
                if m.api_key.is_some() || m.api_key_file.is_some() {
                    set.push("api_key");
                }
                if m.aws_secret_access_key.is_some() {
                    set.push("aws_secret_access_key");
                }
                if m.aws_session_token.is_some() {
                    set.push("aws_session_token");
                }
                if !m.headers.is_empty() {
                    set.push("headers");
                }
                (serde_json::to_value(m).ok()?, set)
            }
            Kind::Assistant => {
                let a = self.config_assistants.iter().find(|a| a.id == id)?;
                let set = if a.webhook_secret.is_some() { vec!["webhook_secret"] } else { Vec::new() };
                (serde_json::to_value(a).ok()?, set)
            }
        };
        v["source"] = json!("config");
        v["secrets"] = json!(secrets);
        Some(v)
    }

    fn runtime_view(r: &CatalogRecord, secrets: &[String]) -> Value {
        let mut v: Value = serde_json::from_str(&r.spec).unwrap_or_else(|_| json!({"id": r.id}));
        v["source"] = json!("admin");
        v["secrets"] = json!(secrets);
        v["updatedBy"] = json!(r.updated_by);
        v["updatedAt"] = json!(r.updated_at.secs());
        // Changes with every update (the update time in ms, strictly increasing): `If-Match`.
        v["version"] = json!(r.updated_at.millis());
        v
    }

    fn secret_names(&self, kind: Kind, r: &CatalogRecord) -> Vec<String> {
        let Some(sealed) = &r.sealed_secrets else { return Vec::new() };
        self.keyring
            .open(&aad(kind, &r.id), sealed)
            .ok()
            .and_then(|p| serde_json::from_slice::<Map<String, Value>>(&p).ok())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every entry of a kind: the config file's, then the administrators'.
    pub async fn list(&self, kind: Kind) -> Result<Vec<Value>> {
        let ids: Vec<&str> = match kind {
            Kind::Model => self.config_models.iter().map(|m| m.id.as_str()).collect(),
            Kind::Assistant => self.config_assistants.iter().map(|a| a.id.as_str()).collect(),
        };
        let mut out: Vec<Value> = ids.iter().filter_map(|id| self.config_view(kind, id)).collect();
        for r in self.db.catalog().await?.iter().filter(|r| r.kind == kind.as_str()) {
            out.push(Self::runtime_view(r, &self.secret_names(kind, r)));
        }
        Ok(out)
    }

    pub async fn get(&self, kind: Kind, id: &str) -> Result<Value> {
        if let Some(v) = self.config_view(kind, id) {
            return Ok(v);
        }
        let r = self.db.catalog_entry(kind.as_str(), id).await?.ok_or(CatalogError::NotFound)?;
        Ok(Self::runtime_view(&r, &self.secret_names(kind, &r)))
    }

    fn in_config(&self, kind: Kind, id: &str) -> bool {
        match kind {
            Kind::Model => self.config_models.iter().any(|m| m.id == id),
            Kind::Assistant => self.config_assistants.iter().any(|a| a.id == id),
        }
    }

    /// Parses and checks a full entry (secrets included): the same rules as the config file,
    /// and the model must build.
    async fn check(&self, kind: Kind, full: &Value) -> Result<()> {
        let invalid = |e: String| CatalogError::Invalid(e);
        match kind {
            Kind::Model => {
                let m: ModelConfig = serde_json::from_value(full.clone()).map_err(|e| invalid(e.to_string()))?;
                m.validate().and_then(|()| m.check_builds()).map_err(|e| invalid(e.to_string()))?;
            }
            Kind::Assistant => {
                let a: AssistantConfig = serde_json::from_value(full.clone()).map_err(|e| invalid(e.to_string()))?;
                let stored = self.runtime().await?;
                let exists = |m: &str| {
                    self.config_models
                        .iter()
                        .chain(stored.models.iter().map(|(x, _)| x))
                        .any(|x| x.id == m && x.kind == ModelKind::Chat)
                };
                a.validate()
                    .and_then(|()| crate::config::check_assistant_model(&a, exists))
                    .map_err(|e| invalid(e.to_string()))?;
            }
        }
        Ok(())
    }

    fn seal(&self, kind: Kind, id: &str, secrets: &Map<String, Value>) -> Option<Vec<u8>> {
        (!secrets.is_empty())
            .then(|| self.keyring.seal(&aad(kind, id), Value::Object(secrets.clone()).to_string().as_bytes()))
    }

    /// Adds an entry. `body` uses the config file's keys.
    pub async fn create(&self, kind: Kind, body: Value, by: &str, now: Timestamp) -> Result<Value> {
        let Value::Object(obj) = body else {
            return Err(CatalogError::Invalid("the body must be a JSON object".into()));
        };
        if obj.contains_key("api_key_file") {
            return Err(CatalogError::Invalid("api_key_file is for the config file; send api_key".into()));
        }
        let id = obj.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let _w = self.writes.lock().await;
        if self.in_config(kind, &id) {
            return Err(CatalogError::Conflict("The id is used by the config file.".into()));
        }
        self.check(kind, &Value::Object(obj.clone())).await?;
        let (spec, secrets) = split_secrets(kind, obj);
        let r = CatalogRecord {
            kind: kind.as_str().into(),
            id: id.clone(),
            spec: Value::Object(spec).to_string(),
            sealed_secrets: self.seal(kind, &id, &secrets),
            updated_by: Some(by.to_owned()),
            created_at: now,
            updated_at: now,
        };
        self.db.insert_catalog_entry(&r).await?;
        drop(_w);
        self.reload().await?;
        Ok(Self::runtime_view(&r, &secrets.keys().cloned().collect::<Vec<_>>()))
    }

    /// Replaces an entry. Write-only fields left out keep their stored values; `""` (or `{}`
    /// for `headers`) removes one. With `expected` (the `version` the caller read), an entry
    /// changed since is refused instead of overwritten.
    pub async fn replace(
        &self,
        kind: Kind,
        id: &str,
        body: Value,
        by: &str,
        now: Timestamp,
        expected: Option<i64>,
    ) -> Result<Value> {
        let Value::Object(mut obj) = body else {
            return Err(CatalogError::Invalid("the body must be a JSON object".into()));
        };
        if obj.contains_key("api_key_file") {
            return Err(CatalogError::Invalid("api_key_file is for the config file; send api_key".into()));
        }
        match obj.get("id") {
            None => {
                obj.insert("id".into(), json!(id));
            }
            Some(Value::String(x)) if x == id => {}
            Some(_) => return Err(CatalogError::Invalid("the id cannot be changed".into())),
        }
        let _w = self.writes.lock().await;
        if self.in_config(kind, id) {
            return Err(CatalogError::Conflict("This entry comes from the config file; change it there.".into()));
        }
        let old = self.db.catalog_entry(kind.as_str(), id).await?.ok_or(CatalogError::NotFound)?;
        if expected.is_some_and(|v| v != old.updated_at.millis()) {
            return Err(CatalogError::Changed);
        }
        let Value::Object(old_full) = self.open_record(kind, &old)? else {
            return Err(CatalogError::Internal("stored entry is not an object".into()));
        };
        let (_, mut secrets) = split_secrets(kind, old_full);
        let (spec, given) = split_secrets(kind, obj);
        for (k, v) in given {
            let empty = v.as_str() == Some("") || v.as_object().is_some_and(Map::is_empty) || v.is_null();
            if empty {
                secrets.remove(&k);
            } else {
                secrets.insert(k, v);
            }
        }
        let mut full = spec.clone();
        full.extend(secrets.clone());
        self.check(kind, &Value::Object(full)).await?;
        let r = CatalogRecord {
            kind: kind.as_str().into(),
            id: id.to_owned(),
            spec: Value::Object(spec).to_string(),
            sealed_secrets: self.seal(kind, id, &secrets),
            updated_by: Some(by.to_owned()),
            created_at: old.created_at,
            updated_at: now.max(Timestamp::from_millis(old.updated_at.millis() + 1)),
        };
        if !self.db.update_catalog_entry(&r).await? {
            return Err(CatalogError::NotFound);
        }
        drop(_w);
        self.reload().await?;
        Ok(Self::runtime_view(&r, &secrets.keys().cloned().collect::<Vec<_>>()))
    }

    /// Removes an entry; a model an assistant uses is refused.
    pub async fn delete(&self, kind: Kind, id: &str) -> Result<()> {
        let _w = self.writes.lock().await;
        if self.in_config(kind, id) {
            return Err(CatalogError::Conflict("This entry comes from the config file; change it there.".into()));
        }
        if kind == Kind::Model {
            let rt = self.runtime().await?;
            let users: Vec<&str> = self
                .config_assistants
                .iter()
                .chain(rt.assistants.iter().map(|(a, _)| a))
                .filter(|a| a.model.as_deref() == Some(id))
                .map(|a| a.id.as_str())
                .collect();
            if !users.is_empty() {
                return Err(CatalogError::Conflict(format!("Assistants use this model: {}.", users.join(", "))));
            }
            if self.db.embedding_model_in_use(id).await? {
                return Err(CatalogError::Conflict(
                    "Knowledge bases embed with this model; give them another one first.".into(),
                ));
            }
        }
        if !self.db.delete_catalog_entry(kind.as_str(), id).await? {
            return Err(CatalogError::NotFound);
        }
        drop(_w);
        self.reload().await
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
