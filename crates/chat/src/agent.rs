//! The agent loop of a chat turn: a model that supports tools, given the turn's [`TurnTools`],
//! is called with them; the read-only tools it asks for run (as the asking user), their
//! results go back to it framed as untrusted data, and it is called again — at most
//! [`TurnTools::max_steps`] times with results — until it answers without asking for tools.
//! Its text streams as it comes, in every call; each tool call becomes a
//! [`ChatEvent::Step`].
//!
//! Nothing the model writes makes anything act: an acting tool ([`ToolEffect::Acting`]) is
//! not run; the loop ends with a `needsConfirmation` step and a sentence saying the user must
//! confirm. A bad call (unknown tool, arguments that are not a JSON object, too many calls at
//! once, too many steps, a tool's error or silence) is a step with status `error`, and the
//! model is told why in its result: the turn goes on. Tool arguments and results are never
//! logged.

use futures::StreamExt;
use rampart_core::Principal;
use rampart_core::llm::{ChatEvent, ChatMessage, ChatModel, ChatRequest, EventStream, ModelError, ToolCall};
use rampart_core::llm::{ToolResult, Usage};
use rampart_core::tools::{StepStatus, ToolDef, ToolEffect, ToolStep, Toolbox, frame_untrusted};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Model calls that may get tool results back, unless the caller says otherwise.
pub const DEFAULT_MAX_STEPS: u32 = 5;
/// Tool calls run from one model call; the rest are refused.
pub const MAX_CALLS_PER_STEP: usize = 8;
/// How long a tool may take.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest tool result a model is given (characters; longer ones are cut, saying so).
pub const MAX_RESULT_CHARS: usize = 20_000;
/// The finish reason of a turn that stopped to ask the user.
pub const NEEDS_CONFIRMATION: &str = "tool_confirmation";
/// The finish reason of a turn whose model kept asking for tools past the limit.
pub const MAX_STEPS_REACHED: &str = "max_steps";

const SUMMARY_CHARS: usize = 200;
const ARGUMENT_CHARS: usize = 2_000;

/// The tools a turn offers: how a caller (the chat channel, the meeting assistant) gives a
/// model tools. Used only when the assistant's model supports tools.
#[derive(Clone)]
pub struct TurnTools {
    pub toolbox: Arc<dyn Toolbox>,
    /// Model calls that may get tool results back (1 or more).
    pub max_steps: u32,
}

impl TurnTools {
    pub fn new(toolbox: Arc<dyn Toolbox>) -> Self {
        Self { toolbox, max_steps: DEFAULT_MAX_STEPS }
    }
}

impl std::fmt::Debug for TurnTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TurnTools(max_steps {})", self.max_steps)
    }
}

/// The reply of `model` to `req` with `tools` offered (the loop, as a stream); `None` when
/// there is nothing to offer (the caller asks the model as usual).
pub(crate) fn run(
    model: &Arc<dyn ChatModel>,
    tools: &TurnTools,
    principal: &Principal,
    mut req: ChatRequest,
    whole: bool,
) -> Option<EventStream> {
    let defs = tools.toolbox.tools();
    if defs.is_empty() || !model.supports_tools() {
        return None;
    }
    req.tools = defs.iter().map(|d| d.spec.clone()).collect();
    let agent = Agent {
        model: model.clone(),
        kit: Kit {
            toolbox: tools.toolbox.clone(),
            defs,
            principal: principal.clone(),
            max_steps: tools.max_steps.max(1),
        },
        req,
        whole,
        round: 0,
        current: None,
        text: String::new(),
        calls: Vec::new(),
        said: false,
        usage: None,
        out: VecDeque::new(),
        finished: false,
    };
    Some(Box::pin(futures::stream::unfold(Box::new(agent), |mut a| async move {
        let item = a.next().await?;
        Some((item, a))
    })))
}

/// What runs the tools (shared by reference while a tool runs, so it holds nothing that
/// cannot be).
struct Kit {
    toolbox: Arc<dyn Toolbox>,
    defs: Vec<ToolDef>,
    principal: Principal,
    max_steps: u32,
}

