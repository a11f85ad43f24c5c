//! One chat turn, whoever asks: the realtime channels (a stored session), the OpenAI facade and
//! async jobs (messages given by the caller), and later the meeting assistant. A turn stores
//! the question (session turns), reads the history the model sees, starts the assistant's reply
//! and yields its events as a stream that any sink drains (the realtime hub, an SSE response,
//! a job record); when the reply ends (or is stopped) a session turn stores the answer with its
//! citations and sources, and the last event says so.
//!
//! A session turn's answer is stored while it streams ([`CHECKPOINT_EVERY`], marked
//! `interrupted` until the end rewrites it): a crash or an upstream failure keeps what the user
//! saw, and says it did not finish.
//!
//! The stream does the work as it is polled (no task of its own): dropping it drops the
//! upstream request, and a stopped run ([`RunHandle`]) ends it at the next event.
//!
//! Tools: a caller gives a turn tools in [`TurnRequest::tools`] (a [`TurnTools`] over its
//! [`rampart_core::tools::Toolbox`]); a `model` assistant whose model supports tools then runs
//! the agent loop (`crate::agent`), each tool call an event ([`TurnEvent::Step`]) and, in a
//! session, a `steps` part of the stored answer.

pub use crate::agent::TurnTools;
use crate::assistants::{Assistant, Assistants, Overrides};
use crate::error::ChatError;
use crate::runs::RunHandle;
use crate::service::ChatService;
use futures::{Stream, StreamExt};
use rampart_core::llm::{ChatEvent, ChatMessage, EventStream, SourceDocument, Usage};
use rampart_core::tools::ToolStep;
use rampart_core::{ChunkId, ErrorCode, KnowledgeBaseId, MessageId, Principal, SessionId};
use rampart_storage::repo::branches::Under;
use serde::Serialize;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::WaitForCancellationFutureOwned;

/// Messages of a session the model sees (the newest).
pub const HISTORY: u32 = 50;

/// What the turn answers.
#[derive(Debug)]
pub enum Conversation {
    /// A stored session of the caller's: the question is stored first, the model sees the
    /// session's last [`HISTORY`] messages, and the answer is stored.
    Session { id: SessionId, text: String },
    /// Rampart's extension (branches): `text` as an edit of the caller's question `message`
    /// (a new question beside it); the reply follows the new question.
    Edit { id: SessionId, message: MessageId, text: String },
    /// Rampart's extension (branches): a new reply to the question of answer `message` (or to
    /// question `message`), beside the old one; the question is not stored again.
    Regenerate { id: SessionId, message: MessageId },
    /// Messages the caller gives (oldest first); nothing is stored.
    Messages(Vec<ChatMessage>),
}

/// A turn to run.
#[derive(Debug)]
pub struct TurnRequest {
    pub principal: Principal,
    pub assistant: Arc<Assistant>,
    pub conversation: Conversation,
    pub overrides: Overrides,
    /// The registered generation, when the turn can be stopped; it is unregistered when the
    /// turn's stream is dropped.
    pub run: Option<RunHandle>,
    /// Knowledge bases chosen in the chat (at most [`MAX_CHOSEN`]); each must be readable by
    /// the caller, or the turn is refused before anything is stored.
    pub knowledge_bases: Vec<KnowledgeBaseId>,
    /// Tools the model may call (used when the assistant is of kind `model`, its model
    /// supports tools and no knowledge base is chosen); `None`: none.
    pub tools: Option<TurnTools>,
    /// What the caller grounds the turn on instead of knowledge bases (a meeting's transcript,
    /// past meetings); `None`: the assistant's own way.
    pub grounding: Option<Arc<dyn crate::grounding::Grounding>>,
}

/// The most knowledge bases a turn may choose.
pub const MAX_CHOSEN: usize = 20;

/// A span of the answer that cites a source (GAIA's `citationSpans`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CitationSpan {
    pub span: Span,
    pub ref_index: usize,
    /// Rampart's extension: the number shown and the cited passage.
    pub citation_number: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_id: Option<ChunkId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// How a turn ended.
#[derive(Debug)]
pub struct TurnEnd {
    /// The stored answer (session turns); `None` when nothing was stored (stateless turns, or a
    /// session turn stopped before any text).
    pub message_id: Option<MessageId>,
    pub model_id: String,
    pub response_time_ms: i64,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    /// Stopped by the user before the model finished.
    pub stopped: bool,
}

