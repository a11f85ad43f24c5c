//! Keeping a conversation list in order: rename, pin, archive; and searching one's own
//! conversations by title and content.
//!
//! Search decrypts and matches, per user, with a cap — no search index. Titles and messages are
//! sealed at rest (AES-GCM, the record id as associated data); a searchable index would have
//! to hold either the plaintext terms or deterministic tokens of them, and deterministic tokens
//! leak which conversations share words and how often, to anyone who reads the database — the
//! very reader encryption at rest is against. A user's own conversations are few enough (and
//! searched rarely enough) that opening them on demand is cheap: one request opens at most
//! [`SEARCH_SESSIONS_PER_PAGE`] conversations and [`SEARCH_MESSAGES_PER_SESSION`] messages of
//! each, newest first, and returns a cursor to go on from where it stopped, so a long history is
//! searched in bounded steps rather than in one unbounded request.

use crate::error::{ChatError, Result};
use crate::service::{ChatService, SessionSummary, content_aad, title_aad};
use rampart_core::{KnowledgeBaseId, Page, PageRequest, Principal, SessionId, UserId};
use rampart_storage::repo::chat::{Owner, SessionChange, SessionRecord, Shelf, session_cursor};
use serde::{Deserialize, Serialize};

/// Longest title a user may give a conversation.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest search text.
pub const MAX_QUERY_CHARS: usize = 200;
/// Conversations one search request opens at most.
pub const SEARCH_SESSIONS_PER_PAGE: u32 = 100;
/// Messages of one conversation a search opens at most (the newest).
pub const SEARCH_MESSAGES_PER_SESSION: u32 = 500;
/// Characters of context on each side of a match in a snippet.
const SNIPPET_CONTEXT: usize = 60;

/// `PATCH /v1/sessions/{id}`: what to change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPatch {
    /// 1-200 characters.
    pub title: Option<String>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    /// The knowledge bases chosen in the chat (at most 20, each readable by the caller), kept
    /// so that it reopens with them; `[]` forgets the choice.
    #[serde(rename = "knowledgeBases")]
    pub knowledge_bases: Option<Vec<KnowledgeBaseId>>,
}

/// A conversation a search found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    #[serde(flatten)]
    pub session: SessionSummary,
    /// Where it matched: `title` or `message`.
    pub matched: &'static str,
    /// The matching text with some context (the title when the title matched).
    pub snippet: String,
}

/// One step of a search: the conversations found among those opened, and where to go on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    /// Pass as `cursor` to search the conversations after these; absent when all were searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// How many conversations this step opened.
    pub searched: usize,
}

/// One character in lower case, kept one character (so positions line up with the text).
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// `text` around the first case-insensitive occurrence of `needle` (already lower case).
pub fn snippet(text: &str, needle: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars.iter().map(|c| fold(*c)).collect();
    let n: Vec<char> = needle.chars().collect();
    let at = lower.windows(n.len().max(1)).position(|w| w == n.as_slice())?;
    let from = at.saturating_sub(SNIPPET_CONTEXT);
    let to = (at + n.len() + SNIPPET_CONTEXT).min(chars.len());
    let mut s: String = chars[from..to].iter().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ");
    if from > 0 {
        s.insert(0, '…');
    }
    if to < chars.len() {
        s.push('…');
    }
    Some(s)
}

fn lower_needle(q: &str) -> Result<String> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(ChatError::Invalid(format!("q must be 1-{MAX_QUERY_CHARS} characters")));
    }
    Ok(q.chars().map(fold).collect())
}

impl ChatService {
    /// Renames, pins, archives or unarchives one of the user's conversations.
    pub async fn change_session(&self, who: &Principal, sid: SessionId, p: &SessionPatch) -> Result<SessionSummary> {
        let user = who.user_id;
        if let Some(kbs) = &p.knowledge_bases {
            self.check_chosen(who, kbs).await?;
        }
        let title = match &p.title {
            Some(t) => {
                let t = t.trim();
                if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control) {
                    return Err(ChatError::Invalid(format!(
                        "title must be 1-{MAX_TITLE_CHARS} characters on one line"
                    )));
                }
                Some(self.keyring().seal(&title_aad(sid), t.as_bytes()))
            }
            None => None,
        };
        let now = self.now();
        let mut kbs = p.knowledge_bases.clone();
        if let Some(k) = kbs.as_mut() {
            k.sort();
            k.dedup();
        }
        let change = SessionChange {
            sealed_title: title,
            pinned: p.pinned,
            archived_at: p.archived.map(|a| a.then_some(now)),
            knowledge_bases: kbs,
        };
        if !self.db().change_session(user, sid, &change).await? {
            return Err(ChatError::NotFound);
        }
        let s = self.db().session(Owner::User(user), sid).await?.ok_or(ChatError::NotFound)?;
        self.summary(&s)
    }

    /// The user's conversations (archived ones too) whose title or messages contain `q`, case
    /// insensitively; see the module's note for the cap and the cursor.
    pub async fn search_sessions(&self, user: UserId, q: &str, page: &PageRequest) -> Result<SearchPage> {
        let needle = lower_needle(q)?;
        let want = page.limit() as usize;
        let mut cursor = page.cursor.clone();
        let mut items = Vec::new();
        let mut searched = 0usize;
        loop {
            let step = PageRequest { limit: Some(25), cursor: cursor.clone() };
            let Page { items: batch, next_cursor } =
                self.db().list_sessions(Owner::User(user), Shelf::All, &step).await?;
            for (i, s) in batch.iter().enumerate() {
                searched += 1;
                if let Some(hit) = self.match_session(s, &needle).await? {
                    items.push(hit);
                }
                cursor = Some(session_cursor(s));
                if items.len() >= want || searched >= SEARCH_SESSIONS_PER_PAGE as usize {
                    let more = i + 1 < batch.len() || next_cursor.is_some();
                    return Ok(SearchPage { items, next_cursor: cursor.filter(|_| more), searched });
                }
            }
            if next_cursor.is_none() {
                return Ok(SearchPage { items, next_cursor: None, searched });
            }
        }
    }

    async fn match_session(&self, s: &SessionRecord, needle: &str) -> Result<Option<SearchHit>> {
        let title = self.title(s)?;
        if let Some(snip) = snippet(&title, needle) {
            return Ok(Some(SearchHit { session: self.summary(s)?, matched: "title", snippet: snip }));
        }
        for m in self.db().session_messages(s.id, SEARCH_MESSAGES_PER_SESSION).await?.iter().rev() {
            let text = self.open(&content_aad(m.id), &m.sealed_content)?;
            if let Some(snip) = snippet(&text, needle) {
                return Ok(Some(SearchHit { session: self.summary(s)?, matched: "message", snippet: snip }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn snippets_find_case_insensitively_and_trim_context() {
        assert_eq!(snippet("Annual Leave rules", "leave").as_deref(), Some("Annual Leave rules"));
        assert_eq!(snippet("nothing here", "leave"), None);
        let long = format!("{} needle {}", "a ".repeat(100), "b ".repeat(100));
        let s = snippet(&long, "needle").unwrap_or_default();
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("needle"), "{s}");
        assert!(s.chars().count() < 140, "{s}");
        assert_eq!(snippet("Ünïcode ÄBC", "äbc").as_deref(), Some("Ünïcode ÄBC"));
    }
}
