// The meetings pages and components, mounted in jsdom and driven through the DOM: the transcript
// (channels, partials, sentiment, following the newest words), the level meter, the share
// dialog, the list (live updates from its channel), the meeting page (stored transcript, then
// events; owner actions; not found), the Stream Audio form's consent, and uploads (the Upload
// page through a fake XMLHttpRequest; progress on the list and the meeting page).
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import { cleanup, reactive, render } from './render.svelte';
import { all, button, click, modalDialogs, one, settle, texts, type } from './dom';
import { me, type Me } from '../../src/lib/auth';
import type { Segment } from '../../src/lib/meetings';
import Transcript from '../../src/components/Transcript.svelte';
import LevelMeter from '../../src/components/LevelMeter.svelte';
import ShareDialog from '../../src/components/ShareDialog.svelte';
import Meetings from '../../src/pages/Meetings.svelte';
import Meeting from '../../src/pages/Meeting.svelte';
import StreamAudio from '../../src/pages/StreamAudio.svelte';
import UploadAudio from '../../src/pages/UploadAudio.svelte';
import { uploader } from '../../src/lib/uploader.svelte';
import { meeting, seg } from './meetings-fixtures';

beforeAll(modalDialogs);

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  me.set(null);
  uploader.abandon();
  RtSocket.all = [];
  FakeXhr.all = [];
});

const ann: Me = { sub: 'u1', email: 'ann@example.com', displayName: 'Ann', groups: [], mfaEnabled: false, authMethod: 'session', scopes: ['chat', 'meetings'] };

interface Call {
  method: string;
  url: string;
  body: any;
}
const json = (status: number, body: unknown) =>
  status === 204 ? new Response(null, { status }) : new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A fake API: "METHOD /path" (the query string left off) → an answer. */
function server(routes: Record<string, (c: Call) => Response>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const answer = routes[`${c.method} ${url.split('?')[0]}`];
    return answer ? answer(c) : json(404, { code: 'not_found', message: 'Not found.' });
  });
  return calls;
}

/** The realtime server's side of the socket: acknowledges, confirms subscriptions, and lets
 * the test publish to a channel. */