struct Agent {
    model: Arc<dyn ChatModel>,
    kit: Kit,
    /// The conversation so far, with the tools.
    req: ChatRequest,
    whole: bool,
    /// Model calls that asked for tools so far.
    round: u32,
    current: Option<EventStream>,
    /// What the current model call said, and the calls it asked for.
    text: String,
    calls: Vec<ToolCall>,
    /// An earlier model call said something (the next text starts a new paragraph).
    said: bool,
    usage: Option<Usage>,
    out: VecDeque<ChatEvent>,
    finished: bool,
}

/// What came of one call: for the step, and for the model.
struct Outcome {
    status: StepStatus,
    summary: String,
    content: String,
}

impl Outcome {
    fn error(message: String) -> Self {
        Self { status: StepStatus::Error, summary: message.clone(), content: message }
    }
}

impl Agent {
    /// The next event; `None` once the reply is over.
    async fn next(&mut self) -> Option<Result<ChatEvent, ModelError>> {
        loop {
            if let Some(ev) = self.out.pop_front() {
                return Some(Ok(ev));
            }
            if self.finished {
                return None;
            }
            let stream = match &mut self.current {
                Some(s) => s,
                None => match call_model(self.model.clone(), self.req.clone(), self.whole).await {
                    Ok(s) => self.current.insert(s),
                    Err(e) => return self.fail(e),
                },
            };
            match stream.next().await {
                Some(Ok(ev)) => self.take(ev).await,
                Some(Err(e)) => return self.fail(e),
                None => self.finished = true,
            }
        }
    }

    fn fail(&mut self, e: ModelError) -> Option<Result<ChatEvent, ModelError>> {
        self.finished = true;
        Some(Err(e))
    }

    async fn take(&mut self, ev: ChatEvent) {
        match ev {
            ChatEvent::Delta(t) => {
                if self.text.is_empty() && self.said {
                    self.out.push_back(ChatEvent::Delta("\n\n".to_owned()));
                }
                self.text.push_str(&t);
                self.out.push_back(ChatEvent::Delta(t));
            }
            ChatEvent::ToolCall(c) => self.calls.push(c),
            ChatEvent::Done { usage, finish_reason } => {
                self.current = None;
                if let Some(u) = usage {
                    let total = self.usage.get_or_insert_with(Usage::default);
                    total.input_tokens += u.input_tokens;
                    total.output_tokens += u.output_tokens;
                }
                self.after_call(finish_reason).await;
            }
            other => self.out.push_back(other),
        }
    }

    /// The loop's own sentence, as a paragraph of the answer.
    fn say(&mut self, sentence: String) {
        self.out.push_back(ChatEvent::Delta(if self.said { format!("\n\n{sentence}") } else { sentence }));
    }

    fn end(&mut self, finish_reason: Option<String>) {
        self.out.push_back(ChatEvent::Done { usage: self.usage, finish_reason });
        self.finished = true;
    }

    /// A model call ended: the answer, or its tool calls run and the conversation extended.
    async fn after_call(&mut self, finish_reason: Option<String>) {
        let calls = std::mem::take(&mut self.calls);
        let text = std::mem::take(&mut self.text);
        self.said |= !text.is_empty();
        if calls.is_empty() {
            return self.end(finish_reason);
        }
        self.round += 1;
        if self.round > self.kit.max_steps + 1 {
            // Told that the limit was reached, the model asked again: stop here.
            for c in &calls {
                let message = "Not run: the step limit was reached.".to_owned();
                self.out.push_back(ChatEvent::Step(self.step(c, &Outcome::error(message))));
            }
            let n = self.kit.max_steps;
            self.say(format!("I stopped without an answer: the model kept calling tools after {n} steps."));
            return self.end(Some(MAX_STEPS_REACHED.to_owned()));
        }
        let mut results = Vec::with_capacity(calls.len());
        let mut confirm = None;
        for (i, c) in calls.iter().enumerate() {
            let outcome = self.kit.resolve(self.round, c, i).await;
            tracing::debug!(step = self.round, status = ?outcome.status, "tool call");
            if outcome.status == StepStatus::NeedsConfirmation {
                confirm.get_or_insert_with(|| c.name.clone());
            }
            self.out.push_back(ChatEvent::Step(self.step(c, &outcome)));
            let is_error = outcome.status == StepStatus::Error;
            results.push(ToolResult { call_id: c.id.clone(), content: outcome.content, is_error });
        }
        if let Some(tool) = confirm {
            self.say(format!("I would use {tool}, which acts for you; it has not run and needs your confirmation."));
            return self.end(Some(NEEDS_CONFIRMATION.to_owned()));
        }
        self.req.messages.push(ChatMessage::assistant_calls(text, calls));
        self.req.messages.push(ChatMessage::tool_results(results));
    }

