//! The credentials file the load tools share (`ws-load`, `meet-load`): one
//! `<userId> <bearer|apikey> <secret>` per line, as the bench scripts write it; and the
//! AppSync-Events upgrade request for `/event/realtime` that carries one in its `header-`
//! subprotocol.

use base64::Engine as _;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

/// One user's credential.
pub struct Cred {
    pub user: String,
    /// An access token (`bearer`) or an API key (`apikey`).
    pub api_key: bool,
    pub secret: String,
}

impl Cred {
    /// The HTTP header that carries it: `Authorization: Bearer …` or `x-api-key: …`.
    pub fn http_header(&self) -> (&'static str, String) {
        if self.api_key {
            ("x-api-key", self.secret.clone())
        } else {
            ("authorization", format!("Bearer {}", self.secret))
        }
    }
}

/// Reads the credentials file; an error names the line.
pub fn read_creds(path: &std::path::Path) -> Result<Vec<Cred>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = || format!("line {}: expected `<userId> <bearer|apikey> <secret>`", n + 1);
        let f: Vec<&str> = line.split_whitespace().collect();
        let [user, kind, secret] = f[..] else { return Err(bad()) };
        let api_key = match kind {
            "bearer" => false,
            "apikey" => true,
            _ => return Err(bad()),
        };
        out.push(Cred { user: user.to_owned(), api_key, secret: secret.to_owned() });
    }
    if out.is_empty() {
        return Err(format!("{}: no credentials", path.display()));
    }
    Ok(out)
}

/// The upgrade request of `ws://{host}/event/realtime`, authorised as AppSync Events clients do
/// it: the `host` and the credential's header, JSON in base64url, as a `header-…` subprotocol.
pub fn appsync_request(host: &str, cred: &Cred) -> Result<Request, String> {
    let header = if cred.api_key { "x-api-key" } else { "Authorization" };
    let auth = json!({"host": host, header: cred.secret}).to_string();
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(auth);
    let mut req = format!("ws://{host}/event/realtime").into_client_request().map_err(|e| e.to_string())?;
    let protocols = format!("aws-appsync-event-ws, header-{enc}").parse().map_err(|_| "header".to_owned())?;
    req.headers_mut().insert("sec-websocket-protocol", protocols);
    Ok(req)
}
