//! Recordings: the meeting's audio as it arrived (16-bit PCM, its own rate and channels),
//! written as it arrives in sealed chunks of a few seconds — `{dir}/{meeting key}/{n}.chunk`,
//! AES-256-GCM under a data key wrapped by the master key, the meeting and the chunk's number as
//! associated data — so a crash loses at most the last chunk, and a range read decrypts only the
//! chunks it serves. Served as a WAV file whose 44-byte header is made on the fly.

use rampart_core::MeetingKey;
use rampart_crypto::Keyring;
use std::path::{Path, PathBuf};

/// The size of a WAV (RIFF, PCM) header.
pub const WAV_HEADER: u64 = 44;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("recording chunk {index} does not open: {source}")]
    Sealed { index: u64, source: rampart_crypto::EnvelopeError },
    #[error("recording chunk {index} has {len} bytes where {want} were written")]
    Length { index: u64, len: u64, want: u64 },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordingError + '_ {
    move |source| RecordingError::Io { path: path.to_owned(), source }
}

fn aad(key: MeetingKey, index: u64) -> Vec<u8> {
    format!("recording:{key}:{index}").into_bytes()
}

/// Where recordings live.
#[derive(Clone, Debug)]
pub struct RecordingStore {
    dir: PathBuf,
    keyring: Keyring,
}

/// A recording's shape, as the meeting's row keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingShape {
    pub sample_rate: u32,
    pub channels: u16,
    /// PCM bytes in all.
    pub bytes: u64,
    /// Bytes of every chunk but the last.
    pub chunk_bytes: u64,
}

impl RecordingShape {
    /// The WAV file's size.
    pub fn wav_len(&self) -> u64 {
        WAV_HEADER + self.bytes
    }

    pub fn duration_secs(&self) -> f64 {
        let per_sec = u64::from(self.sample_rate) * u64::from(self.channels) * 2;
        if per_sec == 0 { 0.0 } else { self.bytes as f64 / per_sec as f64 }
    }

    /// The WAV header for this much audio.
    pub fn wav_header(&self) -> [u8; WAV_HEADER as usize] {
        let data = u32::try_from(self.bytes).unwrap_or(u32::MAX - 36);
        let block = self.channels * 2;
        let mut h = [0u8; WAV_HEADER as usize];
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
        h[8..16].copy_from_slice(b"WAVEfmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes());
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&self.sample_rate.to_le_bytes());
        h[28..32].copy_from_slice(&(self.sample_rate * u32::from(block)).to_le_bytes());
        h[32..34].copy_from_slice(&block.to_le_bytes());
        h[34..36].copy_from_slice(&16u16.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data.to_le_bytes());
        h
    }
}

impl RecordingStore {
    pub fn new(dir: PathBuf, keyring: Keyring) -> Self {
        Self { dir, keyring }
    }

    fn meeting_dir(&self, key: MeetingKey) -> PathBuf {
        self.dir.join(key.to_string())
    }

    fn chunk_path(&self, key: MeetingKey, index: u64) -> PathBuf {
        self.meeting_dir(key).join(format!("{index:08}.chunk"))
    }

    /// Starts (or continues, after a reconnect) a meeting's recording.
    pub fn writer(&self, key: MeetingKey, chunk_bytes: u64, existing: &RecordingShape) -> RecordingWriter {
        RecordingWriter {
            store: self.clone(),
            key,
            chunk_bytes,
            buf: Vec::with_capacity(usize::try_from(chunk_bytes).unwrap_or(0)),
            index: existing.bytes.div_ceil(chunk_bytes.max(1)),
            bytes: existing.bytes,
        }
    }

    /// Writes one sealed chunk (atomically: a temporary file renamed into place).
    async fn write_chunk(&self, key: MeetingKey, index: u64, pcm: &[u8]) -> Result<(), RecordingError> {
        let dir = self.meeting_dir(key);
        tokio::fs::create_dir_all(&dir).await.map_err(io(&dir))?;
        let sealed = self.keyring.seal(&aad(key, index), pcm);
        let path = self.chunk_path(key, index);
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, &sealed).await.map_err(io(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io(&path))?;
        Ok(())
    }

