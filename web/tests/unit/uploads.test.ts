// Uploaded recordings: which files are refused before sending, the upload's state from its
// bytes to its transcript (events that come before the server's answer included), the list's
// progress bars, and the errors in plain words.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/lib/api';
import { applyCallEvent, type ListEvent } from '../../src/lib/meetings';
import { applyListProgress, fraction, idle, progressOf, refuseFile, uploadError, uploadStep, type UploadAction, type UploadState } from '../../src/lib/uploads';
import { meeting } from './meetings-fixtures';

const f = (name: string, type: string, size = 1000) => ({ name, type, size });

describe('refuseFile', () => {
  it('takes audio by its type or, for containers that also hold video, by its name', () => {
    for (const ok of [
      f('a.wav', 'audio/wav'),
      f('a.mp3', 'audio/mpeg'),
      f('a.flac', 'audio/flac'),
      f('a.ogg', 'audio/ogg'),
      f('a.opus', ''),
      f('a.webm', 'video/webm'),
      f('a.m4a', 'audio/x-m4a'),
      f('a.M4A', ''),
      f('a.ogg', 'application/ogg'),
      f('recording', 'audio/aac'),
    ]) {
      expect(refuseFile(ok), ok.name).toBeNull();
    }
  });

  it('refuses what is obviously not audio, an empty file, and one over a known limit', () => {
    expect(refuseFile(f('notes.pdf', 'application/pdf'))).toMatch(/“notes.pdf” is not an audio file.*WAV, MP3/);
    expect(refuseFile(f('photo.jpg', 'image/jpeg'))).toMatch(/not an audio file/);
    expect(refuseFile(f('a.txt', 'text/plain'))).toMatch(/not an audio file/);
    // A video type with an ending that is not an audio container: not audio.
    expect(refuseFile(f('film.mkv', 'video/x-matroska'))).toMatch(/not an audio file/);
    expect(refuseFile(f('a.wav', 'audio/wav', 0))).toBe('“a.wav” is empty.');
    expect(refuseFile(f('a.wav', 'audio/wav', 2048), 1024)).toBe('“a.wav” is larger than this server accepts.');
    expect(refuseFile(f('a.wav', 'audio/wav', 1024), 1024)).toBeNull();
  });
});

describe('uploadStep', () => {
  const m = meeting('upload-1', '2025-03-04T10:00:00Z', { source: 'upload', status: 'processing', durationSecs: 0, title: 'Board' });
  const run = (...actions: UploadAction[]) => actions.reduce(uploadStep, idle());
  const progress = (processedSecs: number, totalSecs?: number): ListEvent => ({ type: 'progress', id: m.id, processedSecs, totalSecs });
  const updated = (over: Partial<typeof m>): ListEvent => ({ type: 'updated', meeting: { ...m, ...over } });

  it('counts the bytes sent, then follows the transcription until it ends', () => {
    let s = run({ type: 'send', total: 5000 }, { type: 'sent', loaded: 2000, total: 5100 });
    expect([s.phase, s.sent, s.total]).toEqual(['sending', 2000, 5100]);
    s = uploadStep(s, { type: 'accepted', meeting: m });
    expect([s.phase, s.sent, s.progress]).toEqual(['transcribing', 5100, { processedSecs: 0 }]);
    s = uploadStep(s, { type: 'list', event: progress(12.5, 50) });
    expect(fraction(s.progress)).toBe(0.25);
    // Another meeting's progress changes nothing.
    expect(uploadStep(s, { type: 'list', event: { type: 'progress', id: 'other', processedSecs: 40, totalSecs: 50 } })).toBe(s);
    s = uploadStep(s, { type: 'list', event: updated({ status: 'ended', durationSecs: 49.98 }) });
    expect(s.phase).toBe('done');
    expect(s.meeting?.status).toBe('ended');
    expect(fraction(s.progress)).toBe(1);
    // Late events after the end change nothing.
    expect(uploadStep(s, { type: 'list', event: progress(30, 50) })).toBe(s);
    expect(uploadStep(s, { type: 'meeting', meeting: m })).toBe(s);
  });

  it('keeps the events that came before the server’s answer and applies those of its meeting', () => {
    let s = run({ type: 'send', total: 100 });
    s = uploadStep(s, { type: 'list', event: updated({}) });
    s = uploadStep(s, { type: 'list', event: { type: 'progress', id: 'someone-else', processedSecs: 9, totalSecs: 10 } });
    s = uploadStep(s, { type: 'list', event: progress(3, 10) });
    s = uploadStep(s, { type: 'list', event: updated({ status: 'ended', durationSecs: 10 }) });
    expect(s.phase).toBe('sending');
    // The answer comes last (a short file transcribed before the response was read).
    s = uploadStep(s, { type: 'accepted', meeting: m });
    expect(s.phase).toBe('done');
    expect(s.progress).toEqual({ processedSecs: 10, totalSecs: 10 });
    expect(s.early).toEqual([]);
  });

  it('ends failed with the server’s reason, or the request’s error; a new upload starts afresh', () => {
    const accepted = run({ type: 'send', total: 100 }, { type: 'accepted', meeting: m });
    const failed = uploadStep(accepted, { type: 'list', event: updated({ status: 'failed', error: 'The file is damaged after some audio.' }) });
    expect([failed.phase, failed.error, failed.meeting?.id]).toEqual(['failed', 'The file is damaged after some audio.', m.id]);
    const refused = run({ type: 'send', total: 100 }, { type: 'failed', error: 'The file is larger than this server accepts.' });
    expect([refused.phase, refused.meeting]).toEqual(['failed', null]);
    // A read of the meeting ends it too (events missed while disconnected).
    expect(uploadStep(accepted, { type: 'meeting', meeting: { ...m, status: 'ended', durationSecs: 7 } }).phase).toBe('done');
    const again: UploadState = uploadStep(refused, { type: 'send', total: 7 });
    expect(again).toEqual({ ...idle(), phase: 'sending', total: 7 });
    expect(uploadStep(again, { type: 'reset' })).toEqual(idle());
  });

  it('ignores what does not fit the phase', () => {
    const s = idle();
    expect(uploadStep(s, { type: 'sent', loaded: 1, total: 2 })).toBe(s);
    expect(uploadStep(s, { type: 'accepted', meeting: m })).toBe(s);
    expect(uploadStep(s, { type: 'failed', error: 'x' })).toBe(s);
    expect(uploadStep(s, { type: 'list', event: progress(1) })).toBe(s);
  });
});

