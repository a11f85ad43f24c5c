//! The `transcribe_*` keys of `[speech]` (Amazon Transcribe streaming, the engine in
//! `rampart-transcribe`): checked here so that a bad value stops start-up with the key's name,
//! whether or not this build has the engine.

use crate::config::{SpeechConfig, SpeechEngine};
use rampart_core::config::ConfigError;

/// Checks the keys' shapes, and that `engine = "transcribe"` has a region and credentials.
pub fn validate(c: &SpeechConfig) -> Result<(), ConfigError> {
    if !language_code(&c.transcribe_language) {
        return Err(ConfigError::new("transcribe_language", "must be a language code such as en-US"));
    }
    if let Some(r) = &c.transcribe_region
        && !region(r)
    {
        return Err(ConfigError::new("transcribe_region", "must be an AWS region such as us-east-1"));
    }
    if let Some(e) = &c.transcribe_endpoint
        && !endpoint(e)
    {
        return Err(ConfigError::new(
            "transcribe_endpoint",
            "must be an https:// URL without path or query (http:// only on loopback)",
        ));
    }
    if let Some(v) = &c.transcribe_vocabulary
        && !vocabulary(v)
    {
        return Err(ConfigError::new("transcribe_vocabulary", "must be 1-200 characters of a-z, A-Z, 0-9, . _ -"));
    }
    if c.engine != SpeechEngine::Transcribe {
        return Ok(());
    }
    if c.transcribe_region.is_none() {
        return Err(ConfigError::new("transcribe_region", "engine transcribe needs a region"));
    }
    if c.transcribe_access_key_id.as_deref().is_none_or(str::is_empty) {
        return Err(ConfigError::new("transcribe_access_key_id", "engine transcribe needs static AWS credentials"));
    }
    if c.transcribe_secret_access_key.as_ref().is_none_or(|s| s.expose().is_empty()) {
        return Err(ConfigError::new("transcribe_secret_access_key", "engine transcribe needs static AWS credentials"));
    }
    Ok(())
}

/// `en-US`, `de-DE`, `zh-CN`, `ar-AE`: letters, a dash, a region.
fn language_code(s: &str) -> bool {
    let Some((lang, region)) = s.split_once('-') else { return false };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (2..=3).contains(&region.len())
        && region.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`.
fn region(s: &str) -> bool {
    (5..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.ends_with(|c: char| c.is_ascii_digit())
        && !s.starts_with('-')
}

fn vocabulary(s: &str) -> bool {
    (1..=200).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `https://host[:port]`, or `http://` to a loopback host (a fake in tests).
fn endpoint(s: &str) -> bool {
    let (plain, rest) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
        (Some(r), _) => (false, r),
        (_, Some(r)) => (true, r),
        _ => return false,
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    !plain || host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::Secret;

    fn transcribe() -> SpeechConfig {
        SpeechConfig {
            engine: SpeechEngine::Transcribe,
            transcribe_region: Some("eu-west-1".into()),
            transcribe_access_key_id: Some("AKIDEXAMPLE".into()),
            transcribe_secret_access_key: Some(Secret::new("secret".into())),
            ..SpeechConfig::default()
        }
    }

    fn key(c: &SpeechConfig) -> Option<String> {
        c.validate().err().map(|e| e.key.clone())
    }

    #[test]
    fn the_defaults_and_a_complete_transcribe_section_are_valid() {
        assert_eq!(key(&SpeechConfig::default()), None);
        assert_eq!(SpeechConfig::default().transcribe_language, "en-US");
        assert_eq!(key(&transcribe()), None);
        let c = SpeechConfig { transcribe_endpoint: Some("http://127.0.0.1:4000".into()), ..transcribe() };
        assert_eq!(key(&c), None);
        let c = SpeechConfig {
            transcribe_endpoint: Some("https://vpce-1.transcribestreaming.example".into()),
            ..transcribe()
        };
        assert_eq!(key(&c), None);
    }

    #[test]
    fn bad_or_missing_values_name_their_key() {
        let none = SpeechConfig { transcribe_region: None, ..transcribe() };
        assert_eq!(key(&none).as_deref(), Some("transcribe_region"));
        let c = SpeechConfig { transcribe_access_key_id: None, ..transcribe() };
        assert_eq!(key(&c).as_deref(), Some("transcribe_access_key_id"));
        let c = SpeechConfig { transcribe_secret_access_key: None, ..transcribe() };
        assert_eq!(key(&c).as_deref(), Some("transcribe_secret_access_key"));
        for (lang, ok) in [("en-US", true), ("zh-CN", true), ("english", false), ("EN-us", false), ("en_US", false)] {
            let c = SpeechConfig { transcribe_language: lang.into(), ..transcribe() };
            assert_eq!(key(&c).is_none(), ok, "{lang}");
        }
        for (url, ok) in [
            ("http://localhost:9", true),
            ("http://[::1]:9", true),
            ("http://transcribe.internal", false),
            ("https://x/path", false),
            ("https://x?q=1", false),
            ("ftp://x", false),
        ] {
            let c = SpeechConfig { transcribe_endpoint: Some(url.into()), ..transcribe() };
            assert_eq!(key(&c).is_none(), ok, "{url}");
        }
        let c = SpeechConfig { transcribe_vocabulary: Some("bad name".into()), ..transcribe() };
        assert_eq!(key(&c).as_deref(), Some("transcribe_vocabulary"));
        let c = SpeechConfig { transcribe_region: Some("US EAST".into()), ..transcribe() };
        assert_eq!(key(&c).as_deref(), Some("transcribe_region"));
        // Other engines ignore missing credentials.
        assert_eq!(key(&SpeechConfig { engine: SpeechEngine::Passthrough, ..none }), None);
    }
}
