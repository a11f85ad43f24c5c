//! The `[chat]` section (the chat service's settings) and `[[assistants]]` entries (also what
//! administrators add through `/v1/admin/assistants`).

use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur, check_id};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Allowed feedback reasons (GAIA's `userFeedback.reasons`).
    pub feedback_reasons: Vec<String>,
    /// A session's title is its first user message, cut to this many characters.
    pub title_chars: usize,
    /// How often a replica checks for models and assistants changed by administrators
    /// elsewhere (changes made through this replica apply at once).
    pub catalog_refresh: Dur,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            feedback_reasons: ["accuracy", "unhelpful", "app_issue", "other"].map(String::from).to_vec(),
            title_chars: 100,
            catalog_refresh: Dur::secs(10),
        }
    }
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

impl ChatConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.feedback_reasons.is_empty() || self.feedback_reasons.iter().any(|r| r.is_empty() || r.len() > 64) {
            return Err(err("feedback_reasons", "must list 1-64 character reasons"));
        }
        if !(10..=1000).contains(&self.title_chars) {
            return Err(err("title_chars", "must be between 10 and 1000"));
        }
        if self.catalog_refresh.0 < Duration::from_millis(100) {
            return Err(err("catalog_refresh", "must be at least 100ms"));
        }
        Ok(())
    }
}

/// Write-only fields of an assistant: stored sealed, never shown.
pub const ASSISTANT_SECRETS: &[&str] = &["webhook_secret"];

/// How an assistant answers (its `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssistantType {
    /// A configured chat model.
    Model,
    /// Knowledge bases, with citations (and a model to write the answer, optionally).
    Rag,
    /// The operator's HTTP webhook.
    Custom,
    /// Rampart's built-in responder.
    Extractive,
}

impl AssistantType {
    pub fn as_str(self) -> &'static str {
        match self {
            AssistantType::Model => "model",
            AssistantType::Rag => "rag",
            AssistantType::Custom => "custom",
            AssistantType::Extractive => "extractive",
        }
    }
}

/// An assistant: a named way of answering (`[[assistants]]`, or `/v1/admin/assistants`).
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistantConfig {
    /// What clients name as `model`: 1-64 characters of a-z, 0-9, `-`, `_`, `.`, unique among
    /// assistants.
    pub id: String,
    /// What people see in the assistant picker (1-80 characters; default: the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A line or two under the name in the picker: what it is good for (at most 500 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `model`, `rag`, `custom` (the operator's HTTP webhook) or `extractive`.
    pub kind: AssistantType,
    /// `model` (required) and `rag` (optional: without one, the answer quotes the best
    /// passages): the id of a chat model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Instructions that come before every conversation (at most 32 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// The most tokens an answer may have (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_max_tokens: Option<u32>,
    /// Sampling temperature, 0-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_temperature: Option<f32>,
    /// Nucleus sampling (top p), 0-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_top_p: Option<f32>,
    /// Groups allowed to use it; empty: every signed-in user.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `custom`: the webhook's URL (http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// `custom`: the HMAC-SHA256 key the webhook's requests are signed with (at least 32
    /// characters).
    #[serde(default, skip_serializing_if = "rampart_core::config::write_only")]
    #[schema(value_type = Option<String>, write_only)]
    pub webhook_secret: Option<Secret<String>>,
    /// `custom`: the time allowed for the webhook's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(default = "1m")]
    pub webhook_timeout: Option<Dur>,
    /// `rag`: the knowledge bases searched (1-20 names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge_bases: Vec<String>,
    /// `rag`: passages retrieved per question (GAIA's `kbNumberOfResults`), 1-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(default = 5)]
    pub kb_number_of_results: Option<usize>,
    /// `rag`: the prompt the passages go into (GAIA's `promptTemplate`): `$search_results$`
    /// (required) becomes the passages, `$output_format_instructions$` the citation
    /// instructions. Unset: the built-in template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// `rag`: whether answers cite passages inline (GAIA's `displayInlineCitations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(default = true)]
    pub display_inline_citations: Option<bool>,
}

