//! TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, for authenticator-app compatibility.
//! Verification accepts ±1 step and reports which step matched so callers can refuse replays.

use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;

/// A new 160-bit TOTP secret.
pub fn generate_secret() -> [u8; 20] {
    crate::random_bytes::<20>()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<TOTP> {
    // `new_unchecked` because RFC 6238 allows 128-bit secrets and we control secret length.
    Some(TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.to_owned()),
        account.to_owned(),
    ))
}

/// The Base32 secret users type in by hand.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// The `otpauth://totp/…` URI for QR codes.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret, issuer, account).map(|t| t.get_url()).unwrap_or_default()
}

/// The code for a given time (tests and the CLI use it).
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    totp(secret, "", "x").map(|t| t.generate(unix_secs)).unwrap_or_default()
}

/// Checks `code` at `unix_secs` within ±1 step. Returns the matching step number, so that a
/// caller can refuse any step at or before the last one used.
pub fn verify(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = unix_secs / STEP_SECS;
    let mut found = None;
    // Check all three candidates (no early return) so timing does not say which matched.
    for s in [step.saturating_sub(1), step, step + 1] {
        if crate::ct_eq(code_at(secret, s * STEP_SECS).as_bytes(), code.as_bytes()) {
            found = Some(s);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 Appendix B, SHA-1 seed, T = 59 → 94287082 (8 digits); the 6-digit code is its tail.
        let seed = b"12345678901234567890";
        assert_eq!(code_at(seed, 59), "287082");
        assert_eq!(code_at(seed, 1_111_111_109), "081804");
    }
    #[test]
    fn window_and_step() {
        let s = generate_secret();
        let t = 1_700_000_000;
        let c = code_at(&s, t);
        assert_eq!(verify(&s, &c, t), Some(t / 30));
        assert!(verify(&s, &c, t + 30).is_some());
        assert!(verify(&s, &c, t + 90).is_none());
        assert!(verify(&s, "12345", t).is_none());
        assert!(otpauth_uri(&s, "Rampart", "a@b.c").starts_with("otpauth://totp/Rampart:a%40b.c?secret="));
    }
}
