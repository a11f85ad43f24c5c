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

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("api_key_file is for the config file; send api_key")]
    KeyFile,
    #[error("the id cannot be changed")]
    IdChanged,
    /// The body does not read as an entry: a key unknown or missing, a value of the wrong type
    /// (serde's message names the key).
    #[error("{0}")]
    Unreadable(#[source] serde_json::Error),
    /// The entry breaks a rule of the config file (the message starts with the key).
    #[error("{0}")]
    Refused(#[from] ConfigError),
    #[error("not found")]
    NotFound,
    #[error("The id is already used.")]
    IdTaken,
    #[error("The id is used by the config file.")]
    IdInConfigFile,
    #[error("This entry comes from the config file; change it there.")]
    ReadOnly,
    #[error("Assistants use this model: {}.", .0.join(", "))]
    ModelInUse(Vec<String>),
    #[error("Knowledge bases embed with this model; give them another one first.")]
    EmbeddingModelInUse,
    /// `If-Match` named another version than the stored one.
    #[error("changed since it was read")]
    Changed,
    #[error("storage: {0}")]
    Storage(#[source] StorageError),
    #[error("stored {kind} {id} cannot be read: {source}")]
    Corrupt { kind: &'static str, id: String, source: serde_json::Error },
    #[error("the secrets of stored {kind} {id} cannot be opened: {source}")]
    Sealed { kind: &'static str, id: String, source: EnvelopeError },
}

impl From<StorageError> for CatalogError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => CatalogError::IdTaken,
            StorageError::UnsupportedUrl
            | StorageError::LastAdmin
            | StorageError::Corrupt(_)
            | StorageError::InvalidCursor
            | StorageError::MigrationChanged { .. }
            | StorageError::SchemaTooNew(_)
            | StorageError::Database(_) => CatalogError::Storage(e),
        }
    }
}

type Result<T> = std::result::Result<T, CatalogError>;

/// Where an entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The config file: read-only through the API.
    Config,
    /// Added by an administrator through the API (stored in the database).
    Admin,
}

/// What a view adds to an entry's keys.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryMeta {
    pub source: Source,
    /// The write-only fields that have a value (their values are never shown).
    pub secrets: Vec<String>,
    /// Entries added at runtime: changes with every update; a replacement sent with it as
    /// `If-Match` is refused (412) if the entry changed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Entries added at runtime: when it was last changed (seconds since the epoch)…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// …and by whom (an email).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// A model as the API shows it: its keys (never the write-only ones), and where it comes from.
#[derive(Clone, Debug, Serialize)]
pub struct ModelView {
    #[serde(flatten)]
    pub model: ModelConfig,
    #[serde(flatten)]
    pub meta: EntryMeta,
}

/// An assistant as the API shows it: its keys (never the write-only ones), and where it comes
/// from.
#[derive(Clone, Debug, Serialize)]
pub struct AssistantView {
    #[serde(flatten)]
    pub assistant: AssistantConfig,
    #[serde(flatten)]
    pub meta: EntryMeta,
}

/// A view's schema: the entry's keys without the write-only ones (never shown; nor closed to
/// other keys, as the entry's is), and [`EntryMeta`]'s.
fn view_schema<E: utoipa::PartialSchema>(description: &str) -> RefOr<Schema> {
    let object = |s| match s {
        RefOr::T(Schema::Object(o)) => o,
        RefOr::T(_) | RefOr::Ref(_) => utoipa::openapi::Object::new(),
    };
    let (mut view, meta) = (object(E::schema()), object(<EntryMeta as utoipa::PartialSchema>::schema()));
    view.properties.retain(|_, p| !matches!(p, RefOr::T(Schema::Object(o)) if o.write_only == Some(true)));
    view.required.retain(|k| view.properties.contains_key(k));
    view.properties.extend(meta.properties);
    view.required.extend(meta.required);
    view.additional_properties = None;
    view.description = Some(description.to_owned());
    RefOr::T(Schema::Object(view))
}

impl utoipa::PartialSchema for ModelView {
    fn schema() -> RefOr<Schema> {
        view_schema::<ModelConfig>(
            "A model as the API shows it: its keys (never the write-only ones), and where it comes from.",
        )
    }
}

