// The Stream Audio page's audio arithmetic: float to 16-bit PCM, two channels interleaved
// little-endian, 100 ms frames from 128-sample blocks, meter levels, LMA's call ids.
import { describe, expect, it } from 'vitest';
import { FrameAssembler, callId, framesPer100ms, interleave, meterLevel, peak, toInt16 } from '../../src/lib/audio';

const samples = (buf: ArrayBuffer) => Array.from(new Int16Array(buf));

describe('toInt16', () => {
  it('scales to the full 16-bit range and clips what is out of range', () => {
    expect([0, 1, -1, 0.5, -0.5, 2, -3, NaN].map(toInt16)).toEqual([0, 32767, -32768, 16384, -16384, 32767, -32768, 0]);
    expect(toInt16(1e-6)).toBe(0);
  });
});

describe('interleave', () => {
  it('writes channel 0 (the meeting) then channel 1 (the microphone), little-endian', () => {
    const buf = interleave(Float32Array.of(1, -1), Float32Array.of(0, 0.5));
    expect(buf.byteLength).toBe(8);
    expect([...new Uint8Array(buf)]).toEqual([0xff, 0x7f, 0x00, 0x00, 0x00, 0x80, 0x00, 0x40]);
    const v = new DataView(buf);
    expect([v.getInt16(0, true), v.getInt16(2, true), v.getInt16(4, true), v.getInt16(6, true)]).toEqual([32767, 0, -32768, 16384]);
  });

  it('fills an absent or shorter channel with silence', () => {
    expect(samples(interleave(undefined, Float32Array.of(0.5, 0.5)))).toEqual([0, 16384, 0, 16384]);
    expect(samples(interleave(Float32Array.of(-0.5, -0.5, -0.5), Float32Array.of(1)))).toEqual([-16384, 32767, -16384, 0, -16384, 0]);
    expect(interleave(undefined, undefined).byteLength).toBe(0);
  });
});

describe('FrameAssembler', () => {
  it('collects 128-sample blocks into 100 ms frames', () => {
    const per = framesPer100ms(48000);
    expect(per).toBe(4800);
    expect(framesPer100ms(44100)).toBe(4410);
    const a = new FrameAssembler(per);
    const chunks = [];
    let n = 0;
    for (let block = 0; block < 80; block++) {
      const meeting = Float32Array.from({ length: 128 }, (_, i) => ((n + i) % 100) / 1000);
      const mic = Float32Array.from({ length: 128 }, () => -0.25);
      n += 128;
      chunks.push(...a.push(meeting, mic, 128));
    }
    // 80 × 128 = 10,240 frames: two whole chunks, 640 frames waiting.
    expect(chunks.map((c) => c.pcm.byteLength)).toEqual([per * 4, per * 4]);
    const first = samples(chunks[0].pcm);
    expect(first.slice(0, 6)).toEqual([0, -8192, toInt16(0.001), -8192, toInt16(0.002), -8192]);
    const second = samples(chunks[1].pcm);
    // The second chunk goes on where the first stopped (frame 4800).
    expect(second[0]).toBe(toInt16((4800 % 100) / 1000));
    expect(second[2]).toBe(toInt16((4801 % 100) / 1000));
    expect(chunks[0].peaks[0]).toBeCloseTo(0.099, 5);
    expect(chunks[0].peaks[1]).toBe(0.25);
    const rest = a.flush();
    expect(rest?.pcm.byteLength).toBe(640 * 4);
    expect(a.flush()).toBeNull();
  });

  it('streams silence for an input with nothing connected, and splits blocks that cross a frame', () => {
    const a = new FrameAssembler(3);
    const out = a.push(undefined, Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.5), 5);
    expect(out).toHaveLength(1);
    expect(samples(out[0].pcm)).toEqual([0, 16384, 0, 16384, 0, 16384]);
    expect(out[0].peaks).toEqual([0, 0.5]);
    expect(samples(a.flush()!.pcm)).toEqual([0, 16384, 0, 16384]);
    expect(() => new FrameAssembler(0)).toThrow(RangeError);
  });

  it('hands each chunk its own buffer (transferred to the page, never reused)', () => {
    const a = new FrameAssembler(2);
    const [c1] = a.push(Float32Array.of(1, 1), undefined, 2);
    const [c2] = a.push(Float32Array.of(-1, -1), undefined, 2);
    expect(c1.pcm).not.toBe(c2.pcm);
    expect(samples(c1.pcm)).toEqual([32767, 0, 32767, 0]);
  });
});

describe('levels', () => {
  it('takes the peak and shows it on a -60…0 dBFS scale', () => {
    expect(peak(Float32Array.of(0.1, -0.6, 0.3))).toBeCloseTo(0.6);
    expect(peak(undefined)).toBe(0);
    expect(meterLevel(1)).toBe(1);
    expect(meterLevel(0)).toBe(0);
    expect(meterLevel(0.001)).toBeCloseTo(0, 5);
    expect(meterLevel(0.0001)).toBe(0);
    expect(meterLevel(0.1)).toBeCloseTo(2 / 3, 5);
  });
});

describe('callId', () => {
  it('is LMA’s `<topic> - <timestamp>`, in local time to the millisecond', () => {
    expect(callId('Weekly sync', new Date(2025, 2, 4, 9, 5, 7, 42))).toBe('Weekly sync - 2025-03-04-09:05:07.042');
  });

  it('keeps the id within the server’s 128 characters and without control characters', () => {
    const at = new Date(2025, 0, 1);
    const long = callId('x'.repeat(300), at);
    expect(long.length).toBeLessThanOrEqual(128);
    expect(callId('a\tb\nc', at)).toBe('a b c - 2025-01-01-00:00:00.000');
    expect(callId('   ', at)).toBe('Meeting - 2025-01-01-00:00:00.000');
  });
});
