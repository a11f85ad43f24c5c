// Uploaded recordings (`POST /v1/meetings/upload`): which files the page offers to send, the
// state of one upload from its first byte to its transcript (bytes sent by the browser, then the
// server's progress events on the owner's meetings-list channel), and what its errors mean in
// plain words. No Svelte here: the page and the tests drive the same reducer.

import { ApiError } from './api';
import type { ListEvent, MeetingView } from './meetings';

// ---- which files ----

/** The containers the server decodes (symphonia, libopus), by file name ending. */
export const AUDIO_EXTENSIONS = ['wav', 'mp3', 'flac', 'ogg', 'oga', 'opus', 'webm', 'm4a', 'mp4', 'aac'];

/** For `<input type=file accept=…>`: the endings and the media types browsers give them. */
export const AUDIO_ACCEPT = [
  ...AUDIO_EXTENSIONS.map((e) => `.${e}`),
  'audio/wav',
  'audio/x-wav',
  'audio/mpeg',
  'audio/flac',
  'audio/ogg',
  'audio/opus',
  'audio/webm',
  'audio/mp4',
  'audio/x-m4a',
  'audio/aac',
].join(',');

/** The formats as people name them. */
export const AUDIO_FORMATS = 'WAV, MP3, FLAC, OGG (Vorbis or Opus), WebM (Opus), M4A (AAC)';

