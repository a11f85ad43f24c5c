//! Where one feature crate uses another: the ports a feature crate defines (in its own crate
//! or in `core`), implemented here with the other feature's service, so that feature crates do
//! not depend on each other.

use rampart_chat::rag::{KbScope, RetrievalError, Retrieved, Retriever};
use rampart_core::{KnowledgeBaseId, Principal};
use rampart_knowledge::service::{KnowledgeService, SearchMode};
use std::future::Future;
use std::pin::Pin;

/// `rag` assistants' (and chosen knowledge bases') access to knowledge bases, as the asking user.
pub struct KbRetriever {
    pub knowledge: KnowledgeService,
    pub public_url: String,
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, RetrievalError>> + Send + 'a>>;

impl Retriever for KbRetriever {
    fn retrieve<'a>(
        &'a self,
        p: &'a Principal,
        scope: KbScope<'a>,
        query: &'a str,
        k: usize,
    ) -> Fut<'a, Vec<Retrieved>> {
        Box::pin(async move {
            let wanted = match scope {
                KbScope::Readable => None,
                KbScope::Listed { names, ids } => {
                    let mut all = self.knowledge.ids_by_name(names).await.map_err(RetrievalError::new)?;
                    all.extend_from_slice(ids);
                    all.sort();
                    all.dedup();
                    Some(all)
                }
            };
            let passages = self
                .knowledge
                .retrieve(p, wanted.as_deref(), query, k, SearchMode::Hybrid)
                .await
                .map_err(RetrievalError::new)?;
            let base = self.public_url.trim_end_matches('/');
            Ok(passages
                .into_iter()
                .map(|x| Retrieved {
                    uri: format!("{base}/v1/knowledge-bases/{}/documents/{}", x.knowledge_base_id, x.document_id),
                    document_name: x.document_name,
                    text: x.text,
                    page: x.location.page,
                    knowledge_base_id: x.knowledge_base_id,
                    document_id: x.document_id,
                    chunk_id: x.chunk_id,
                })
                .collect())
        })
    }

    fn all_readable<'a>(&'a self, p: &'a Principal, ids: &'a [KnowledgeBaseId]) -> Fut<'a, bool> {
        Box::pin(async move { self.knowledge.all_readable(p, ids).await.map_err(RetrievalError::new) })
    }
}

/// Meetings' events, delivered through the realtime hub (and, with a bus, to every replica).
pub struct HubMeetingEvents {
    pub hub: std::sync::Arc<rampart_realtime::Hub>,
    pub bus: Option<std::sync::Arc<rampart_realtime::bus::NatsBus>>,
}

impl rampart_meetings::events::MeetingEvents for HubMeetingEvents {
    fn meeting(&self, key: rampart_core::MeetingKey, event: &rampart_meetings::events::CallEvent) {
        match serde_json::to_value(event) {
            Ok(v) => {
                self.hub.publish(&rampart_meetings::views::channel_of(key), &v);
            }
            Err(e) => tracing::error!(error = %e, "a meeting event could not be serialized"),
        }
    }

    fn list(&self, users: &[rampart_core::UserId], event: &rampart_meetings::events::ListEvent) {
        let Ok(v) = serde_json::to_value(event) else { return };
        for u in users {
            self.hub.publish(&rampart_meetings::views::list_channel_of(*u), &v);
        }
    }

    fn revoke(&self, key: rampart_core::MeetingKey, users: &[rampart_core::UserId]) {
        let channel = rampart_meetings::views::channel_of(key);
        self.hub.revoke(&channel, users);
        if let Some(bus) = self.bus.clone() {
            let c = crate::control::Control::Revoke { channel, users: users.to_vec() };
            tokio::spawn(async move { bus.control(&c).await });
        }
    }
}

/// The configured speech-to-text engine.
pub fn speech_recognizer(
    c: &rampart_speech::SpeechConfig,
    data_dir: &std::path::Path,
) -> std::sync::Arc<dyn rampart_core::speech::SpeechRecognizer> {
    match c.engine {
        rampart_speech::SpeechEngine::Passthrough => {
            std::sync::Arc::new(rampart_speech::passthrough::Passthrough::new(c.passthrough_interval.0))
        }
        rampart_speech::SpeechEngine::Whisper => whisper(c, data_dir),
        rampart_speech::SpeechEngine::Transcribe => transcribe(c),
        rampart_speech::SpeechEngine::Openai => openai(c),
    }
}