describe('progress', () => {
  it('never goes back, keeps a known length, and is unknown without one', () => {
    expect(progressOf(null, { processedSecs: 3 })).toEqual({ processedSecs: 3, totalSecs: undefined });
    expect(progressOf({ processedSecs: 5, totalSecs: 20 }, { processedSecs: 4 })).toEqual({ processedSecs: 5, totalSecs: 20 });
    expect(progressOf(undefined, { processedSecs: 'x', totalSecs: 0 })).toEqual({ processedSecs: 0, totalSecs: undefined });
    expect(fraction({ processedSecs: 3 })).toBeNull();
    expect(fraction({ processedSecs: 30, totalSecs: 20 })).toBe(1);
    expect(fraction(null)).toBeNull();
  });

  it('keeps the list’s bars by meeting, and drops one when its transcription ends or it is removed', () => {
    let map = applyListProgress({}, { type: 'progress', id: 'a', processedSecs: 1, totalSecs: 4 });
    map = applyListProgress(map, { type: 'progress', id: 'b', processedSecs: 2 });
    expect(map).toEqual({ a: { processedSecs: 1, totalSecs: 4 }, b: { processedSecs: 2, totalSecs: undefined } });
    const still = applyListProgress(map, { type: 'updated', meeting: meeting('a', '2025-03-04T10:00:00Z', { status: 'processing' }) });
    expect(still).toBe(map);
    map = applyListProgress(map, { type: 'updated', meeting: meeting('a', '2025-03-04T10:00:00Z', { status: 'ended' }) });
    expect(Object.keys(map)).toEqual(['b']);
    map = applyListProgress(map, { type: 'removed', id: 'b' });
    expect(map).toEqual({});
    expect(applyListProgress(map, { type: 'removed', id: 'zz' })).toBe(map);
  });

  it('comes to the meeting page in UPLOAD_PROGRESS events', () => {
    const state = { meeting: meeting('u', '2025-03-04T10:00:00Z', { status: 'processing' }), segments: [] };
    let r = applyCallEvent(state, { EventType: 'UPLOAD_PROGRESS', CallId: 'u', ProcessedSecs: 4, TotalSecs: 16 });
    expect(r.state.progress).toEqual({ processedSecs: 4, totalSecs: 16 });
    r = applyCallEvent(r.state, { EventType: 'UPLOAD_PROGRESS', CallId: 'u', ProcessedSecs: 8 });
    expect(fraction(r.state.progress)).toBe(0.5);
  });
});

describe('uploadError', () => {
  it('says what the server’s status means', () => {
    expect(uploadError(new ApiError(413, 'payload_too_large', 'The request body is too large.'))).toBe('The file is larger than this server accepts.');
    expect(uploadError(new ApiError(415, 'unsupported_media_type', 'x'))).toMatch(/^This kind of file is not supported\. Upload a recording in WAV/);
    expect(uploadError(new ApiError(400, 'invalid_request', 'The file’s sample rate (96000 Hz) is outside 8-48 kHz.'))).toBe(
      'The file’s sample rate (96000 Hz) is outside 8-48 kHz.',
    );
    expect(uploadError(new ApiError(429, 'rate_limited', 'Too many live meetings (yours); end one first.', 30))).toBe(
      'Too many meetings are being transcribed right now. Try again in 30 s.',
    );
    expect(uploadError(new ApiError(429, 'rate_limited', 'x'))).toBe('Too many meetings are being transcribed right now. Try again later.');
    expect(uploadError(new ApiError(503, 'unavailable', 'x'))).toMatch(/^Transcription is not available/);
    expect(uploadError(new ApiError(403, 'forbidden', 'x'))).toBe('Your account may not upload meetings.');
    expect(uploadError(new ApiError(0, 'network', 'x'))).toMatch(/connection to the server was lost/);
    expect(uploadError(new DOMException('stop', 'AbortError'))).toBe('The upload was cancelled.');
    expect(uploadError(new TypeError('x'))).toMatch(/cannot be reached/);
  });
});