class RtSocket {
  static all: RtSocket[] = [];
  readyState = 0;
  subs = new Map<string, string>();
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    RtSocket.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(t: string) {
    const f = JSON.parse(t);
    if (f.type === 'connection_init') this.recv({ type: 'connection_ack', connectionTimeoutMs: 300000 });
    if (f.type === 'subscribe') {
      this.subs.set(f.id, f.channel);
      this.recv({ type: 'subscribe_success', id: f.id });
    }
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  recv(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  static publish(channel: string, event: object) {
    for (const s of RtSocket.all)
      for (const [id, ch] of s.subs) if (ch === channel) s.recv({ type: 'data', id, event: JSON.stringify(event) });
    flushSync();
  }
  static subscribed(channel: string) {
    return RtSocket.all.some((s) => [...s.subs.values()].includes(channel));
  }
}

describe('Transcript', () => {
  it('shows speaker, time and channel; partials in progress; sentiment on finals only', () => {
    const segments: Segment[] = [
      seg('a', 1, 'Hello all', { Speaker: 'Others', Sentiment: 'POSITIVE' }),
      seg('b', 65, 'Thanks', { Channel: 'AGENT', Speaker: 'Ann', Sentiment: 'NEGATIVE' }),
      seg('c', 70, 'So the pla', { IsPartial: true, Sentiment: 'MIXED' }),
    ];
    const root = render(Transcript, { segments, live: false });
    const items = all(root, 'li.seg');
    expect(items).toHaveLength(3);
    expect(texts(root, '.speaker')).toEqual(['Others', 'Ann', 'Them']);
    expect(texts(root, 'time')).toEqual(['0:01', '1:05', '1:10']);
    expect(one(root, 'time').getAttribute('datetime')).toBe('PT1S');
    expect(items.map((i) => i.classList.contains('you'))).toEqual([false, true, false]);
    expect(items[1].textContent).toContain('(your microphone)');
    expect(items[0].textContent).toContain('(the meeting)');
    expect(texts(root, '.sentiment')).toEqual(['+ Positive', '− Negative']);
    expect(items[2].classList.contains('partial')).toBe(true);
    expect(one(items[2], '.tag').textContent).toBe('in progress');
    expect(one(root, 'section').getAttribute('aria-label')).toBe('Transcript');
    expect(root.querySelector('[aria-live]')).toBeNull();
  });

  it('follows new words while live; scrolled up, it offers to jump back', () => {
    const props = reactive({ segments: [seg('a', 1, 'one')], live: true });
    const root = render(Transcript, props);
    const box = one(root, 'section');
    let top = 0;
    Object.defineProperty(box, 'scrollHeight', { get: () => 1000 });
    Object.defineProperty(box, 'clientHeight', { get: () => 300 });
    Object.defineProperty(box, 'scrollTop', { get: () => top, set: (v) => (top = Math.min(v, 700)) });
    props.segments = [...props.segments, seg('b', 2, 'two')];
    flushSync();
    expect(top).toBe(700);
    expect(root.querySelector('.jump')).toBeNull();
    top = 100;
    box.dispatchEvent(new Event('scroll'));
    flushSync();
    props.segments = [...props.segments, seg('c', 3, 'three')];
    flushSync();
    expect(top).toBe(100);
    click(button(root, 'Jump to live'));
    expect(top).toBe(700);
    expect(document.activeElement).toBe(box);
    expect(root.querySelector('.jump')).toBeNull();
  });
});

describe('LevelMeter', () => {
  it('is a labelled meter, and says when muted', () => {
    const props = reactive({ label: 'Your microphone', value: 0.42, off: false });
    const root = render(LevelMeter, props);
    const m = one(root, '[role="meter"]');
    expect(document.getElementById(m.getAttribute('aria-labelledby')!)?.textContent).toBe('Your microphone');
    expect(m.getAttribute('aria-valuenow')).toBe('42');
    props.off = true;
    flushSync();
    expect(m.getAttribute('aria-valuetext')).toBe('muted');
    expect(one(root, '.name').textContent).toBe('Your microphone (muted)');
  });
});

describe('ShareDialog', () => {
  it('lists who it is shared with, shares, reports unknown emails beside the field, unshares', async () => {
    const id = 'Sync - 2025-03-04-09:05:07.042';
    const path = `/v1/meetings/${encodeURIComponent(id)}`;
    let shared = ['bob@example.com'];
    const calls = server({
      [`GET ${path}/shares`]: () => json(200, { meeting: {}, sharedWith: shared }),
      [`POST ${path}/share`]: (c) => {
        const known = c.body.users.filter((u: string) => u.endsWith('@example.com'));
        shared = [...shared, ...known];
        return json(200, { meeting: {}, sharedWith: shared, unknown: c.body.users.filter((u: string) => !known.includes(u)) });
      },
      [`POST ${path}/unshare`]: (c) => {
        shared = shared.filter((u) => !c.body.users.includes(u));
        return json(200, { meeting: {}, sharedWith: shared });
      },
    });
    const close = vi.fn();
    const root = render(ShareDialog, { meetingId: id, title: 'Sync', close });
    await settle(() => expect(texts(root, '.shared li span')).toEqual(['bob@example.com']));
    expect(one(root, 'dialog').hasAttribute('open')).toBe(true);
    expect(one(root, 'h2').textContent).toBe('Share “Sync”');
    const field = one<HTMLInputElement>(root, '#share-emails');
    type(field, 'cy@example.com, who@else.org');
    one<HTMLFormElement>(root, 'form').requestSubmit();
    await settle(() => expect(texts(root, '.shared li span')).toEqual(['bob@example.com', 'cy@example.com']));
    expect(calls.find((c) => c.url.endsWith('/share'))?.body).toEqual({ users: ['cy@example.com', 'who@else.org'] });
    expect(one(root, '#share-unknown').textContent).toBe('No user has this email: who@else.org');
    expect(field.getAttribute('aria-invalid')).toBe('true');
    expect(field.getAttribute('aria-describedby')).toBe('share-hint share-unknown');
    expect(field.value).toBe('who@else.org');
    click(button(root, 'Stop sharing with bob@example.com'));
    await settle(() => expect(texts(root, '.shared li span')).toEqual(['cy@example.com']));
    expect(one(root, '[role="status"]').textContent).toBe('No longer shared with bob@example.com.');
    click(button(root, 'Close'));
    expect(close).toHaveBeenCalled();
  });
});

describe('Meetings', () => {
  it('lists meetings newest first with date, length, live and owner, and follows the list channel', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    const calls = server({
      'GET /v1/meetings': () =>
        json(200, {
          items: [
            meeting('Live one - 1', '2025-03-04T10:00:00Z', { status: 'live', title: 'Standup' }),
            meeting('Old one - 2', '2025-03-01T10:00:00Z', { ownerId: 'u2', title: 'Review', durationSecs: 1800 }),
          ],
          total: 5,
          nextCursor: 'next',
        }),
    });
    const root = render(Meetings, {});
    await settle(() => expect(texts(root, 'a.title')).toEqual(['Standup', 'Review']));
    expect(calls[0].url).toBe('/v1/meetings?limit=20');
    expect(all(root, 'a.title').map((a) => a.getAttribute('href'))).toEqual(['/meetings/Live%20one%20-%201', '/meetings/Old%20one%20-%202']);
    const rows = all(root, 'ul[aria-label="Meetings"] li');
    expect(rows[0].textContent).toContain('Live');
    expect(rows[0].textContent).toContain('Yours');
    expect(rows[1].textContent).toContain('30 min');
    expect(rows[1].textContent).toContain('Shared with you');
    expect(one(root, '.count').textContent).toBe('2 of 5 meetings');
    expect(button(root, 'Show more')).toBeTruthy();

    await settle(() => expect(RtSocket.subscribed('/user-meetings/u1')).toBe(true));
    RtSocket.publish('/user-meetings/u1', { type: 'updated', meeting: meeting('New - 3', '2025-03-05T10:00:00Z', { title: 'Planning', status: 'live' }) });
    expect(texts(root, 'a.title')).toEqual(['Planning', 'Standup', 'Review']);
    RtSocket.publish('/user-meetings/u1', { type: 'updated', meeting: meeting('Live one - 1', '2025-03-04T10:00:00Z', { title: 'Standup' }) });
    expect(all(root, 'ul[aria-label="Meetings"] li')[1].textContent).not.toContain('Live');
    RtSocket.publish('/user-meetings/u1', { type: 'removed', id: 'Old one - 2' });
    expect(texts(root, 'a.title')).toEqual(['Planning', 'Standup']);
    expect(one(root, '.count').textContent).toBe('2 of 5 meetings');
  });

  it('filters by the user’s calendar days', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    const calls = server({ 'GET /v1/meetings': () => json(200, { items: [], total: 0 }) });
    const root = render(Meetings, {});
    await settle(() => expect(root.textContent).toContain('No meetings yet.'));
    type(one<HTMLInputElement>(root, '#m-from'), '2025-03-01');
    type(one<HTMLInputElement>(root, '#m-to'), '2025-03-02');
    one<HTMLFormElement>(root, 'form[aria-label="Filter by date"]').requestSubmit();
    await settle(() => expect(calls).toHaveLength(2));
    const q = new URL(calls[1].url, 'http://x').searchParams;
    expect(q.get('from')).toBe(new Date(2025, 2, 1).toISOString());
    expect(q.get('to')).toBe(new Date(2025, 2, 3).toISOString());
    await settle(() => expect(one(root, '.meetings > [role="status"]').textContent).toBe('0 meetings found.'));
    expect(root.textContent).toContain('No meetings in these dates.');
  });
});

