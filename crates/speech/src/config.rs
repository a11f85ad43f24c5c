//! The `[speech]` section: which speech-to-text engine transcribes meetings.

use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The engines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechEngine {
    /// Whisper `tiny.en` in process (the weights installed by `make whisper-model`).
    #[default]
    Whisper,
    /// No recognition: one fixed hypothesis per `passthrough_interval` of audio (benchmarks of
    /// the pipeline, tests).
    Passthrough,
    /// Amazon Transcribe streaming (`transcribe_*` keys; `server`'s cargo feature `transcribe`).
    Transcribe,
    /// A remote OpenAI-compatible transcription server (`POST {openai_base_url}/audio/transcriptions`:
    /// OpenAI, faster-whisper-server, vLLM, whisper.cpp server), utterances cut by voice activity.
    Openai,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    pub engine: SpeechEngine,
    /// `whisper`: the model folder; default `{data_dir}/models/whisper-tiny.en`.
    pub model_dir: Option<PathBuf>,
    /// `whisper`: decodes at once for all meetings (each a copy of the weights, 45-190 MB).
    pub replicas: usize,
    /// `whisper`: threads per decode.
    pub threads: usize,
    /// `whisper`, `openai`: a partial hypothesis of what is being said this often ("0s": finals
    /// only). Unset: 1s for `whisper`, off for `openai` (each partial is a request, often paid).
    pub partial_interval: Option<Dur>,
    /// `whisper`, `openai`: the pause that ends an utterance (and so the delay to its final text).
    pub pause: Dur,
    /// `whisper`, `openai`: the longest utterance; longer speech is cut.
    pub max_utterance: Dur,
    /// `passthrough`: audio per emitted utterance.
    pub passthrough_interval: Dur,
    /// `transcribe`: the AWS region (required), e.g. `us-east-1`.
    pub transcribe_region: Option<String>,
    /// `transcribe`: the language of the audio, a code Transcribe streams (`en-US`, `de-DE`, …).
    pub transcribe_language: String,
    /// `transcribe`: instead of the regional endpoint, e.g. a VPC endpoint (https; http only
    /// on loopback, for tests).
    pub transcribe_endpoint: Option<String>,
    /// `transcribe`: the name of a custom vocabulary in that account and region.
    pub transcribe_vocabulary: Option<String>,
    /// `transcribe`: static AWS credentials (required; the default chain is not built in).
    pub transcribe_access_key_id: Option<String>,
    pub transcribe_secret_access_key: Option<Secret<String>>,
    /// `transcribe`: for temporary credentials.
    pub transcribe_session_token: Option<Secret<String>>,
    /// `openai`: the language spoken (ISO-639-1 `en`, or BCP-47 `en-US` of which the language
    /// is sent); unset: the server detects it.
    pub openai_language: Option<String>,
    /// `openai`: the API root (`https://api.openai.com/v1`); required for that engine. Plain
    /// `http://` only to a loopback address, unless `openai_allow_plain_http`.
    pub openai_base_url: Option<String>,
    /// `openai`: plain `http://` to another host (a trusted network; the audio and the key
    /// travel unencrypted).
    pub openai_allow_plain_http: bool,
    /// `openai`: the upstream's model name.
    pub openai_model: String,
    /// `openai`: the bearer key (prefer `openai_api_key_file`).
    pub openai_api_key: Option<Secret<String>>,
    /// `openai`: a file holding the key, instead of `openai_api_key`.
    pub openai_api_key_file: Option<PathBuf>,
    /// `openai`: text the model continues from (names, vocabulary), sent with every request.
    pub openai_prompt: Option<String>,
    /// `openai`: requests at once, every stream together.
    pub openai_max_concurrent: usize,
    /// `openai`: the longest wait for one answer.
    pub openai_timeout: Dur,
    /// `openai`: retries of a retryable failure (429, 5xx, network) of a final.
    pub openai_max_retries: u32,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        Self {
            engine: SpeechEngine::default(),
            model_dir: None,
            replicas: 1,
            threads: 1,
            partial_interval: None,
            pause: Dur(Duration::from_millis(500)),
            max_utterance: Dur::secs(25),
            passthrough_interval: Dur::secs(2),
            transcribe_region: None,
            transcribe_language: "en-US".into(),
            transcribe_endpoint: None,
            transcribe_vocabulary: None,
            transcribe_access_key_id: None,
            transcribe_secret_access_key: None,
            transcribe_session_token: None,
            openai_language: None,
            openai_base_url: None,
            openai_allow_plain_http: false,
            openai_model: "whisper-1".into(),
            openai_api_key: None,
            openai_api_key_file: None,
            openai_prompt: None,
            openai_max_concurrent: 4,
            openai_timeout: Dur::secs(30),
            openai_max_retries: 3,
        }
    }
}

