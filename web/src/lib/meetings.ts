// Meetings state that does not depend on a page: a transcript built from the stored segments
// and the meeting channel's events (a partial replaced in place by the next hypothesis with the
// same SegmentId, a final never replaced by a partial), the meetings list kept current by the
// user's list channel, and how meetings are named in addresses and shown.

import type { components } from '../api/schema';
import { progressOf, type Transcribing } from './uploads';

export type MeetingView = components['schemas']['MeetingView'];
export type Segment = components['schemas']['Segment'];
export type MeetingList = components['schemas']['MeetingList'];
export type Shares = components['schemas']['Shares'];
export type MeetingHit = components['schemas']['MeetingHit'];
export type PassageHit = components['schemas']['PassageHit'];
export type MeetingSearchResults = components['schemas']['MeetingSearchResults'];

/** The meeting channel's events (LMA's event types). */
export type CallEvent =
  | { EventType: 'START'; CallId: string; Meeting: MeetingView }
  | ({ EventType: 'ADD_TRANSCRIPT_SEGMENT'; CallId: string } & Segment)
  | { EventType: 'UPDATE_AGENT'; CallId: string; ActiveSpeaker: string }
  | { EventType: 'ADD_RECORDING'; CallId: string; RecordingUrl: string }
  | { EventType: 'UPLOAD_PROGRESS'; CallId: string; ProcessedSecs: number; TotalSecs?: number }
  | { EventType: 'END'; CallId: string; Meeting: MeetingView };

/** The user's list channel's events (`progress`: how far the owner's upload is). */
export type ListEvent =
  | { type: 'updated'; meeting: MeetingView }
  | { type: 'removed'; id: string }
  | { type: 'progress'; id: string; processedSecs: number; totalSecs?: number };

// ---- addresses ----

/** The API path of a meeting (its call id, URL-encoded). */
export const apiPath = (id: string): string => `/v1/meetings/${encodeURIComponent(id)}`;

/** The app's page of a meeting. Dots are encoded too: the server gives the app's page for paths
 * whose last segment has no `.` (LMA's call ids end in `…:SS.mmm`); the router decodes them. */
export const pagePath = (id: string): string => `/meetings/${encodeURIComponent(id).replace(/\./g, '%2E')}`;

/** The meeting's page at a passage's moment (`?t=`: milliseconds from the meeting's start);
 * a passage without times (a summary's) opens the page itself. */
export function citePath(id: string, p: { startMs?: number | null }): string {
  return p.startMs == null ? pagePath(id) : `${pagePath(id)}?t=${Math.max(0, Math.round(p.startMs))}`;
}

/** The moment a meeting's page was opened at (its `?t=`), or null. */
export function citedMs(search: string): number | null {
  const v = new URLSearchParams(search).get('t');
  return v && /^\d{1,12}$/.test(v) ? Number(v) : null;
}

/** The search path of a query (`limit` meetings at most). */
export const searchPath = (q: string, limit = 20): string => `/v1/meetings/search?${new URLSearchParams({ q: q.trim(), limit: String(limit) })}`;

// ---- the transcript ----

/** The SegmentId of the segment shown for a moment (ms): the one it falls in, else the first
 * that starts after it, else the last one; null without segments. */
export function segmentAt(segments: Segment[], ms: number): string | null {
  const t = ms / 1000;
  const inside = segments.find((s) => s.StartTime <= t && t < s.EndTime);
  return (inside ?? segments.find((s) => s.StartTime >= t) ?? segments.at(-1))?.SegmentId ?? null;
}

/** Applies one segment: a new SegmentId is inserted in time order; a known one is replaced in
 * place, except that a final segment is never replaced by a partial. Returns a new array, or
 * the same one when nothing changed. */
export function applySegment(list: Segment[], s: Segment): Segment[] {
  const i = list.findIndex((x) => x.SegmentId === s.SegmentId);
  if (i >= 0) {
    if (!list[i].IsPartial && s.IsPartial) return list;
    const out = list.slice();
    out[i] = s;
    return out;
  }
  let j = list.length;
  while (j > 0 && list[j - 1].StartTime > s.StartTime) j--;
  return [...list.slice(0, j), s, ...list.slice(j)];
}

/** The segment an `ADD_TRANSCRIPT_SEGMENT` event carries (its fields are flattened into it). */
export function segmentOf(ev: Record<string, unknown>): Segment | null {
  if (typeof ev.SegmentId !== 'string' || typeof ev.Transcript !== 'string') return null;
  const { EventType: _t, CallId: _c, ...rest } = ev;
  const s = rest as unknown as Segment;
  return {
    ...s,
    Channel: s.Channel === 'AGENT' ? 'AGENT' : 'CALLER',
    Speaker: String(s.Speaker ?? ''),
    StartTime: Number(s.StartTime) || 0,
    EndTime: Number(s.EndTime) || 0,
    IsPartial: !!s.IsPartial,
  };
}