describe('meeting search', () => {
  const hit = {
    meeting: { id: 'Sync - 1.5', key: 'k1', title: 'Sync', startedAt: '2025-03-04T10:00:00Z', durationSecs: 60, ownerId: 'u1', status: 'ended' },
    score: 3,
    passages: [
      { id: 'p1', kind: 'transcript', startMs: 24_000, endMs: 26_000, channel: 'CALLER', speaker: 'Bo', text: 'the budget for March', score: 3 },
      { id: 'p2', kind: 'summary', text: 'Budget agreed.', score: 2 },
    ],
  };

  it('searches past meetings, links each passage to its moment, and clears back to the list', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    const calls = server({
      'GET /v1/meetings': () => json(200, { items: [meeting('Other - 2', '2025-03-01T10:00:00Z', { title: 'Other' })], total: 1 }),
      'GET /v1/meetings/search': () => json(200, { items: [hit] }),
    });
    const root = render(Meetings, {});
    await settle(() => expect(texts(root, 'a.title')).toEqual(['Other']));
    type(one<HTMLInputElement>(root, '#m-search'), '  budget  ');
    one<HTMLFormElement>(root, 'form[role="search"]').requestSubmit();
    await settle(() => expect(texts(root, 'section[aria-label="Search results"] a.title')).toEqual(['Sync']));
    expect(calls.at(-1)?.url).toBe('/v1/meetings/search?q=budget&limit=20');
    expect(root.querySelector('ul[aria-label="Meetings"]')).toBeNull();
    const links = all(root, 'ul[aria-label="Passages of Sync"] a');
    expect(links.map((a) => [a.textContent, a.getAttribute('href')])).toEqual([
      ['0:24 · Bo', '/meetings/Sync%20-%201%2E5?t=24000'],
      ['Summary', '/meetings/Sync%20-%201%2E5'],
    ]);
    expect(one(root, '.msearch [role="status"]').textContent).toBe('1 meetings match.');
    click(button(root, 'Clear search'));
    await settle(() => expect(texts(root, 'a.title')).toEqual(['Other']));
    expect(root.querySelector('section[aria-label="Search results"]')).toBeNull();
  });

  it('says when nothing matches, and what the server refused', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    let answer = json(200, { items: [] });
    server({ 'GET /v1/meetings': () => json(200, { items: [], total: 0 }), 'GET /v1/meetings/search': () => answer });
    const root = render(Meetings, {});
    type(one<HTMLInputElement>(root, '#m-search'), 'zebra');
    one<HTMLFormElement>(root, 'form[role="search"]').requestSubmit();
    await settle(() => expect(root.textContent).toContain('No meeting matches “zebra”.'));
    answer = json(400, { code: 'invalid_request', message: 'The query must be 1-1000 characters.' });
    one<HTMLFormElement>(root, 'form[role="search"]').requestSubmit();
    await settle(() => expect(one(root, '.msearch [role="alert"]').textContent).toContain('1-1000 characters'));
  });

  it('opens a meeting at the cited moment: the segment there marked, the recording from there', async () => {
    me.set(ann);
    const id = 'Sync - 1.5';
    const path = `/v1/meetings/${encodeURIComponent(id)}`;
    const m = meeting(id, '2025-03-04T09:05:07Z', { recording: { status: 'available', bytes: 10, durationSecs: 60 } });
    server({
      [`GET ${path}`]: () => json(200, m),
      [`GET ${path}/transcript`]: () => json(200, { meeting: m, segments: [seg('s1', 1, 'one'), seg('s2', 24, 'budget', { EndTime: 26 }), seg('s3', 30, 'three')] }),
      [`POST ${path}/recording/link`]: () => json(200, { url: `${path}/recording/file?token=abc`, expiresIn: 600 }),
    });
    history.pushState(null, '', '/meetings/Sync%20-%201%2E5?t=24000');
    const root = render(Meeting, { meetingId: id });
    await settle(() => expect(one(root, '[aria-current="true"] .text').textContent).toBe('budget'));
    expect(all(root, '.seg.cited')).toHaveLength(1);
    const audio = await (async () => {
      await settle(() => expect(root.querySelector('audio')).not.toBeNull());
      return one<HTMLAudioElement>(root, 'audio');
    })();
    audio.dispatchEvent(new Event('loadedmetadata'));
    expect(audio.currentTime).toBe(24);
    history.pushState(null, '', '/');
  });
});

