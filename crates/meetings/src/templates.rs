//! Meeting templates with LMA's default/custom pattern: the summary's sections (one model call
//! each, `{transcript}` where the transcript goes) and the shortcut buttons of the meeting's
//! assistant panel (a label and the prompt it sends).
//!
//! Two layers per kind. The defaults are the ones this binary ships: written at start-up, and
//! replaced by a binary that ships newer ones ([`DEFAULTS_VERSION`]; an older one starting later
//! leaves them). The custom entries are the administrators': an entry with the key of a default
//! overrides it (or hides it, `enabled: false`, LMA's `NONE`), any other key adds one; no
//! upgrade touches them, and removing one brings the default back. What applies is the merge,
//! ordered by position.

use crate::error::{MeetingError, Result};
use crate::service::MeetingService;
use rampart_core::{Principal, Timestamp};
use rampart_storage::repo::meeting_templates::{Layer, PutOutcome, TemplateRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the defaults below: raise it with every change to them, so that upgraded
/// installations get them at their next start.
pub const DEFAULTS_VERSION: i64 = 1;
/// Where a summary template puts the transcript.
pub const TRANSCRIPT: &str = "{transcript}";
/// Most custom entries per kind.
pub const MAX_CUSTOM: usize = 20;

/// The two kinds of templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TemplateKind {
    /// The summary's sections.
    Summary,
    /// The shortcut buttons of the meeting's assistant panel.
    Shortcuts,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Summary => "summary",
            TemplateKind::Shortcuts => "shortcut",
        }
    }

    fn defaults(self) -> &'static [Shipped] {
        match self {
            TemplateKind::Summary => SUMMARY_DEFAULTS,
            TemplateKind::Shortcuts => SHORTCUT_DEFAULTS,
        }
    }

    fn max_label(self) -> usize {
        match self {
            TemplateKind::Summary => 100,
            TemplateKind::Shortcuts => 40,
        }
    }

    fn max_text(self) -> usize {
        match self {
            TemplateKind::Summary => 20_000,
            TemplateKind::Shortcuts => 2_000,
        }
    }
}

/// A shipped default.
struct Shipped {
    key: &'static str,
    label: &'static str,
    text: &'static str,
}

const SUMMARY_DEFAULTS: &[Shipped] = &[
    Shipped {
        key: "SUMMARY",
        label: "Summary",
        text: "{transcript}\n\nSum up the meeting above in at most five sentences: who took part, what was \
               discussed and what came of it. Start directly with the summary.",
    },
    Shipped {
        key: "DETAILS",
        label: "Details",
        text: "{transcript}\n\nGo through the meeting above topic by topic. For each topic write a `###` heading \
               and short bullet points of what was said, naming who said it where that matters. Start \
               directly with the first topic.",
    },
    Shipped {
        key: "ACTIONS",
        label: "Action items",
        text: "{transcript}\n\nList the action items agreed in the meeting above as Markdown bullets of the form \
               `- [ ] what — owner: who — due: when`. Write `not said` where the owner or the due date was not \
               said. If nothing was agreed, write `No action items.` and nothing else.",
    },
];

const SHORTCUT_DEFAULTS: &[Shipped] = &[
    Shipped {
        key: "summarize",
        label: "Summarize",
        text: "Sum up the meeting so far in a few sentences: the topics and what was decided.",
    },
    Shipped {
        key: "action_items",
        label: "Action items",
        text: "List the action items agreed so far, with their owner and due date where they were said.",
    },
    Shipped { key: "topics", label: "Topics", text: "List the topics discussed so far, most recent last." },
    Shipped {
        key: "ask_assistant",
        label: "Ask assistant",
        text: "Answer the last question asked in the meeting; if there was none, say something useful about \
               what is being discussed now.",
    },
];

/// An entry in effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub key: String,
    pub label: String,
    pub text: String,
    pub position: i64,
}

/// A shortcut button, as the meeting's assistant panel shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Shortcut {
    pub key: String,
    pub label: String,
    /// What pressing it asks the assistant.
    pub prompt: String,
}

/// Where an entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TemplateSource {
    /// Shipped, as shipped.
    Default,
    /// An administrator's entry replacing the shipped one of its key.
    Overridden,
    /// An administrator's entry of a key nothing is shipped under.
    Custom,
}

/// An entry's values.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateValue {
    pub label: String,
    /// The prompt (a summary section's has `{transcript}`).
    pub text: String,
    pub position: i64,
    pub enabled: bool,
}

/// An entry as administrators see it: what applies, and the default it replaces.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    pub key: String,
    #[serde(flatten)]
    pub value: TemplateValue,
    pub source: TemplateSource,
    /// The administrator's entry's version (send it as `If-Match` to change it), if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The shipped default of this key, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<TemplateValue>,
}

