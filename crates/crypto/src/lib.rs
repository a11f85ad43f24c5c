//! `rampart-crypto`: the only code that calls cryptographic primitives.
//!
//! Owns the CSPRNG and token generators (each states its entropy), constant-time comparison,
//! SHA-256, Argon2id password hashing, TOTP, AEAD envelope encryption with key ids, and JWT
//! signing keys with their public JWKs. Depends only on `rampart-core`.
//! Primitives come from aws-lc-rs (AEAD, digests, RNG, key generation), the RustCrypto
//! `argon2` crate, `totp-rs` and `jsonwebtoken`; nothing here implements a primitive itself.

pub mod envelope;
pub mod password;
pub mod signing;
pub mod tokens;
pub mod totp;

pub use envelope::{EnvelopeError, Keyring, MasterKey};
pub use password::{PasswordHasher, PasswordParams};
pub use signing::{SigningAlg, SigningKeyMaterial};
pub use tokens::*;