describe('Meeting', () => {
  const id = 'Sync - 2025-03-04-09:05:07.042';
  const path = `/v1/meetings/${encodeURIComponent(id)}`;

  it('shows the stored transcript, then live events: partials replaced in place, finals announced', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    const m = meeting(id, new Date().toISOString(), { status: 'live', title: 'Sync', recording: { status: 'recording', bytes: 0, durationSecs: 0 } });
    const calls = server({
      [`GET ${path}`]: () => json(200, m),
      [`GET ${path}/transcript`]: () => json(200, { meeting: m, segments: [seg('s2', 2, 'two'), seg('s1', 1, 'one')] }),
    });
    const root = render(Meeting, { meetingId: id });
    await settle(() => expect(texts(root, '.seg .text')).toEqual(['one', 'two']));
    // (Then the assistant panel's: whether the user has a chat about it, the shortcuts.)
    expect(calls.map((c) => c.url).slice(0, 2)).toEqual([path, `${path}/transcript?format=json&partials=true`]);
    expect(RtSocket.subscribed(m.channel)).toBe(true);
    expect(one(root, 'h1').textContent).toBe('Sync');
    expect(root.textContent).toContain('Live');
    expect(root.textContent).toContain('Recording…');

    const ev = (s: Segment) => ({ EventType: 'ADD_TRANSCRIPT_SEGMENT', CallId: id, ...s });
    RtSocket.publish(m.channel, ev(seg('s3', 3, 'thr', { IsPartial: true })));
    expect(texts(root, '.seg .text')).toEqual(['one', 'two', 'thr']);
    const status = one(root, '.meeting > [role="status"]');
    expect(status.textContent).toBe('');
    RtSocket.publish(m.channel, ev(seg('s3', 3, 'three', { Speaker: 'Others' })));
    expect(texts(root, '.seg .text')).toEqual(['one', 'two', 'three']);
    expect(all(root, '.seg.partial')).toHaveLength(0);
    expect(status.textContent).toBe('Others: three');
    RtSocket.publish(m.channel, ev(seg('s1', 1, 'on', { IsPartial: true })));
    expect(texts(root, '.seg .text')).toEqual(['one', 'two', 'three']);

    // Owner actions for the owner.
    expect(button(root, 'Share')).toBeTruthy();
    expect(button(root, 'Delete')).toBeTruthy();
  });

  it('hides owner actions from a reader, exports with the token, and plays the recording by link', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    const m = meeting(id, '2025-03-04T09:05:07Z', { ownerId: 'u2', title: 'Sync', recording: { status: 'available', bytes: 10, durationSecs: 60 } });
    const calls = server({
      [`GET ${path}`]: () => json(200, m),
      [`GET ${path}/transcript`]: (c) =>
        c.url.includes('format=srt')
          ? new Response('1\n00:00:01,000 --> 00:00:02,000\none\n', { headers: { 'content-disposition': 'attachment; filename="transcript.srt"' } })
          : json(200, { meeting: m, segments: [seg('s1', 1, 'one')] }),
      [`POST ${path}/recording/link`]: () => json(200, { url: `${path}/recording/file?token=abc`, expiresIn: 600 }),
    });
    const saved: string[] = [];
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:x', revokeObjectURL: () => {} }));
    const clickSpy = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download);
    });
    const root = render(Meeting, { meetingId: id });
    await settle(() => expect(one<HTMLAudioElement>(root, 'audio').getAttribute('src')).toBe(`${path}/recording/file?token=abc`));
    expect(root.textContent).toContain('Shared with you');
    expect(all(root, 'button').map((b) => b.textContent?.trim())).not.toContain('Share');
    expect(all(root, 'button').map((b) => b.textContent?.trim())).not.toContain('Delete');
    expect(RtSocket.all).toHaveLength(0);
    click(button(root, 'Export as SRT'));
    await settle(() => expect(saved).toEqual(['Sync.srt']));
    expect(calls.at(-1)?.url).toBe(`${path}/transcript?format=srt`);
    clickSpy.mockRestore();
  });

  it('says a meeting it may not read is not found', async () => {
    me.set(ann);
    server({});
    const root = render(Meeting, { meetingId: id });
    await settle(() => expect(one(root, '[role="alert"]').textContent).toMatch(/not found/i));
    expect(root.querySelector('section[aria-label="Transcript"]')).toBeNull();
  });
});

