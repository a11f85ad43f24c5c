// The audio socket (`/api/v1/ws`, LMA's protocol): opened with a single-use ticket in the URL
// (never the access token), `START` as JSON text, the server's `started`, binary frames of
// PCM, `END` and the server's `ended`, then its close. Refusals come as
// `{"type":"error","code","message"}` before a close code.

import type { MeetingView } from './meetings';

export interface StartMessage {
  callId: string;
  /** The microphone's speaker (the user's own name). */
  agentId: string;
  /** The label of the meeting's side. */
  fromNumber: string;
  /** The meeting's title. */
  toNumber: string;
  samplingRate: number;
  activeSpeaker: string;
}

export interface Started {
  id: string;
  key: string;
  channel: string;
}

/** Why a socket closed, for people, when the server sent no message of its own. */
export function closeReason(code: number): string {
  switch (code) {
    case 1003:
      return 'The server refused the meeting’s settings.';
    case 1008:
      return 'The server refused the meeting (its id is in use, or it reached its longest duration).';
    case 1009:
      return 'An audio frame was too large for the server.';
    case 1013:
      return 'The server cannot take another meeting now (too many meetings, or no speech recogniser). Try again later.';
    case 1000:
    case 1005:
      return 'The server ended the meeting.';
    default:
      return 'The connection to the server was lost.';
  }
}

/** `ws(s)://<this host>/api/v1/ws?ticket=…`. */
export function socketUrl(ticket: string, loc: Pick<Location, 'protocol' | 'host'> = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`;
}

export interface MeetingSocketOptions {
  /** The connection closed without the `END` this client sent (a refusal, a failure). */
  onLost?: (message: string) => void;
  /** For tests. */
  WebSocketImpl?: typeof WebSocket;
  /** How long to wait for `ended` after `END` (ms). */
  endTimeoutMs?: number;
}

export class MeetingSocket {
  private ws: WebSocket;
  private started: Started | null = null;
  private ending = false;
  private error: string | null = null;
  private waitStart: { resolve: (s: Started) => void; reject: (e: Error) => void } | null = null;
  private waitEnd: ((m: MeetingView | null) => void) | null = null;
  /** Bytes of audio sent. */
  sent = 0;

  constructor(
    url: string,
    private o: MeetingSocketOptions = {},
  ) {
    const Impl = o.WebSocketImpl ?? WebSocket;
    this.ws = new Impl(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onmessage = (m) => typeof m.data === 'string' && this.text(m.data);
    this.ws.onclose = (e) => this.closed(e.code);
    this.ws.onerror = () => {
      /* the close that follows says what happened */
    };
  }

  /** Sends `START` once the socket is open; resolves on the server's `started`. */
  start(msg: StartMessage): Promise<Started> {
    return new Promise((resolve, reject) => {
      this.waitStart = { resolve, reject };
      const send = () => this.ws.send(JSON.stringify({ callEvent: 'START', ...msg, channels: 2 }));
      if (this.ws.readyState === 1) send();
      else this.ws.onopen = send;
    });
  }

  get isStarted(): boolean {
    return !!this.started && !this.ending && this.ws.readyState === 1;
  }

  /** Bytes queued in the browser, not yet on the network. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  /** A frame of PCM; dropped unless the meeting is started. */
  send(pcm: ArrayBuffer): void {
    if (!this.isStarted) return;
    this.ws.send(pcm);
    this.sent += pcm.byteLength;
  }

  /** Sends `END`; resolves with the ended meeting (null when the server did not say). */
  end(): Promise<MeetingView | null> {
    if (this.ending || !this.started || this.ws.readyState !== 1) {
      this.ws.close();
      return Promise.resolve(null);
    }
    this.ending = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waitEnd = null;
        this.ws.close();
        resolve(null);
      }, this.o.endTimeoutMs ?? 40_000);
      this.waitEnd = (m) => {
        clearTimeout(timer);
        this.waitEnd = null;
        resolve(m);
      };
      this.ws.send(JSON.stringify({ callEvent: 'END', callId: this.started!.id }));
    });
  }

  /** Closes without `END` (the server ends the meeting). */
  close(): void {
    this.ending = true;
    this.ws.close();
  }

  private text(data: string) {
    let f: any;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (f?.type === 'started' && f.meeting && this.waitStart) {
      this.started = f.meeting as Started;
      this.waitStart.resolve(this.started);
      this.waitStart = null;
    } else if (f?.type === 'ended') {
      this.waitEnd?.((f.meeting as MeetingView) ?? null);
    } else if (f?.type === 'error') {
      this.error = typeof f.message === 'string' ? f.message : null;
    }
  }

  private closed(code: number) {
    const message = this.error ?? closeReason(code);
    if (this.waitStart) {
      this.waitStart.reject(new Error(message));
      this.waitStart = null;
    }
    if (this.waitEnd) this.waitEnd(null);
    else if (!this.ending && this.started) this.o.onLost?.(message);
  }
}
