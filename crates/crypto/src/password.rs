//! Argon2id password hashing.

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id cost parameters (OWASP's minimum is m=19 MiB, t=2, p=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// A hash of a random password, verified against when the account does not exist so that
    /// an unknown email costs the same time as a wrong password.
    dummy: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid Argon2 parameters: {0}")]
pub struct ParamsError(String);

impl PasswordHasher {
    pub fn new(p: PasswordParams) -> Result<Self, ParamsError> {
        let params =
            Params::new(p.memory_kib, p.iterations, p.parallelism, None).map_err(|e| ParamsError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut me = Self { argon, dummy: String::new() };
        me.dummy = me.hash(&hex::encode(crate::random_bytes::<16>()));
        Ok(me)
    }

    /// A PHC string (`$argon2id$v=19$m=…`), salt from the CSPRNG (128 bits).
    pub fn hash(&self, password: &str) -> String {
        use argon2::PasswordHasher as _;
        let salt_bytes = crate::random_bytes::<16>();
        #[expect(clippy::expect_used, reason = "a 16-byte salt always fits the B64 salt encoding")]
        let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt always encodes");
        #[expect(
            clippy::expect_used,
            reason = "the Argon2 parameters were validated when the hasher was built; hashing then cannot fail"
        )]
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .expect("hashing with validated params cannot fail")
            .to_string()
    }

    /// Verifies against a stored PHC string (its own parameters are used, so old hashes keep
    /// working after the configured cost changes). A malformed hash never verifies.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(h) => self.argon.verify_password(password.as_bytes(), &h).is_ok(),
            Err(_) => false,
        }
    }

    /// Spends the time of one verification and returns false.
    pub fn verify_dummy(&self, password: &str) -> bool {
        let _ = self.verify(password, &self.dummy);
        false
    }

    /// True when a stored hash was made with weaker parameters than configured.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(h) = PasswordHash::new(phc) else { return true };
        let Ok(params) = Params::try_from(&h) else { return true };
        let cur = self.argon.params();
        params.m_cost() < cur.m_cost() || params.t_cost() < cur.t_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hash_and_verify() {
        let h = PasswordHasher::new(PasswordParams { memory_kib: 1024, iterations: 1, parallelism: 1 }).unwrap();
        let phc = h.hash("correct horse battery");
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("correct horse battery", &phc));
        assert!(!h.verify("wrong", &phc));
        assert!(!h.verify("x", "not a hash"));
        assert!(!h.verify_dummy("anything"));
    }
}
