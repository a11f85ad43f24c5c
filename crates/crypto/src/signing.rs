//! JWT signing keys: generation (aws-lc), their `kid`, and the public JWK for `/.well-known/jwks.json`.

use aws_lc_rs::encoding::AsDer;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use zeroize::Zeroizing;

/// The signature algorithms we issue tokens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA].into_iter().find(|a| a.as_str() == s)
    }
    pub fn jwt_alg(self) -> Algorithm {
        match self {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::EdDSA => Algorithm::EdDSA,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key is invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// A private signing key (PKCS#8 DER) with its id and algorithm.
pub struct SigningKeyMaterial {
    pub kid: String,
    pub alg: SigningAlg,
    pkcs8: Zeroizing<Vec<u8>>,
    encoding: EncodingKey,
    jwk: Jwk,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeyMaterial({}, {:?})", self.kid, self.alg)
    }
}

fn pem(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut s = Zeroizing::new(format!("-----BEGIN {label}-----\n"));
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

impl SigningKeyMaterial {
    /// Generates a new key: RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
    /// The `kid` carries 96 random bits.
    pub fn generate(alg: SigningAlg) -> Result<Self, SigningError> {
        let der: Vec<u8> = match alg {
            SigningAlg::RS256 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| SigningError::Generate)?;
                kp.as_der().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
            SigningAlg::ES256 => {
                let kp = aws_lc_rs::signature::EcdsaKeyPair::generate(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                )
                .map_err(|_| SigningError::Generate)?;
                kp.to_pkcs8v1().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
            SigningAlg::EdDSA => {
                let kp = aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|_| SigningError::Generate)?;
                kp.to_pkcs8v1().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
        };
        let kid = format!("{}-{}", alg.as_str().to_ascii_lowercase(), hex::encode(crate::random_bytes::<12>()));
        Self::from_pkcs8(kid, alg, der)
    }

    /// Loads a stored key.
    pub fn from_pkcs8(kid: String, alg: SigningAlg, pkcs8: Vec<u8>) -> Result<Self, SigningError> {
        let pkcs8 = Zeroizing::new(pkcs8);
        let encoding = match alg {
            SigningAlg::RS256 => EncodingKey::from_rsa_pem(pem("PRIVATE KEY", &pkcs8).as_bytes())?,
            SigningAlg::ES256 => EncodingKey::from_ec_der(&pkcs8),
            SigningAlg::EdDSA => EncodingKey::from_ed_der(&pkcs8),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt_alg())?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match alg {
            SigningAlg::RS256 => KeyAlgorithm::RS256,
            SigningAlg::ES256 => KeyAlgorithm::ES256,
            SigningAlg::EdDSA => KeyAlgorithm::EdDSA,
        });
        let decoding = DecodingKey::from_jwk(&jwk)?;
        Ok(Self { kid, alg, pkcs8, encoding, jwk, decoding })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
    /// The public half as a JWK (no private parameters).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn every_alg_signs_and_verifies_and_reloads() {
        for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
            let k = SigningKeyMaterial::generate(alg).unwrap();
            let mut h = jsonwebtoken::Header::new(alg.jwt_alg());
            h.kid = Some(k.kid.clone());
            let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000u64});
            let t = jsonwebtoken::encode(&h, &claims, k.encoding_key()).unwrap();
            let again = SigningKeyMaterial::from_pkcs8(k.kid.clone(), alg, k.pkcs8().to_vec()).unwrap();
            let v = jsonwebtoken::Validation::new(alg.jwt_alg());
            let d = jsonwebtoken::decode::<serde_json::Value>(&t, again.decoding_key(), &v).unwrap();
            assert_eq!(d.claims["sub"], "x");
            let j = serde_json::to_value(k.public_jwk()).unwrap();
            assert_eq!(j["kid"], k.kid.as_str());
            assert!(j.get("d").is_none(), "no private parts in the JWK");
        }
    }
}