impl SpeechConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.passthrough_interval.0 < Duration::from_millis(100) {
            return Err(ConfigError::new("passthrough_interval", "must be at least 100ms"));
        }
        if !(1..=16).contains(&self.replicas) || !(1..=16).contains(&self.threads) {
            return Err(ConfigError::new("replicas", "replicas and threads must be 1-16"));
        }
        if let Some(p) = self.partial_interval
            && !p.0.is_zero()
            && p.0 < Duration::from_millis(250)
        {
            return Err(ConfigError::new("partial_interval", "must be 0s (off) or at least 250ms"));
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(5)).contains(&self.pause.0) {
            return Err(ConfigError::new("pause", "must be between 100ms and 5s"));
        }
        if !(Duration::from_secs(2)..=Duration::from_secs(30)).contains(&self.max_utterance.0) {
            return Err(ConfigError::new("max_utterance", "must be between 2s and 30s (Whisper's window)"));
        }
        if let Some(l) = &self.openai_language
            && !is_language(l)
        {
            return Err(ConfigError::new("openai_language", "must be a language code such as en or en-US"));
        }
        crate::transcribe::validate(self)?;
        self.validate_openai()
    }

    /// The `openai_*` keys; the base URL is required only when the engine is `openai`.
    fn validate_openai(&self) -> Result<(), ConfigError> {
        match &self.openai_base_url {
            Some(b) => check_base_url(b, self.openai_allow_plain_http)?,
            None if self.engine == SpeechEngine::Openai => {
                return Err(ConfigError::new("openai_base_url", "engine openai needs openai_base_url"));
            }
            None => {}
        }
        if self.openai_api_key.is_some() && self.openai_api_key_file.is_some() {
            return Err(ConfigError::new("openai_api_key", "set openai_api_key or openai_api_key_file, not both"));
        }
        if self.openai_model.is_empty() || self.openai_model.len() > 256 {
            return Err(ConfigError::new("openai_model", "must name the upstream model (1-256 characters)"));
        }
        if self.openai_prompt.as_ref().is_some_and(|p| p.len() > 1000) {
            return Err(ConfigError::new("openai_prompt", "must be at most 1000 bytes"));
        }
        if !(1..=64).contains(&self.openai_max_concurrent) {
            return Err(ConfigError::new("openai_max_concurrent", "must be 1-64"));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(600)).contains(&self.openai_timeout.0) {
            return Err(ConfigError::new("openai_timeout", "must be between 1s and 10m"));
        }
        if self.openai_max_retries > 10 {
            return Err(ConfigError::new("openai_max_retries", "must be at most 10"));
        }
        Ok(())
    }

    /// How often partials are asked for (`None`: finals only): `partial_interval`, or the
    /// engine's default when unset.
    pub fn partial_every(&self) -> Option<Duration> {
        let default = match self.engine {
            SpeechEngine::Whisper => Dur::secs(1),
            SpeechEngine::Openai | SpeechEngine::Transcribe | SpeechEngine::Passthrough => Dur(Duration::ZERO),
        };
        let every = self.partial_interval.unwrap_or(default).0;
        (!every.is_zero()).then_some(every)
    }

    /// Where utterances are cut, from `pause` and `max_utterance`.
    pub fn segments(&self) -> crate::vad::SegParams {
        crate::vad::SegParams {
            hangover_ms: self.pause.0.as_secs_f32() * 1000.0,
            max_len_s: self.max_utterance.0.as_secs_f32(),
            ..Default::default()
        }
    }

    /// The OpenAI key: `openai_api_key`, or read from `openai_api_key_file`.
    pub fn openai_api_key(&self) -> Result<Option<Secret<String>>, ConfigError> {
        match (&self.openai_api_key, &self.openai_api_key_file) {
            (Some(k), _) => Ok(Some(k.clone())),
            (None, Some(f)) => {
                let k = std::fs::read_to_string(f).map_err(|e| {
                    ConfigError::new("openai_api_key_file", format!("cannot read {}: {e}", f.display()))
                })?;
                Ok(Some(Secret::new(k.trim().to_owned())))
            }
            (None, None) => Ok(None),
        }
    }

    /// The model folder.
    pub fn model_dir(&self, data_dir: &Path) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| data_dir.join("models").join("whisper-tiny.en"))
    }
}

