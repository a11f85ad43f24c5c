//! Assistants (GAIA's data sources): a named way of answering, with the groups allowed to use
//! it. Kinds so far: `model` (a configured model, streamed), `custom` (the operator's signed
//! HTTP webhook), `rag` (answers from knowledge bases) and `extractive` (Rampart's built-in
//! responder, used when no model is configured: it quotes the best passages of every knowledge
//! base the user may read). Knowledge bases chosen in a chat, and files attached to it, turn a
//! `model` or `custom` assistant's answer into a cited one over them.

use crate::error::Result;
use crate::service::ChatService;
use rampart_core::Principal;
use rampart_core::llm::{ChatEvent, ChatMessage, ChatModel, ChatRequest, EventStream, Role};
use std::sync::Arc;

/// What the built-in responder says when it has no knowledge bases to search (no retriever is
/// connected); with them it quotes passages and ends with [`crate::rag::NO_MODEL_NOTE`].
pub const EXTRACTIVE_REPLY: &str = "No generative model is configured yet, so I cannot write an answer. \
An administrator can add one with a [[models]] and an [[assistants]] entry in the configuration \
(`rampart config example` shows them).";
pub const EXTRACTIVE_MODEL_ID: &str = "rampart-extractive";

pub enum AssistantKind {
    Model(Arc<dyn ChatModel>),
    /// The operator's HTTP webhook, behind the same port as a model.
    Custom(Arc<dyn ChatModel>),
    /// Answers from knowledge bases, with citations.
    Rag(Arc<crate::rag::RagAssistant>),
    Extractive,
}

pub struct Assistant {
    pub id: String,
    /// What the picker shows (the id when none is configured).
    pub name: Option<String>,
    /// What the picker shows under the name.
    pub description: Option<String>,
    pub kind: AssistantKind,
    pub system_prompt: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Who may use it; empty: every signed-in user.
    pub groups: Vec<String>,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Assistant({})", self.id)
    }
}

impl Assistant {
    /// The built-in default.
    pub fn extractive(id: &str) -> Self {
        Assistant {
            id: id.to_owned(),
            name: None,
            description: None,
            kind: AssistantKind::Extractive,
            system_prompt: None,
            max_tokens: None,
            temperature: None,
            top_p: None,
            groups: Vec::new(),
        }
    }

    /// The service type a service interruption names.
    pub fn service_type(&self) -> &'static str {
        match self.kind {
            AssistantKind::Model(_) => "model",
            AssistantKind::Custom(_) => "custom",
            AssistantKind::Rag(_) | AssistantKind::Extractive => "rag",
        }
    }

    pub fn model_id(&self) -> &str {
        match &self.kind {
            AssistantKind::Model(m) | AssistantKind::Custom(m) => m.model_id(),
            AssistantKind::Rag(r) => r.model.as_ref().map_or(EXTRACTIVE_MODEL_ID, |m| m.model_id()),
            AssistantKind::Extractive => EXTRACTIVE_MODEL_ID,
        }
    }

    pub fn usable_by(&self, p: &Principal) -> bool {
        self.groups.is_empty() || p.is_admin() || self.groups.iter().any(|g| p.in_group(g))
    }
}

/// The configured assistants, in configuration order.
#[derive(Debug, Default)]
pub struct Assistants(Vec<Arc<Assistant>>);

impl Assistants {
    pub fn new(list: Vec<Assistant>) -> Self {
        Self(list.into_iter().map(Arc::new).collect())
    }

    pub fn visible_to(&self, p: &Principal) -> Vec<Arc<Assistant>> {
        self.0.iter().filter(|a| a.usable_by(p)).cloned().collect()
    }

    /// An assistant the caller may use; `None` (not found) otherwise.
    pub fn get_for(&self, id: &str, p: &Principal) -> Option<Arc<Assistant>> {
        self.0.iter().find(|a| a.id == id && a.usable_by(p)).cloned()
    }
}

fn canned(text: String, finish: &str) -> EventStream {
    let events =
        vec![Ok(ChatEvent::Delta(text)), Ok(ChatEvent::Done { usage: None, finish_reason: Some(finish.to_owned()) })];
    Box::pin(futures::stream::iter(events))
}

/// Per-request inference settings. A request may lower the assistant's token limit, never raise
/// it; temperature and top-p from the request replace the assistant's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// The caller wants the whole reply at once (the model may then answer in one response).
    pub whole: bool,
}

/// What a reply may draw on besides the assistant's own configuration.
#[derive(Clone, Copy, Default)]
pub struct ReplyWith<'a> {
    /// Knowledge bases chosen in the chat and its attached files.
    pub chosen: crate::rag::Chosen<'a>,
    pub tools: Option<&'a crate::agent::TurnTools>,
    pub grounding: Option<&'a dyn crate::grounding::Grounding>,
}

