//! Uploads: an audio file (WAV, MP3, FLAC, OGG Vorbis, OGG or WebM Opus, M4A/AAC; decoded by
//! `symphonia`, Opus by libopus through `symphonia-adapter-libopus`) goes
//! through the live pipeline in batch — the same resampling, recognition, segments, recording
//! and events — as fast as the recogniser goes. The request returns at once with the meeting
//! (status `processing`); its channel carries `UPLOAD_PROGRESS` events while it runs, and it ends
//! `ended`, or `failed` with the reason when the file could not be read to its end (what was
//! transcribed before stays).

use crate::error::{MeetingError, Result};
use crate::protocol::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, Start};
use crate::service::MeetingService;
use crate::views::{MeetingSource, MeetingView};
use rampart_core::Principal;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use tokio::sync::mpsc;

/// What the file holds.
struct Opened {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    track: u32,
    rate: u32,
    /// Channels in the file; the first two are kept.
    channels: usize,
    /// The file's length, when the container says it.
    total_secs: Option<f64>,
}

/// Symphonia's decoders and libopus's.
static CODECS: std::sync::LazyLock<symphonia::core::codecs::registry::CodecRegistry> = std::sync::LazyLock::new(|| {
    let mut r = symphonia::core::codecs::registry::CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut r);
    r.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
    r
});

/// How often an upload's progress is published.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

const UNREADABLE: &str = "The file is not audio Rampart can read (WAV, MP3, FLAC, OGG, Opus, WebM, M4A/AAC).";

fn open(bytes: Vec<u8>) -> std::result::Result<Opened, String> {
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
    let format = symphonia::default::get_probe()
        .probe(&Hint::new(), mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|_| UNREADABLE.to_owned())?;
    let track = format.default_track(TrackType::Audio).ok_or_else(|| UNREADABLE.to_owned())?;
    let params = track.codec_params.as_ref().and_then(|c| c.audio()).ok_or_else(|| UNREADABLE.to_owned())?;
    let rate = params.sample_rate.ok_or_else(|| UNREADABLE.to_owned())?;
    let channels = params.channels.as_ref().map_or(1, |c| c.count()).max(1);
    let total_secs = track.num_frames.filter(|n| *n > 0).map(|n| n as f64 / f64::from(rate));
    let decoder =
        CODECS.make_audio_decoder(params, &AudioDecoderOptions::default()).map_err(|_| UNREADABLE.to_owned())?;
    let track = track.id;
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        return Err(format!("The file's sample rate ({rate} Hz) is outside 8-48 kHz."));
    }
    Ok(Opened { format, decoder, track, rate, channels, total_secs })
}

/// Decodes the rest of the file into 16-bit PCM of at most two interleaved channels, a packet
/// at a time, sending it on `tx`; an error ends the file.
fn decode(mut o: Opened, tx: &mpsc::Sender<std::result::Result<Vec<u8>, String>>) {
    let keep = o.channels.min(2);
    let mut samples: Vec<f32> = Vec::new();
    loop {
        let packet = match o.format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => return,
            // A recording written live ends where its bytes do: a browser's MediaRecorder writes
            // WebM clusters of unknown size, whose end symphonia reports as an unexpected end of
            // file. What was read is the recording (a truncated file likewise keeps its audio).
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(_) => {
                let _ = tx.blocking_send(Err("The file is damaged after some audio.".into()));
                return;
            }
        };
        if packet.track_id != o.track {
            continue;
        }
        let buf = match o.decoder.decode(&packet) {
            Ok(b) => b,
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(_) => {
                let _ = tx.blocking_send(Err("The file could not be decoded to its end.".into()));
                return;
            }
        };
        samples.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut samples);
        let mut pcm = Vec::with_capacity(samples.len() / o.channels * keep * 2);
        for frame in samples.chunks_exact(o.channels) {
            for s in &frame[..keep] {
                #[expect(clippy::cast_possible_truncation, reason = "clamped to the i16 range first")]
                let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
                pcm.extend_from_slice(&v.to_le_bytes());
            }
        }
        if tx.blocking_send(Ok(pcm)).is_err() {
            return;
        }
    }
}

impl MeetingService {
    /// Starts transcribing an uploaded file and returns its meeting (status `processing`).
    pub async fn upload(&self, p: &Principal, title: Option<String>, bytes: Vec<u8>) -> Result<MeetingView> {
        if bytes.len() > self.config().max_upload_bytes.0 {
            return Err(MeetingError::Invalid(format!(
                "The file is larger than {} bytes.",
                self.config().max_upload_bytes.0
            )));
        }
        let opened = tokio::task::spawn_blocking(move || open(bytes))
            .await
            .map_err(|e| MeetingError::Audio(format!("the decoder stopped: {e}")))?
            .map_err(MeetingError::Audio)?;
        let start = Start {
            call_id: Some(format!("upload-{}", uuid::Uuid::now_v7())),
            agent_id: "Me".into(),
            from_number: "Recording".into(),
            to_number: title
                .map(|t| t.trim().chars().take(crate::protocol::MAX_NAME_CHARS).collect::<String>())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "Uploaded recording".into()),
            sample_rate: opened.rate,
            channels: u16::try_from(opened.channels.min(2)).unwrap_or(2),
            active_speaker: "Speaker".into(),
            should_record: None,
        };
        let call_id = start.call_id.clone().unwrap_or_default();
        let recognizer = self.0.recognizer.get().cloned().ok_or_else(|| {
            MeetingError::Speech(rampart_core::speech::SpeechError::new(false, "no speech recogniser is configured"))
        })?;
        let (record, details) = self.create_live(p, &call_id, &start, MeetingSource::Upload).await?;
        let view = self.view(&record)?;
        let key = record.id;
        let stop = self.0.live.add(key, p.user_id, self.config().max_live_per_user, self.config().max_live)?;
        let mut live = match self.open_live(record, details, recognizer, &start, stop, None).await {
            Ok(l) => l,
            Err(e) => {
                self.0.live.remove(key);
                return Err(e);
            }
        };
        let total_secs = opened.total_secs;
        let (tx, mut rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || decode(opened, &tx));
        tokio::spawn(async move {
            let mut failure = None;
            live.publish_progress(total_secs);
            let mut published = tokio::time::Instant::now();
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Ok(pcm) => {
                        if published.elapsed() >= PROGRESS_EVERY {
                            live.publish_progress(total_secs);
                            published = tokio::time::Instant::now();
                        }
                        if let Err(e) = live.audio(&pcm).await {
                            tracing::warn!(meeting = %live.key(), error = %e, "an upload stopped");
                            failure = Some("The transcription stopped before the end of the file.".to_owned());
                            break;
                        }
                    }
                    Err(reason) => {
                        failure = Some(reason);
                        break;
                    }
                }
            }
            let key = live.key();
            let ended = match failure {
                None => live.end(None).await,
                Some(r) => live.fail(r).await,
            };
            if let Err(e) = ended {
                tracing::error!(meeting = %key, error = %e, "an upload could not be finished");
            }
        });
        Ok(view)
    }
}
