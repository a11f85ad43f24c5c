import { afterEach, describe, expect, it, vi } from 'vitest';
import { Realtime, b64url } from '../../src/lib/realtime';

/** A stand-in for the browser's WebSocket that records frames and lets the test answer. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string, public protocols: string[]) {
    FakeSocket.all.push(this);
  }
  send(t: string) { this.sent.push(JSON.parse(t)); }
  close() { this.readyState = 3; this.onclose?.(); }
  open() { this.readyState = 1; this.onopen?.(); }
  recv(f: object) { this.onmessage?.({ data: JSON.stringify(f) }); }
}

afterEach(() => {
  FakeSocket.all = [];
  vi.useRealTimers();
});

function client(token = 'tok-1') {
  let t = token;
  const states: string[] = [];
  const rt = new Realtime({
    url: 'ws://h/event/realtime',
    host: 'h:8080',
    token: () => t,
    onState: (s) => states.push(s),
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    backoffMs: 10,
  });
  return { rt, states, setToken: (x: string) => (t = x) };
}

describe('Realtime', () => {
  it('authenticates in the header- subprotocol (base64url, no padding)', () => {
    const { rt } = client();
    rt.connect();
    const s = FakeSocket.all[0];
    expect(s.protocols[0]).toBe('aws-appsync-event-ws');
    const enc = s.protocols[1].slice('header-'.length);
    expect(enc).not.toMatch(/[=+/]/);
    const json = atob(enc.replace(/-/g, '+').replace(/_/g, '/'));
    expect(JSON.parse(json)).toEqual({ host: 'h:8080', Authorization: 'tok-1' });
    expect(b64url('??>')).toBe('Pz8-');
  });

  it('subscribes after the ack, delivers parsed events, and resolves publishes', async () => {
    const { rt } = client();
    const got: unknown[] = [];
    rt.connect();
    rt.subscribe('/out/u/s', (e) => got.push(e));
    const s = FakeSocket.all[0];
    s.open();
    expect(s.sent).toEqual([{ type: 'connection_init' }]);
    s.recv({ type: 'connection_ack', connectionTimeoutMs: 300000 });
    const sub = s.sent[1];
    expect(sub).toMatchObject({ type: 'subscribe', channel: '/out/u/s', authorization: { Authorization: 'tok-1' } });
    s.recv({ type: 'data', id: sub.id, event: JSON.stringify({ content: { type: 'textDelta', text: 'hi' } }) });
    expect(got).toEqual([{ content: { type: 'textDelta', text: 'hi' } }]);
    const p = rt.publish('/in/u/s', [{ payload: { text: 'q' } }]);
    const pub = s.sent[2];
    expect(pub.events).toEqual([JSON.stringify({ payload: { text: 'q' } })]);
    s.recv({ type: 'publish_success', id: pub.id, successful: [{ identifier: 'x', index: 0 }], failed: [] });
    await expect(p).resolves.toMatchObject({ type: 'publish_success' });
    const refused = rt.publish('/in/u/s', [{}]);
    s.recv({ type: 'publish_error', id: s.sent[3].id, errors: [{ errorType: 'TooManyRequestsException', message: 'Too many publishes; slow down.' }] });
    await expect(refused).rejects.toThrow('Too many publishes');
  });

  it('reconnects after a drop with the current token and re-subscribes', async () => {
    vi.useFakeTimers();
    const { rt, states, setToken } = client();
    rt.connect();
    rt.subscribe('/out/u/s', () => {});
    const first = FakeSocket.all[0];
    first.open();
    first.recv({ type: 'connection_ack' });
    setToken('tok-2');
    first.close();
    expect(states.at(-1)).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(100);
    const second = FakeSocket.all[1];
    expect(second).toBeDefined();
    second.open();
    second.recv({ type: 'connection_ack' });
    expect(states.at(-1)).toBe('open');
    expect(second.sent[1]).toMatchObject({ type: 'subscribe', channel: '/out/u/s', authorization: { Authorization: 'tok-2' } });
  });

  it('says when a subscription is in place, again after a reconnect', async () => {
    vi.useFakeTimers();
    const { rt } = client();
    let ready = 0;
    rt.connect();
    rt.subscribe('/meetings/k', () => {}, () => ready++);
    const first = FakeSocket.all[0];
    first.open();
    first.recv({ type: 'connection_ack' });
    expect(ready).toBe(0);
    first.recv({ type: 'subscribe_success', id: first.sent[1].id });
    expect(ready).toBe(1);
    first.close();
    await vi.advanceTimersByTimeAsync(100);
    const second = FakeSocket.all[1];
    second.open();
    second.recv({ type: 'connection_ack' });
    second.recv({ type: 'subscribe_success', id: second.sent[1].id });
    expect(ready).toBe(2);
  });

  it('stops on connection_error and when closed by the app', () => {
    const { rt, states } = client();
    rt.connect();
    const s = FakeSocket.all[0];
    s.open();
    s.recv({ type: 'connection_error', errors: [{ errorType: 'UnauthorizedException' }] });
    expect(states.at(-1)).toBe('closed');
    expect(FakeSocket.all.length).toBe(1);
  });
});