/// `PUT /v1/admin/meeting-templates/{kind}/{key}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// One line: a section's heading, a button's label.
    pub label: String,
    /// A summary section's prompt (with `{transcript}`), or the prompt a button sends.
    pub text: String,
    /// Order among the entries (0-1000); default: the default's, or after the others.
    pub position: Option<i64>,
    /// `false` hides the entry (a default is hidden this way). Default `true`.
    pub enabled: Option<bool>,
}

fn value(r: &TemplateRecord) -> TemplateValue {
    TemplateValue { label: r.label.clone(), text: r.body.clone(), position: r.position, enabled: r.enabled }
}

/// The layers of one kind merged: per key, its default and its custom entry.
fn merge(rows: Vec<TemplateRecord>) -> Vec<TemplateView> {
    let mut by_key: BTreeMap<String, (Option<TemplateRecord>, Option<TemplateRecord>)> = BTreeMap::new();
    for r in rows {
        let e = by_key.entry(r.key.clone()).or_default();
        match r.layer {
            Layer::Default => e.0 = Some(r),
            Layer::Custom => e.1 = Some(r),
        }
    }
    let mut out: Vec<TemplateView> = by_key
        .into_iter()
        .filter_map(|(key, (d, c))| {
            let source = match (&d, &c) {
                (_, None) => TemplateSource::Default,
                (Some(_), Some(_)) => TemplateSource::Overridden,
                (None, Some(_)) => TemplateSource::Custom,
            };
            let shown = c.as_ref().or(d.as_ref())?;
            Some(TemplateView {
                value: value(shown),
                source,
                version: c.as_ref().map(|c| c.updated_at.millis()),
                default: d.as_ref().map(value),
                key,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.value.position, &a.key).cmp(&(b.value.position, &b.key)));
    out
}

fn one_line(s: &str, max: usize, what: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(MeetingError::Invalid(format!("{what} must be 1-{max} characters on one line")));
    }
    Ok(t.to_owned())
}

/// A key: 1-40 letters, digits, `_` or `-`.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 40 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(MeetingError::Invalid("key must be 1-40 letters, digits, '_' or '-'".into()));
    }
    Ok(())
}

fn check_text(kind: TemplateKind, text: &str) -> Result<()> {
    let max = kind.max_text();
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(MeetingError::Invalid(format!("text must be 1-{max} characters")));
    }
    if kind == TemplateKind::Summary && !text.contains(TRANSCRIPT) {
        return Err(MeetingError::Invalid(format!("a summary template must contain {TRANSCRIPT}")));
    }
    Ok(())
}

fn shipped(kind: TemplateKind, now: Timestamp) -> Vec<TemplateRecord> {
    kind.defaults()
        .iter()
        .zip(1..)
        .map(|(s, i)| TemplateRecord {
            kind: kind.as_str().to_owned(),
            layer: Layer::Default,
            key: s.key.to_owned(),
            label: s.label.to_owned(),
            body: s.text.to_owned(),
            position: i * 10,
            enabled: true,
            updated_by: None,
            updated_at: now,
        })
        .collect()
}

impl MeetingService {
    /// At start-up: writes the shipped defaults of both kinds, unless newer ones are stored.
    pub async fn install_default_templates(&self) -> Result<()> {
        for kind in [TemplateKind::Summary, TemplateKind::Shortcuts] {
            let rows = shipped(kind, self.now());
            if !self.db().replace_default_templates(kind.as_str(), DEFAULTS_VERSION, &rows).await? {
                tracing::warn!(kind = kind.as_str(), "newer meeting templates are stored than this binary ships; kept");
            }
        }
        Ok(())
    }

    /// Every entry of a kind, enabled or not, as administrators see them.
    pub async fn templates(&self, kind: TemplateKind) -> Result<Vec<TemplateView>> {
        Ok(merge(self.db().meeting_templates(kind.as_str()).await?))
    }

    /// The entries of a kind that apply, in order.
    pub async fn templates_in_effect(&self, kind: TemplateKind) -> Result<Vec<Template>> {
        Ok(self
            .templates(kind)
            .await?
            .into_iter()
            .filter(|v| v.value.enabled)
            .map(|v| Template { key: v.key, label: v.value.label, text: v.value.text, position: v.value.position })
            .collect())
    }

    /// The shortcut buttons that apply, for every user.
    pub async fn shortcuts(&self) -> Result<Vec<Shortcut>> {
        let all = self.templates_in_effect(TemplateKind::Shortcuts).await?;
        Ok(all.into_iter().map(|t| Shortcut { key: t.key, label: t.label, prompt: t.text }).collect())
    }