describe('StreamAudio', () => {
  it('asks for the consent before anything starts, and fills in the user’s name', async () => {
    me.set(ann);
    const calls = server({});
    const root = render(StreamAudio, {});
    expect(one<HTMLInputElement>(root, '#s-you').value).toBe('Ann');
    type(one<HTMLInputElement>(root, '#s-title'), 'Weekly sync');
    one<HTMLFormElement>(root, 'form').requestSubmit();
    flushSync();
    const consent = one<HTMLInputElement>(root, 'input[type="checkbox"]');
    expect(consent.getAttribute('aria-invalid')).toBe('true');
    expect(one(root, '#consent-missing').textContent).toBe('Confirm that everyone was told.');
    expect(consent.getAttribute('aria-describedby')).toBe('consent-missing');
    expect(calls).toEqual([]);
    expect(root.textContent).toContain('transcribed and recorded');
  });
});

/** The browser's side of an upload: records the request, lets the test report bytes sent and
 * answer it. */
class FakeXhr {
  static all: FakeXhr[] = [];
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  responseText = '';
  url = '';
  body: FormData | null = null;
  aborted = false;
  open(_method: string, url: string) {
    this.url = url;
  }
  setRequestHeader() {}
  getResponseHeader() {
    return null;
  }
  send(body: FormData) {
    this.body = body;
    FakeXhr.all.push(this);
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total });
    flushSync();
  }
  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

