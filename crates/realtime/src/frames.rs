//! Server → client frames (docs/realtime-protocol.md §2). Every frame is one JSON text.

use serde_json::{Value, json};

/// `connectionTimeoutMs` at the top level (Amplify) and in `payload` (Swift): how long the
/// client may go without a frame (a `ka`) before it considers the connection dead.
pub fn connection_ack(timeout_ms: u64) -> String {
    json!({"type": "connection_ack", "connectionTimeoutMs": timeout_ms, "payload": {"connectionTimeoutMs": timeout_ms}})
        .to_string()
}

pub fn ka() -> String {
    json!({"type": "ka"}).to_string()
}

fn errors(error_type: &str, message: &str) -> Value {
    json!([{"errorType": error_type, "message": message}])
}

pub fn connection_error(error_type: &str, message: &str) -> String {
    json!({"type": "connection_error", "errors": errors(error_type, message)}).to_string()
}

/// `subscribe_error`, `publish_error`, `unsubscribe_error`, or the generic `error` (`id` optional).
pub fn op_error(kind: &str, id: Option<&str>, error_type: &str, message: &str) -> String {
    let mut v = json!({"type": kind, "errors": errors(error_type, message)});
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v.to_string()
}

pub fn ok(kind: &str, id: &str) -> String {
    json!({"type": kind, "id": id}).to_string()
}

/// `publish_success` for `n` accepted events (identifiers made here).
pub fn publish_success(id: &str, n: usize) -> String {
    let successful: Vec<Value> =
        (0..n).map(|i| json!({"identifier": uuid::Uuid::now_v7().to_string(), "index": i})).collect();
    json!({"type": "publish_success", "id": id, "successful": successful, "failed": []}).to_string()
}

/// One `data` frame: `event` is a JSON *string* (what every AWS client parses).
pub fn data(subscription_id: &str, event: &Value) -> String {
    json!({"type": "data", "id": subscription_id, "event": event.to_string()}).to_string()
}