/// An event of a turn, numbered as GAIA numbers them (`sequenceNumber`).
#[derive(Debug)]
pub enum TurnEvent {
    Delta {
        seq: u64,
        text: String,
    },
    Citation {
        seq: u64,
        position: usize,
        number: usize,
        text: String,
        document_index: usize,
        chunk: Option<ChunkId>,
    },
    /// The documents the answer drew on (before the end).
    Sources(Vec<SourceDocument>),
    /// A tool call of the agent loop and what came of it (status `needsConfirmation`: an
    /// acting tool the user must confirm; the turn ends after it).
    Step(ToolStep),
    /// The last event of a turn that did not fail.
    End(TurnEnd),
}

/// Where a turn failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnStage {
    /// Storing the question or reading the history.
    Question,
    /// Starting or streaming the reply.
    Reply,
    /// Storing the answer.
    Answer,
}

#[derive(Debug, thiserror::Error)]
#[error("chat turn failed ({stage:?}): {error}")]
pub struct TurnError {
    pub stage: TurnStage,
    pub error: ChatError,
}

impl TurnError {
    fn at(stage: TurnStage) -> impl FnOnce(ChatError) -> Self {
        move |error| Self { stage, error }
    }

    /// What a chat channel tells the user (GAIA's error event): the session not being theirs
    /// looks like any missing session; the rest says which step failed, not why.
    pub fn channel_message(&self) -> &'static str {
        match (&self.error, self.stage) {
            (ChatError::NotFound, _) => "Not found.",
            (ChatError::UnknownKnowledgeBase, _) => "A knowledge base you chose was not found.",
            (_, TurnStage::Question) => "The message could not be processed.",
            (_, TurnStage::Reply) => ErrorCode::UpstreamError.default_message(),
            (_, TurnStage::Answer) => "The reply could not be stored.",
        }
    }
}

impl rampart_core::error::PublicError for TurnError {
    fn code(&self) -> ErrorCode {
        self.error.code()
    }
    fn public_message(&self) -> String {
        self.error.public_message()
    }
}

impl From<TurnError> for ChatError {
    fn from(e: TurnError) -> Self {
        e.error
    }
}

/// The events of a running turn; the last item is `End` or an error.
pub type TurnStream = Pin<Box<dyn Stream<Item = Result<TurnEvent, TurnError>> + Send>>;

/// A whole reply, for callers that want it at once (non-streamed completions, jobs).
#[derive(Debug, Default)]
pub struct WholeReply {
    pub text: String,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub sources: Option<Vec<SourceDocument>>,
}

/// Drains a turn into one reply.
pub async fn whole_reply(mut turn: TurnStream) -> Result<WholeReply, TurnError> {
    let mut out = WholeReply::default();
    while let Some(ev) = turn.next().await {
        match ev? {
            TurnEvent::Delta { text, .. } => out.text.push_str(&text),
            TurnEvent::Sources(docs) => out.sources = Some(docs),
            TurnEvent::End(end) => {
                out.usage = end.usage;
                out.finish_reason = end.finish_reason;
            }
            TurnEvent::Citation { .. } | TurnEvent::Step(_) => {}
        }
    }
    Ok(out)
}

/// The state of a turn's stream between events.
struct Running {
    chat: ChatService,
    principal: Principal,
    model_id: String,
    /// The session the answer is stored in (session turns).
    session: Option<SessionId>,
    /// The question the answer follows (session turns; see `crate::branches`).
    question: Option<MessageId>,
    events: EventStream,
    /// Registered while the turn runs (dropping it ends the registration).
    _run: Option<RunHandle>,
    /// The run's stop, waited on beside the model's events: one wait for the whole turn, not
    /// one per event.
    stopped: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    started: Instant,
    seq: u64,
    /// The answer so far, with its citation spans and sources (kept for session turns).
    text: String,
    spans: Vec<CitationSpan>,
    sources: Option<Vec<SourceDocument>>,
    steps: Vec<ToolStep>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
    /// The answer stored while it streams (session turns): made at the first checkpoint,
    /// rewritten at the next ones and at the end.
    answer: Option<MessageId>,
    /// When the answer was last stored, and how long its text was then.
    saved_at: Instant,
    saved_chars: usize,
}

