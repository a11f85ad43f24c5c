//! The `[crypto]` section: where the master key comes from.
//!
//! It stays in `server` because the master key is loaded here (`crate::keys`: the key file
//! and its mode, the data-dir defaults, which wrapping service this build has), before any
//! other crate is built; `providers::keywrap` receives typed, checked values
//! (`VaultConfig`, `AwsKmsConfig`) and never reads configuration.

use rampart_core::Secret;
use rampart_core::config::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// Where the master key is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// The key itself, in a file or in the configuration.
    Local,
    /// The key file holds the master key wrapped by an AWS KMS key.
    AwsKms,
    /// The key file holds the master key wrapped by a Vault transit key.
    VaultTransit,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Local => "local",
            KeySource::AwsKms => "aws-kms",
            KeySource::VaultTransit => "vault-transit",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoConfig {
    /// `local` (the key itself in a file or the configuration), `aws-kms` or `vault-transit`
    /// (the key file holds the master key wrapped by that service).
    pub key_source: KeySource,
    /// The master key itself (base64 of 32 bytes). Prefer `master_key_file`. `local` only.
    pub master_key: Option<Secret<String>>,
    /// Default `{data_dir}/master.key` (`local`) or `{data_dir}/master.key.wrapped`; generated
    /// (mode 0600) on first start.
    pub master_key_file: Option<PathBuf>,
    /// Older master keys (files, in the same form) still accepted for decryption during a rotation.
    pub previous_key_files: Vec<PathBuf>,
    pub aws_kms: AwsKmsSection,
    pub vault: VaultSection,
}

impl Default for CryptoConfig {
    fn default() -> Self {
        Self {
            key_source: KeySource::Local,
            master_key: None,
            master_key_file: None,
            previous_key_files: Vec::new(),
            aws_kms: AwsKmsSection::default(),
            vault: VaultSection::default(),
        }
    }
}

impl CryptoConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.key_source != KeySource::Local && self.master_key.is_some() {
            return Err(ConfigError::new(
                "master_key",
                format!(
                    "is for key_source = \"local\"; with {} the key file holds the wrapped key",
                    self.key_source.as_str()
                ),
            ));
        }
        Ok(())
    }
}

/// `crypto.key_source = "aws-kms"`: the master key wrapped by a KMS key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsKmsSection {
    /// Key id, key ARN, alias name (`alias/rampart`) or alias ARN.
    pub key_id: String,
    pub region: String,
    /// A VPC endpoint (default: the regional endpoint).
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<Secret<String>>,
    pub secret_access_key: Option<Secret<String>>,
    pub session_token: Option<Secret<String>>,
}

/// `crypto.key_source = "vault-transit"`: the master key wrapped by a Vault transit key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSection {
    /// e.g. `https://vault.internal:8200` (http only on loopback).
    pub address: String,
    /// The transit engine's mount path.
    pub mount: String,
    pub key_name: String,
    /// A token allowed to encrypt and decrypt with `key_name`; prefer `token_file`.
    pub token: Option<Secret<String>>,
    pub token_file: Option<PathBuf>,
    /// Vault Enterprise namespace.
    pub namespace: Option<String>,
}

impl Default for VaultSection {
    fn default() -> Self {
        Self {
            address: String::new(),
            mount: "transit".into(),
            key_name: "rampart".into(),
            token: None,
            token_file: None,
            namespace: None,
        }
    }
}
