//! Conversation shapes for providers stricter than OpenAI's (Anthropic Messages, Bedrock
//! Converse): system messages apart, and user/assistant turns that alternate from `user`, with
//! the tool calls of assistant turns and the tool results (sent as user turns) kept apart from
//! the text, each in the provider's own blocks.

use crate::types::{ChatMessage, Role, ToolCall, ToolResult};
use serde_json::Value;

/// The system messages' texts, in order.
pub(crate) fn system(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect()
}

/// One turn: `User` (which carries tool results) or `Assistant` (which carries tool calls).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Turn<'a> {
    pub role: Role,
    pub text: String,
    pub calls: Vec<&'a ToolCall>,
    pub results: Vec<&'a ToolResult>,
}

impl Turn<'_> {
    /// Text only (sent in the providers' plain form).
    pub fn is_plain(&self) -> bool {
        self.calls.is_empty() && self.results.is_empty()
    }
}

/// The other messages as alternating turns: consecutive messages of one role (tool results
/// count as the user's) merged, texts joined with a blank line, and a conversation that starts
/// with the assistant (a greeting, say) given a minimal first user turn, since both APIs reject
/// anything else.
pub(crate) fn alternating(messages: &[ChatMessage]) -> Vec<Turn<'_>> {
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for m in messages.iter().filter(|m| m.role != Role::System) {
        let role = if m.role == Role::Assistant { Role::Assistant } else { Role::User };
        match turns.last_mut() {
            Some(t) if t.role == role => {
                if !m.content.is_empty() {
                    if !t.text.is_empty() {
                        t.text.push_str("\n\n");
                    }
                    t.text.push_str(&m.content);
                }
                t.calls.extend(&m.tool_calls);
                t.results.extend(&m.tool_results);
            }
            _ => turns.push(Turn {
                role,
                text: m.content.clone(),
                calls: m.tool_calls.iter().collect(),
                results: m.tool_results.iter().collect(),
            }),
        }
    }
    if turns.first().is_some_and(|t| t.role == Role::Assistant) {
        turns.insert(0, Turn { role: Role::User, text: ".".to_owned(), calls: Vec::new(), results: Vec::new() });
    }
    turns
}

/// A call's arguments as the JSON object both APIs want back in the assistant's turn (`{}`
/// when the model wrote something else: the result sent with it says so).
pub(crate) fn arguments_object(c: &ToolCall) -> Value {
    c.arguments_object().unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_join_the_user_side_and_calls_stay_with_the_assistant() {
        let call = ToolCall { id: "c1".into(), name: "t".into(), arguments: "{\"q\":1}".into() };
        let result = ToolResult { call_id: "c1".into(), content: "r".into(), is_error: false };
        let msgs = vec![
            ChatMessage::new(Role::System, "s"),
            ChatMessage::new(Role::User, "q"),
            ChatMessage::assistant_calls("", vec![call.clone()]),
            ChatMessage::tool_results(vec![result.clone()]),
            ChatMessage::new(Role::User, "more"),
        ];
        let t = alternating(&msgs);
        assert_eq!(t.len(), 3);
        assert!(t[0].is_plain() && t[0].text == "q");
        assert_eq!((t[1].role, t[1].text.as_str(), t[1].calls.clone()), (Role::Assistant, "", vec![&call]));
        assert_eq!((t[2].role, t[2].text.as_str(), t[2].results.clone()), (Role::User, "more", vec![&result]));
        assert_eq!(arguments_object(&call), serde_json::json!({"q": 1}));
        let bad = ToolCall { arguments: "[1, 2".into(), ..call };
        assert_eq!(arguments_object(&bad), serde_json::json!({}));
    }
}
