//! The Whisper model: loaded once, shared by every stream (`generate` takes `&self`;
//! CTranslate2 queues calls onto its replicas). Calls block: run them on blocking threads.

use crate::mel::{HOP, MelFrontend, N_FRAMES, N_MELS, Pad};
use ct2rs::Tokenizer as _;
use ct2rs::sys::{ComputeType, Config, Device, StorageView, Whisper, WhisperOptions};
use ct2rs::tokenizers::hf;
use std::path::Path;

/// The files a model folder must hold (CTranslate2's weights and vocabulary, the tokenizer).
pub const MODEL_FILES: &[&str] = &["model.bin", "config.json", "vocabulary.txt", "tokenizer.json"];

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the Whisper model folder {0} lacks {1} (run `make whisper-model`)")]
    Missing(String, &'static str),
    #[error("the Whisper model did not load: {0}")]
    Load(String),
    #[error("decoding failed: {0}")]
    Decode(String),
}

/// How to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decode {
    pub beam: usize,
    /// Feed the encoder `max(audio + 1 s, min_frames)` frames instead of the whole 30 s.
    /// Shorter than 10 s makes Whisper hallucinate.
    pub trim: bool,
    pub min_frames: usize,
}

impl Decode {
    /// An utterance's final text: the whole 30 s context, beam 5 (the most robust).
    pub const FINAL: Decode = Decode { beam: 5, trim: false, min_frames: N_FRAMES };
    /// A partial hypothesis: 10 s of context at least, greedy (a quarter of a final's cost).
    pub const PARTIAL: Decode = Decode { beam: 1, trim: true, min_frames: 1000 };
}

/// A decoded utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub text: String,
    /// Whisper's own estimate that the audio held no speech.
    pub no_speech_prob: f32,
}

pub struct Engine {
    whisper: Whisper,
    tok: hf::Tokenizer,
    mel: MelFrontend,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhisperEngine")
    }
}

impl Engine {
    /// Loads the model in `dir`: `replicas` decodes at once (each a copy of the weights, with
    /// `threads` threads), int8.
    pub fn load(dir: &Path, replicas: usize, threads: usize) -> Result<Self, ModelError> {
        for f in MODEL_FILES {
            if !dir.join(f).is_file() {
                return Err(ModelError::Missing(dir.display().to_string(), f));
            }
        }
        let config = Config {
            device: Device::CPU,
            compute_type: ComputeType::INT8,
            device_indices: vec![0; replicas.max(1)],
            num_threads_per_replica: threads.max(1),
            ..Default::default()
        };
        let whisper = Whisper::new(dir, config).map_err(|e| ModelError::Load(e.to_string()))?;
        let tok = hf::Tokenizer::new(dir).map_err(|e| ModelError::Load(e.to_string()))?;
        Ok(Self { whisper, tok, mel: MelFrontend::new() })
    }

    fn frames(n_samples: usize, d: Decode) -> usize {
        if !d.trim {
            return N_FRAMES;
        }
        let f = MelFrontend::audio_frames(n_samples) + 100;
        (f.div_ceil(100) * 100).max(d.min_frames).min(N_FRAMES)
    }

    /// 16 kHz mono audio in [-1, 1]; longer than 30 s is decoded in 30 s pieces.
    pub fn transcribe(&self, audio: &[f32], d: Decode) -> Result<Output, ModelError> {
        let mut text = Vec::new();
        let mut no_speech = 0f32;
        let err = |e: &dyn std::fmt::Display| ModelError::Decode(e.to_string());
        for piece in audio.chunks(N_FRAMES * HOP) {
            let n = Self::frames(piece.len(), d);
            let mut feats = self.mel.compute(piece, Pad::Zero, n);
            let sv = StorageView::new(&[1, N_MELS, n], &mut feats, Default::default()).map_err(|e| err(&e))?;
            // An English-only model: no language or task tokens.
            let prompt = [vec!["<|startoftranscript|>", "<|notimestamps|>"]];
            let opts = WhisperOptions { beam_size: d.beam, return_no_speech_prob: true, ..Default::default() };
            let r = self.whisper.generate(&sv, &prompt, &opts).map_err(|e| err(&e))?;
            let r = r.into_iter().next().ok_or_else(|| ModelError::Decode("no result".into()))?;
            no_speech = no_speech.max(r.no_speech_prob);
            let toks = r.sequences.into_iter().next().ok_or_else(|| ModelError::Decode("no sequence".into()))?;
            text.push(self.tok.decode(toks).map_err(|e| err(&e))?.trim().to_owned());
        }
        Ok(Output { text: text.join(" ").trim().to_owned(), no_speech_prob: no_speech })
    }
}
