// The Stream Audio session: a shared tab's audio (getDisplayMedia, the video dropped) and the
// microphone (getUserMedia) merged to two channels in an AudioWorklet (src/lib/pcm-worklet.ts,
// served from this origin), converted to 16-bit PCM and sent over the audio socket in 100 ms
// frames. One session for the whole app: it keeps streaming while the user reads the meeting's
// live transcript on another page, and the header shows that it does.

import workletUrl from './pcm-worklet.ts?worker&url';
import { ApiError, post, describe } from './api';
import { callId as makeCallId, meterLevel, type Chunk } from './audio';
import { MeetingSocket, socketUrl, type Started } from './meetingsocket';

export type Phase = 'idle' | 'starting' | 'live' | 'stopping' | 'done';

export interface StartOptions {
  title: string;
  /** The user's own name: the microphone's speaker. */
  you: string;
  /** The label of the meeting's side. */
  others: string;
}

/** Sample rates the server takes; a context outside them is made again at 48 kHz. */
const RATES = [8000, 48000];

export class Streamer {
  phase = $state<Phase>('idle');
  error = $state('');
  /** Said when something changes that does not stop the meeting (sharing ended). */
  notice = $state('');
  /** The shared tab's audio track's label, while there is one. */
  tabLabel = $state<string | null>(null);
  /** A tab or window was picked but shared no audio. */
  tabSilent = $state(false);
  muted = $state(false);
  /** Meter readings, 0-1: the meeting, the microphone. */
  levels = $state<[number, number]>([0, 0]);
  elapsed = $state(0);
  /** Audio is waiting in the browser to be sent (a slow connection). */
  slow = $state(false);
  /** The meeting's call id once the server started it. */
  meetingId = $state<string | null>(null);
  title = $state('');

  private tab: MediaStream | null = null;
  private mic: MediaStream | null = null;
  private ctx: AudioContext | null = null;
  private node: AudioWorkletNode | null = null;
  private tabSource: MediaStreamAudioSourceNode | null = null;
  private micGain: GainNode | null = null;
  private socket: MeetingSocket | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private startedAt = 0;

  /** Whether this browser can share a tab's or window's audio (phones cannot). */
  get canShareTab(): boolean {
    return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  }

  get busy(): boolean {
    return this.phase === 'starting' || this.phase === 'live' || this.phase === 'stopping';
  }

  /** Asks the browser for a tab or window to capture; keeps its audio, drops its video. */
  async pickTab(): Promise<void> {
    this.error = '';
    this.notice = '';
    let s: MediaStream;
    try {
      s = await navigator.mediaDevices.getDisplayMedia({ audio: true, video: true });
    } catch (e) {
      this.error = e instanceof DOMException && e.name === 'NotAllowedError' ? 'No tab or window was shared.' : `Sharing failed: ${message(e)}`;
      return;
    }
    for (const v of s.getVideoTracks()) {
      v.stop();
      s.removeTrack(v);
    }
    this.dropTab();
    const audio = s.getAudioTracks()[0];
    if (!audio) {
      this.tabSilent = true;
      return;
    }
    this.tab = s;
    this.tabSilent = false;
    this.tabLabel = audio.label || 'the shared tab';
    audio.addEventListener('ended', () => this.tabEnded(audio));
    if (this.node && this.ctx) this.connectTab();
  }

  /** Stops using the shared tab (the meeting side becomes silence). */
  dropTab(): void {
    this.tabSource?.disconnect();
    this.tabSource = null;
    for (const t of this.tab?.getTracks() ?? []) t.stop();
    this.tab = null;
    this.tabLabel = null;
  }

  private tabEnded(track: MediaStreamTrack) {
    if (this.tab?.getAudioTracks()[0] !== track) return;
    this.dropTab();
    if (this.phase === 'live') this.notice = 'Sharing stopped: the meeting side is silent now; your microphone is still streamed.';
  }

  private connectTab() {
    if (!this.tab || !this.ctx || !this.node) return;
    this.tabSource = this.ctx.createMediaStreamSource(this.tab);
    this.tabSource.connect(this.node, 0, 0);
  }

  setMuted(on: boolean): void {
    this.muted = on;
    if (this.micGain) this.micGain.gain.value = on ? 0 : 1;
  }