    /// Stores an administrator's entry of `key`; with `expected`, only if their entry still has
    /// that version.
    pub async fn put_template(
        &self,
        by: &Principal,
        kind: TemplateKind,
        key: &str,
        input: &TemplateInput,
        expected: Option<i64>,
    ) -> Result<TemplateView> {
        check_key(key)?;
        let label = one_line(&input.label, kind.max_label(), "label")?;
        check_text(kind, &input.text)?;
        let all = self.templates(kind).await?;
        let position = match (input.position, all.iter().find(|v| v.key == key)) {
            (Some(p), _) if !(0..=1000).contains(&p) => {
                return Err(MeetingError::Invalid("position must be between 0 and 1000".into()));
            }
            (Some(p), _) => p,
            (None, Some(v)) => v.value.position,
            (None, None) => all.iter().map(|v| v.value.position).max().unwrap_or(0).saturating_add(10).min(1000),
        };
        let rec = TemplateRecord {
            kind: kind.as_str().to_owned(),
            layer: Layer::Custom,
            key: key.to_owned(),
            label,
            body: input.text.clone(),
            position,
            enabled: input.enabled.unwrap_or(true),
            updated_by: Some(by.user_id.to_string()),
            updated_at: self.now(),
        };
        match self.db().put_custom_template(&rec, expected, MAX_CUSTOM).await? {
            PutOutcome::Stored => {}
            PutOutcome::Changed => return Err(MeetingError::Changed),
            PutOutcome::Full => {
                return Err(MeetingError::Invalid(format!("at most {MAX_CUSTOM} entries of a kind may be added")));
            }
        }
        self.templates(kind).await?.into_iter().find(|v| v.key == key).ok_or(MeetingError::NotFound)
    }

    /// Removes the administrators' entry of `key`: the default applies again (an added entry
    /// is gone). Not found when there is none.
    pub async fn reset_template(&self, kind: TemplateKind, key: &str) -> Result<()> {
        match self.db().delete_custom_template(kind.as_str(), key).await? {
            true => Ok(()),
            false => Err(MeetingError::NotFound),
        }
    }

    /// Removes every administrators' entry of a kind.
    pub async fn reset_templates(&self, kind: TemplateKind) -> Result<u64> {
        Ok(self.db().delete_custom_templates(kind.as_str()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, layer: Layer, label: &str, position: i64, enabled: bool) -> TemplateRecord {
        TemplateRecord {
            kind: "summary".into(),
            layer,
            key: key.into(),
            label: label.into(),
            body: TRANSCRIPT.into(),
            position,
            enabled,
            updated_by: None,
            updated_at: Timestamp::from_millis(7),
        }
    }

    #[test]
    fn custom_entries_override_hide_and_add() {
        let rows = vec![
            rec("A", Layer::Default, "a", 10, true),
            rec("B", Layer::Default, "b", 20, true),
            rec("B", Layer::Custom, "mine", 5, true),
            rec("C", Layer::Default, "c", 30, true),
            rec("C", Layer::Custom, "c", 30, false),
            rec("D", Layer::Custom, "new", 40, true),
        ];
        let v = merge(rows);
        let shown: Vec<(&str, &str, TemplateSource, bool)> =
            v.iter().map(|v| (v.key.as_str(), v.value.label.as_str(), v.source, v.value.enabled)).collect();
        assert_eq!(
            shown,
            vec![
                ("B", "mine", TemplateSource::Overridden, true),
                ("A", "a", TemplateSource::Default, true),
                ("C", "c", TemplateSource::Overridden, false),
                ("D", "new", TemplateSource::Custom, true),
            ]
        );
        assert_eq!(v[0].default.as_ref().map(|d| d.label.as_str()), Some("b"));
        assert_eq!((v[0].version, v[1].version), (Some(7), None));
    }

    #[test]
    fn shipped_defaults_are_valid_and_summaries_quote_the_transcript() {
        for kind in [TemplateKind::Summary, TemplateKind::Shortcuts] {
            for s in kind.defaults() {
                check_key(s.key).unwrap();
                one_line(s.label, kind.max_label(), "label").unwrap();
                check_text(kind, s.text).unwrap();
            }
        }
        let keys: Vec<&str> = SUMMARY_DEFAULTS.iter().map(|s| s.key).collect();
        assert_eq!(keys, ["SUMMARY", "DETAILS", "ACTIONS"]);
        assert!(check_text(TemplateKind::Summary, "no placeholder").is_err());
        assert!(check_text(TemplateKind::Shortcuts, "fine").is_ok());
        assert!(check_key("bad key").is_err() && one_line("two\nlines", 40, "label").is_err());
    }
}
