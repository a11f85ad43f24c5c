//! The API's shapes of a catalog entry: the entry types (the [`Entry`] trait), their views
//! and the request body that carries write-only fields.

use super::*;

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

    pub(super) fn fields(self) -> Result<Map<String, Value>> {
        let Value::Object(obj) = self.json else { return Err(CatalogError::NotAnObject) };
        if obj.contains_key("api_key_file") {
            return Err(CatalogError::KeyFile);
        }
        Ok(obj)
    }
}