/// How often a streaming answer is stored (session turns): a crash or an upstream failure loses
/// at most this much of what the user saw, and the stored answer says it was interrupted.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl ChatService {
    /// The assistant of a turn: the one asked for; else the session's own; else `default`; else
    /// the first the caller may use. `None`: no assistant is available to the caller.
    pub async fn pick_assistant(
        &self,
        catalog: &Assistants,
        p: &Principal,
        session: Option<SessionId>,
        asked: Option<&str>,
    ) -> Result<Option<Arc<Assistant>>, ChatError> {
        let own = match (asked, session) {
            (Some(a), _) => Some(a.to_owned()),
            (None, Some(sid)) => self.session_assistant(p.user_id, sid).await?,
            (None, None) => None,
        };
        Ok(choose_assistant(catalog, p, own.as_deref()))
    }

    /// Starts a turn: stores the question (session turns), reads the history and starts the
    /// reply. An error here means nothing was streamed; the stream's items follow.
    pub async fn start_turn(&self, req: TurnRequest) -> Result<TurnStream, TurnError> {
        let TurnRequest { principal: p, assistant: a, conversation, overrides, run, knowledge_bases, tools, grounding } =
            req;
        self.check_chosen(&p, &knowledge_bases).await.map_err(TurnError::at(TurnStage::Question))?;
        // Files attached to the chat are searched in every turn of it (from the session id, never
        // from the client).
        let session_id = match &conversation {
            Conversation::Session { id, .. } | Conversation::Edit { id, .. } | Conversation::Regenerate { id, .. } => {
                Some(*id)
            }
            Conversation::Messages(_) => None,
        };
        let files = match session_id {
            Some(id) => self.attached(&p, id).await.map_err(TurnError::at(TurnStage::Question))?,
            None => None,
        };
        let (history, session, question) = match conversation {
            Conversation::Session { id, text } => {
                let q = self.add_user_message(p.user_id, id, &a.id, &text).await;
                self.session_question(id, q).await?
            }
            Conversation::Edit { id, message, text } => {
                let q = self.edit_question(p.user_id, id, message, &text).await;
                self.session_question(id, q).await?
            }
            Conversation::Regenerate { id, message } => {
                let q = self.regenerate_from(p.user_id, id, message).await;
                self.session_question(id, q).await?
            }
            Conversation::Messages(m) => (m, None, None),
        };
        let started = Instant::now();
        let cancel = run.as_ref().map(|r| r.token().clone());
        let reply = async {
            let chosen = crate::rag::Chosen { kbs: &knowledge_bases, files };
            let with = crate::assistants::ReplyWith { chosen, tools: tools.as_ref(), grounding: grounding.as_deref() };
            self.reply(&a, &p, history, overrides, with).await.map_err(TurnError::at(TurnStage::Reply))
        };
        let events = match cancel {
            Some(c) => tokio::select! {
                r = reply => r?,
                () = c.cancelled() => return Ok(stopped_before_output(a.model_id())),
            },
            None => reply.await?,
        };
        let running = Running {
            chat: self.clone(),
            principal: p,
            model_id: a.model_id().to_owned(),
            session,
            question,
            events,
            stopped: run.as_ref().map(|r| Box::pin(r.token().clone().cancelled_owned())),
            _run: run,
            started,
            seq: 0,
            text: String::new(),
            spans: Vec::new(),
            sources: None,
            steps: Vec::new(),
            usage: None,
            finish_reason: None,
            done: false,
            answer: None,
            saved_at: started,
            saved_chars: 0,
        };
        // Boxed: `unfold` moves its state in and out of every step, so each event would copy
        // the whole `Running` twice (measured: +3.5% instructions per streamed completion).
        Ok(Box::pin(futures::stream::unfold(Box::new(running), |mut r| async move {
            let item = r.next_event().await?;
            Some((item, r))
        })))
    }

    /// The knowledge base of the files attached to the caller's session, if any.
    async fn attached(&self, p: &Principal, session: SessionId) -> Result<Option<KnowledgeBaseId>, ChatError> {
        let Some(retriever) = self.retriever() else { return Ok(None) };
        retriever.session_files(p, session).await.map_err(|e| ChatError::Model(e.into()))
    }

    /// Chosen knowledge bases: not too many, and every one readable by the caller (checked
    /// when the turn runs, so a reader who lost access is refused).
    pub(crate) async fn check_chosen(&self, p: &Principal, chosen: &[KnowledgeBaseId]) -> Result<(), ChatError> {
        if chosen.is_empty() {
            return Ok(());
        }
        if chosen.len() > MAX_CHOSEN {
            return Err(ChatError::Invalid(format!("choose at most {MAX_CHOSEN} knowledge bases")));
        }
        let retriever =
            self.retriever().ok_or_else(|| ChatError::Invalid("knowledge bases are not available".into()))?;
        match retriever.all_readable(p, chosen).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ChatError::UnknownKnowledgeBase),
            Err(e) => Err(ChatError::Model(e.into())),
        }
    }

    /// After the question was stored (or chosen, to answer again) in the caller's session,
    /// which that proved theirs: what the model sees (the path to the question), the session
    /// and the question.
    async fn session_question(
        &self,
        sid: SessionId,
        stored: Result<Option<MessageId>, ChatError>,
    ) -> Result<(Vec<ChatMessage>, Option<SessionId>, Option<MessageId>), TurnError> {
        let at = TurnError::at(TurnStage::Question);
        let question = match stored {
            Ok(Some(q)) => q,
            Ok(None) => return Err(at(ChatError::NotFound)),
            Err(e) => return Err(at(e)),
        };
        let history = self.model_history(sid, question, HISTORY).await.map_err(TurnError::at(TurnStage::Question))?;
        Ok((history, Some(sid), Some(question)))
    }
}