const extension = (name: string): string => /\.([^.]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';

/** Why `file` cannot be sent, or null when it may be. Refused here: an empty file, one whose
 * type and name both say it is not audio, and one larger than `maxBytes` when that is known.
 * The server has the last word on the content itself. */
export function refuseFile(file: Pick<File, 'name' | 'size' | 'type'>, maxBytes?: number): string | null {
  if (file.size === 0) return `“${file.name}” is empty.`;
  if (maxBytes && file.size > maxBytes) return `“${file.name}” is larger than this server accepts.`;
  const type = file.type.toLowerCase();
  const known = AUDIO_EXTENSIONS.includes(extension(file.name));
  // A WebM or MP4 may be a video with an audio track: its ending decides.
  const audioType = type.startsWith('audio/') || (known && (type === '' || type.startsWith('video/') || type === 'application/ogg' || type === 'application/octet-stream'));
  if (!audioType) return `“${file.name}” is not an audio file. Choose a recording in ${AUDIO_FORMATS}.`;
  return null;
}

// ---- the state of an upload ----

/** The server's transcription progress. `totalSecs` is absent when the file does not say its
 * length. */
export interface Transcribing {
  processedSecs: number;
  totalSecs?: number;
}

export type UploadPhase = 'idle' | 'sending' | 'transcribing' | 'done' | 'failed';

export interface UploadState {
  phase: UploadPhase;
  /** Bytes of the request sent, and its size (the multipart body). */
  sent: number;
  total: number;
  /** The meeting the server made, once it answered. */
  meeting: MeetingView | null;
  progress: Transcribing | null;
  error: string;
  /** List events that came before the server's answer named the meeting. */
  early: ListEvent[];
}

export type UploadAction =
  | { type: 'send'; total: number }
  | { type: 'sent'; loaded: number; total: number }
  | { type: 'accepted'; meeting: MeetingView }
  | { type: 'list'; event: ListEvent }
  | { type: 'meeting'; meeting: MeetingView }
  | { type: 'failed'; error: string }
  | { type: 'reset' };

export const idle = (): UploadState => ({ phase: 'idle', sent: 0, total: 0, meeting: null, progress: null, error: '', early: [] });

/** At most this many list events are kept while the server's answer is awaited. */
const EARLY_MAX = 200;

/** The meeting as the server says it now: finished or still being transcribed. */
function withMeeting(s: UploadState, m: MeetingView): UploadState {
  if (!s.meeting || m.id !== s.meeting.id) return s;
  if (m.status === 'ended') {
    const total = s.progress?.totalSecs ?? m.durationSecs;
    return { ...s, phase: 'done', meeting: m, progress: { processedSecs: total, totalSecs: total } };
  }
  if (m.status === 'failed') return { ...s, phase: 'failed', meeting: m, error: m.error || 'The recording could not be transcribed.' };
  return { ...s, meeting: m };
}

function listEvent(s: UploadState, ev: ListEvent): UploadState {
  if (s.phase === 'sending') return { ...s, early: [...s.early, ev].slice(-EARLY_MAX) };
  if (s.phase !== 'transcribing' || !s.meeting) return s;
  if (ev?.type === 'updated' && ev.meeting) return withMeeting(s, ev.meeting);
  if (ev?.type === 'progress' && ev.id === s.meeting.id) return { ...s, progress: progressOf(s.progress, ev) };
  return s;
}

/** One step of an upload. Events for other meetings, and late ones, change nothing. */
export function uploadStep(s: UploadState, a: UploadAction): UploadState {
  switch (a.type) {
    case 'send':
      return { ...idle(), phase: 'sending', total: a.total };
    case 'sent':
      return s.phase === 'sending' ? { ...s, sent: a.loaded, total: a.total || s.total } : s;
    case 'accepted': {
      if (s.phase !== 'sending') return s;
      const next: UploadState = { ...s, phase: 'transcribing', sent: s.total, meeting: a.meeting, progress: { processedSecs: 0 }, early: [] };
      return s.early.reduce(listEvent, withMeeting(next, a.meeting));
    }
    case 'list':
      return listEvent(s, a.event);
    case 'meeting':
      return s.phase === 'transcribing' ? withMeeting(s, a.meeting) : s;
    case 'failed':
      return s.phase === 'sending' || s.phase === 'transcribing' ? { ...s, phase: 'failed', error: a.error, early: [] } : s;
    case 'reset':
      return idle();
  }
}

// ---- progress ----

/** Progress from a `progress` list event or an `UPLOAD_PROGRESS` call event; it never goes back. */
export function progressOf(before: Transcribing | null | undefined, ev: { processedSecs?: unknown; totalSecs?: unknown }): Transcribing {
  const processed = Math.max(Number(ev.processedSecs) || 0, before?.processedSecs ?? 0);
  const total = Number(ev.totalSecs);
  return Number.isFinite(total) && total > 0 ? { processedSecs: processed, totalSecs: total } : { processedSecs: processed, totalSecs: before?.totalSecs };
}

/** The share done, 0-1, or null when the length is not known. */
export function fraction(p: Transcribing | null | undefined): number | null {
  if (!p?.totalSecs) return null;
  return Math.min(1, Math.max(0, p.processedSecs / p.totalSecs));
}

/** The meetings list's progress bars: a `progress` event sets its meeting's, an update that
 * ends the transcription drops it. Returns the same map when nothing changed. */
export function applyListProgress(map: Record<string, Transcribing>, ev: ListEvent): Record<string, Transcribing> {
  if (ev?.type === 'progress' && typeof ev.id === 'string') return { ...map, [ev.id]: progressOf(map[ev.id], ev) };
  const gone = ev?.type === 'removed' ? ev.id : ev?.type === 'updated' && ev.meeting?.status !== 'processing' ? ev.meeting?.id : undefined;
  if (gone === undefined || !(gone in map)) return map;
  const { [gone]: _dropped, ...rest } = map;
  return rest;
}

// ---- errors ----

/** An upload's failure in plain words, by the server's status and code. */
export function uploadError(e: unknown): string {
  if ((e as { name?: unknown } | null)?.name === 'AbortError') return 'The upload was cancelled.';
  if (!(e instanceof ApiError)) return 'The upload failed: the server cannot be reached.';
  const later = e.retryAfter ? ` Try again in ${e.retryAfter} s.` : ' Try again later.';
  switch (e.status) {
    case 0:
      return 'The upload failed: the connection to the server was lost. If the file is very large, the server may have refused it.';
    case 413:
      return 'The file is larger than this server accepts.';
    case 415:
      return `This kind of file is not supported. Upload a recording in ${AUDIO_FORMATS}.`;
    case 400:
      return e.message && e.message !== 'Bad Request' ? e.message : `The file could not be read as audio (${AUDIO_FORMATS}).`;
    case 403:
      return 'Your account may not upload meetings.';
    case 429:
      return `Too many meetings are being transcribed right now.${later}`;
    case 503:
      return `Transcription is not available on this server right now.${later}`;
    default:
      return e.message || 'The upload failed.';
  }
}
