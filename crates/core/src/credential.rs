//! The one reader of credentials, whatever carries them: HTTP headers, the AppSync `header-…`
//! WebSocket subprotocol and per-operation `authorization` objects, or (LMA's browser form) a
//! query parameter. Every transport hands the raw values here and gets the same answer, so a
//! scheme refused on one path is refused on all of them.
//!
//! The rules: `x-api-key: <key>` is an API key. `Authorization: Bearer <token>` (scheme in any
//! case) is a bearer token; a bare value without a scheme is one too (AppSync clients send the
//! JWT as is). Any other scheme (`Basic …`) is not a credential. Empty values are absent. When
//! both are present the API key is read (the same order the routes have always used).

/// The prefix of every API key (`rampart_<prefix>_<secret>`), so a key sent as a bearer token is
/// recognised as a key.
pub const API_KEY_PREFIX: &str = "rampart_";

/// A credential as presented, borrowed from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `Authorization: Bearer …` (or the raw header value, as AppSync clients send it).
    Bearer(&'a str),
    /// `x-api-key: …`
    ApiKey(&'a str),
}

impl<'a> Credential<'a> {
    /// Reads the two places a credential may be: the `x-api-key` and the `Authorization` value.
    pub fn read(api_key: Option<&'a str>, authorization: Option<&'a str>) -> Option<Self> {
        if let Some(k) = api_key.map(str::trim).filter(|k| !k.is_empty()) {
            return Some(Credential::ApiKey(k));
        }
        let v = authorization?.trim();
        let token = match v.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            Some(_) => return None,
            // A scheme without a token.
            None if v.eq_ignore_ascii_case("bearer") => return None,
            None => v,
        };
        (!token.is_empty()).then_some(Credential::Bearer(token))
    }

    /// An API key (`x-api-key`, or `Bearer rampart_…`), as opposed to a token.
    pub fn is_api_key(&self) -> bool {
        match self {
            Credential::ApiKey(_) => true,
            Credential::Bearer(t) => t.starts_with(API_KEY_PREFIX),
        }
    }

    /// The credential's bytes (what the authentication cache hashes).
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Credential::Bearer(s) | Credential::ApiKey(s) => s.as_bytes(),
        }
    }
}

/// The credential-bearing values of an auth object, kept for as long as a connection lives
/// (a WebSocket re-reads its connection credential for every operation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialHeaders {
    pub api_key: Option<String>,
    pub authorization: Option<String>,
}

impl CredentialHeaders {
    /// From `(name, value)` pairs, names compared case-insensitively (the `header-…`
    /// subprotocol's object, a per-operation `authorization` object).
    pub fn from_pairs<'p>(pairs: impl IntoIterator<Item = (&'p str, &'p str)>) -> Self {
        let mut out = Self::default();
        for (name, value) in pairs {
            if name.eq_ignore_ascii_case("x-api-key") {
                out.api_key.get_or_insert_with(|| value.to_owned());
            } else if name.eq_ignore_ascii_case("authorization") {
                out.authorization.get_or_insert_with(|| value.to_owned());
            }
        }
        out
    }

    /// The credential these values carry, by the one set of rules.
    pub fn credential(&self) -> Option<Credential<'_>> {
        Credential::read(self.api_key.as_deref(), self.authorization.as_deref())
    }

    pub fn is_empty(&self) -> bool {
        self.api_key.is_none() && self.authorization.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_set_of_rules() {
        let read = Credential::read;
        assert_eq!(read(Some(" k "), Some("Bearer t")), Some(Credential::ApiKey("k")));
        assert_eq!(read(Some(""), Some("Bearer t")), Some(Credential::Bearer("t")));
        assert_eq!(read(None, Some("bearer  t ")), Some(Credential::Bearer("t")));
        assert_eq!(read(None, Some("BEARER t")), Some(Credential::Bearer("t")));
        assert_eq!(read(None, Some("eyJ.raw.jwt")), Some(Credential::Bearer("eyJ.raw.jwt")));
        assert_eq!(read(None, Some("Basic dXNlcjpwYXNz")), None);
        assert_eq!(read(None, Some("Bearer ")), None);
        assert_eq!(read(None, Some("  ")), None);
        assert_eq!(read(None, None), None);
        assert!(Credential::Bearer("rampart_abc_def").is_api_key());
        assert!(!Credential::Bearer("eyJ").is_api_key());
    }

    #[test]
    fn auth_objects_read_like_headers() {
        let h = CredentialHeaders::from_pairs([("host", "x"), ("Authorization", "Basic abc")]);
        assert_eq!(h.credential(), None, "another scheme is refused here as on REST");
        let h = CredentialHeaders::from_pairs([("X-Api-Key", "rampart_a_b"), ("authorization", "Bearer t")]);
        assert_eq!(h.credential(), Some(Credential::ApiKey("rampart_a_b")));
        assert!(CredentialHeaders::from_pairs([("host", "x")]).is_empty());
    }
}