impl ChatService {
    /// Streams the assistant's reply to `history` (oldest first), drawing on the knowledge bases
    /// `chosen` in the chat (besides a `rag` assistant's own; the built-in assistant searches
    /// every readable one when none is chosen). While a service interruption applies, the reply
    /// is its message and the model is not called. `with.tools`: offered to a `model` assistant
    /// whose model supports them, when no knowledge base is chosen (`crate::agent`);
    /// `with.grounding`: what the caller grounds the turn on instead (`crate::grounding`).
    #[tracing::instrument(name = "assistant", skip_all, fields(assistant = %a.id, kind = a.service_type()))]
    pub async fn reply(
        &self,
        a: &Assistant,
        p: &Principal,
        history: Vec<ChatMessage>,
        o: Overrides,
        with: ReplyWith<'_>,
    ) -> Result<EventStream> {
        let ReplyWith { chosen, tools, grounding } = with;
        if let Some(msg) = self.interruption_message(a.service_type()).await? {
            return Ok(canned(msg, "interrupted"));
        }
        let max_tokens = match (a.max_tokens, o.max_tokens) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        let req = ChatRequest {
            messages: Vec::new(),
            max_tokens,
            temperature: o.temperature.or(a.temperature),
            top_p: o.top_p.or(a.top_p),
            tools: Vec::new(),
        };
        if let Some(g) = grounding {
            return grounded(a, p, history, req, o.whole, g, tools).await;
        }
        let rag = match &a.kind {
            AssistantKind::Extractive if self.retriever().is_none() => {
                return Ok(canned(EXTRACTIVE_REPLY.to_owned(), "stop"));
            }
            AssistantKind::Extractive => Arc::new(crate::rag::RagAssistant::built_in()),
            AssistantKind::Rag(r) => r.clone(),
            // The operator's webhook too gets the passages (in the system message) and its
            // answer is cited: the user's choice is never dropped silently.
            AssistantKind::Model(m) | AssistantKind::Custom(m) if !chosen.is_empty() => {
                Arc::new(crate::rag::RagAssistant::over_chosen(Some(m.clone())))
            }
            AssistantKind::Model(m) | AssistantKind::Custom(m) => {
                let mut messages = Vec::with_capacity(history.len() + 1);
                if let Some(sp) = &a.system_prompt {
                    messages.push(ChatMessage::new(Role::System, sp.clone()));
                }
                messages.extend(history);
                let req = ChatRequest { messages, ..req };
                if let Some(agent) = tools.and_then(|t| crate::agent::run(m, t, p, req.clone(), o.whole)) {
                    return Ok(agent);
                }
                return Ok(if o.whole { m.complete_whole(req).await? } else { m.stream(req).await? });
            }
        };
        let retriever =
            self.retriever().ok_or_else(|| crate::ChatError::Invalid("knowledge bases are not available".into()))?;
        Ok(rag.reply(retriever.as_ref(), p, chosen, a.system_prompt.as_deref(), history, req).await?)
    }
}

/// A turn grounded by its caller (`crate::grounding`): the assistant's model (a `rag`
/// assistant's too) answers from what the grounding gives, with the turn's tools; with no model
/// the grounding's own answer, or the passages quoted.
async fn grounded(
    a: &Assistant,
    p: &Principal,
    history: Vec<ChatMessage>,
    req: ChatRequest,
    whole: bool,
    g: &dyn crate::grounding::Grounding,
    tools: Option<&crate::agent::TurnTools>,
) -> Result<EventStream> {
    use crate::grounding::Ground;
    let model = match &a.kind {
        AssistantKind::Model(m) | AssistantKind::Custom(m) => Some(m.clone()),
        AssistantKind::Rag(r) => r.model.clone(),
        AssistantKind::Extractive => None,
    };
    let question = history.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.as_str()).unwrap_or("");
    let ground = g.ground(p, question).await.map_err(rampart_core::llm::ModelError::from)?;
    match ground {
        Ground::Context { system, without_model } => {
            let Some(m) = model else { return Ok(canned(without_model, "stop")) };
            let system = match &a.system_prompt {
                Some(sp) => format!("{sp}\n\n{system}"),
                None => system,
            };
            let mut messages = Vec::with_capacity(history.len() + 1);
            messages.push(ChatMessage::new(Role::System, system));
            messages.extend(history);
            let req = ChatRequest { messages, ..req };
            if let Some(agent) = tools.and_then(|t| crate::agent::run(&m, t, p, req.clone(), whole)) {
                return Ok(agent);
            }
            Ok(if whole { m.complete_whole(req).await? } else { m.stream(req).await? })
        }
        Ground::Passages { passages, corpus } => {
            let rag = crate::rag::RagAssistant::over_chosen(model);
            Ok(rag.answer(passages, corpus, a.system_prompt.as_deref(), history, req).await?)
        }
    }
}
