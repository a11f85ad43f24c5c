//! Envelope encryption for content at rest.
//!
//! Each record gets a fresh 256-bit data key (DEK). The content is sealed with AES-256-GCM
//! under the DEK with the record's identity as associated data, so a ciphertext copied onto
//! another record fails to open. The DEK is wrapped with AES-256-GCM under the master key,
//! whose id travels with the blob so keys can rotate.
//!
//! Blob layout (version 1):
//! `0x01 | kid_len:u8 | kid | wrap_nonce:12 | wrapped_dek:32+16 | nonce:12 | ciphertext+tag:16`

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = 32 + TAG_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("no master key with id {0} is loaded")]
    UnknownKey(String),
    #[error("decryption failed (wrong key or associated data, or tampered ciphertext)")]
    Decrypt,
    #[error("master key rejected: {0}")]
    BadMasterKey(&'static str),
}

/// A 256-bit master key with its id (a fingerprint, so the same key always has the same id).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// Generates a new random key.
    pub fn generate() -> Self {
        Self::from_bytes(crate::random_bytes::<32>()).unwrap_or_else(|_| Self::generate())
    }

    /// Accepts exactly 32 bytes; refuses keys with obviously low entropy.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, EnvelopeError> {
        let distinct = bytes.iter().collect::<std::collections::BTreeSet<_>>().len();
        if distinct < 8 {
            return Err(EnvelopeError::BadMasterKey("the key has too little entropy"));
        }
        let fp = crate::sha256(&[b"rampart-master-key-id:".as_slice(), &bytes].concat());
        Ok(Self { id: format!("mk-{}", hex::encode(&fp[..6])), key: Zeroizing::new(bytes) })
    }

    /// Parses the key file format: 32 bytes as base64 (standard or url-safe) or 64 hex digits,
    /// surrounding whitespace ignored.
    pub fn from_encoded(text: &str) -> Result<Self, EnvelopeError> {
        use base64::Engine as _;
        let t = text.trim();
        let raw: Option<Vec<u8>> = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).ok()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
                .ok()
        };
        let raw =
            Zeroizing::new(raw.ok_or(EnvelopeError::BadMasterKey("expected 32 bytes as base64 or 64 hex digits"))?);
        let arr: [u8; 32] =
            raw.as_slice().try_into().map_err(|_| EnvelopeError::BadMasterKey("the key must be exactly 32 bytes"))?;
        Self::from_bytes(arr)
    }

    /// The key file format written on first start.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(*self.key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn aead(&self) -> LessSafeKey {
        #[expect(clippy::expect_used, reason = "the key is 32 bytes by construction, the length AES-256-GCM takes")]
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &*self.key).expect("32-byte key"))
    }
}

/// The master keys in force: one active key that seals, and older keys that can still open.
#[derive(Clone, Debug)]
pub struct Keyring {
    active: MasterKey,
    previous: Vec<MasterKey>,
}

fn seal_with(key: &LessSafeKey, aad: &[u8], data: &[u8]) -> Vec<u8> {
    let nonce_bytes = crate::random_bytes::<NONCE_LEN>();
    let mut buf = data.to_vec();
    #[expect(
        clippy::expect_used,
        reason = "sealing fails only for inputs over AES-GCM limits (64 GiB), far beyond any record"
    )]
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad), &mut buf)
        .expect("AES-GCM seal cannot fail for in-range inputs");
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&buf);
    out
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(EnvelopeError::Malformed);
    }
    let (n, ct) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| EnvelopeError::Malformed)?;
    let mut buf = ct.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).map_err(|_| EnvelopeError::Decrypt)?;
    Ok(plain.to_vec())
}

fn wrap_aad(kid: &str) -> Vec<u8> {
    [b"rampart-dek:".as_slice(), kid.as_bytes()].concat()
}

impl Keyring {
    pub fn new(active: MasterKey) -> Self {
        Self { active, previous: Vec::new() }
    }

    /// Adds an older key that may still open existing data.
    #[must_use]
    pub fn with_previous(mut self, key: MasterKey) -> Self {
        if key.id != self.active.id && !self.previous.iter().any(|k| k.id == key.id) {
            self.previous.push(key);
        }
        self
    }

    /// The id of the key that seals.
    pub fn active_id(&self) -> &str {
        &self.active.id
    }

