//! Scripted replies for the fake model upstreams: what each request is answered with, in
//! order, so a test can have the model call tools and then answer. Each fake renders a step in
//! its own wire format.

use std::collections::VecDeque;

/// One tool call a fake model makes.
#[derive(Clone, Debug)]
pub struct FakeCall {
    pub name: String,
    /// The arguments as the model writes them (JSON text; invalid JSON is allowed, to test the
    /// caller). Streamed in fragments of [`FRAGMENT_CHARS`] characters.
    pub arguments: String,
}

impl FakeCall {
    pub fn new(name: &str, arguments: &str) -> Self {
        Self { name: name.to_owned(), arguments: arguments.to_owned() }
    }
}

/// What a fake model answers one request with.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// Text; `{tool_result}` in it is replaced by the content of the last tool result the
    /// request carries (so a test sees what the model was sent back).
    Text(String),
    /// Tool calls (made only when the request offers tools, as a real model; otherwise the
    /// knobs' `reply` is sent).
    Calls(Vec<FakeCall>),
}

/// How long each streamed fragment of a call's arguments is.
pub const FRAGMENT_CHARS: usize = 4;

/// The steps not yet answered.
#[derive(Debug, Default)]
pub(crate) struct Script(VecDeque<Scripted>);

impl Script {
    pub fn new(steps: &[Scripted]) -> Self {
        Self(steps.iter().cloned().collect())
    }

    /// The answer to the next request: the next step, or `reply` once the script is done.
    pub fn next(&mut self, tools_offered: bool, reply: &str, last_result: Option<&str>) -> Scripted {
        match self.0.pop_front() {
            Some(Scripted::Calls(c)) if tools_offered => Scripted::Calls(c),
            Some(Scripted::Text(t)) => Scripted::Text(t.replace("{tool_result}", last_result.unwrap_or(""))),
            Some(Scripted::Calls(_)) | None => Scripted::Text(reply.to_owned()),
        }
    }
}

/// `s` in pieces of at most [`FRAGMENT_CHARS`] characters (at least one piece).
pub(crate) fn fragments(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(FRAGMENT_CHARS).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_come_in_order_then_the_reply() {
        let mut s =
            Script::new(&[Scripted::Calls(vec![FakeCall::new("t", "{}")]), Scripted::Text("saw {tool_result}".into())]);
        assert!(matches!(s.next(true, "r", None), Scripted::Calls(c) if c.len() == 1));
        assert!(matches!(s.next(true, "r", Some("42")), Scripted::Text(t) if t == "saw 42"));
        assert!(matches!(s.next(true, "r", None), Scripted::Text(t) if t == "r"));
        let mut s = Script::new(&[Scripted::Calls(vec![FakeCall::new("t", "{}")])]);
        assert!(matches!(s.next(false, "r", None), Scripted::Text(t) if t == "r"), "no tools offered: no calls");
        assert_eq!(fragments("{\"a\": 1}"), vec!["{\"a\"", ": 1}"]);
    }
}
