// The audio socket's client side of LMA's protocol: START, started, binary frames, END, ended;
// refusals as an error frame and a close code.
import { describe, expect, it } from 'vitest';
import { MeetingSocket, closeReason, socketUrl, type StartMessage } from '../../src/lib/meetingsocket';

class FakeSocket {
  static last: FakeSocket;
  readyState = 0;
  binaryType = 'blob';
  bufferedAmount = 0;
  sent: (string | ArrayBuffer)[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.last = this;
  }
  send(d: string | ArrayBuffer) {
    this.sent.push(d);
  }
  close(code = 1005) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code });
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  recv(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  json(i: number) {
    return JSON.parse(this.sent[i] as string);
  }
}

const Impl = FakeSocket as unknown as typeof WebSocket;
const start: StartMessage = {
  callId: 'Sync - 2025-03-04-09:05:07.042',
  agentId: 'Ann',
  fromNumber: 'Others',
  toNumber: 'Sync',
  samplingRate: 48000,
  activeSpeaker: 'Others',
};
const started = { type: 'started', meeting: { id: start.callId, key: 'k1', channel: '/meetings/k1' } };

describe('MeetingSocket', () => {
  it('puts the ticket (never a token) in the URL, from the page’s scheme', () => {
    expect(socketUrl('a+b/c', { protocol: 'https:', host: 'r.example' })).toBe('wss://r.example/api/v1/ws?ticket=a%2Bb%2Fc');
    expect(socketUrl('t', { protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/v1/ws?ticket=t');
  });

  it('sends START once open, streams binary frames after started, and ends with END', async () => {
    const s = new MeetingSocket('ws://h/api/v1/ws?ticket=t', { WebSocketImpl: Impl });
    const ws = FakeSocket.last;
    expect(ws.binaryType).toBe('arraybuffer');
    const p = s.start(start);
    s.send(new ArrayBuffer(8));
    expect(ws.sent).toEqual([]);
    ws.open();
    expect(ws.json(0)).toEqual({ callEvent: 'START', ...start, channels: 2 });
    s.send(new ArrayBuffer(8));
    expect(ws.sent).toHaveLength(1);
    ws.recv(started);
    await expect(p).resolves.toEqual(started.meeting);
    s.send(new ArrayBuffer(19200));
    expect((ws.sent[1] as ArrayBuffer).byteLength).toBe(19200);
    expect(s.sent).toBe(19200);
    const ended = s.end();
    expect(ws.json(2)).toEqual({ callEvent: 'END', callId: start.callId });
    s.send(new ArrayBuffer(8));
    expect(ws.sent).toHaveLength(3);
    ws.recv({ type: 'ended', meeting: { id: start.callId, status: 'ended' } });
    await expect(ended).resolves.toMatchObject({ status: 'ended' });
  });

  it('rejects the start with the server’s words when it refuses', async () => {
    const s = new MeetingSocket('ws://h', { WebSocketImpl: Impl });
    const ws = FakeSocket.last;
    const p = s.start(start);
    ws.open();
    ws.recv({ type: 'error', code: 'rate_limited', message: 'Too many live meetings.' });
    ws.close(1013);
    await expect(p).rejects.toThrow('Too many live meetings.');
    const q = new MeetingSocket('ws://h', { WebSocketImpl: Impl }).start(start);
    FakeSocket.last.close(1013);
    await expect(q).rejects.toThrow(closeReason(1013));
  });

  it('says when the connection is lost during the meeting, not when it ends as asked', async () => {
    const lost: string[] = [];
    const s = new MeetingSocket('ws://h', { WebSocketImpl: Impl, onLost: (m) => lost.push(m) });
    const ws = FakeSocket.last;
    const p = s.start(start);
    ws.open();
    ws.recv(started);
    await p;
    ws.recv({ type: 'error', code: 'invalid_request', message: 'The meeting reached its longest duration.' });
    ws.close(1008);
    expect(lost).toEqual(['The meeting reached its longest duration.']);

    const quiet: string[] = [];
    const t = new MeetingSocket('ws://h', { WebSocketImpl: Impl, onLost: (m) => quiet.push(m), endTimeoutMs: 10 });
    const w2 = FakeSocket.last;
    const p2 = t.start(start);
    w2.open();
    w2.recv(started);
    await p2;
    const e = t.end();
    w2.close(1000);
    await expect(e).resolves.toBeNull();
    expect(quiet).toEqual([]);
  });

  it('explains the close codes of the protocol', () => {
    for (const code of [1003, 1008, 1009, 1013, 1006]) expect(closeReason(code)).toMatch(/\w/);
    expect(closeReason(1009)).toMatch(/too large/);
  });
});
