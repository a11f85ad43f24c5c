//! Audio as it arrives: 16-bit little-endian PCM bytes in frames of any size (a sample may be
//! split between two frames), one or two channels interleaved, at the client's rate; turned
//! into one sample stream per channel at the recogniser's rate.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

/// Splits PCM bytes into whole frames (one sample per channel), keeping what is left over for
/// the next call.
#[derive(Debug)]
pub struct PcmDecoder {
    channels: usize,
    carry: Vec<u8>,
}

impl PcmDecoder {
    pub fn new(channels: u16) -> Self {
        Self { channels: usize::from(channels.max(1)), carry: Vec::new() }
    }

    /// The whole frames of `carry + bytes` (as bytes, for the recording) and the samples of each
    /// channel.
    pub fn push(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<Vec<f32>>) {
        let frame = 2 * self.channels;
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(bytes);
        let whole = data.len() / frame * frame;
        self.carry = data.split_off(whole);
        let mut per = vec![Vec::with_capacity(whole / frame); self.channels];
        for (i, s) in data.chunks_exact(2).enumerate() {
            per[i % self.channels].push(f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0);
        }
        (data, per)
    }
}

/// Converts one channel from the client's rate to the recogniser's (an FFT resampler from
/// `rubato`, fed in fixed blocks; what does not fill a block waits for more).
pub struct ChannelResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
}

impl std::fmt::Debug for ChannelResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelResampler")
    }
}

/// Input frames per resampling block (about 20-60 ms at the rates accepted).
const BLOCK: usize = 1024;

impl ChannelResampler {
    pub fn new(from: u32, to: u32) -> Result<Self, String> {
        let inner = if from == to {
            None
        } else {
            Some(
                Fft::<f32>::new(from as usize, to as usize, BLOCK, 1, FixedSync::Input)
                    .map_err(|e| format!("resampler {from} Hz to {to} Hz: {e}"))?,
            )
        };
        Ok(Self { inner, pending: Vec::new() })
    }

    /// Resampled audio for `input` (possibly none yet, possibly more than one block's worth).
    pub fn process(&mut self, input: &[f32]) -> Vec<f32> {
        let Some(r) = self.inner.as_mut() else { return input.to_vec() };
        self.pending.extend_from_slice(input);
        let mut out = Vec::new();
        while self.pending.len() >= BLOCK {
            let block: Vec<f32> = self.pending.drain(..BLOCK).collect();
            out.extend(run(r, block));
        }
        out
    }

    /// The rest, padded to a block with silence (end of audio).
    pub fn flush(&mut self) -> Vec<f32> {
        let Some(r) = self.inner.as_mut() else { return Vec::new() };
        if self.pending.is_empty() {
            return Vec::new();
        }
        let n = self.pending.len();
        let mut block = std::mem::take(&mut self.pending);
        block.resize(BLOCK, 0.0);
        let out = run(r, block);
        let keep = (out.len() * n).div_ceil(BLOCK);
        out.into_iter().take(keep).collect()
    }
}

fn run(r: &mut Fft<f32>, block: Vec<f32>) -> Vec<f32> {
    let input = vec![block];
    let frames = r.output_frames_next();
    let mut output = vec![vec![0.0f32; frames]];
    let Ok(inp) = SequentialSliceOfVecs::new(&input, 1, BLOCK) else { return Vec::new() };
    let Ok(mut outp) = SequentialSliceOfVecs::new_mut(&mut output, 1, frames) else { return Vec::new() };
    match r.process_into_buffer(&inp, &mut outp, None) {
        Ok((_, written)) => {
            let mut v = output.pop().unwrap_or_default();
            v.truncate(written);
            v
        }
        Err(e) => {
            tracing::warn!(error = %e, "resampling failed for a block");
            Vec::new()
        }
    }
}

/// 16-bit samples for the recogniser.
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    #[expect(clippy::cast_possible_truncation, reason = "clamped to the i16 range first")]
    samples.iter().map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_and_deinterleave() {
        let mut d = PcmDecoder::new(2);
        let samples: Vec<i16> = vec![1000, -1000, 2000, -2000, 3000, -3000];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let (raw1, a) = d.push(&bytes[..5]);
        assert_eq!(raw1.len(), 4);
        assert_eq!(a[0].len(), 1);
        let (raw2, b) = d.push(&bytes[5..]);
        assert_eq!(raw2.len(), 8);
        assert_eq!(b[0], vec![2000.0 / 32768.0, 3000.0 / 32768.0]);
        assert_eq!(b[1], vec![-2000.0 / 32768.0, -3000.0 / 32768.0]);
    }

    #[test]
    fn resamples_a_tone_to_the_rate_asked() {
        let mut r = ChannelResampler::new(48_000, 16_000).unwrap();
        let tone: Vec<f32> =
            (0..48_000).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.5).collect();
        let mut out = Vec::new();
        for c in tone.chunks(3_000) {
            out.extend(r.process(c));
        }
        out.extend(r.flush());
        assert!((out.len() as i64 - 16_000).abs() < 600, "{} samples for one second", out.len());
        let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((0.4..0.6).contains(&peak), "the tone keeps its level: {peak}");
        assert_eq!(ChannelResampler::new(16_000, 16_000).unwrap().process(&[0.5]), vec![0.5]);
    }
}
