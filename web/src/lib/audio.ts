// The Stream Audio page's audio arithmetic, as pure functions the audio worklet and the tests
// share: float samples to 16-bit PCM, the meeting (channel 0) and the microphone (channel 1)
// interleaved little-endian, fixed-length frames assembled from the audio thread's small
// blocks, input levels for the meters, and LMA's call ids.

/** One float sample (-1…1) as a signed 16-bit integer; out-of-range values are clipped, NaN is 0. */
export function toInt16(x: number): number {
  if (Number.isNaN(x)) return 0;
  const c = Math.max(-1, Math.min(1, x));
  return c < 0 ? Math.round(c * 0x8000) : Math.round(c * 0x7fff);
}

/** Writes `n` frames of two interleaved channels at `frame` (a frame is 4 bytes: channel 0
 * then channel 1, each 16-bit little-endian). A channel that is absent or shorter is silence. */
export function interleaveInto(
  view: DataView,
  frame: number,
  meeting: ArrayLike<number> | undefined,
  mic: ArrayLike<number> | undefined,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const at = (frame + i) * 4;
    view.setInt16(at, meeting && i < meeting.length ? toInt16(meeting[i]) : 0, true);
    view.setInt16(at + 2, mic && i < mic.length ? toInt16(mic[i]) : 0, true);
  }
}

/** The two channels as one buffer of interleaved 16-bit little-endian PCM. */
export function interleave(meeting: ArrayLike<number> | undefined, mic: ArrayLike<number> | undefined): ArrayBuffer {
  const n = Math.max(meeting?.length ?? 0, mic?.length ?? 0);
  const buf = new ArrayBuffer(n * 4);
  interleaveInto(new DataView(buf), 0, meeting, mic, n);
  return buf;
}

/** The largest absolute sample value (0…1). */
export function peak(samples: ArrayLike<number> | undefined): number {
  let p = 0;
  if (!samples) return 0;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.abs(samples[i]);
    if (v > p) p = v;
  }
  return Math.min(1, p);
}

/** A peak as a meter reading, 0…1 on a decibel scale from -60 dBFS (0) to full scale (1). */
export function meterLevel(p: number): number {
  if (!(p > 0)) return 0;
  return Math.max(0, Math.min(1, (20 * Math.log10(p) + 60) / 60));
}

/** Frames per audio frame sent: 100 ms. */
export const framesPer100ms = (sampleRate: number): number => Math.round(sampleRate / 10);

/** A frame ready to send: the PCM and each channel's peak over it. */
export interface Chunk {
  pcm: ArrayBuffer;
  peaks: [number, number];
}

/** Collects the audio thread's blocks (128 frames each in browsers) into chunks of
 * `framesPerChunk` frames. */
export class FrameAssembler {
  private buf: ArrayBuffer;
  private view: DataView;
  private filled = 0;
  private peaks: [number, number] = [0, 0];

  constructor(readonly framesPerChunk: number) {
    if (!(framesPerChunk >= 1)) throw new RangeError('framesPerChunk must be at least 1');
    this.buf = new ArrayBuffer(framesPerChunk * 4);
    this.view = new DataView(this.buf);
  }

  /** Adds `n` frames (either channel may be absent: silence); returns the chunks completed. */
  push(meeting: ArrayLike<number> | undefined, mic: ArrayLike<number> | undefined, n: number): Chunk[] {
    const out: Chunk[] = [];
    let done = 0;
    while (done < n) {
      const take = Math.min(n - done, this.framesPerChunk - this.filled);
      const m = meeting ? sub(meeting, done, take) : undefined;
      const c = mic ? sub(mic, done, take) : undefined;
      interleaveInto(this.view, this.filled, m, c, take);
      this.peaks = [Math.max(this.peaks[0], peak(m)), Math.max(this.peaks[1], peak(c))];
      this.filled += take;
      done += take;
      if (this.filled === this.framesPerChunk) out.push(this.take());
    }
    return out;
  }

  /** What is collected so far as a (shorter) chunk; null when nothing is. */
  flush(): Chunk | null {
    return this.filled ? this.take() : null;
  }

  private take(): Chunk {
    const chunk: Chunk = { pcm: this.buf.slice(0, this.filled * 4), peaks: this.peaks };
    this.filled = 0;
    this.peaks = [0, 0];
    return chunk;
  }
}

function sub(a: ArrayLike<number>, from: number, n: number): ArrayLike<number> {
  if (from === 0 && a.length <= n) return a;
  if (a instanceof Float32Array) return a.subarray(from, from + n);
  return Array.from({ length: Math.max(0, Math.min(n, a.length - from)) }, (_, i) => a[from + i]);
}

/** Longest title kept in a call id (the server takes 128 characters in all). */
const MAX_TOPIC = 100;

/** LMA's web UI's call id: `<topic> - <local time as YYYY-MM-DD-HH:MM:SS.mmm>`. */
export function callId(topic: string, at: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp =
    `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())}-` +
    `${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}.${p(at.getMilliseconds(), 3)}`;
  const t = [...topic.replace(/\p{Cc}/gu, ' ').trim()].slice(0, MAX_TOPIC).join('').trim() || 'Meeting';
  return `${t} - ${stamp}`;
}
