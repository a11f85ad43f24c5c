// The Upload page's session: one recording sent to `POST /v1/meetings/upload` with its bytes'
// progress, then followed on the owner's meetings-list channel (`progress` and `updated`
// events) until it is transcribed. The channel is subscribed before the first byte leaves, so
// events that come before the server's answer are kept (src/lib/uploads.ts replays them). One
// session for the whole app: the user may read the meeting's transcript meanwhile and come back.

import { get } from './api';
import { session as auth } from './auth';
import { Realtime } from './realtime';
import { uploadForm } from './upload';
import { apiPath, type ListEvent, type MeetingView } from './meetings';
import { idle, uploadError, uploadStep, type UploadAction, type UploadState } from './uploads';

/** How long to wait for the list channel before sending anyway (reads catch up). */
const SUBSCRIBE_WAIT_MS = 5000;
/** While the realtime connection is down, the meeting is read this often. */
const POLL_MS = 4000;

export class Uploader {
  state = $state<UploadState>(idle());
  /** The file being sent and the title asked for, for the page to show. */
  fileName = $state('');
  title = $state('');

  private rt: Realtime | null = null;
  private unsubscribe: (() => void) | null = null;
  private abort: AbortController | null = null;
  private poll: ReturnType<typeof setInterval> | null = null;

  get busy(): boolean {
    return this.state.phase === 'sending' || this.state.phase === 'transcribing';
  }

  private dispatch(a: UploadAction) {
    this.state = uploadStep(this.state, a);
    if (!this.busy) this.stopFollowing();
  }

  /** Sends `file` (with `title` when given) for the user `userId`. */
  async start(file: File, title: string, userId: string): Promise<void> {
    if (this.busy) return;
    this.fileName = file.name;
    this.title = title;
    this.dispatch({ type: 'send', total: file.size });
    await this.follow(userId);
    const abort = new AbortController();
    this.abort = abort;
    try {
      const fields: Record<string, string> = title ? { title } : {};
      const m = (await uploadForm(
        '/v1/meetings/upload',
        { fields, files: [{ name: 'file', file }] },
        (_, loaded, total) => this.dispatch({ type: 'sent', loaded, total }),
        abort.signal,
      )) as MeetingView;
      this.dispatch({ type: 'accepted', meeting: m });
      if (this.busy) {
        void this.refresh();
        this.poll = setInterval(() => this.rt?.state !== 'open' && void this.refresh(), POLL_MS);
      }
    } catch (e) {
      this.dispatch({ type: 'failed', error: uploadError(e) });
    } finally {
      this.abort = null;
    }
  }

  /** Stops sending (the request is aborted); nothing is kept on the server. */
  cancel(): void {
    this.abort?.abort();
  }

  /** Back to an empty form (a finished or failed upload is forgotten; a running one goes on). */
  reset(): void {
    if (this.busy) return;
    this.state = idle();
    this.fileName = '';
    this.title = '';
  }

  /** Signing out: the upload stops and is forgotten. */
  abandon(): void {
    this.cancel();
    this.stopFollowing();
    this.state = idle();
    this.fileName = '';
    this.title = '';
  }

  /** Subscribes to the user's list channel; resolves once subscribed or after a while. */
  private follow(userId: string): Promise<void> {
    this.stopFollowing();
    const rt = new Realtime({ token: () => auth.token() });
    this.rt = rt;
    rt.connect();
    return new Promise((ready) => {
      let first = true;
      const timer = setTimeout(ready, SUBSCRIBE_WAIT_MS);
      this.unsubscribe = rt.subscribe(
        `/user-meetings/${userId}`,
        (ev) => this.dispatch({ type: 'list', event: ev as ListEvent }),
        () => {
          if (!first) return void this.refresh();
          first = false;
          clearTimeout(timer);
          ready();
        },
      );
    });
  }

  /** Reads the meeting again (after a reconnect, or while the connection is down). */
  private async refresh(): Promise<void> {
    const id = this.state.meeting?.id;
    if (!id || this.state.phase !== 'transcribing') return;
    try {
      this.dispatch({ type: 'meeting', meeting: await get<MeetingView>(apiPath(id)) });
    } catch {
      /* the next event or read tries again */
    }
  }

  private stopFollowing() {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.rt?.close();
    this.rt = null;
  }
}

export const uploader = new Uploader();
