// Meetings state: the transcript (stored segments, then events; a partial replaced in place, a
// final never replaced by a partial), the list kept current by its channel, and formatting.
import { describe, expect, it } from 'vitest';
import {
  apiPath,
  applyCallEvent,
  applyListEvent,
  applySegment,
  citedMs,
  citePath,
  clock,
  dayStart,
  duration,
  emails,
  inFilter,
  mergeTranscript,
  pagePath,
  searchPath,
  segmentAt,
  segmentOf,
  type ListState,
  type Segment,
} from '../../src/lib/meetings';
import { match } from '../../src/lib/router';
import { meeting, seg } from './meetings-fixtures';

const texts = (l: Segment[]) => l.map((s) => `${s.SegmentId}:${s.Transcript}${s.IsPartial ? '…' : ''}`);

describe('applySegment', () => {
  it('inserts new segments in time order', () => {
    let l: Segment[] = [];
    l = applySegment(l, seg('b', 2, 'two'));
    l = applySegment(l, seg('a', 1, 'one'));
    l = applySegment(l, seg('c', 3, 'three'));
    l = applySegment(l, seg('b2', 2, 'two too'));
    expect(texts(l)).toEqual(['a:one', 'b:two', 'b2:two too', 'c:three']);
  });

  it('replaces a partial in place by the next hypothesis, and finally by the final', () => {
    let l = [seg('a', 1, 'one'), seg('x', 2, 'hel', { IsPartial: true }), seg('b', 3, 'three')];
    l = applySegment(l, seg('x', 2, 'hello wor', { IsPartial: true }));
    expect(texts(l)).toEqual(['a:one', 'x:hello wor…', 'b:three']);
    l = applySegment(l, seg('x', 2, 'hello world'));
    expect(texts(l)).toEqual(['a:one', 'x:hello world', 'b:three']);
  });

  it('never replaces a final by a partial (a late or repeated hypothesis)', () => {
    const l = [seg('x', 2, 'hello world')];
    expect(applySegment(l, seg('x', 2, 'hello', { IsPartial: true }))).toBe(l);
    // A corrected final replaces the final.
    expect(texts(applySegment(l, seg('x', 2, 'Hello, world.')))).toEqual(['x:Hello, world.']);
  });
});

describe('mergeTranscript', () => {
  it('orders the stored segments and applies the events that arrived while they were read, once each', () => {
    const stored = [seg('b', 2, 'two'), seg('a', 1, 'one'), seg('c', 3, 'thr', { IsPartial: true })];
    const events = [seg('a', 1, 'one'), seg('c', 3, 'three'), seg('c', 3, 'thr', { IsPartial: true }), seg('d', 4, 'fo', { IsPartial: true })];
    expect(texts(mergeTranscript(stored, events))).toEqual(['a:one', 'b:two', 'c:three', 'd:fo…']);
    expect(stored.map((s) => s.SegmentId)).toEqual(['b', 'a', 'c']);
  });
});

describe('applyCallEvent', () => {
  const m = meeting('Sync - 1', '2025-03-01T10:00:00Z', { status: 'live' });
  const ev = (s: Segment) => ({ EventType: 'ADD_TRANSCRIPT_SEGMENT', CallId: 'Sync - 1', ...s });

  it('reads the flattened segment of ADD_TRANSCRIPT_SEGMENT, and reports a segment finished once', () => {
    let state = { meeting: m, segments: [] as Segment[] };
    let r = applyCallEvent(state, ev(seg('x', 0, 'hel', { IsPartial: true })));
    expect(r.finished).toBeUndefined();
    state = r.state;
    expect(state.segments[0]).not.toHaveProperty('EventType');
    expect(state.segments[0]).not.toHaveProperty('CallId');
    r = applyCallEvent(state, ev(seg('x', 0, 'hello', { Sentiment: 'POSITIVE' })));
    expect(r.finished?.Transcript).toBe('hello');
    state = r.state;
    expect(texts(state.segments)).toEqual(['x:hello']);
    // The same final again (a reconnect): nothing new to say.
    expect(applyCallEvent(state, ev(seg('x', 0, 'hello'))).finished).toBeUndefined();
    // A late partial changes nothing.
    expect(applyCallEvent(state, ev(seg('x', 0, 'hel', { IsPartial: true }))).state).toBe(state);
    // A final straight away (no partial before it).
    expect(applyCallEvent(state, ev(seg('y', 1, 'bye'))).finished?.SegmentId).toBe('y');
  });

  it('takes the meeting of START and END, speakers of UPDATE_AGENT, and asks for the recording', () => {
    const state = { meeting: m, segments: [] };
    const ended = applyCallEvent(state, { EventType: 'END', CallId: m.id, Meeting: { ...m, status: 'ended' } });
    expect(ended.state.meeting.status).toBe('ended');
    expect(ended.recording).toBe(true);
    const sp = applyCallEvent(state, { EventType: 'UPDATE_AGENT', CallId: m.id, ActiveSpeaker: 'Carol' });
    expect(sp.state.meeting.participants.speakers).toEqual(['Carol']);
    expect(applyCallEvent(sp.state, { EventType: 'UPDATE_AGENT', CallId: m.id, ActiveSpeaker: 'Carol' }).state).toBe(sp.state);
    expect(applyCallEvent(state, { EventType: 'ADD_RECORDING', CallId: m.id, RecordingUrl: '/x' }).recording).toBe(true);
    for (const junk of [null, 'text', { EventType: 'NOPE' }, { EventType: 'ADD_TRANSCRIPT_SEGMENT' }]) {
      expect(applyCallEvent(state, junk).state).toBe(state);
    }
  });

  it('segmentOf tolerates what LMA sends loosely', () => {
    expect(segmentOf({ SegmentId: 's', Transcript: 't', Channel: 'AGENT', StartTime: '1.5' })).toMatchObject({
      Channel: 'AGENT',
      StartTime: 1.5,
      IsPartial: false,
      Speaker: '',
    });
    expect(segmentOf({ SegmentId: 's' })).toBeNull();
  });
});

