//! The chat service: sessions, history, feedback.

use crate::error::{ChatError, Result};
use rampart_core::clock::SharedClock;
use rampart_core::{FeedbackId, MessageId, Page, PageRequest, SessionId, Timestamp, UserId};
use rampart_crypto::Keyring;
use rampart_storage::Db;
use rampart_storage::repo::branches::Under;
use rampart_storage::repo::chat::{FeedbackRecord, NewFeedback, NewMessage, Owner, SessionRecord, Shelf};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Longest feedback text (GAIA: 1,000 characters).
pub const MAX_FEEDBACK_TEXT: usize = 1000;
/// Longest date range for the administrators' feedback view.
pub const MAX_FEEDBACK_RANGE_DAYS: i64 = 730;
/// Longest message accepted into a session.
pub const MAX_MESSAGE_CHARS: usize = 100_000;

pub use crate::config::ChatConfig;

type Interruptions = Arc<Vec<rampart_storage::repo::interruptions::InterruptionRecord>>;

/// How long the list of active service interruptions is reused before it is read again.
pub const INTERRUPTIONS_TTL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Clone)]
pub struct ChatService {
    db: Db,
    keyring: Keyring,
    clock: SharedClock,
    config: ChatConfig,
    /// Active service interruptions as last read, and when (see `interruption_message`).
    interruptions: Arc<std::sync::Mutex<Option<(std::time::Instant, Interruptions)>>>,
    /// Knowledge-base retrieval for `rag` assistants (set once at start-up).
    retriever: Arc<std::sync::OnceLock<Arc<dyn crate::rag::Retriever>>>,
    /// Generations in flight, so they can be stopped and capped.
    runs: Arc<crate::runs::Runs>,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatService")
    }
}

/// An item of `GET /v1/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub id: SessionId,
    pub title: String,
    /// Unix seconds of the last message.
    pub date_modified: i64,
    /// Listed before the others.
    pub pinned: bool,
    /// In the archived list (`GET /v1/sessions?archived=true`), not the everyday one.
    pub archived: bool,
    /// Rampart's extension: the knowledge bases chosen in the chat (`PATCH` sets them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub knowledge_bases: Vec<rampart_core::KnowledgeBaseId>,
}

/// Response metadata of an assistant message.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageMetadata {
    pub model_id: String,
    pub response_time_ms: i64,
}

/// A message of a session's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryMessage {
    pub id: MessageId,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// Assistant messages: `text` parts with `citationSpans`, `source` parts with documents,
    /// `steps` parts with the tool steps of the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub parts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MessageMetadata>,
    /// Rampart's extension (branches): the message this one follows; absent for a first one.
    #[serde(rename = "parentId", skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<MessageId>,
    /// Rampart's extension (branches): this message and its alternatives (edits of a
    /// question, regenerated answers), oldest first; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<MessageId>,
}

/// `GET /v1/sessions/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetail {
    pub id: SessionId,
    pub title: String,
    pub date_modified: i64,
    pub user_id: UserId,
    /// Oldest first: the whole history, or with `limit` the newest `limit` messages (before
    /// `cursor`).
    pub history: Vec<HistoryMessage>,
    /// Rampart's extension: the knowledge bases chosen in the chat (`PATCH` sets them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub knowledge_bases: Vec<rampart_core::KnowledgeBaseId>,
    /// With `limit`, when earlier messages exist: the `cursor` that reads the page before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earlier_cursor: Option<String>,
}

/// `POST /v1/feedback` (GAIA's payload, snake_case as in seed 002).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub session_id: SessionId,
    pub message_id: MessageId,
    /// `thumbs_up` or `thumbs_down`.
    pub rating: String,
    /// Required for `thumbs_down`; one of the configured reasons.
    pub reason: Option<String>,
    /// At most 1,000 characters.
    pub text_feedback: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedbackView {
    pub id: FeedbackId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub message_id: MessageId,
    pub rating: String,
    pub reason: Option<String>,
    pub text_feedback: Option<String>,
    pub created_at: Timestamp,
}

pub(crate) fn title_aad(s: SessionId) -> Vec<u8> {
    format!("chat_session_title:{s}").into_bytes()
}
pub(crate) fn content_aad(m: MessageId) -> Vec<u8> {
    format!("chat_message:{m}").into_bytes()
}
pub(crate) fn parts_aad(m: MessageId) -> Vec<u8> {
    format!("chat_message_parts:{m}").into_bytes()
}
fn feedback_aad(f: FeedbackId) -> Vec<u8> {
    format!("feedback_text:{f}").into_bytes()
}

impl ChatService {
    pub fn new(db: Db, keyring: Keyring, clock: SharedClock, config: ChatConfig) -> Self {
        Self {
            db,
            keyring,
            clock,
            config,
            interruptions: Arc::default(),
            retriever: Arc::default(),
            runs: Arc::default(),
        }
    }

