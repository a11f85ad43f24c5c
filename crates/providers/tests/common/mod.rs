//! What the provider tests share: a tool to offer and a request that offers it.

use rampart_core::llm::{ChatMessage, ChatRequest, ToolSpec};
use serde_json::json;

pub fn weather() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "The weather in a city.".into(),
        input_schema: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

pub fn tool_req(messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest { messages, tools: vec![weather()], ..Default::default() }
}