/// A BCP-47 tag as engines take them: a 2-3 letter language, then subtags of 1-8 letters or
/// digits (`en`, `en-US`, `zh-Hans-CN`).
fn is_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let lang = parts.next().unwrap_or_default();
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && tag.len() <= 35
}

/// An http(s) API root without query, fragment or credentials; plain `http://` only to a
/// loopback host unless allowed.
fn check_base_url(b: &str, allow_plain_http: bool) -> Result<(), ConfigError> {
    let err = |m: &str| ConfigError::new("openai_base_url", m);
    let u = url::Url::parse(b).map_err(|_| err("is not a URL"))?;
    if !matches!(u.scheme(), "http" | "https") || u.query().is_some() || u.fragment().is_some() {
        return Err(err("must be an http(s) URL without query or fragment"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(err("must not carry credentials (use openai_api_key_file)"));
    }
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if u.scheme() == "http" && !loopback && !allow_plain_http {
        return Err(err(
            "plain http:// is for loopback hosts: use https://, or set openai_allow_plain_http = true on a trusted network",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openai(url: &str) -> SpeechConfig {
        SpeechConfig { engine: SpeechEngine::Openai, openai_base_url: Some(url.into()), ..SpeechConfig::default() }
    }

    fn refused(c: &SpeechConfig) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn the_openai_base_url_is_required_and_checked() {
        let none = SpeechConfig { engine: SpeechEngine::Openai, ..SpeechConfig::default() };
        assert!(refused(&none).contains("openai_base_url"));
        assert!(openai("https://api.openai.com/v1").validate().is_ok());
        assert!(openai("http://127.0.0.1:8000/v1").validate().is_ok());
        assert!(openai("http://localhost:8000/v1").validate().is_ok());
        assert!(openai("http://[::1]:8000/v1").validate().is_ok());
        assert!(refused(&openai("http://stt.internal:8000/v1")).contains("plain http"));
        let allowed = SpeechConfig { openai_allow_plain_http: true, ..openai("http://stt.internal:8000/v1") };
        assert!(allowed.validate().is_ok());
        for bad in ["ftp://x/v1", "https://x/v1?key=1", "https://user:pw@x/v1", "not a url"] {
            assert!(refused(&openai(bad)).contains("openai_base_url"), "{bad}");
        }
    }

    #[test]
    fn openai_keys_are_checked() {
        let both = SpeechConfig {
            openai_api_key: Some(Secret::new("sk-1".into())),
            openai_api_key_file: Some("/k".into()),
            ..openai("https://x/v1")
        };
        assert!(refused(&both).contains("openai_api_key"));
        for (c, key) in [
            (SpeechConfig { openai_max_concurrent: 0, ..openai("https://x/v1") }, "openai_max_concurrent"),
            (SpeechConfig { openai_max_retries: 11, ..openai("https://x/v1") }, "openai_max_retries"),
            (SpeechConfig { openai_model: String::new(), ..openai("https://x/v1") }, "openai_model"),
            (SpeechConfig { openai_language: Some("english!".into()), ..openai("https://x/v1") }, "openai_language"),
        ] {
            assert!(refused(&c).contains(key), "{key}");
        }
        assert!(SpeechConfig { openai_language: Some("en-US".into()), ..openai("https://x/v1") }.validate().is_ok());
    }

    #[test]
    fn the_key_is_redacted_and_read_from_its_file() {
        let dir = std::env::temp_dir().join(format!("rampart-speech-key-{}", std::process::id()));
        std::fs::write(&dir, "sk-from-file\n").unwrap();
        let c = SpeechConfig { openai_api_key_file: Some(dir.clone()), ..openai("https://x/v1") };
        assert_eq!(c.openai_api_key().unwrap().unwrap().expose(), "sk-from-file");
        let c = SpeechConfig { openai_api_key: Some(Secret::new("sk-secret-value".into())), ..openai("https://x/v1") };
        assert!(!format!("{c:?}").contains("sk-secret-value"));
        let _ = std::fs::remove_file(dir);
    }

    #[test]
    fn partials_default_to_on_for_whisper_and_off_for_openai() {
        assert_eq!(SpeechConfig::default().partial_every(), Some(Duration::from_secs(1)));
        assert_eq!(openai("https://x/v1").partial_every(), None);
        let on = SpeechConfig { partial_interval: Some(Dur::secs(2)), ..openai("https://x/v1") };
        assert_eq!(on.partial_every(), Some(Duration::from_secs(2)));
        let off = SpeechConfig { partial_interval: Some(Dur(Duration::ZERO)), ..SpeechConfig::default() };
        assert_eq!(off.partial_every(), None);
    }
}
