//! External key services that keep the master key wrapped at rest: the master key is stored
//! only as ciphertext made by the service, and unwrapped into memory at start-up. One port,
//! [`KeyWrap`], with two implementations:
//!
//! - [`VaultTransit`]: HashiCorp Vault's transit secrets engine (`POST /v1/{mount}/encrypt/{key}`
//!   and `…/decrypt/{key}`, `X-Vault-Token`, optional `X-Vault-Namespace`).
//! - `AwsKms` (cargo feature `aws-kms`): AWS KMS `Encrypt` / `Decrypt` through the official SDK,
//!   static keys as for Bedrock (the default credential chain is not compiled in).
//!
//! Only the 32-byte master key ever goes to the service; data keys are wrapped locally by it.

use rampart_core::Secret;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type WrapFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>>;

/// A service that encrypts and decrypts small secrets under a key it never releases.
pub trait KeyWrap: Send + Sync + std::fmt::Debug {
    /// `aws-kms` or `vault-transit`: the prefix of wrapped files.
    fn name(&self) -> &'static str;
    fn wrap<'a>(&'a self, plaintext: &'a [u8]) -> WrapFuture<'a>;
    fn unwrap<'a>(&'a self, wrapped: &'a [u8]) -> WrapFuture<'a>;
}

use base64::Engine as _;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Clone, Debug)]
pub struct VaultConfig {
    /// e.g. `https://vault.internal:8200` (http only on loopback).
    pub address: url::Url,
    pub mount: String,
    pub key_name: String,
    pub token: Secret<String>,
    pub namespace: Option<String>,
}

#[derive(Debug)]
pub struct VaultTransit {
    cfg: VaultConfig,
    http: reqwest::Client,
}

impl VaultTransit {
    pub fn new(cfg: VaultConfig) -> Result<Self, String> {
        let loopback = matches!(cfg.address.host(), Some(url::Host::Ipv4(a)) if a.is_loopback())
            || matches!(cfg.address.host(), Some(url::Host::Ipv6(a)) if a.is_loopback())
            || cfg.address.host_str() == Some("localhost");
        if cfg.address.scheme() != "https" && !(cfg.address.scheme() == "http" && loopback) {
            return Err("crypto.vault.address must be https:// (http only on loopback)".into());
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("vault client: {e}"))?;
        Ok(Self { cfg, http })
    }

    async fn call(&self, op: &str, body: serde_json::Value, field: &str) -> Result<String, String> {
        let url = format!(
            "{}/v1/{}/{op}/{}",
            self.cfg.address.as_str().trim_end_matches('/'),
            self.cfg.mount.trim_matches('/'),
            self.cfg.key_name
        );
        let mut r = self.http.post(url).header("X-Vault-Token", self.cfg.token.expose()).json(&body);
        if let Some(ns) = &self.cfg.namespace {
            r = r.header("X-Vault-Namespace", ns);
        }
        let resp = r.send().await.map_err(|e| format!("vault transit {op}: {}", e.without_url()))?;
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            // Vault's `errors` are messages, never the token.
            let errs = v["errors"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect::<Vec<_>>().join("; "));
            return Err(format!("vault transit {op}: HTTP {status}: {}", errs.unwrap_or_default()));
        }
        v["data"][field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("vault transit {op}: no data.{field} in the answer"))
    }
}

impl KeyWrap for VaultTransit {
    fn name(&self) -> &'static str {
        "vault-transit"
    }

    fn wrap<'a>(&'a self, plaintext: &'a [u8]) -> WrapFuture<'a> {
        Box::pin(async move {
            let c = self.call("encrypt", serde_json::json!({"plaintext": B64.encode(plaintext)}), "ciphertext").await?;
            Ok(c.into_bytes())
        })
    }

    fn unwrap<'a>(&'a self, wrapped: &'a [u8]) -> WrapFuture<'a> {
        Box::pin(async move {
            let c = std::str::from_utf8(wrapped).map_err(|_| "vault ciphertext is not text".to_owned())?;
            let p = self.call("decrypt", serde_json::json!({"ciphertext": c}), "plaintext").await?;
            B64.decode(p).map_err(|_| "vault transit decrypt: plaintext is not base64".to_owned())
        })
    }
}