    fn step(&self, c: &ToolCall, o: &Outcome) -> ToolStep {
        ToolStep {
            step: self.round,
            call_id: c.id.clone(),
            tool: c.name.clone(),
            arguments: shown_arguments(&c.arguments),
            status: o.status,
            summary: o.summary.clone(),
        }
    }
}

async fn call_model(model: Arc<dyn ChatModel>, req: ChatRequest, whole: bool) -> Result<EventStream, ModelError> {
    if whole { model.complete_whole(req).await } else { model.stream(req).await }
}

impl Kit {
    /// Checks call number `i` of model call `round` and runs it when it may run.
    async fn resolve(&self, round: u32, c: &ToolCall, i: usize) -> Outcome {
        if i >= MAX_CALLS_PER_STEP {
            return Outcome::error(format!("Not run: at most {MAX_CALLS_PER_STEP} tool calls at a time."));
        }
        if round > self.max_steps {
            return Outcome::error(format!(
                "Not run: the limit of {} steps was reached. Answer now with what you have, without tools.",
                self.max_steps
            ));
        }
        let Some(def) = self.defs.iter().find(|d| d.spec.name == c.name) else {
            let names: Vec<&str> = self.defs.iter().map(|d| d.spec.name.as_str()).collect();
            return Outcome::error(format!("Unknown tool. The tools are: {}.", names.join(", ")));
        };
        let args = match c.arguments_object() {
            Ok(v) => v,
            Err(why) => return Outcome::error(why),
        };
        if def.effect == ToolEffect::Acting {
            let summary = "Needs your confirmation: not run.".to_owned();
            return Outcome { status: StepStatus::NeedsConfirmation, summary, content: String::new() };
        }
        self.run_tool(&def.spec.name, &args).await
    }

    async fn run_tool(&self, name: &str, args: &Value) -> Outcome {
        let source = format!("the tool {name}");
        match tokio::time::timeout(TOOL_TIMEOUT, self.toolbox.call(&self.principal, name, args)).await {
            Ok(Ok(out)) => {
                let summary = out.summary.unwrap_or_else(|| shortened(&out.content, SUMMARY_CHARS));
                let content = frame_untrusted(&source, &shortened(&out.content, MAX_RESULT_CHARS));
                Outcome { status: StepStatus::Ok, summary, content }
            }
            Ok(Err(e)) => Outcome {
                status: StepStatus::Error,
                summary: shortened(&e.message, SUMMARY_CHARS),
                content: format!("The tool failed.\n{}", frame_untrusted(&source, &e.message)),
            },
            Err(_) => Outcome::error("The tool did not answer in time.".to_owned()),
        }
    }
}

/// The arguments as a step shows them: the JSON, or the model's text when it is not JSON or
/// too long to show whole.
fn shown_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v) if raw.chars().count() <= ARGUMENT_CHARS => v,
        _ => Value::String(shortened(raw, ARGUMENT_CHARS)),
    }
}

/// At most `max` characters of `s`, with `…` when cut.
fn shortened(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_must_be_a_json_object() {
        let arguments =
            |raw: &str| ToolCall { id: "c".into(), name: "t".into(), arguments: raw.into() }.arguments_object();
        assert_eq!(arguments(" "), Ok(serde_json::json!({})));
        assert_eq!(arguments("{\"a\": 1}"), Ok(serde_json::json!({"a": 1})));
        assert!(arguments("[1]").unwrap_err().contains("JSON object"));
        assert!(arguments("{\"a\": ").unwrap_err().contains("not valid JSON"));
        assert_eq!(shown_arguments("{oops"), Value::String("{oops".into()));
        assert_eq!(shortened("héllo", 2), "hé…");
    }
}