/** The stored transcript in time order, with events that arrived meanwhile applied. */
export function mergeTranscript(stored: Segment[], events: Segment[]): Segment[] {
  const sorted = [...stored].sort((a, b) => a.StartTime - b.StartTime);
  return events.reduce(applySegment, sorted);
}

export interface Live {
  meeting: MeetingView;
  segments: Segment[];
  /** How far an upload's transcription is (its `UPLOAD_PROGRESS` events). */
  progress?: Transcribing;
}

export interface Applied {
  state: Live;
  /** A final segment this event added or finished (for the live region). */
  finished?: Segment;
  /** The meeting's recording changed: read the meeting again. */
  recording?: boolean;
}

/** Applies a meeting channel event to the page's state. */
export function applyCallEvent(state: Live, ev: unknown): Applied {
  const e = ev as Record<string, unknown> | null;
  switch (e?.EventType) {
    case 'ADD_TRANSCRIPT_SEGMENT': {
      const s = segmentOf(e);
      if (!s) return { state };
      const before = state.segments.find((x) => x.SegmentId === s.SegmentId);
      const segments = applySegment(state.segments, s);
      if (segments === state.segments) return { state };
      const finished = !s.IsPartial && (!before || before.IsPartial) ? s : undefined;
      return { state: { ...state, segments }, finished };
    }
    case 'START':
    case 'END': {
      const m = e.Meeting as MeetingView | undefined;
      return m && typeof m === 'object' ? { state: { ...state, meeting: m }, recording: e.EventType === 'END' } : { state };
    }
    case 'UPDATE_AGENT': {
      const name = String(e.ActiveSpeaker ?? '');
      const p = state.meeting.participants;
      if (!name || p.speakers.includes(name)) return { state };
      return { state: { ...state, meeting: { ...state.meeting, participants: { ...p, speakers: [...p.speakers, name] } } } };
    }
    case 'ADD_RECORDING':
      return { state, recording: true };
    case 'UPLOAD_PROGRESS':
      return { state: { ...state, progress: progressOf(state.progress, { processedSecs: e.ProcessedSecs, totalSecs: e.TotalSecs }) } };
    default:
      return { state };
  }
}

// ---- the list ----

export interface ListState {
  items: MeetingView[];
  total: number;
  nextCursor: string | null;
}

/** The list's date filter: meetings started at or after `from`, before `to` (instants). */
export interface ListFilter {
  from?: string;
  to?: string;
}

const time = (t: string) => Date.parse(t);

export function inFilter(m: MeetingView, f: ListFilter): boolean {
  const t = time(m.startedAt);
  return (!f.from || t >= time(f.from)) && (!f.to || t < time(f.to));
}

/** Applies a list channel event: a meeting updated in place, a new one inserted newest first
 * (when it falls inside the filter and inside what is loaded), a removed one dropped. */
export function applyListEvent(s: ListState, ev: ListEvent, f: ListFilter = {}): ListState {
  if (ev?.type === 'removed') {
    if (!s.items.some((m) => m.id === ev.id)) return s;
    return { ...s, items: s.items.filter((m) => m.id !== ev.id), total: Math.max(0, s.total - 1) };
  }
  if (ev?.type !== 'updated' || !ev.meeting) return s;
  const m = ev.meeting;
  const i = s.items.findIndex((x) => x.id === m.id);
  if (i >= 0) {
    const items = s.items.slice();
    items[i] = m;
    return { ...s, items };
  }
  if (!inFilter(m, f)) return s;
  const t = time(m.startedAt);
  let j = s.items.findIndex((x) => time(x.startedAt) < t);
  // Older than everything loaded while more pages exist: it arrives with those pages.
  if (j < 0 && s.nextCursor) return { ...s, total: s.total + 1 };
  if (j < 0) j = s.items.length;
  return { ...s, items: [...s.items.slice(0, j), m, ...s.items.slice(j)], total: s.total + 1 };
}

/** A `YYYY-MM-DD` day of the user's calendar as the instant it starts (`end`: the next day's). */
export function dayStart(day: string, end = false): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (end ? 1 : 0)).toISOString();
}

// ---- shown ----

/** Seconds as a clock: `4:05`, `1:02:03`. */
export function clock(secs: number): string {
  const s = Math.max(0, Math.floor(secs || 0));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A length for people: `45 s`, `12 min`, `1 h 5 min`. */
export function duration(secs: number): string {
  const s = Math.max(0, Math.round(secs || 0));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** Comma, semicolon or whitespace separated emails, without repeats. */
export function emails(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((e) => e.trim()).filter(Boolean))];
}