describe('applyListEvent', () => {
  const a = meeting('A', '2025-03-03T10:00:00Z');
  const b = meeting('B', '2025-03-02T10:00:00Z');
  const c = meeting('C', '2025-03-01T10:00:00Z');
  const state = (over: Partial<ListState> = {}): ListState => ({ items: [a, b, c], total: 3, nextCursor: null, ...over });
  const ids = (s: ListState) => s.items.map((m) => m.id);

  it('updates a meeting in place', () => {
    const s = applyListEvent(state(), { type: 'updated', meeting: { ...b, status: 'live' } });
    expect(ids(s)).toEqual(['A', 'B', 'C']);
    expect(s.items[1].status).toBe('live');
    expect(s.total).toBe(3);
  });

  it('inserts a new meeting newest first, and counts it', () => {
    const now = meeting('N', '2025-03-04T10:00:00Z', { status: 'live' });
    expect(ids(applyListEvent(state(), { type: 'updated', meeting: now }))).toEqual(['N', 'A', 'B', 'C']);
    const between = meeting('M', '2025-03-02T12:00:00Z');
    const s = applyListEvent(state(), { type: 'updated', meeting: between });
    expect(ids(s)).toEqual(['A', 'M', 'B', 'C']);
    expect(s.total).toBe(4);
  });

  it('leaves an older meeting to the pages not loaded yet, and one outside the dates out', () => {
    const old = meeting('O', '2025-02-01T10:00:00Z');
    const more = applyListEvent(state({ nextCursor: 'cur' }), { type: 'updated', meeting: old });
    expect(ids(more)).toEqual(['A', 'B', 'C']);
    expect(more.total).toBe(4);
    expect(ids(applyListEvent(state(), { type: 'updated', meeting: old }))).toEqual(['A', 'B', 'C', 'O']);
    const f = { from: '2025-03-01T00:00:00Z', to: '2025-03-04T00:00:00Z' };
    const late = meeting('L', '2025-03-05T10:00:00Z');
    expect(applyListEvent(state(), { type: 'updated', meeting: late }, f)).toEqual(state());
    expect(inFilter(a, f)).toBe(true);
    expect(inFilter(late, f)).toBe(false);
  });

  it('drops a removed meeting (deleted, or no longer shared)', () => {
    const s = applyListEvent(state(), { type: 'removed', id: 'B' });
    expect(ids(s)).toEqual(['A', 'C']);
    expect(s.total).toBe(2);
    const same = state();
    expect(applyListEvent(same, { type: 'removed', id: 'nope' })).toBe(same);
  });
});

describe('addresses and formats', () => {
  it('names a meeting by its encoded call id, its page with dots encoded too', () => {
    const id = 'Q3 review v1.2 / plan - 2025-03-04-09:05:07.042';
    expect(apiPath(id)).toBe('/v1/meetings/Q3%20review%20v1.2%20%2F%20plan%20-%202025-03-04-09%3A05%3A07.042');
    const page = pagePath(id);
    expect(page).not.toMatch(/\./);
    expect(match('/meetings/:id', page)).toEqual({ id });
  });

  it('shows clocks, lengths, days and email lists', () => {
    expect([0, 5, 65, 3600 + 62, -3].map(clock)).toEqual(['0:00', '0:05', '1:05', '1:01:02', '0:00']);
    expect([12, 61, 3599, 3900].map(duration)).toEqual(['12 s', '1 min', '1 h 0 min', '1 h 5 min']);
    expect(new Date(dayStart('2025-03-04')!).getDate()).toBe(4);
    expect(new Date(dayStart('2025-03-04', true)!).getDate()).toBe(5);
    expect(new Date(dayStart('2025-03-04')!).getHours()).toBe(0);
    expect(dayStart('')).toBeUndefined();
    expect(emails(' ann@x.org,bob@x.org;  ann@x.org\ncy@x.org ')).toEqual(['ann@x.org', 'bob@x.org', 'cy@x.org']);
  });
});

describe('meeting search', () => {
  it('opens a meeting at a passage\'s moment and reads the moment back', () => {
    const page = citePath('Weekly sync 1.2', { startMs: 24000.4 });
    expect(page).toBe('/meetings/Weekly%20sync%201%2E2?t=24000');
    expect(citedMs(new URL(page, 'http://x').search)).toBe(24000);
    expect(citePath('x', { startMs: null })).toBe('/meetings/x');
    expect(citePath('x', {})).toBe('/meetings/x');
    for (const bad of ['', '?t=', '?t=-5', '?t=1e3', '?t=abc', '?u=5']) expect(citedMs(bad)).toBeNull();
    expect(searchPath('  pricing & "q3 plan" ', 5)).toBe('/v1/meetings/search?q=pricing+%26+%22q3+plan%22&limit=5');
  });

  it('finds the segment shown for a moment', () => {
    const segs = [seg('a', 0, 'one', { EndTime: 4 }), seg('b', 5, 'two', { EndTime: 9 }), seg('c', 12, 'three', { EndTime: 13 })];
    expect(segmentAt(segs, 6000)).toBe('b');
    expect(segmentAt(segs, 4500)).toBe('b');
    expect(segmentAt(segs, 0)).toBe('a');
    expect(segmentAt(segs, 99_000)).toBe('c');
    expect(segmentAt([], 1000)).toBeNull();
  });
});