/// The assistant `own` names if the caller may use it; else `default`; else the first the
/// caller may use (see [`ChatService::pick_assistant`]).
pub fn choose_assistant(catalog: &Assistants, p: &Principal, own: Option<&str>) -> Option<Arc<Assistant>> {
    own.and_then(|id| catalog.get_for(id, p))
        .or_else(|| catalog.get_for("default", p))
        .or_else(|| catalog.visible_to(p).into_iter().next())
}

/// The one event of a turn stopped before the model said anything.
fn stopped_before_output(model_id: &str) -> TurnStream {
    let end = TurnEnd {
        message_id: None,
        model_id: model_id.to_owned(),
        response_time_ms: 0,
        usage: None,
        finish_reason: None,
        stopped: true,
    };
    Box::pin(futures::stream::iter([Ok(TurnEvent::End(end))]))
}

impl Running {
    /// The next event for the sink; `None` once the turn has ended.
    async fn next_event(&mut self) -> Option<Result<TurnEvent, TurnError>> {
        loop {
            if self.done {
                return None;
            }
            if self.checkpoint_due() {
                self.checkpoint().await;
            }
            let next = match self.stopped.as_mut() {
                Some(stop) => tokio::select! {
                    ev = self.events.next() => ev,
                    () = stop.as_mut() => return Some(self.finish(true).await),
                },
                None => self.events.next().await,
            };
            match next {
                Some(Ok(ev)) => {
                    if let Some(out) = self.note(ev) {
                        return Some(Ok(out));
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    tracing::warn!(error = %e, "model stream failed");
                    // What the user saw stays, marked interrupted (they may answer again).
                    if self.session.is_some() && !self.text.is_empty() {
                        self.checkpoint().await;
                    }
                    return Some(Err(TurnError { stage: TurnStage::Reply, error: e.into() }));
                }
                None => return Some(self.finish(false).await),
            }
        }
    }

    /// Numbers an output event and keeps what the stored answer needs; `Done` only leaves its
    /// usage for the end.
    fn note(&mut self, ev: ChatEvent) -> Option<TurnEvent> {
        let keep = self.session.is_some();
        match ev {
            ChatEvent::Delta(text) => {
                if keep {
                    self.text.push_str(&text);
                }
                self.seq += 1;
                Some(TurnEvent::Delta { seq: self.seq - 1, text })
            }
            ChatEvent::Citation { position, number, text, document_index, chunk } => {
                let start = self.spans.last().map_or(0, |s| s.span.end);
                self.spans.push(CitationSpan {
                    span: Span { start, end: position },
                    ref_index: document_index,
                    citation_number: number,
                    chunk_id: chunk,
                });
                self.seq += 1;
                Some(TurnEvent::Citation { seq: self.seq - 1, position, number, text, document_index, chunk })
            }
            ChatEvent::Sources(docs) => {
                if keep {
                    self.sources = Some(docs.clone());
                }
                Some(TurnEvent::Sources(docs))
            }
            ChatEvent::Step(step) => {
                if keep {
                    self.steps.push(step.clone());
                }
                Some(TurnEvent::Step(step))
            }
            ChatEvent::Done { usage, finish_reason } => {
                self.usage = usage;
                self.finish_reason = finish_reason;
                None
            }
            // Calls reach the turn only through the agent loop, which turns them into steps.
            ChatEvent::ToolCall(_) => None,
        }
    }

    /// The stored answer's parts: its text with citation spans, then the sources and the
    /// steps when there are any, and `{"type": "interrupted"}` while it is not finished (`None`:
    /// a plain finished answer).
    fn parts(&self, interrupted: bool) -> Option<serde_json::Value> {
        if self.sources.is_none() && self.steps.is_empty() && !interrupted {
            return None;
        }
        let mut parts = vec![serde_json::json!({"type": "text", "text": self.text, "citationSpans": self.spans})];
        if let Some(docs) = &self.sources {
            parts.push(serde_json::json!({"type": "source", "documents": docs}));
        }
        if !self.steps.is_empty() {
            parts.push(serde_json::json!({"type": "steps", "steps": self.steps}));
        }
        if interrupted {
            parts.push(serde_json::json!({"type": "interrupted"}));
        }
        Some(serde_json::Value::Array(parts))
    }

    /// Whether the answer so far should be stored now (session turns, new text, and
    /// [`CHECKPOINT_EVERY`] since the last time).
    fn checkpoint_due(&self) -> bool {
        self.session.is_some()
            && !self.text.is_empty()
            && self.text.len() != self.saved_chars
            && self.saved_at.elapsed() >= CHECKPOINT_EVERY
    }

    /// Stores the answer so far, marked interrupted until the end rewrites it. A failure is
    /// logged and the reply goes on (the end stores it again).
    async fn checkpoint(&mut self) {
        let Some(sid) = self.session else { return };
        self.saved_at = Instant::now();
        self.saved_chars = self.text.len();
        let ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let parts = self.parts(true);
        let user = self.principal.user_id;
        let stored = match self.answer {
            Some(mid) => {
                self.chat.update_answer(user, sid, mid, &self.text, parts.as_ref(), ms).await.map(|_| Some(mid))
            }
            None => {
                let under = self.question.map_or(Under::Leaf, |q| Under::Parent(Some(q)));
                self.chat.add_answer(user, sid, under, &self.text, parts.as_ref(), &self.model_id, ms).await
            }
        };
        match stored {
            Ok(Some(mid)) => self.answer = Some(mid),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not store the reply so far"),
        }
    }

    /// The reply ended (or was stopped): stores the answer of a session turn, and says how it ended.
    async fn finish(&mut self, stopped: bool) -> Result<TurnEvent, TurnError> {
        self.done = true;
        // Dropping the upstream stream drops the upstream request.
        self.events = Box::pin(futures::stream::empty());
        let ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let mut end = TurnEnd {
            message_id: None,
            model_id: self.model_id.clone(),
            response_time_ms: ms,
            usage: self.usage,
            finish_reason: self.finish_reason.take(),
            stopped,
        };
        let Some(sid) = self.session else { return Ok(TurnEvent::End(end)) };
        if stopped && self.text.is_empty() {
            return Ok(TurnEvent::End(end));
        }
        let parts = self.parts(false);
        let user = self.principal.user_id;
        let stored = match self.answer {
            // Stored while it streamed: rewritten whole, no longer interrupted.
            Some(mid) => self
                .chat
                .update_answer(user, sid, mid, &self.text, parts.as_ref(), ms)
                .await
                .map(|found| found.then_some(mid)),
            None => {
                let under = self.question.map_or(Under::Leaf, |q| Under::Parent(Some(q)));
                self.chat.add_answer(user, sid, under, &self.text, parts.as_ref(), &self.model_id, ms).await
            }
        };
        end.message_id = Some(match stored {
            Ok(Some(m)) => m,
            Ok(None) => return Err(TurnError { stage: TurnStage::Answer, error: ChatError::NotFound }),
            Err(e) => {
                tracing::warn!(error = %e, "could not store the reply");
                return Err(TurnError { stage: TurnStage::Answer, error: e });
            }
        });
        Ok(TurnEvent::End(end))
    }
}