    /// A 32-byte key for `purpose`, derived from the active master key (HKDF-SHA256), for data
    /// that is keyed rather than sealed (the lexical index's terms). It changes with the active
    /// master key, so what is keyed with it must be rebuildable: its users store the active
    /// key's id next to it and rebuild when that changes.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let mut out = Zeroizing::new([0u8; 32]);
        let info = [purpose.as_bytes()];
        #[expect(clippy::expect_used, reason = "HKDF-SHA256 can expand 32 bytes (its limit is 255 blocks of 32)")]
        Salt::new(HKDF_SHA256, b"rampart-derive-v1")
            .extract(&*self.active.key)
            .expand(&info, HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut *out))
            .expect("HKDF-SHA256 expands 32 bytes");
        out
    }

    fn find(&self, kid: &str) -> Option<&MasterKey> {
        std::iter::once(&self.active).chain(self.previous.iter()).find(|k| k.id == kid)
    }

    /// Seals `plaintext`, binding `aad` (the record's identity, e.g. `totp:<user id>`).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let dek = Zeroizing::new(crate::random_bytes::<32>());
        #[expect(clippy::expect_used, reason = "the data key is 32 bytes by construction")]
        let dek_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &*dek).expect("32-byte key"));
        let kid = self.active.id.as_bytes();
        let wrapped = seal_with(&self.active.aead(), &wrap_aad(&self.active.id), &*dek);
        let body = seal_with(&dek_key, aad, plaintext);
        let mut out = Vec::with_capacity(2 + kid.len() + wrapped.len() + body.len());
        out.push(VERSION);
        out.push(u8::try_from(kid.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(kid);
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&body);
        out
    }

    fn split(blob: &[u8]) -> Result<(&str, &[u8], &[u8]), EnvelopeError> {
        let (&v, rest) = blob.split_first().ok_or(EnvelopeError::Malformed)?;
        if v != VERSION {
            return Err(EnvelopeError::Malformed);
        }
        let (&kl, rest) = rest.split_first().ok_or(EnvelopeError::Malformed)?;
        let kl = usize::from(kl);
        if rest.len() < kl + NONCE_LEN + WRAPPED_LEN {
            return Err(EnvelopeError::Malformed);
        }
        let (kid, rest) = rest.split_at(kl);
        let kid = std::str::from_utf8(kid).map_err(|_| EnvelopeError::Malformed)?;
        let (wrapped, body) = rest.split_at(NONCE_LEN + WRAPPED_LEN);
        Ok((kid, wrapped, body))
    }

    fn unwrap_dek(&self, kid: &str, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let mk = self.find(kid).ok_or_else(|| EnvelopeError::UnknownKey(kid.to_owned()))?;
        open_with(&mk.aead(), &wrap_aad(kid), wrapped).map(Zeroizing::new)
    }

    /// Opens a blob made by [`Keyring::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let (kid, wrapped, body) = Self::split(blob)?;
        let dek = self.unwrap_dek(kid, wrapped)?;
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &dek).map_err(|_| EnvelopeError::Malformed)?);
        open_with(&key, aad, body)
    }

    /// The id of the master key that wrapped a blob's data key.
    pub fn key_id_of(blob: &[u8]) -> Result<String, EnvelopeError> {
        Self::split(blob).map(|(k, _, _)| k.to_owned())
    }

    /// Re-wraps a blob's data key under the active master key without touching its content;
    /// `None` when it is under the active key already (nothing to write).
    pub fn rewrap(&self, blob: &[u8]) -> Result<Option<Vec<u8>>, EnvelopeError> {
        let (kid, wrapped, body) = Self::split(blob)?;
        if kid == self.active.id {
            return Ok(None);
        }
        let dek = self.unwrap_dek(kid, wrapped)?;
        let new_wrapped = seal_with(&self.active.aead(), &wrap_aad(&self.active.id), &dek);
        let k = self.active.id.as_bytes();
        let mut out = vec![VERSION, u8::try_from(k.len()).unwrap_or(u8::MAX)];
        out.extend_from_slice(k);
        out.extend_from_slice(&new_wrapped);
        out.extend_from_slice(body);
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_follow_purpose_and_active_key() {
        let k = MasterKey::generate();
        let ring = Keyring::new(k.clone());
        assert_eq!(*ring.derive("a"), *Keyring::new(k.clone()).derive("a"), "deterministic");
        assert_ne!(*ring.derive("a"), *ring.derive("b"), "one key per purpose");
        assert_ne!(*ring.derive("a"), *k.key, "not the master key itself");
        let rotated = Keyring::new(MasterKey::generate()).with_previous(k);
        assert_ne!(*ring.derive("a"), *rotated.derive("a"), "from the active key only");
    }

    #[test]
    fn seal_open_and_bind_aad() {
        let ring = Keyring::new(MasterKey::generate());
        let blob = ring.seal(b"totp:user-1", b"JBSWY3DPEHPK3PXP");
        assert!(!blob.windows(16).any(|w| w == b"JBSWY3DPEHPK3PXP"));
        assert_eq!(ring.open(b"totp:user-1", &blob).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert_eq!(ring.open(b"totp:user-2", &blob), Err(EnvelopeError::Decrypt));
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(ring.open(b"totp:user-1", &tampered), Err(EnvelopeError::Decrypt));
        assert_eq!(ring.open(b"x", &[1, 2, 3]), Err(EnvelopeError::Malformed));
    }

    #[test]
    fn rotation_rewraps_and_old_key_still_opens() {
        let old = MasterKey::generate();
        let ring_old = Keyring::new(old.clone());
        let blob = ring_old.seal(b"r", b"content");
        let new = MasterKey::generate();
        let ring = Keyring::new(new.clone()).with_previous(old);
        assert_eq!(ring.open(b"r", &blob).unwrap(), b"content");
        let re = ring.rewrap(&blob).unwrap().unwrap();
        assert_eq!(Keyring::key_id_of(&re).unwrap(), new.id());
        assert_eq!(ring.rewrap(&re).unwrap(), None, "already under the active key");
        assert_eq!(Keyring::new(new).open(b"r", &re).unwrap(), b"content");
        assert!(matches!(ring_old.open(b"r", &re), Err(EnvelopeError::UnknownKey(_))));
    }

    #[test]
    fn master_key_parsing_refuses_weak_keys() {
        assert!(MasterKey::from_bytes([0u8; 32]).is_err());
        assert!(MasterKey::from_encoded("c2hvcnQ=").is_err());
        let k = MasterKey::generate();
        let again = MasterKey::from_encoded(&k.encode()).unwrap();
        assert_eq!(k.id(), again.id());
        assert!(MasterKey::from_encoded(&"ab".repeat(32)).is_err(), "two distinct bytes is weak");
    }
}