    /// The number of whole chunks on disk (after a crash: what was kept).
    pub async fn chunks_on_disk(&self, key: MeetingKey) -> Result<u64, RecordingError> {
        let dir = self.meeting_dir(key);
        let mut n = 0;
        let mut rd = match tokio::fs::read_dir(&dir).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&dir)(e)),
        };
        while let Some(e) = rd.next_entry().await.map_err(io(&dir))? {
            if e.file_name().to_string_lossy().ends_with(".chunk") {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Bytes `[start, end)` of the WAV file (header included).
    pub async fn read_range(
        &self,
        key: MeetingKey,
        shape: &RecordingShape,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, RecordingError> {
        let end = end.min(shape.wav_len());
        let mut out = Vec::with_capacity(usize::try_from(end.saturating_sub(start)).unwrap_or(0));
        if start < WAV_HEADER {
            let h = shape.wav_header();
            out.extend_from_slice(
                &h[usize::try_from(start).unwrap_or(0)..usize::try_from(end.min(WAV_HEADER)).unwrap_or(0)],
            );
        }
        let (pcm_start, pcm_end) = (start.max(WAV_HEADER) - WAV_HEADER, end.saturating_sub(WAV_HEADER));
        let cb = shape.chunk_bytes.max(1);
        let mut pos = pcm_start;
        while pos < pcm_end {
            let index = pos / cb;
            let chunk = self.read_chunk(key, index, shape).await?;
            let from = pos - index * cb;
            let to = (pcm_end - index * cb).min(chunk.len() as u64);
            if from >= to {
                break;
            }
            out.extend_from_slice(&chunk[from as usize..to as usize]);
            pos = index * cb + to;
        }
        Ok(out)
    }

    async fn read_chunk(&self, key: MeetingKey, index: u64, shape: &RecordingShape) -> Result<Vec<u8>, RecordingError> {
        let path = self.chunk_path(key, index);
        let sealed = tokio::fs::read(&path).await.map_err(io(&path))?;
        let pcm =
            self.keyring.open(&aad(key, index), &sealed).map_err(|source| RecordingError::Sealed { index, source })?;
        let want = (shape.bytes - index * shape.chunk_bytes).min(shape.chunk_bytes);
        if pcm.len() as u64 != want {
            return Err(RecordingError::Length { index, len: pcm.len() as u64, want });
        }
        Ok(pcm)
    }

    /// Deletes a meeting's recording; true if there was one.
    pub async fn delete(&self, key: MeetingKey) -> Result<bool, RecordingError> {
        let dir = self.meeting_dir(key);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&dir)(e)),
        }
    }
}

/// Appends a live meeting's audio, one sealed chunk at a time.
#[derive(Debug)]
pub struct RecordingWriter {
    store: RecordingStore,
    key: MeetingKey,
    chunk_bytes: u64,
    buf: Vec<u8>,
    index: u64,
    bytes: u64,
}

impl RecordingWriter {
    /// Adds PCM bytes; writes every chunk that fills.
    pub async fn write(&mut self, mut pcm: &[u8]) -> Result<(), RecordingError> {
        while !pcm.is_empty() {
            let room = usize::try_from(self.chunk_bytes).unwrap_or(usize::MAX) - self.buf.len();
            let (now, rest) = pcm.split_at(room.min(pcm.len()));
            self.buf.extend_from_slice(now);
            pcm = rest;
            if self.buf.len() as u64 == self.chunk_bytes {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), RecordingError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.store.write_chunk(self.key, self.index, &self.buf).await?;
        self.bytes += self.buf.len() as u64;
        self.index += 1;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is buffered; returns (bytes, chunks) recorded in all.
    pub async fn finish(mut self) -> Result<(u64, u64), RecordingError> {
        self.flush().await?;
        Ok((self.bytes, self.index))
    }

    /// Bytes written to disk so far.
    pub fn written(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::new(rampart_crypto::MasterKey::generate())
    }

    #[tokio::test]
    async fn chunks_ranges_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path().to_owned(), keyring());
        let key = MeetingKey::new();
        let empty = RecordingShape { sample_rate: 8000, channels: 2, bytes: 0, chunk_bytes: 1000 };
        let mut w = store.writer(key, 1000, &empty);
        let pcm: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        w.write(&pcm[..700]).await.unwrap();
        w.write(&pcm[700..]).await.unwrap();
        assert_eq!(w.finish().await.unwrap(), (2500, 3));
        assert_eq!(store.chunks_on_disk(key).await.unwrap(), 3);
        let shape = RecordingShape { bytes: 2500, ..empty };
        let all = store.read_range(key, &shape, 0, u64::MAX).await.unwrap();
        assert_eq!(&all[..4], b"RIFF");
        assert_eq!(&all[44..], &pcm[..]);
        let mid = store.read_range(key, &shape, 40, 44 + 1700).await.unwrap();
        assert_eq!(&mid[..4], &all[40..44]);
        assert_eq!(&mid[4..], &pcm[..1700]);
        // No plain audio on disk.
        for e in std::fs::read_dir(dir.path().join(key.to_string())).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            assert!(!bytes.windows(64).any(|w| pcm.windows(64).any(|p| p == w)));
        }
        // Another meeting's chunk copied in does not open.
        let other = MeetingKey::new();
        std::fs::create_dir_all(dir.path().join(other.to_string())).unwrap();
        std::fs::copy(
            dir.path().join(key.to_string()).join("00000000.chunk"),
            dir.path().join(other.to_string()).join("00000000.chunk"),
        )
        .unwrap();
        assert!(store.read_range(other, &shape, 44, 100).await.is_err());
        assert!(store.delete(key).await.unwrap());
        assert!(!store.delete(key).await.unwrap());
    }
}
