//! The one reader of credentials, whatever carries them: HTTP headers, the AppSync `header-…`
//! WebSocket subprotocol and per-operation `authorization` objects, or (LMA's browser form) a
//! query parameter. Every transport hands the raw values here and gets the same answer, so a
//! scheme refused on one path is refused on all of them.
//!
//! The rules: `x-api-key: <key>` is an API key. `Authorization: Bearer <token>` (scheme in any
//! case) is a bearer token; a bare value without a scheme is one too (AppSync clients send the
//! JWT as is). Any other scheme (`Basic …`) is not a credential. Empty values are absent.
//!
//! One credential per request: an API key and a bearer token together are refused with
//! [`AmbiguousCredentials`] (400 `ambiguous_credentials`), whoever they name, and so are two
//! credentials carried in two places (a WebSocket's auth subprotocol and its request headers, a
//! ticket and a header). Before, the API key won, and a request with my key and someone else's
//! token was served as me: which principal a request acts as must never depend on a precedence
//! rule the client may not know of. Refusing whenever both are present was chosen over
//! "refuse only when they resolve to different users" because it is decided before any lookup:
//! no second credential is checked, no scope of one leaks into a request made with the other
//! (a user's narrow API key beside their full session token would otherwise pick one silently),
//! and the answer never tells a caller whether a key and a token belong to the same person.
//! `Authorization` with another scheme (`Basic`, added by a proxy in front) is not a credential
//! and so is no conflict.

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

/// A request carried more than one credential (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the request carries more than one credential")]
pub struct AmbiguousCredentials;

impl crate::error::PublicError for AmbiguousCredentials {
    fn code(&self) -> crate::ErrorCode {
        crate::ErrorCode::AmbiguousCredentials
    }
}

impl<'a> Credential<'a> {
    /// Reads the two places a credential may be: the `x-api-key` and the `Authorization` value.
    /// Both present: [`AmbiguousCredentials`].
    pub fn read(
        api_key: Option<&'a str>,
        authorization: Option<&'a str>,
    ) -> Result<Option<Self>, AmbiguousCredentials> {
        let key = api_key.map(str::trim).filter(|k| !k.is_empty()).map(Credential::ApiKey);
        Self::one_of([key, authorization.and_then(Self::bearer)])
    }

    /// The one credential among those found in several places (`None` where a place had
    /// none); two or more: [`AmbiguousCredentials`].
    fn one_of(found: impl IntoIterator<Item = Option<Self>>) -> Result<Option<Self>, AmbiguousCredentials> {
        let mut present = found.into_iter().flatten();
        let first = present.next();
        match present.next() {
            Some(_) => Err(AmbiguousCredentials),
            None => Ok(first),
        }
    }

    /// The token of an `Authorization` value: `Bearer <token>`, or a bare token.
    fn bearer(authorization: &'a str) -> Option<Self> {
        let v = authorization.trim();
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
    /// One of the two given more than once (a repeated header; `Authorization` and
    /// `authorization` in one auth object): two credentials, so ambiguous.
    pub repeated: bool,
}

impl CredentialHeaders {
    /// From `(name, value)` pairs, names compared case-insensitively (the `header-…`
    /// subprotocol's object, a per-operation `authorization` object).
    pub fn from_pairs<'p>(pairs: impl IntoIterator<Item = (&'p str, &'p str)>) -> Self {
        let mut out = Self::default();
        for (name, value) in pairs {
            let slot = if name.eq_ignore_ascii_case("x-api-key") {
                &mut out.api_key
            } else if name.eq_ignore_ascii_case("authorization") {
                &mut out.authorization
            } else {
                continue;
            };
            out.repeated |= slot.is_some();
            slot.get_or_insert_with(|| value.to_owned());
        }
        out
    }

    /// The credential these values carry, by the one set of rules.
    pub fn credential(&self) -> Result<Option<Credential<'_>>, AmbiguousCredentials> {
        if self.repeated {
            return Err(AmbiguousCredentials);
        }
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
        let read = |k, a| Credential::read(k, a).unwrap();
        assert_eq!(Credential::read(Some(" k "), Some("Bearer t")), Err(AmbiguousCredentials));
        assert_eq!(Credential::read(Some("k"), Some("eyJ.raw.jwt")), Err(AmbiguousCredentials));
        assert_eq!(read(Some(" k "), Some("Basic dXNlcjpwYXNz")), Some(Credential::ApiKey("k")), "a proxy's Basic");
        assert_eq!(read(Some(" k "), Some("Bearer ")), Some(Credential::ApiKey("k")));
        assert_eq!(read(Some(""), Some("Bearer t")), Some(Credential::Bearer("t")));
        assert_eq!(read(None, Some("bearer  t ")), Some(Credential::Bearer("t")));
        assert_eq!(read(None, Some("BEARER t")), Some(Credential::Bearer("t")));
        assert_eq!(read(None, Some("eyJ.raw.jwt")), Some(Credential::Bearer("eyJ.raw.jwt")));
        assert_eq!(read(None, Some("Basic dXNlcjpwYXNz")), None);
        assert_eq!(read(None, Some("Bearer ")), None);
        assert_eq!(read(None, Some("  ")), None);
        assert_eq!(read(None, None), None);
        assert_eq!(Credential::one_of([None, Some(Credential::Bearer("t")), None]), Ok(Some(Credential::Bearer("t"))));
        assert_eq!(
            Credential::one_of([Some(Credential::Bearer("t")), Some(Credential::Bearer("t"))]),
            Err(AmbiguousCredentials)
        );
        assert_eq!(Credential::one_of([None, None]), Ok(None));
        assert!(Credential::Bearer("rampart_abc_def").is_api_key());
        assert!(!Credential::Bearer("eyJ").is_api_key());
    }

    #[test]
    fn auth_objects_read_like_headers() {
        let h = CredentialHeaders::from_pairs([("host", "x"), ("Authorization", "Basic abc")]);
        assert_eq!(h.credential(), Ok(None), "another scheme is refused here as on REST");
        let h = CredentialHeaders::from_pairs([("X-Api-Key", "rampart_a_b"), ("authorization", "Bearer t")]);
        assert_eq!(h.credential(), Err(AmbiguousCredentials), "both, as on REST");
        let h = CredentialHeaders::from_pairs([("X-Api-Key", "rampart_a_b")]);
        assert_eq!(h.credential(), Ok(Some(Credential::ApiKey("rampart_a_b"))));
        assert!(CredentialHeaders::from_pairs([("host", "x")]).is_empty());
        let h = CredentialHeaders::from_pairs([("Authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(h.credential(), Err(AmbiguousCredentials), "one name twice");
    }
}