impl utoipa::ToSchema for ModelView {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        <ModelConfig as utoipa::ToSchema>::schemas(out);
        <EntryMeta as utoipa::ToSchema>::schemas(out);
    }
}

impl utoipa::PartialSchema for AssistantView {
    fn schema() -> RefOr<Schema> {
        view_schema::<AssistantConfig>(
            "An assistant as the API shows it: its keys (never the write-only ones), and where it comes from.",
        )
    }
}

impl utoipa::ToSchema for AssistantView {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        <AssistantConfig as utoipa::ToSchema>::schemas(out);
        <EntryMeta as utoipa::ToSchema>::schemas(out);
    }
}

/// An entry type of the catalog: the config file's `[[models]]` or `[[assistants]]`.
pub trait Entry: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const KIND: Kind;
    /// What the API shows of an entry.
    type View: Serialize + Send;
    fn id(&self) -> &str;
    /// The names of the write-only fields that have a value (a config file entry's view).
    fn secrets_set(&self) -> Vec<String>;
    /// The config file's entries of this type.
    fn in_file(catalog: &Catalog) -> &[Self];
    /// The config file's rules for one entry; `chat_model` says whether an id names a chat
    /// model. A model's client must build.
    fn check(&self, chat_model: &dyn Fn(&str) -> bool) -> std::result::Result<(), ConfigError>;
    fn view(self, meta: EntryMeta) -> Self::View;
}

fn names(set: &[(&str, bool)]) -> Vec<String> {
    set.iter().filter(|(_, on)| *on).map(|(k, _)| (*k).to_owned()).collect()
}

impl Entry for ModelConfig {
    const KIND: Kind = Kind::Model;
    type View = ModelView;
    fn id(&self) -> &str {
        &self.id
    }
    fn secrets_set(&self) -> Vec<String> {
        names(&[
            ("api_key", self.api_key.is_some() || self.api_key_file.is_some()),
            ("aws_secret_access_key", self.aws_secret_access_key.is_some()),
            ("aws_session_token", self.aws_session_token.is_some()),
            ("headers", !self.headers.is_empty()),
        ])
    }
    fn in_file(catalog: &Catalog) -> &[Self] {
        &catalog.config_models
    }
    fn check(&self, _: &dyn Fn(&str) -> bool) -> std::result::Result<(), ConfigError> {
        self.validate().and_then(|()| self.check_builds())
    }
    fn view(self, meta: EntryMeta) -> ModelView {
        ModelView { model: self, meta }
    }
}

impl Entry for AssistantConfig {
    const KIND: Kind = Kind::Assistant;
    type View = AssistantView;
    fn id(&self) -> &str {
        &self.id
    }
    fn secrets_set(&self) -> Vec<String> {
        names(&[("webhook_secret", self.webhook_secret.is_some())])
    }
    fn in_file(catalog: &Catalog) -> &[Self] {
        &catalog.config_assistants
    }
    fn check(&self, chat_model: &dyn Fn(&str) -> bool) -> std::result::Result<(), ConfigError> {
        self.validate().and_then(|()| crate::config::check_assistant_model(self, chat_model))
    }
    fn view(self, meta: EntryMeta) -> AssistantView {
        AssistantView { assistant: self, meta }
    }
}

/// A request body to be read as an entry of type `E` (the config file's keys; write-only
/// fields accepted). It is kept as sent until the checks that come first (the id, the config
/// file's entries, `If-Match`) have passed, and so that a write-only field left out (kept on
/// a replacement) can be told from one sent empty (removed).
pub struct EntryBody<E> {
    json: Value,
    entry: PhantomData<fn() -> E>,
}

impl<E: Entry> EntryBody<E> {
    pub fn new(json: Value) -> Self {
        Self { json, entry: PhantomData }
    }

    /// The `id` sent, if any.
    pub fn id(&self) -> Option<&str> {
        self.json.get("id").and_then(Value::as_str)
    }

    fn fields(self) -> Result<Map<String, Value>> {
        let Value::Object(obj) = self.json else { return Err(CatalogError::NotAnObject) };
        if obj.contains_key("api_key_file") {
            return Err(CatalogError::KeyFile);
        }
        Ok(obj)
    }
}