  /** Opens the microphone and the audio graph, then the meeting on the server. */
  async start(o: StartOptions): Promise<void> {
    if (this.busy) return;
    this.phase = 'starting';
    this.error = '';
    this.notice = '';
    this.meetingId = null;
    this.title = o.title;
    this.elapsed = 0;
    try {
      await this.openAudio();
      const { ticket } = await post<{ ticket: string }>('/v1/meetings/ticket', {});
      const socket = new MeetingSocket(socketUrl(ticket), { onLost: (m) => void this.lost(m) });
      this.socket = socket;
      const started: Started = await socket.start({
        callId: makeCallId(o.title),
        agentId: o.you,
        fromNumber: o.others,
        toNumber: o.title,
        samplingRate: this.ctx!.sampleRate,
        activeSpeaker: o.others,
      });
      this.meetingId = started.id;
      this.startedAt = Date.now();
      this.timer = setInterval(() => (this.elapsed = (Date.now() - this.startedAt) / 1000), 250);
      this.phase = 'live';
      addEventListener('beforeunload', leaving);
    } catch (e) {
      this.error = e instanceof Error && !(e instanceof ApiError) ? e.message : describe(e);
      this.socket?.close();
      this.socket = null;
      await this.closeAudio();
      this.phase = 'idle';
    }
  }

  private async openAudio() {
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (e) {
      throw new Error(`The microphone is not available: ${message(e)}`);
    }
    let ctx = new AudioContext();
    if (ctx.sampleRate < RATES[0] || ctx.sampleRate > RATES[1]) {
      await ctx.close();
      ctx = new AudioContext({ sampleRate: 48000 });
    }
    this.ctx = ctx;
    await ctx.audioWorklet.addModule(workletUrl);
    const node = new AudioWorkletNode(ctx, 'rampart-pcm', {
      numberOfInputs: 2,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
    });
    this.node = node;
    node.port.onmessage = (e) => this.chunk(e.data);
    this.micGain = ctx.createGain();
    this.micGain.gain.value = this.muted ? 0 : 1;
    ctx.createMediaStreamSource(this.mic).connect(this.micGain);
    this.micGain.connect(node, 0, 1);
    this.connectTab();
    // The node writes silence; connected so that the browser keeps running it.
    node.connect(ctx.destination);
    if (ctx.state === 'suspended') await ctx.resume();
  }

  private chunk(c: Chunk | 'flushed') {
    if (c === 'flushed') return this.onFlushed?.();
    if (!c?.pcm) return;
    this.levels = [meterLevel(c.peaks[0]), meterLevel(c.peaks[1])];
    this.socket?.send(c.pcm);
    // More than a few seconds of audio queued: say so (it is sent when the network catches up).
    const slow = (this.socket?.buffered ?? 0) > 1_000_000;
    if (slow !== this.slow) this.slow = slow;
  }

  private onFlushed: (() => void) | null = null;

  /** Sends what the worklet still holds, within half a second. */
  private flush(): Promise<void> {
    const node = this.node;
    if (!node) return Promise.resolve();
    return new Promise((ok) => {
      const done = () => {
        clearTimeout(t);
        this.onFlushed = null;
        ok();
      };
      const t = setTimeout(done, 500);
      this.onFlushed = done;
      node.port.postMessage('flush');
    });
  }

  /** Ends the meeting: the last audio, `END`, the server's last words. */
  async stop(): Promise<void> {
    if (this.phase !== 'live') return;
    this.phase = 'stopping';
    await this.flush();
    await this.closeAudio();
    await this.socket?.end();
    this.socket = null;
    this.finish();
  }

  /** The socket closed under the meeting: say why, release the microphone. */
  private async lost(message: string) {
    this.error = message;
    this.socket = null;
    await this.closeAudio();
    this.finish();
  }

  private finish() {
    removeEventListener('beforeunload', leaving);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.levels = [0, 0];
    this.slow = false;
    this.phase = 'done';
  }

  private async closeAudio() {
    this.node?.port.postMessage('stop');
    this.node?.disconnect();
    this.node = null;
    this.tabSource = null;
    this.micGain = null;
    for (const t of this.mic?.getTracks() ?? []) t.stop();
    this.mic = null;
    this.dropTab();
    const ctx = this.ctx;
    this.ctx = null;
    if (ctx && ctx.state !== 'closed') await ctx.close().catch(() => {});
  }

  /** Back to a new meeting's form (after one ended). */
  reset(): void {
    if (this.busy) return;
    this.phase = 'idle';
    this.error = '';
    this.notice = '';
    this.meetingId = null;
    this.tabSilent = false;
    this.elapsed = 0;
  }

  /** Signing out: everything stops (the server ends the meeting when the socket closes). */
  async abort(): Promise<void> {
    this.socket?.close();
    this.socket = null;
    await this.closeAudio();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    removeEventListener('beforeunload', leaving);
    this.phase = 'idle';
  }
}

/** Closing or reloading the page while streaming ends the meeting: the browser asks first. */
function leaving(e: BeforeUnloadEvent) {
  e.preventDefault();
}

function message(e: unknown): string {
  if (e instanceof DOMException) {
    if (e.name === 'NotAllowedError') return 'permission was refused.';
    if (e.name === 'NotFoundError') return 'there is none.';
  }
  return e instanceof Error ? e.message : String(e);
}

export const streamer = new Streamer();
