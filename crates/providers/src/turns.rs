//! Conversation shapes for providers stricter than OpenAI's (Anthropic Messages, Bedrock
//! Converse): system messages apart, and user/assistant turns that alternate from `user`.

use crate::types::{ChatMessage, Role};

/// The system messages' texts, in order.
pub(crate) fn system(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect()
}

/// The other messages as alternating turns: consecutive messages of one role merged with a
/// blank line, and a conversation that starts with the assistant (a greeting, say) given a
/// minimal first user turn, since both APIs reject anything else.
pub(crate) fn alternating(messages: &[ChatMessage]) -> Vec<(Role, String)> {
    let mut turns: Vec<(Role, String)> = Vec::new();
    for m in messages.iter().filter(|m| m.role != Role::System) {
        match turns.last_mut() {
            Some((r, text)) if *r == m.role => {
                text.push_str("\n\n");
                text.push_str(&m.content);
            }
            _ => turns.push((m.role, m.content.clone())),
        }
    }
    if turns.first().is_some_and(|(r, _)| *r == Role::Assistant) {
        turns.insert(0, (Role::User, ".".to_owned()));
    }
    turns
}
