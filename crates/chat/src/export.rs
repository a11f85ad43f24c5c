//! A conversation exported as a file: Markdown for people, JSON (the shape of
//! `GET /v1/sessions/{id}`) for programs.

use crate::error::Result;
use crate::service::{ChatService, SessionDetail};
use rampart_core::SessionId;
use rampart_storage::repo::chat::Owner;

/// The formats a conversation exports to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// An exported conversation: its bytes, media type and a file name.
#[derive(Debug)]
pub struct Exported {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub filename: String,
}

/// A file name from a title: letters, digits and dashes, at most 60 characters.
pub fn file_stem(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.chars().count() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() { "conversation".to_owned() } else { out.to_owned() }
}

/// The conversation as Markdown: the title, then each message under who said it; an
/// answer's sources are listed after it.
pub fn markdown(d: &SessionDetail) -> String {
    let mut s = format!("# {}\n", d.title.replace('\n', " "));
    for m in &d.history {
        let who = if m.role == "user" { "You" } else { "Assistant" };
        s.push_str(&format!("\n## {who}\n\n{}\n", m.content.trim_end()));
        let docs = m.parts.as_ref().and_then(|p| p.as_array()).into_iter().flatten();
        let sources: Vec<String> = docs
            .filter(|p| p["type"] == "source")
            .flat_map(|p| p["documents"].as_array().cloned().unwrap_or_default())
            .enumerate()
            .map(|(i, doc)| {
                let title = doc["title"].as_str().or(doc["uri"].as_str()).unwrap_or("source");
                format!("{}. {}", i + 1, title)
            })
            .collect();
        if !sources.is_empty() {
            s.push_str(&format!("\nSources:\n\n{}\n", sources.join("\n")));
        }
    }
    s
}

impl ChatService {
    /// One of the user's conversations, whole, as a file.
    pub async fn export_session(&self, owner: Owner, sid: SessionId, format: ExportFormat) -> Result<Exported> {
        let d = self.get_session(owner, sid).await?;
        let stem = file_stem(&d.title);
        Ok(match format {
            ExportFormat::Markdown => Exported {
                body: markdown(&d).into_bytes(),
                content_type: "text/markdown; charset=utf-8",
                filename: format!("{stem}.md"),
            },
            ExportFormat::Json => Exported {
                body: serde_json::to_vec_pretty(&d)?,
                content_type: "application/json",
                filename: format!("{stem}.json"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("What is S3? (really)"), "what-is-s3-really");
        assert_eq!(file_stem("../../etc/passwd\r\n"), "etc-passwd");
        assert_eq!(file_stem("  "), "conversation");
        assert!(file_stem(&"x".repeat(500)).len() <= 60);
    }
}
