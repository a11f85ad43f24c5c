//! Administrators' changes: list, get, create, replace and delete entries stored in the
//! database, with their write-only fields sealed.

use super::*;

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
