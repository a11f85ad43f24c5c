//! Whisper log-mel frontend (80 mel bins, n_fft 400, hop 160, 16 kHz), written to match
//! OpenAI whisper / faster-whisper numerically: periodic Hann window, centred STFT with
//! reflect padding, power spectrum, Slaney mel filters, log10, clamp to (global max - 8),
//! (x + 4) / 4.
//!
//! ct2rs's own `Whisper::generate` frontend differs (it normalises each frame by its own
//! maximum and uses an uncentred STFT) and gave more errors on the same audio; this one matches
//! faster-whisper's features to 2e-5, so the model sees what it was trained on.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 80;
pub const N_FRAMES: usize = 3000; // 30 s
const N_BINS: usize = N_FFT / 2 + 1;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pad {
    /// Pad the log-mel with 0.0 beyond the audio (what faster-whisper does).
    Zero,
    /// Pad with the value digital silence gets (what openai-whisper does: audio padded with 30 s of zeros).
    Silence,
}

pub struct MelFrontend {
    filters: Vec<f32>, // N_MELS x N_BINS, row-major
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Default for MelFrontend {
    fn default() -> Self {
        Self::new()
    }
}

/// Slaney-style mel filter bank, as librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)
/// (port of faster_whisper.feature_extractor.FeatureExtractor.get_mel_filters).
pub fn mel_filters(sr: f64, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let fftfreqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * sr / n_fft as f64).collect();
    let min_mel = 0.0;
    let max_mel = 45.245640471924965;
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    let freqs: Vec<f64> = (0..n_mels + 2)
        .map(|i| {
            let m = min_mel + (max_mel - min_mel) * i as f64 / (n_mels + 1) as f64;
            if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m }
        })
        .collect();
    let mut w = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let enorm = 2.0 / (freqs[m + 2] - freqs[m]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = -(freqs[m] - f) / (freqs[m + 1] - freqs[m]);
            let upper = (freqs[m + 2] - f) / (freqs[m + 2] - freqs[m + 1]);
            w[m * n_bins + k] = (0f64.max(lower.min(upper)) * enorm) as f32;
        }
    }
    w
}

impl MelFrontend {
    pub fn new() -> Self {
        let window = (0..N_FFT)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Self { filters: mel_filters(SAMPLE_RATE as f64, N_FFT, N_MELS), window, fft }
    }

    /// Number of mel frames that carry audio for `n_samples` samples.
    pub fn audio_frames(n_samples: usize) -> usize {
        (n_samples + HOP) / HOP
    }

    /// Log-mel of `audio` (16 kHz mono, at most 30 s) as row-major [N_MELS][n_out] where
    /// n_out <= 3000; frames past the audio are padded according to `pad`.
    pub fn compute(&self, audio: &[f32], pad: Pad, n_out: usize) -> Vec<f32> {
        let n_out = n_out.min(N_FRAMES);
        let audio = &audio[..audio.len().min(N_FRAMES * HOP)];
        // faster-whisper: pad 160 zeros at the end, then centred STFT with reflect padding.
        let mut p: Vec<f32> = Vec::with_capacity(audio.len() + HOP);
        p.extend_from_slice(audio);
        p.resize(audio.len() + HOP, 0.0);
        if p.len() <= N_FFT / 2 {
            p.resize(N_FFT / 2 + 1, 0.0);
        }
        let lp = p.len() as isize;
        let half = (N_FFT / 2) as isize;
        let n_audio = (p.len() / HOP).min(n_out); // frames computed (last STFT frame dropped)
        let mut logmel = vec![0f32; N_MELS * n_out];
        let mut frame = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; N_BINS];
        let mut gmax = f32::NEG_INFINITY;
        for t in 0..n_audio {
            let start = (t * HOP) as isize - half;
            for (n, slot) in frame.iter_mut().enumerate() {
                let mut i = start + n as isize;
                if i < 0 {
                    i = -i;
                } else if i >= lp {
                    i = 2 * (lp - 1) - i;
                }
                *slot = p[i as usize] * self.window[n];
            }
            // The buffers come from this plan, so the sizes always match.
            if self.fft.process_with_scratch(&mut frame, &mut spec, &mut scratch).is_err() {
                continue;
            }
            for (k, c) in spec.iter().enumerate() {
                power[k] = c.re * c.re + c.im * c.im;
            }
            for m in 0..N_MELS {
                let row = &self.filters[m * N_BINS..(m + 1) * N_BINS];
                let s: f32 = row.iter().zip(power.iter()).map(|(a, b)| a * b).sum();
                let v = s.max(1e-10).log10();
                gmax = gmax.max(v);
                logmel[m * n_out + t] = v;
            }
        }
        let floor = gmax - 8.0;
        let pad_value = match pad {
            Pad::Zero => 0.0,
            Pad::Silence => ((-10f32).max(floor) + 4.0) / 4.0,
        };
        for m in 0..N_MELS {
            let row = &mut logmel[m * n_out..(m + 1) * n_out];
            for (t, v) in row.iter_mut().enumerate() {
                *v = if t < n_audio { (v.max(floor) + 4.0) / 4.0 } else { pad_value };
            }
        }
        logmel
    }
}