#[cfg(feature = "aws-kms")]
pub use kms::{AwsKms, AwsKmsConfig};

#[cfg(feature = "aws-kms")]
mod kms {
    use super::{KeyWrap, WrapFuture};
    use aws_sdk_kms as sdk;
    use rampart_core::Secret;
    use sdk::config::{BehaviorVersion, Credentials, Region};
    use sdk::error::ProvideErrorMetadata;
    use std::time::Duration;

    #[derive(Clone, Debug)]
    pub struct AwsKmsConfig {
        /// Key id, ARN, alias name or alias ARN.
        pub key_id: String,
        pub region: String,
        /// A VPC endpoint, or a fake in tests.
        pub endpoint_url: Option<url::Url>,
        pub access_key_id: Option<Secret<String>>,
        pub secret_access_key: Option<Secret<String>>,
        pub session_token: Option<Secret<String>>,
    }

    #[derive(Debug)]
    pub struct AwsKms {
        client: sdk::Client,
        key_id: String,
    }

    impl AwsKms {
        pub fn new(cfg: AwsKmsConfig) -> Result<Self, String> {
            let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) else {
                return Err("crypto.aws_kms needs access_key_id and secret_access_key (the AWS default credential chain is not built in)".into());
            };
            if cfg.key_id.trim().is_empty() || cfg.region.trim().is_empty() {
                return Err("crypto.aws_kms needs key_id and region".into());
            }
            let creds = Credentials::new(
                id.expose(),
                secret.expose(),
                cfg.session_token.as_ref().map(|t| t.expose().clone()),
                None,
                "rampart-config",
            );
            let timeouts = sdk::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(20))
                .build();
            let mut b = sdk::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(cfg.region.clone()))
                .credentials_provider(creds)
                .timeout_config(timeouts);
            if let Some(u) = &cfg.endpoint_url {
                b = b.endpoint_url(u.as_str().trim_end_matches('/'));
            }
            Ok(Self { client: sdk::Client::from_conf(b.build()), key_id: cfg.key_id })
        }
    }

    fn describe<E: ProvideErrorMetadata + std::fmt::Debug>(op: &str, e: &sdk::error::SdkError<E>) -> String {
        match e.as_service_error() {
            Some(s) => format!("aws kms {op}: {}: {}", s.code().unwrap_or("error"), s.message().unwrap_or("")),
            None => format!("aws kms {op}: {e}"),
        }
    }

    impl KeyWrap for AwsKms {
        fn name(&self) -> &'static str {
            "aws-kms"
        }

        fn wrap<'a>(&'a self, plaintext: &'a [u8]) -> WrapFuture<'a> {
            Box::pin(async move {
                let out = self
                    .client
                    .encrypt()
                    .key_id(&self.key_id)
                    .plaintext(sdk::primitives::Blob::new(plaintext))
                    .send()
                    .await
                    .map_err(|e| describe("Encrypt", &e))?;
                out.ciphertext_blob
                    .map(sdk::primitives::Blob::into_inner)
                    .ok_or_else(|| "aws kms Encrypt: no ciphertext".into())
            })
        }

        fn unwrap<'a>(&'a self, wrapped: &'a [u8]) -> WrapFuture<'a> {
            Box::pin(async move {
                let out = self
                    .client
                    .decrypt()
                    .key_id(&self.key_id)
                    .ciphertext_blob(sdk::primitives::Blob::new(wrapped))
                    .send()
                    .await
                    .map_err(|e| describe("Decrypt", &e))?;
                out.plaintext
                    .map(sdk::primitives::Blob::into_inner)
                    .ok_or_else(|| "aws kms Decrypt: no plaintext".into())
            })
        }
    }
}
