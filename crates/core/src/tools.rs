//! Tools: read-only operations a caller's agent invokes by name with a JSON object of arguments
//! — what `/mcp` serves, and what an assistant's agent loop may offer a model.
//!
//! Each tool is one small value implementing [`Tool`], defined by the feature crate that owns
//! the data (meetings, knowledge) over its own service; the server collects them into one
//! [`ToolRegistry`]. A tool decides nothing when it is registered: it evaluates the caller's
//! access every time it runs, through its service, so a share or a group removed a moment ago
//! already counts.

use crate::Principal;
use crate::embed::BoxFuture;
use serde_json::Value;
use std::sync::Arc;

/// What a tool says of itself (MCP's `Tool`: name, title, description, input schema).
#[derive(Clone, Debug)]
pub struct ToolSpec {
    /// Unique, stable (`list_meetings`): clients and models call the tool by it.
    pub name: &'static str,
    /// For people (a client's tool picker).
    pub title: &'static str,
    /// For the model: what it does, when to use it, what it returns.
    pub description: &'static str,
    /// JSON Schema (2020-12) of the arguments object.
    pub input_schema: Value,
    /// It changes nothing (every built-in tool): no need to ask the user before running it.
    pub read_only: bool,
}

/// A tool's result.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolOutput {
    /// Text as it is (a transcript file).
    Text(String),
    /// Data (sent as structured content, and as its JSON text for clients that read text only).
    Json(Value),
}

/// Why a call failed. The caller (a model, often) is told [`ToolError::public_message`]; the
/// detail of an internal failure is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the schema (the message says how, so a model can correct them).
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// Absent, or not the caller's to read: the same answer either way.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("internal: {0}")]
    Internal(String),
}

impl ToolError {
    /// What the caller is told.
    pub fn public_message(&self) -> String {
        match self {
            ToolError::InvalidArguments(m) => format!("Invalid arguments: {m}"),
            ToolError::NotFound(what) => {
                let mut w = what.chars();
                let first = w.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
                format!("{first}{} not found.", w.as_str())
            }
            ToolError::Internal(_) => "The tool failed. Try again later.".to_owned(),
        }
    }

    /// An internal failure, keeping its detail for the log.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ToolError::Internal(e.to_string())
    }
}

pub type ToolResult = Result<ToolOutput, ToolError>;

/// One tool.
pub trait Tool: Send + Sync {
    fn spec(&self) -> ToolSpec;
    /// Runs the tool as `caller` (whose access the tool's service checks) with `args`, a JSON
    /// object (`{}` when the client sent none).
    fn call<'a>(&'a self, caller: &'a Principal, args: Value) -> BoxFuture<'a, ToolResult>;
}

/// The JSON Schema of an arguments object: these `properties`, these `required`, nothing else.
pub fn object_schema(properties: Value, required: &[&str]) -> Value {
    let mut s = serde_json::json!({"type": "object", "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        s["required"] = serde_json::json!(required);
    }
    s
}

/// The arguments object read into `T` (serde's message names the field that does not fit).
pub fn arguments<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    let args = if args.is_null() { Value::Object(Default::default()) } else { args };
    serde_json::from_value(args).map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// The tools a server offers, in name order (so that every listing is the same).
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Vec<Arc<dyn Tool>>,
}

impl ToolRegistry {
    /// The registry of `tools`; a name given twice keeps the first.
    pub fn new(tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        let mut out: Vec<Arc<dyn Tool>> = Vec::new();
        for t in tools {
            if !out.iter().any(|o| o.spec().name == t.spec().name) {
                out.push(t);
            }
        }
        out.sort_by_key(|t| t.spec().name);
        Self { tools: out }
    }

    pub fn tools(&self) -> &[Arc<dyn Tool>] {
        &self.tools
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.iter().find(|t| t.spec().name == name)
    }
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.iter().map(|t| t.spec().name)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);
    impl Tool for Named {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: self.0,
                title: self.0,
                description: "",
                input_schema: serde_json::json!({"type": "object"}),
                read_only: true,
            }
        }
        fn call<'a>(&'a self, _: &'a Principal, _: Value) -> BoxFuture<'a, ToolResult> {
            Box::pin(async move { Ok(ToolOutput::Text(self.0.to_owned())) })
        }
    }

    #[test]
    fn registry_is_in_name_order_and_names_are_unique() {
        let r = ToolRegistry::new([Arc::new(Named("b")) as Arc<dyn Tool>, Arc::new(Named("a")), Arc::new(Named("b"))]);
        let names: Vec<_> = r.tools().iter().map(|t| t.spec().name).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(r.get("a").is_some() && r.get("c").is_none());
    }

    #[test]
    fn arguments_and_messages() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct A {
            #[serde(default)]
            n: Option<u32>,
        }
        assert!(arguments::<A>(Value::Null).is_ok_and(|a| a.n.is_none()));
        let e = arguments::<A>(serde_json::json!({"m": 1})).unwrap_err();
        assert!(e.public_message().starts_with("Invalid arguments: unknown field `m`"), "{e}");
        assert_eq!(ToolError::NotFound("meeting").public_message(), "Meeting not found.");
        assert_eq!(ToolError::internal("disk on fire").public_message(), "The tool failed. Try again later.");
    }
}