/// What the database holds, decoded.
struct Runtime {
    models: Vec<ModelConfig>,
    assistants: Vec<AssistantConfig>,
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

/// The stored write-only fields after a replacement that sent `given`: one left out keeps its
/// value; `""`, `{}` or `null` removes it.
fn merge_secrets(mut stored: Map<String, Value>, given: Map<String, Value>) -> Map<String, Value> {
    for (k, v) in given {
        let empty = v.as_str() == Some("") || v.as_object().is_some_and(Map::is_empty) || v.is_null();
        if empty {
            stored.remove(&k);
        } else {
            stored.insert(k, v);
        }
    }
    stored
}

/// A config file entry's view.
fn file_view<E: Entry>(e: &E) -> E::View {
    let secrets = e.secrets_set();
    e.clone().view(EntryMeta { source: Source::Config, secrets, version: None, updated_at: None, updated_by: None })
}

/// The view's own fields of an entry added at runtime.
fn stored_meta(r: &CatalogRecord, secrets: Vec<String>) -> EntryMeta {
    EntryMeta {
        source: Source::Admin,
        secrets,
        // Changes with every update (the update time in ms, strictly increasing): `If-Match`.
        version: Some(r.updated_at.millis()),
        updated_at: Some(r.updated_at.secs()),
        updated_by: r.updated_by.clone(),
    }
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

    /// The names of a stored entry's write-only fields. Secrets that cannot be opened are
    /// logged; the entry is shown without them (the entry's keys are readable without them).
    fn secret_names(&self, kind: Kind, r: &CatalogRecord) -> Vec<String> {
        match self.open_secrets(kind, r) {
            Ok(s) => s.into_iter().map(|(k, _)| k).collect(),
            Err(e) => {
                tracing::error!(kind = %r.kind, id = %r.id, error = %e, "catalog: stored secrets cannot be opened");
                Vec::new()
            }
        }
    }

    /// An entry added at runtime as the API shows it.
    fn stored_view<E: Entry>(&self, r: &CatalogRecord) -> Result<E::View> {
        let corrupt = |source| CatalogError::Corrupt { kind: E::KIND.as_str(), id: r.id.clone(), source };
        let entry: E = serde_json::from_str(&r.spec).map_err(corrupt)?;
        Ok(entry.view(stored_meta(r, self.secret_names(E::KIND, r))))
    }

    /// Every entry of a type: the config file's, then the administrators' (one that cannot be
    /// read is logged and left out).
    pub async fn list<E: Entry>(&self) -> Result<Vec<E::View>> {
        let mut out: Vec<E::View> = E::in_file(self).iter().map(file_view).collect();
        for r in self.db.catalog().await?.iter().filter(|r| r.kind == E::KIND.as_str()) {
            match self.stored_view::<E>(r) {
                Ok(v) => out.push(v),
                Err(e) => {
                    tracing::error!(kind = %r.kind, id = %r.id, error = %e, "catalog: a stored entry cannot be read")
                }
            }
        }
        Ok(out)
    }

    pub async fn get<E: Entry>(&self, id: &str) -> Result<E::View> {
        if let Some(e) = E::in_file(self).iter().find(|e| e.id() == id) {
            return Ok(file_view(e));
        }
        let r = self.db.catalog_entry(E::KIND.as_str(), id).await?.ok_or(CatalogError::NotFound)?;
        self.stored_view::<E>(&r)
    }

    fn in_config<E: Entry>(&self, id: &str) -> bool {
        E::in_file(self).iter().any(|e| e.id() == id)
    }

    /// Reads and checks a full entry (write-only fields included): the same rules as the
    /// config file, and a model's client must build.
    async fn check<E: Entry>(&self, full: Map<String, Value>) -> Result<E> {
        let entry: E = serde_json::from_value(Value::Object(full)).map_err(CatalogError::Unreadable)?;
        let chat_models: Vec<String> = match E::KIND {
            Kind::Model => Vec::new(),
            Kind::Assistant => {
                let stored = self.runtime().await?;
                self.config_models
                    .iter()
                    .chain(stored.models.iter())
                    .filter(|m| m.kind == ModelKind::Chat)
                    .map(|m| m.id.clone())
                    .collect()
            }
        };
        entry.check(&|id| chat_models.iter().any(|m| m == id))?;
        Ok(entry)
    }

    fn seal(&self, kind: Kind, id: &str, secrets: &Map<String, Value>) -> Option<Vec<u8>> {
        (!secrets.is_empty())
            .then(|| self.keyring.seal(&aad(kind, id), Value::Object(secrets.clone()).to_string().as_bytes()))
    }

    /// Adds an entry (the config file's keys).
    pub async fn create<E: Entry>(&self, body: EntryBody<E>, by: &str, now: Timestamp) -> Result<E::View> {
        let obj = body.fields()?;
        let id = obj.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let _w = self.writes.lock().await;
        if self.in_config::<E>(&id) {
            return Err(CatalogError::IdInConfigFile);
        }
        let (spec, secrets) = split_secrets(E::KIND, obj.clone());
        let entry: E = self.check(obj).await?;
        let r = CatalogRecord {
            kind: E::KIND.as_str().into(),
            sealed_secrets: self.seal(E::KIND, &id, &secrets),
            id,
            spec: Value::Object(spec).to_string(),
            updated_by: Some(by.to_owned()),
            created_at: now,
            updated_at: now,
        };
        self.db.insert_catalog_entry(&r).await?;
        drop(_w);
        self.reload().await?;
        Ok(entry.view(stored_meta(&r, secrets.into_iter().map(|(k, _)| k).collect())))
    }

    /// Replaces an entry. Write-only fields left out keep their stored values; `""` (or `{}`
    /// for `headers`) removes one. With `expected` (the `version` the caller read), an entry
    /// changed since is refused instead of overwritten.
    pub async fn replace<E: Entry>(
        &self,
        id: &str,
        body: EntryBody<E>,
        by: &str,
        now: Timestamp,
        expected: Option<i64>,
    ) -> Result<E::View> {
        let mut obj = body.fields()?;
        match obj.get("id") {
            None => {
                obj.insert("id".into(), Value::String(id.to_owned()));
            }
            Some(Value::String(x)) if x == id => {}
            Some(_) => return Err(CatalogError::IdChanged),
        }
        let _w = self.writes.lock().await;
        if self.in_config::<E>(id) {
            return Err(CatalogError::ReadOnly);
        }
        let old = self.db.catalog_entry(E::KIND.as_str(), id).await?.ok_or(CatalogError::NotFound)?;
        if expected.is_some_and(|v| v != old.updated_at.millis()) {
            return Err(CatalogError::Changed);
        }
        let (spec, given) = split_secrets(E::KIND, obj);
        let secrets = merge_secrets(self.open_secrets(E::KIND, &old)?, given);
        let mut full = spec.clone();
        full.extend(secrets.clone());
        let entry: E = self.check(full).await?;
        let r = CatalogRecord {
            kind: E::KIND.as_str().into(),
            id: id.to_owned(),
            spec: Value::Object(spec).to_string(),
            sealed_secrets: self.seal(E::KIND, id, &secrets),
            updated_by: Some(by.to_owned()),
            created_at: old.created_at,
            updated_at: now.max(Timestamp::from_millis(old.updated_at.millis() + 1)),
        };
        if !self.db.update_catalog_entry(&r).await? {
            return Err(CatalogError::NotFound);
        }
        drop(_w);
        self.reload().await?;
        Ok(entry.view(stored_meta(&r, secrets.into_iter().map(|(k, _)| k).collect())))
    }

    /// Removes an entry; a model an assistant uses is refused.
    pub async fn delete<E: Entry>(&self, id: &str) -> Result<()> {
        let _w = self.writes.lock().await;
        if self.in_config::<E>(id) {
            return Err(CatalogError::ReadOnly);
        }
        if E::KIND == Kind::Model {
            self.check_model_unused(id).await?;
        }
        if !self.db.delete_catalog_entry(E::KIND.as_str(), id).await? {
            return Err(CatalogError::NotFound);
        }
        drop(_w);
        self.reload().await
    }

    /// Refuses to remove a model an assistant or a knowledge base uses.
    async fn check_model_unused(&self, id: &str) -> Result<()> {
        let rt = self.runtime().await?;
        let users: Vec<String> = self
            .config_assistants
            .iter()
            .chain(rt.assistants.iter())
            .filter(|a| a.model.as_deref() == Some(id))
            .map(|a| a.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(CatalogError::ModelInUse(users));
        }
        if self.db.embedding_model_in_use(id).await? {
            return Err(CatalogError::EmbeddingModelInUse);
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
