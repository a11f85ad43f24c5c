//! Fake key services speaking the real wire formats: AWS KMS (JSON 1.1 protocol, `X-Amz-Target:
//! TrentService.Encrypt|Decrypt`, SigV4-signed) and HashiCorp Vault transit
//! (`POST /v1/{mount}/encrypt|decrypt/{key}`, `X-Vault-Token`).
//!
//! Ciphertexts are random handles the fake remembers (it never releases what it was given
//! except to a caller with the right credentials and key), so a test can tell whether a value
//! went through it.

use crate::fake_bedrock::parse_sigv4;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Default)]
struct Shared {
    /// handle → (key id, plaintext)
    store: HashMap<Vec<u8>, (String, Vec<u8>)>,
    /// Operations seen: ("Encrypt" | "Decrypt" | "encrypt" | "decrypt", key).
    calls: Vec<(String, String)>,
    /// Plaintexts received (to check what left the process).
    plaintexts: Vec<Vec<u8>>,
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fake key service; stops when dropped.
pub struct FakeKeyService {
    /// e.g. `http://127.0.0.1:PORT`
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKeyService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeKeyService {
    /// The operations received so far, in order.
    pub fn calls(&self) -> Vec<(String, String)> {
        lock(&self.shared).calls.clone()
    }

    /// Every plaintext the service was asked to encrypt.
    pub fn plaintexts(&self) -> Vec<Vec<u8>> {
        lock(&self.shared).plaintexts.clone()
    }

    async fn serve(app: axum::Router, shared: Arc<Mutex<Shared>>) -> FakeKeyService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeKeyService { base_url: format!("http://{addr}"), shared, task }
    }

    /// AWS KMS accepting requests signed by `access_key_id`, for the key `key_id`.
    pub async fn kms(access_key_id: &'static str, key_id: &'static str) -> FakeKeyService {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let st = (shared.clone(), access_key_id, key_id);
        let app = axum::Router::new().route("/", axum::routing::post(kms)).with_state(st);
        Self::serve(app, shared).await
    }

    /// Vault transit accepting `token` for the key `key_name` under `mount`.
    pub async fn vault(token: &'static str, mount: &'static str, key_name: &'static str) -> FakeKeyService {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let st = (shared.clone(), token, key_name);
        let app = axum::Router::new()
            .route(&format!("/v1/{mount}/{{op}}/{{key}}"), axum::routing::post(vault))
            .with_state(st);
        Self::serve(app, shared).await
    }
}

fn kms_error(status: StatusCode, ty: &str, message: &str) -> Response {
    (status, [("content-type", "application/x-amz-json-1.1")], json!({"__type": ty, "message": message}).to_string())
        .into_response()
}

async fn kms(
    State((shared, access_key_id, key_id)): State<(Arc<Mutex<Shared>>, &'static str, &'static str)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(parse_sigv4);
    let Some(auth) = auth.filter(|a| a.service == "kms") else {
        return kms_error(StatusCode::BAD_REQUEST, "IncompleteSignatureException", "missing or malformed signature");
    };
    if auth.access_key_id != access_key_id {
        return kms_error(
            StatusCode::BAD_REQUEST,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-amz-json-1.1") {
        return kms_error(StatusCode::BAD_REQUEST, "SerializationException", "wrong content type");
    }
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let key = v["KeyId"].as_str().unwrap_or("").to_owned();
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key_id}");
    if key != key_id && key != arn {
        return kms_error(StatusCode::BAD_REQUEST, "NotFoundException", "Key does not exist");
    }
    let mut s = lock(&shared);
    match target {
        "TrentService.Encrypt" => {
            let Some(plain) = v["Plaintext"].as_str().and_then(|p| B64.decode(p).ok()) else {
                return kms_error(StatusCode::BAD_REQUEST, "ValidationException", "Plaintext");
            };
            s.calls.push(("Encrypt".into(), key));
            s.plaintexts.push(plain.clone());
            let handle: Vec<u8> = (0..3).flat_map(|_| *uuid::Uuid::now_v7().as_bytes()).collect();
            s.store.insert(handle.clone(), (key_id.to_owned(), plain));
            Json11(
                json!({"CiphertextBlob": B64.encode(handle), "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            )
            .into_response()
        }
        "TrentService.Decrypt" => {
            s.calls.push(("Decrypt".into(), key));
            let blob = v["CiphertextBlob"].as_str().and_then(|p| B64.decode(p).ok()).unwrap_or_default();
            match s.store.get(&blob) {
                Some((_, plain)) => Json11(
                    json!({"Plaintext": B64.encode(plain), "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
                )
                .into_response(),
                None => kms_error(StatusCode::BAD_REQUEST, "InvalidCiphertextException", ""),
            }
        }
        _ => kms_error(StatusCode::BAD_REQUEST, "UnknownOperationException", ""),
    }
}

struct Json11(Value);

impl IntoResponse for Json11 {
    fn into_response(self) -> Response {
        ([("content-type", "application/x-amz-json-1.1")], self.0.to_string()).into_response()
    }
}

async fn vault(
    State((shared, token, key_name)): State<(Arc<Mutex<Shared>>, &'static str, &'static str)>,
    Path((op, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let err = |status: StatusCode, m: &str| (status, axum::Json(json!({"errors": [m]}))).into_response();
    if headers.get("x-vault-token").and_then(|v| v.to_str().ok()) != Some(token) {
        return err(StatusCode::FORBIDDEN, "permission denied");
    }
    if key != key_name {
        return err(StatusCode::BAD_REQUEST, "encryption key not found");
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let mut s = lock(&shared);
    s.calls.push((op.clone(), key));
    match op.as_str() {
        "encrypt" => {
            let Some(plain) = v["plaintext"].as_str().and_then(|p| B64.decode(p).ok()) else {
                return err(StatusCode::BAD_REQUEST, "plaintext must be base64");
            };
            s.plaintexts.push(plain.clone());
            let handle = uuid::Uuid::now_v7().simple().to_string();
            s.store.insert(handle.clone().into_bytes(), (key_name.to_owned(), plain));
            axum::Json(json!({"data": {"ciphertext": format!("vault:v1:{handle}"), "key_version": 1}})).into_response()
        }
        "decrypt" => {
            let c = v["ciphertext"].as_str().unwrap_or("");
            let handle = c.strip_prefix("vault:v1:").unwrap_or("");
            match s.store.get(handle.as_bytes()) {
                Some((_, plain)) => axum::Json(json!({"data": {"plaintext": B64.encode(plain)}})).into_response(),
                None => err(StatusCode::BAD_REQUEST, "invalid ciphertext"),
            }
        }
        _ => err(StatusCode::NOT_FOUND, "unsupported path"),
    }
}
