// A small client of the AppSync Events WebSocket protocol (docs/realtime-protocol.md): the
// `header-` subprotocol for auth, connection_init/ack, subscribe, publish, keep-alive watch, and
// reconnect with backoff that re-sends the subscriptions (the sign-in may have been refreshed).

export type RtState = 'connecting' | 'open' | 'reconnecting' | 'closed';

type Sub = { channel: string; onEvent: (e: unknown) => void; onSubscribed?: () => void };
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export interface RealtimeOptions {
  /** Default `ws(s)://<this host>/event/realtime`. */
  url?: string;
  host?: string;
  token: () => string | null;
  onState?: (s: RtState) => void;
  /** For tests. */
  WebSocketImpl?: typeof WebSocket;
  /** Base reconnect delay (ms). */
  backoffMs?: number;
}

export function b64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

let counter = 0;
const newId = () => `${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export class Realtime {
  private ws: WebSocket | null = null;
  private subs = new Map<string, Sub>();
  private pending = new Map<string, Pending>();
  private queue: string[] = [];
  private ready = false;
  private stopped = false;
  private attempt = 0;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private timeoutMs = 300_000;
  state: RtState = 'closed';

  constructor(private o: RealtimeOptions) {}

  private get host(): string {
    return this.o.host ?? location.host;
  }

  private setState(s: RtState) {
    this.state = s;
    this.o.onState?.(s);
  }

  private auth(): Record<string, string> {
    const t = this.o.token();
    return t ? { host: this.host, Authorization: t } : { host: this.host };
  }

  connect(): void {
    this.stopped = false;
    const url = this.o.url ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${this.host}/event/realtime`;
    const Impl = this.o.WebSocketImpl ?? WebSocket;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const ws = new Impl(url, ['aws-appsync-event-ws', `header-${b64url(JSON.stringify(this.auth()))}`]);
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
    ws.onmessage = (m) => this.frame(String(m.data));
    ws.onclose = () => this.closed(ws);
    ws.onerror = () => ws.close();
  }

  private kick() {
    if (this.watchdog) clearTimeout(this.watchdog);
    // No frame (a `ka` at least) for the server's timeout: the connection is dead.
    this.watchdog = setTimeout(() => this.ws?.close(), this.timeoutMs);
  }

  private frame(text: string) {
    let f: any;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    this.kick();
    switch (f.type) {
      case 'connection_ack':
        this.timeoutMs = Number(f.connectionTimeoutMs) || this.timeoutMs;
        this.ready = true;
        this.attempt = 0;
        this.setState('open');
        for (const [id, s] of this.subs) this.raw({ type: 'subscribe', id, channel: s.channel, authorization: this.auth() });
        for (const q of this.queue.splice(0)) this.ws?.send(q);
        break;
      case 'data': {
        const s = this.subs.get(f.id);
        if (!s) return;
        try {
          s.onEvent(typeof f.event === 'string' ? JSON.parse(f.event) : f.event);
        } catch {
          /* a malformed event is dropped */
        }
        break;
      }
      case 'subscribe_success':
        this.subs.get(f.id)?.onSubscribed?.();
        this.settle(f.id, f);
        break;
      case 'publish_success':
        this.settle(f.id, f);
        break;
      case 'publish_error':
      case 'subscribe_error':
      case 'error': {
        const msg = f.errors?.[0]?.message ?? 'Request refused';
        if (f.id) this.settle(f.id, undefined, new Error(msg));
        break;
      }
      case 'connection_error':
        // Not retryable with the same credentials: stop, the app will sign in again.
        this.stopped = true;
        this.ws?.close();
        break;
    }
  }

  private settle(id: string, v: unknown, e?: Error) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (e) p.reject(e);
    else p.resolve(v);
  }

  private raw(frame: object) {
    const text = JSON.stringify(frame);
    if (this.ready && this.ws?.readyState === 1) this.ws.send(text);
    else this.queue.push(text);
  }

  private closed(ws: WebSocket) {
    if (ws !== this.ws) return;
    this.ready = false;
    if (this.watchdog) clearTimeout(this.watchdog);
    for (const [, p] of this.pending) p.reject(new Error('Connection lost'));
    this.pending.clear();
    this.queue = this.queue.filter((q) => !q.includes('"publish"'));
    if (this.stopped) {
      this.setState('closed');
      return;
    }
    const base = this.o.backoffMs ?? 1000;
    const delay = Math.min(30_000, base * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt++;
    this.setState('reconnecting');
    setTimeout(() => !this.stopped && this.connect(), delay);
  }

  /** Subscribes; returns the unsubscribe function. Kept across reconnects. `onSubscribed` is
   * called at each `subscribe_success` (the first, and after every reconnect: events in the gap
   * were missed). */
  subscribe(channel: string, onEvent: (e: unknown) => void, onSubscribed?: () => void): () => void {
    const id = newId();
    this.subs.set(id, { channel, onEvent, onSubscribed });
    if (this.ready) this.raw({ type: 'subscribe', id, channel, authorization: this.auth() });
    return () => {
      this.subs.delete(id);
      if (this.ready) this.raw({ type: 'unsubscribe', id });
    };
  }

  /** Publishes events (objects, sent stringified); resolves on `publish_success`. */
  publish(channel: string, events: object[]): Promise<unknown> {
    const id = newId();
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.raw({ type: 'publish', id, channel, events: events.map((e) => JSON.stringify(e)), authorization: this.auth() });
    return p;
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }
}