const bar = (root: ParentNode, label: string) => one<HTMLProgressElement>(root, `progress[aria-label="${label}"]`);

function pick(root: ParentNode, file: File) {
  const input = one<HTMLInputElement>(root, 'input[type="file"]');
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

describe('UploadAudio', () => {
  const m = meeting('upload-1', '2025-03-04T10:00:00Z', { source: 'upload', status: 'processing', title: 'board', durationSecs: 0 });
  const wav = () => new File([new Uint8Array(2000)], 'board.wav', { type: 'audio/wav' });

  function open() {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    server({ [`GET /v1/meetings/upload-1`]: () => json(200, m) });
    return render(UploadAudio, {});
  }

  async function started(root: HTMLElement) {
    pick(root, wav());
    click(one(root, 'input[type="checkbox"]'));
    one<HTMLFormElement>(root, 'form').requestSubmit();
    await settle(() => expect(FakeXhr.all).toHaveLength(1));
    return FakeXhr.all[0];
  }

  it('refuses what is not audio, asks for a file and the consent, and sends nothing before', async () => {
    const root = open();
    const drop = one(root, '#u-drop');
    expect(drop.tagName).toBe('BUTTON');
    expect(one(root, 'input[type="file"]').getAttribute('accept')).toContain('.wav');
    one<HTMLFormElement>(root, 'form').requestSubmit();
    flushSync();
    expect(one(root, '#u-file-missing').textContent).toBe('Choose a recording to upload.');
    expect(drop.getAttribute('aria-describedby')).toBe('u-file-hint u-chosen u-file-missing');
    expect(one(root, '#u-consent-missing').textContent).toBe('Confirm that everyone was told.');
    pick(root, new File(['%PDF'], 'notes.pdf', { type: 'application/pdf' }));
    expect(one(root, '[role="alert"]').textContent).toMatch(/“notes.pdf” is not an audio file/);
    pick(root, wav());
    expect(root.querySelector('[role="alert"]')).toBeNull();
    expect(one(root, '#u-chosen').textContent).toContain('board.wav');
    expect(one(root, '#u-chosen').textContent).toContain('2.0 KB');
    expect(one<HTMLInputElement>(root, '#u-title').placeholder).toBe('board');
    one<HTMLFormElement>(root, 'form').requestSubmit();
    await Promise.resolve();
    expect(FakeXhr.all).toEqual([]);
    expect(root.textContent).toContain('transcribed and stored');
  });

  it('shows the bytes sent, then the transcription from the list channel, then links to the meeting', async () => {
    const root = open();
    const x = await started(root);
    expect(RtSocket.subscribed('/user-meetings/u1')).toBe(true);
    expect(x.url).toBe('/v1/meetings/upload');
    expect(x.body?.get('title')).toBe('board');
    expect((x.body?.get('file') as File).name).toBe('board.wav');
    expect(one(root, 'h2').textContent?.trim()).toBe('Uploading “board”');
    x.progress(1050, 2100);
    expect(bar(root, 'Upload progress').value).toBe(0.5);
    expect(root.textContent).toContain('1.0 KB of 2.1 KB sent (50%)');
    expect(one(root, '[role="status"]').textContent).toBe('Uploading: 50% sent.');
    // The server's first progress comes before its answer.
    RtSocket.publish('/user-meetings/u1', { type: 'progress', id: m.id, processedSecs: 3, totalSecs: 12 });
    x.respond(202, m);
    await settle(() => expect(one(root, 'h2').textContent?.trim()).toBe('Transcribing “board”'));
    expect(bar(root, 'Upload progress').value).toBe(1);
    expect(bar(root, 'Transcription progress').value).toBe(0.25);
    expect(one(root, 'a.button').getAttribute('href')).toBe('/meetings/upload-1');
    RtSocket.publish('/user-meetings/u1', { type: 'progress', id: m.id, processedSecs: 6, totalSecs: 12 });
    expect(root.textContent).toContain('0:06 of 0:12 transcribed (50%)');
    expect(one(root, '[role="status"]').textContent).toBe('Uploaded. Transcribing: 50% done.');
    RtSocket.publish('/user-meetings/u1', { type: 'updated', meeting: { ...m, status: 'ended', durationSecs: 12 } });
    expect(one(root, 'h2').textContent?.trim()).toBe('“board” is transcribed');
    expect(bar(root, 'Transcription progress').value).toBe(1);
    expect(one(root, '[role="status"]').textContent).toBe('The recording is transcribed.');
    expect(one(root, 'a.button').textContent?.trim()).toBe('Open “board”');
    // Finished: the realtime connection is closed.
    expect(RtSocket.all.map((r) => r.readyState)).toEqual([3]);
    click(button(root, 'Upload another recording'));
    expect(one(root, '#u-chosen').textContent?.trim()).toBe('');
  });

  it('cancels while sending, and says the server’s refusal in plain words', async () => {
    const root = open();
    let x = await started(root);
    x.progress(100, 2100);
    click(button(root, 'Cancel upload'));
    expect(x.aborted).toBe(true);
    await settle(() => expect(one(root, '[role="alert"]').textContent).toBe('The upload was cancelled.'));
    // The file is still chosen: sending again is one click.
    expect(one(root, '#u-chosen').textContent).toContain('board.wav');
    one<HTMLFormElement>(root, 'form').requestSubmit();
    await settle(() => expect(FakeXhr.all).toHaveLength(2));
    x = FakeXhr.all[1];
    x.respond(413, { code: 'payload_too_large', message: 'The request body is too large.' });
    await settle(() => expect(one(root, '[role="alert"]').textContent).toBe('The file is larger than this server accepts.'));
  });
});

describe('upload progress elsewhere', () => {
  const m = meeting('upload-2', new Date().toISOString(), { source: 'upload', status: 'processing', title: 'Board', durationSecs: 0 });

  it('the list shows an upload’s transcription as its progress events come, until it ends', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    server({ 'GET /v1/meetings': () => json(200, { items: [m], total: 1 }) });
    const root = render(Meetings, {});
    await settle(() => expect(RtSocket.subscribed('/user-meetings/u1')).toBe(true));
    expect(root.textContent).toContain('transcribing');
    expect(bar(root, 'Transcription of Board').hasAttribute('value')).toBe(false);
    RtSocket.publish('/user-meetings/u1', { type: 'progress', id: m.id, processedSecs: 30, totalSecs: 120 });
    expect(bar(root, 'Transcription of Board').value).toBe(0.25);
    expect(root.textContent).toContain('0:30 of 2:00 transcribed (25%)');
    RtSocket.publish('/user-meetings/u1', { type: 'updated', meeting: { ...m, status: 'ended', durationSecs: 120 } });
    expect(root.querySelector('progress')).toBeNull();
    expect(one(root, '.meetings > [role="status"]').textContent).toBe('“Board” is transcribed.');
  });

  it('the meeting page follows an upload being transcribed: its progress and its transcript', async () => {
    me.set(ann);
    vi.stubGlobal('WebSocket', RtSocket);
    const path = `/v1/meetings/${m.id}`;
    let now = m;
    const calls = server({
      [`GET ${path}`]: () => json(200, now),
      [`GET ${path}/transcript`]: () => json(200, { meeting: m, segments: [seg('s1', 1, 'one')] }),
    });
    const root = render(Meeting, { meetingId: m.id });
    await settle(() => expect(texts(root, '.seg .text')).toEqual(['one']));
    expect(calls[1].url).toBe(`${path}/transcript?format=json&partials=true`);
    expect(RtSocket.subscribed(m.channel)).toBe(true);
    expect(root.textContent).toContain('Transcribing');
    RtSocket.publish(m.channel, { EventType: 'UPLOAD_PROGRESS', CallId: m.id, ProcessedSecs: 5, TotalSecs: 10 });
    expect(bar(root, 'Transcription progress').value).toBe(0.5);
    RtSocket.publish(m.channel, { EventType: 'ADD_TRANSCRIPT_SEGMENT', CallId: m.id, ...seg('s2', 5, 'two') });
    expect(texts(root, '.seg .text')).toEqual(['one', 'two']);
    now = { ...m, status: 'ended', durationSecs: 10 };
    RtSocket.publish(m.channel, { EventType: 'END', CallId: m.id, Meeting: now });
    expect(root.querySelector('progress')).toBeNull();
    expect(one(root, '.meeting > [role="status"]').textContent).toBe('The transcription is finished.');
  });
});