/// The remote OpenAI-compatible engine; a key file that cannot be read refuses meetings with
/// the reason (as a missing Whisper model does).
fn openai(c: &rampart_speech::SpeechConfig) -> std::sync::Arc<dyn rampart_core::speech::SpeechRecognizer> {
    match rampart_speech::openai::OpenAiSpeech::from_config(c) {
        Ok(r) => std::sync::Arc::new(r),
        Err(e) => {
            let reason = e.within("speech").to_string();
            tracing::error!(error = %reason, "the openai speech engine cannot start: meetings cannot be transcribed");
            std::sync::Arc::new(rampart_speech::unavailable::Unavailable { engine: "openai", reason })
        }
    }
}

#[cfg(feature = "whisper")]
fn whisper(
    c: &rampart_speech::SpeechConfig,
    data_dir: &std::path::Path,
) -> std::sync::Arc<dyn rampart_core::speech::SpeechRecognizer> {
    let dir = c.model_dir(data_dir);
    if !dir.join("model.bin").is_file() {
        tracing::warn!(dir = %dir.display(), "the Whisper model is not installed (make whisper-model): meetings cannot be transcribed");
        return std::sync::Arc::new(rampart_speech::unavailable::Unavailable {
            engine: "whisper",
            reason: format!("the Whisper model is not installed in {} (run `make whisper-model`)", dir.display()),
        });
    }
    let options = rampart_whisper::WhisperOptions {
        replicas: c.replicas,
        threads: c.threads,
        partial_every: c.partial_every(),
        segments: c.segments(),
    };
    std::sync::Arc::new(rampart_whisper::LazyWhisper::new(dir, options))
}

#[cfg(not(feature = "whisper"))]
fn whisper(
    _: &rampart_speech::SpeechConfig,
    _: &std::path::Path,
) -> std::sync::Arc<dyn rampart_core::speech::SpeechRecognizer> {
    std::sync::Arc::new(rampart_speech::unavailable::Unavailable {
        engine: "whisper",
        reason: "this build has no embedded recogniser (the `whisper` cargo feature)".into(),
    })
}

/// Amazon Transcribe streaming (the section's checks made sure region and keys are set).
#[cfg(feature = "transcribe")]
fn transcribe(c: &rampart_speech::SpeechConfig) -> std::sync::Arc<dyn rampart_core::speech::SpeechRecognizer> {
    let opts = rampart_transcribe::TranscribeOptions {
        region: c.transcribe_region.clone().unwrap_or_default(),
        language: c.transcribe_language.clone(),
        endpoint: c.transcribe_endpoint.clone(),
        vocabulary: c.transcribe_vocabulary.clone(),
        access_key_id: rampart_core::Secret::new(c.transcribe_access_key_id.clone().unwrap_or_default()),
        secret_access_key: c
            .transcribe_secret_access_key
            .clone()
            .unwrap_or_else(|| rampart_core::Secret::new(String::new())),
        session_token: c.transcribe_session_token.clone(),
    };
    match rampart_transcribe::Transcribe::new(opts) {
        Ok(t) => std::sync::Arc::new(t),
        Err(reason) => {
            tracing::warn!(%reason, "the Transcribe engine could not be set up: meetings cannot be transcribed");
            std::sync::Arc::new(rampart_speech::unavailable::Unavailable { engine: "transcribe", reason })
        }
    }
}

#[cfg(not(feature = "transcribe"))]
fn transcribe(_: &rampart_speech::SpeechConfig) -> std::sync::Arc<dyn rampart_core::speech::SpeechRecognizer> {
    std::sync::Arc::new(rampart_speech::unavailable::Unavailable {
        engine: "transcribe",
        reason: "this build has no Amazon Transcribe engine (the `transcribe` cargo feature)".into(),
    })
}