impl AssistantConfig {
    /// Checks one entry on its own. That `model` names a chat model is checked by whoever
    /// knows the models.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_id(&self.id)?;
        self.validate_labels()?;
        match self.kind {
            AssistantType::Model if self.model.is_none() => {
                return Err(err("model", "kind \"model\" needs model = \"<a models id>\""));
            }
            AssistantType::Custom => self.validate_custom()?,
            AssistantType::Rag => self.validate_rag()?,
            AssistantType::Model | AssistantType::Extractive => {}
        }
        self.validate_keys_of_kind()?;
        self.validate_inference()
    }

    /// The picker's name and description.
    fn validate_labels(&self) -> Result<(), ConfigError> {
        if let Some(n) = &self.name
            && (n.trim().is_empty() || n.chars().count() > 80 || n.chars().any(char::is_control))
        {
            return Err(err("name", "must be 1-80 characters on one line"));
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
            return Err(err("description", "must be at most 500 characters"));
        }
        Ok(())
    }

    fn validate_custom(&self) -> Result<(), ConfigError> {
        let u = self.webhook_url.as_deref().ok_or_else(|| err("webhook_url", "kind \"custom\" needs webhook_url"))?;
        let parsed = url::Url::parse(u).map_err(|_| err("webhook_url", "is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() {
            return Err(err("webhook_url", "must be an http(s) URL without credentials"));
        }
        if self.webhook_secret.as_ref().is_none_or(|s| s.expose().len() < 32) {
            return Err(err("webhook_secret", "kind \"custom\" needs webhook_secret of at least 32 characters"));
        }
        Ok(())
    }

    fn validate_rag(&self) -> Result<(), ConfigError> {
        if self.knowledge_bases.is_empty() || self.knowledge_bases.len() > 20 {
            return Err(err("knowledge_bases", "kind \"rag\" needs knowledge_bases = [\"<name>\", …] (1-20)"));
        }
        if self.kb_number_of_results.is_some_and(|n| !(1..=100).contains(&n)) {
            return Err(err("kb_number_of_results", "must be 1-100"));
        }
        if let Some(t) = &self.prompt_template
            && (!t.contains("$search_results$") || t.len() > 32 * 1024)
        {
            return Err(err("prompt_template", "must contain $search_results$ (and be at most 32 KiB)"));
        }
        Ok(())
    }

    /// Keys that belong to another kind.
    fn validate_keys_of_kind(&self) -> Result<(), ConfigError> {
        if !matches!(self.kind, AssistantType::Model | AssistantType::Rag) && self.model.is_some() {
            return Err(err("model", "is for kinds \"model\" and \"rag\""));
        }
        let rag_keys = [
            ("knowledge_bases", !self.knowledge_bases.is_empty()),
            ("kb_number_of_results", self.kb_number_of_results.is_some()),
            ("prompt_template", self.prompt_template.is_some()),
            ("display_inline_citations", self.display_inline_citations.is_some()),
        ];
        if self.kind != AssistantType::Rag
            && let Some((key, _)) = rag_keys.iter().find(|(_, set)| *set)
        {
            return Err(err(
                key,
                "knowledge_bases, kb_number_of_results, prompt_template and display_inline_citations are for kind \"rag\"",
            ));
        }
        if self.kind != AssistantType::Custom && (self.webhook_url.is_some() || self.webhook_secret.is_some()) {
            let key = if self.webhook_url.is_some() { "webhook_url" } else { "webhook_secret" };
            return Err(err(key, "webhook_url and webhook_secret are for kind \"custom\""));
        }
        Ok(())
    }

    fn validate_inference(&self) -> Result<(), ConfigError> {
        if self.inference_temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return Err(err("inference_temperature", "must be 0-2"));
        }
        if self.inference_top_p.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            return Err(err("inference_top_p", "must be 0-1"));
        }
        if self.inference_max_tokens.is_some_and(|t| t == 0) {
            return Err(err("inference_max_tokens", "must be at least 1"));
        }
        if self.system_prompt.as_ref().is_some_and(|p| p.len() > 32 * 1024) {
            return Err(err("system_prompt", "is longer than 32 KiB"));
        }
        if self.groups.len() > 100 || self.groups.iter().any(|g| g.is_empty() || g.len() > 128) {
            return Err(err("groups", "must be at most 100 names of 1-128 characters"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: serde_json::Value) -> AssistantConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn entries_are_checked_by_key() {
        let key = |v| entry(v).validate().unwrap_err().key;
        assert_eq!(key(serde_json::json!({"id": "a", "kind": "rag"})), "knowledge_bases");
        assert_eq!(key(serde_json::json!({"id": "a", "kind": "model"})), "model");
        assert_eq!(key(serde_json::json!({"id": "Bad Id", "kind": "extractive"})), "id");
        assert_eq!(
            key(
                serde_json::json!({"id": "a", "kind": "custom", "webhook_url": "https://x", "webhook_secret": "short"})
            ),
            "webhook_secret"
        );
        assert_eq!(
            key(serde_json::json!({"id": "a", "kind": "extractive", "prompt_template": "x"})),
            "prompt_template"
        );
        assert!(entry(serde_json::json!({"id": "a", "kind": "rag", "knowledge_bases": ["kb"]})).validate().is_ok());
        let e = serde_json::from_value::<AssistantConfig>(serde_json::json!({"id": "a", "kind": "oracle"}));
        assert!(e.unwrap_err().to_string().contains("unknown variant"));
        let json = serde_json::to_value(entry(serde_json::json!({"id": "a", "kind": "extractive"}))).unwrap();
        assert_eq!(json, serde_json::json!({"id": "a", "kind": "extractive", "groups": []}));
    }

    #[test]
    fn the_schema_lists_the_secret_as_write_only() {
        let s = serde_json::to_value(<AssistantConfig as utoipa::PartialSchema>::schema()).unwrap();
        assert!(s["properties"]["kind"].is_object(), "{s}");
        assert_eq!(s["properties"]["webhook_secret"]["writeOnly"], true, "{s}");
        let k = serde_json::to_value(<AssistantType as utoipa::PartialSchema>::schema()).unwrap();
        assert!(k.to_string().contains("\"extractive\""), "{k}");
    }

    #[test]
    fn the_chat_section_is_checked() {
        assert!(ChatConfig::default().validate().is_ok());
        let c = ChatConfig { title_chars: 5, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "title_chars");
    }
}
