//! Random tokens, hashing and constant-time comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills a buffer from the operating system's CSPRNG (via aws-lc).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // aws-lc's RNG only fails if the OS entropy source is unusable; nothing safe can go on then.
    #[expect(
        clippy::expect_used,
        reason = "without the operating system CSPRNG no secret can be made: stopping is the only safe answer"
    )]
    aws_lc_rs::rand::fill(&mut b).expect("operating system CSPRNG unavailable");
    b
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Hex SHA-256, the form in which stored tokens are kept.
/// HMAC-SHA256 of `data` under `key`, hex: a lookup value for an identifier that must not be
/// stored in the clear (equal inputs, equal outputs; nothing to learn without the key).
pub fn keyed_hash_hex(key: &[u8; 32], data: &[u8]) -> String {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    hex::encode(aws_lc_rs::hmac::sign(&k, data).as_ref())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

/// Constant-time equality of two byte strings (length may leak, content does not).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// An opaque bearer token: 256 bits of entropy, base64url (43 chars).
/// Used for refresh tokens and challenge sessions.
pub fn opaque_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// The bootstrap code: 128 bits of entropy as 32 hex characters in groups of 8.
pub fn bootstrap_code() -> String {
    let h = hex::encode(random_bytes::<16>());
    format!("{}-{}-{}-{}", &h[0..8], &h[8..16], &h[16..24], &h[24..32])
}

/// An MFA recovery code: 80 bits of entropy, five groups of four hex digits.
pub fn recovery_code() -> String {
    let h = hex::encode(random_bytes::<10>());
    format!("{}-{}-{}-{}-{}", &h[0..4], &h[4..8], &h[8..12], &h[12..16], &h[16..20])
}

/// Normalises a user-typed recovery code (case, spaces, dashes) before hashing.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_hexdigit()).map(|c| c.to_ascii_lowercase()).collect()
}

/// A freshly generated API key: `rampart_<prefix>_<secret>`.
pub struct NewApiKey {
    /// 48 bits, hex (12 chars): the lookup handle, stored in clear.
    pub prefix: String,
    /// The whole key, shown once to the user.
    pub key: String,
    /// SHA-256 of the 192-bit secret part, hex: what is stored.
    pub secret_hash: String,
}

pub use rampart_core::credential::API_KEY_PREFIX;

pub fn new_api_key() -> NewApiKey {
    let prefix = hex::encode(random_bytes::<6>());
    let secret = hex::encode(random_bytes::<24>());
    let secret_hash = sha256_hex(secret.as_bytes());
    NewApiKey { key: format!("{API_KEY_PREFIX}{prefix}_{secret}"), prefix, secret_hash }
}

/// Splits a presented API key into (prefix, secret) if it has the right shape.
pub fn parse_api_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let hexish = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexish(prefix, 12) && hexish(secret, 48)).then_some((prefix, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn api_keys_round_trip_and_verify() {
        let k = new_api_key();
        let (p, s) = parse_api_key(&k.key).unwrap();
        assert_eq!(p, k.prefix);
        assert!(ct_eq(sha256_hex(s.as_bytes()).as_bytes(), k.secret_hash.as_bytes()));
        assert!(parse_api_key("rampart_zz_yy").is_none());
        assert!(parse_api_key(&k.key.replace("rampart_", "other_")).is_none());
    }
    #[test]
    fn tokens_are_distinct() {
        assert_ne!(opaque_token(), opaque_token());
        assert_eq!(recovery_code().len(), 24);
        assert_eq!(normalize_recovery_code("AB12-cd34 "), "ab12cd34");
    }
}