    pub(crate) fn cached_interruptions(&self) -> Option<Interruptions> {
        let g = self.interruptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.as_ref().filter(|(at, _)| at.elapsed() < INTERRUPTIONS_TTL).map(|(_, l)| l.clone())
    }

    pub(crate) fn remember_interruptions(&self, list: Interruptions) {
        *self.interruptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((std::time::Instant::now(), list));
    }

    pub(crate) fn forget_interruptions(&self) {
        *self.interruptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Connects `rag` assistants to the knowledge bases.
    pub fn set_retriever(&self, r: Arc<dyn crate::rag::Retriever>) {
        let _ = self.retriever.set(r);
    }

    pub(crate) fn retriever(&self) -> Option<&Arc<dyn crate::rag::Retriever>> {
        self.retriever.get()
    }

    /// The registry of running generations (`stop`, the per-user cap).
    pub fn runs(&self) -> &Arc<crate::runs::Runs> {
        &self.runs
    }

    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<String> {
        let bytes = self.keyring.open(aad, sealed)?;
        String::from_utf8(bytes).map_err(|_| ChatError::Stored("not UTF-8"))
    }

    pub(crate) fn title(&self, s: &SessionRecord) -> Result<String> {
        self.open(&title_aad(s.id), &s.sealed_title)
    }

    /// Stores a user message, creating the session (titled by this first message) if it does
    /// not exist yet. `None` if the session id belongs to someone else.
    pub async fn add_user_message(
        &self,
        user: UserId,
        sid: SessionId,
        assistant_id: &str,
        text: &str,
    ) -> Result<Option<MessageId>> {
        if text.trim().is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ChatError::Invalid(format!("text must be 1-{MAX_MESSAGE_CHARS} characters")));
        }
        let now = self.clock.now();
        self.create_session_if_new(user, sid, assistant_id, text).await?;
        let mid = MessageId::new();
        let sealed = self.keyring.seal(&content_aad(mid), text.as_bytes());
        let msg = NewMessage {
            id: mid,
            role: "user",
            sealed_content: &sealed,
            sealed_parts: None,
            model_id: None,
            response_time_ms: None,
        };
        Ok(self.db.append_messages(sid, user, &[msg], now).await?.then_some(mid))
    }

    /// Creates the session, titled by `title` (its first message, or the first file attached
    /// to it), unless it exists (whoever's it is: the caller's next step finds out).
    pub async fn create_session_if_new(
        &self,
        user: UserId,
        sid: SessionId,
        assistant_id: &str,
        title: &str,
    ) -> Result<()> {
        if self.db.session(Owner::Anyone, sid).await?.is_some() {
            return Ok(());
        }
        let title: String = title.trim().chars().take(self.config.title_chars).collect();
        let sealed = self.keyring.seal(&title_aad(sid), title.as_bytes());
        match self.db.create_session(sid, user, assistant_id, &sealed, self.clock.now()).await {
            Ok(()) | Err(rampart_storage::StorageError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The user's chat about a meeting (`meeting`: its key) or about all their past meetings
    /// ([`rampart_storage::repo::chat::PAST_MEETINGS`]), made on first use with `title`. The caller has
    /// checked that the user may read the meeting.
    pub async fn meeting_chat(
        &self,
        user: UserId,
        meeting: &str,
        assistant_id: &str,
        title: &str,
    ) -> Result<SessionId> {
        let sid = SessionId::new();
        let title: String = title.trim().chars().take(self.config.title_chars).collect();
        let sealed = self.keyring.seal(&title_aad(sid), title.as_bytes());
        Ok(self.db.meeting_chat(user, meeting, (sid, assistant_id, &sealed), self.clock.now()).await?)
    }

    /// The user's chat about `meeting`, if they have one (see [`ChatService::meeting_chat`]).
    pub async fn find_meeting_chat(&self, user: UserId, meeting: &str) -> Result<Option<SessionId>> {
        Ok(self.db.find_meeting_chat(user, meeting).await?)
    }

    /// A session of the user's as a turn needs it, in one read: the assistant it was started
    /// with, and what it is about when it is a meeting assistant panel's chat (a meeting's key,
    /// or `PAST_MEETINGS`). `None`: no such session of theirs (a new chat).
    pub async fn session_setup(&self, user: UserId, sid: SessionId) -> Result<Option<(String, Option<String>)>> {
        Ok(self.db.session(Owner::User(user), sid).await?.map(|s| (s.assistant_id, s.meeting)))
    }

    /// The assistant a session of the user's was started with; `None` if there is no such session.
    pub async fn session_assistant(&self, user: UserId, sid: SessionId) -> Result<Option<String>> {
        Ok(self.db.session(Owner::User(user), sid).await?.map(|s| s.assistant_id))
    }

    /// Stores an assistant reply. `None` if the session is not the user's (or was deleted).
    pub async fn add_assistant_message(
        &self,
        user: UserId,
        sid: SessionId,
        text: &str,
        parts: Option<&Value>,
        model_id: &str,
        response_time_ms: i64,
    ) -> Result<Option<MessageId>> {
        self.add_answer(user, sid, Under::Leaf, text, parts, model_id, response_time_ms).await
    }

    /// Stores an assistant reply under `under` (its question), making it the active leaf.
    #[expect(clippy::too_many_arguments, reason = "the stored columns of an answer")]
    pub async fn add_answer(
        &self,
        user: UserId,
        sid: SessionId,
        under: Under,
        text: &str,
        parts: Option<&Value>,
        model_id: &str,
        response_time_ms: i64,
    ) -> Result<Option<MessageId>> {
        let mid = MessageId::new();
        let sealed = self.keyring.seal(&content_aad(mid), text.as_bytes());
        let parts_json = parts.map(|p| p.to_string());
        let sealed_parts = parts_json.map(|p| self.keyring.seal(&parts_aad(mid), p.as_bytes()));
        let msg = NewMessage {
            id: mid,
            role: "assistant",
            sealed_content: &sealed,
            sealed_parts: sealed_parts.as_deref(),
            model_id: Some(model_id),
            response_time_ms: Some(response_time_ms),
        };
        Ok(self.db.append_under(sid, user, under, &[msg], self.clock.now()).await?.then_some(mid))
    }

    /// Rewrites answer `mid` of the user's session (the reply streamed so far, or its end).
    /// `Ok(false)` if it is not there any more.
    pub(crate) async fn update_answer(
        &self,
        user: UserId,
        sid: SessionId,
        mid: MessageId,
        text: &str,
        parts: Option<&Value>,
        response_time_ms: i64,
    ) -> Result<bool> {
        let sealed = self.keyring.seal(&content_aad(mid), text.as_bytes());
        let sealed_parts = parts.map(|p| self.keyring.seal(&parts_aad(mid), p.to_string().as_bytes()));
        Ok(self.db.update_answer(user, sid, mid, &sealed, sealed_parts.as_deref(), response_time_ms).await?)
    }

    pub async fn list_sessions(&self, owner: Owner, shelf: Shelf, page: &PageRequest) -> Result<Page<SessionSummary>> {
        let p = self.db.list_sessions(owner, shelf, page).await?;
        let items = p.items.iter().map(|s| self.summary(s)).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor: p.next_cursor })
    }

    pub(crate) fn summary(&self, s: &SessionRecord) -> Result<SessionSummary> {
        Ok(SessionSummary {
            id: s.id,
            title: self.title(s)?,
            date_modified: s.updated_at.secs(),
            pinned: s.pinned,
            archived: s.archived_at.is_some(),
            knowledge_bases: s.knowledge_bases.clone(),
        })
    }

    pub async fn get_session(&self, owner: Owner, sid: SessionId) -> Result<SessionDetail> {
        self.get_session_page(owner, sid, None).await
    }

    /// A session with its history: all of it (`page` = None), or the page of it `page` names
    /// (newest first from the storage, returned oldest first like the whole history). Only the
    /// messages of the page are read and decrypted.
    pub async fn get_session_page(
        &self,
        owner: Owner,
        sid: SessionId,
        page: Option<&PageRequest>,
    ) -> Result<SessionDetail> {
        let s = self.db.session(owner, sid).await?.ok_or(ChatError::NotFound)?;
        let (records, earlier_cursor) = match page {
            None => (self.db.session_messages(sid, u32::MAX).await?, None),
            Some(p) => {
                let mut pg = self.db.session_history(sid, p).await?;
                pg.items.reverse();
                (pg.items, pg.next_cursor)
            }
        };
        let tree = crate::branches::Tree::new(self.db.session_tree(sid).await?);
        let mut history = Vec::new();
        for m in records {
            let parts = match &m.sealed_parts {
                Some(p) => Some(serde_json::from_str(&self.open(&parts_aad(m.id), p)?)?),
                None => None,
            };
            let metadata = match (&m.model_id, m.response_time_ms) {
                (Some(model_id), Some(ms)) => {
                    Some(MessageMetadata { model_id: model_id.clone(), response_time_ms: ms })
                }
                _ => None,
            };
            history.push(HistoryMessage {
                id: m.id,
                content: self.open(&content_aad(m.id), &m.sealed_content)?,
                siblings: tree.siblings(m.id, m.parent_id),
                parent_id: m.parent_id,
                role: m.role,
                parts,
                metadata,
            });
        }
        Ok(SessionDetail {
            id: s.id,
            title: self.title(&s)?,
            date_modified: s.updated_at.secs(),
            user_id: s.user_id,
            history,
            knowledge_bases: s.knowledge_bases.clone(),
            earlier_cursor,
        })
    }

    /// The last `max` messages of the path to `question` in a session the caller has already
    /// proved the user's (storing or finding the question did), as model input, oldest first.
    /// Only those messages are read and decrypted.
    pub(crate) async fn model_history(
        &self,
        sid: SessionId,
        question: MessageId,
        max: u32,
    ) -> Result<Vec<rampart_core::llm::ChatMessage>> {
        use rampart_core::llm::{ChatMessage, Role};
        let mut out = Vec::new();
        for m in self.db.path_messages(sid, Some(question), max).await? {
            let role = match m.role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                _ => continue,
            };
            out.push(ChatMessage::new(role, self.open(&content_aad(m.id), &m.sealed_content)?));
        }
        Ok(out)
    }

    pub async fn delete_session(&self, user: UserId, sid: SessionId) -> Result<()> {
        if self.db.delete_session(user, sid).await? { Ok(()) } else { Err(ChatError::NotFound) }
    }

    pub async fn delete_all_sessions(&self, user: UserId) -> Result<u64> {
        Ok(self.db.delete_all_sessions(user).await?)
    }

    fn view(&self, f: FeedbackRecord) -> Result<FeedbackView> {
        let text = match &f.sealed_text {
            Some(t) => Some(self.open(&feedback_aad(f.id), t)?),
            None => None,
        };
        Ok(FeedbackView {
            id: f.id,
            user_id: f.user_id,
            session_id: f.session_id,
            message_id: f.message_id,
            rating: f.rating,
            reason: f.reason,
            text_feedback: text,
            created_at: f.created_at,
        })
    }

    /// Feedback on an assistant message of one of the caller's sessions.
    pub async fn submit_feedback(&self, user: UserId, r: &FeedbackRequest) -> Result<FeedbackView> {
        if !matches!(r.rating.as_str(), "thumbs_up" | "thumbs_down") {
            return Err(ChatError::Invalid("rating must be thumbs_up or thumbs_down".into()));
        }
        let reason = r.reason.as_deref().filter(|s| !s.is_empty());
        if let Some(reason) = reason
            && !self.config.feedback_reasons.iter().any(|x| x == reason)
        {
            return Err(ChatError::Invalid(format!(
                "reason must be one of: {}",
                self.config.feedback_reasons.join(", ")
            )));
        }
        if r.rating == "thumbs_down" && reason.is_none() {
            return Err(ChatError::Invalid("a reason is required for thumbs_down".into()));
        }
        let text = r.text_feedback.as_deref().filter(|s| !s.is_empty());
        if text.is_some_and(|t| t.chars().count() > MAX_FEEDBACK_TEXT) {
            return Err(ChatError::Invalid(format!("text_feedback must be at most {MAX_FEEDBACK_TEXT} characters")));
        }
        let msg = self.db.owned_message(user, r.session_id, r.message_id).await?.ok_or(ChatError::NotFound)?;
        if msg.role != "assistant" {
            return Err(ChatError::Invalid("feedback is for assistant messages".into()));
        }
        let fid = FeedbackId::new();
        let sealed = text.map(|t| self.keyring.seal(&feedback_aad(fid), t.as_bytes()));
        let now = self.clock.now();
        let nf = NewFeedback {
            id: fid,
            user_id: user,
            session_id: r.session_id,
            message_id: r.message_id,
            rating: &r.rating,
            reason,
            sealed_text: sealed.as_deref(),
        };
        self.db.create_feedback(&nf, now).await?;
        self.db.feedback(Owner::User(user), fid).await?.ok_or(ChatError::NotFound).and_then(|f| self.view(f))
    }

    pub async fn get_feedback(&self, owner: Owner, fid: FeedbackId) -> Result<FeedbackView> {
        self.view(self.db.feedback(owner, fid).await?.ok_or(ChatError::NotFound)?)
    }

    pub async fn list_feedback(&self, user: UserId, page: &PageRequest) -> Result<Page<FeedbackView>> {
        let p = self.db.list_feedback(user, page).await?;
        let items = p.items.into_iter().map(|f| self.view(f)).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor: p.next_cursor })
    }

    /// Administrators: feedback created in `[from, to)`, at most 730 days.
    pub async fn feedback_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<FeedbackView>> {
        if to <= from {
            return Err(ChatError::Invalid("to must be after from".into()));
        }
        if to.millis() - from.millis() > MAX_FEEDBACK_RANGE_DAYS * 86_400_000 {
            return Err(ChatError::Invalid(format!("the range must be at most {MAX_FEEDBACK_RANGE_DAYS} days")));
        }
        let p = self.db.feedback_between(from, to, page).await?;
        let items = p.items.into_iter().map(|f| self.view(f)).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor: p.next_cursor })
    }
}
