// The administration console's page: the notice and the error every tab shows in the one region
// of the page, the one way a tab runs a change (`act`: the call, the reload, what the page says,
// the 412 conflict), and each tab's state, kept while the console is open.
import { ApiError, describe } from './api';
import { confirmAction } from './confirm.svelte';

/** What the page says when a change was refused because the entry changed since it was read (412). */
export const CONFLICT =
  'Another administrator changed this entry since you opened it. Save again to replace their change with what is shown here, or open the entry again to see theirs.';

/** How a change runs: `changed` lets the tab catch up after a 412; `at` names the form or table
 * the change came from, so what the page says is shown there (beside what the user acted on,
 * not at the top of a long page); `confirm` asks first, with `action` as the button's words. */
export type ActOptions = { changed?: () => void; at?: string; confirm?: string; action?: string };

export class AdminPage {
  error = $state('');
  notice = $state('');
  /** Where the notice and the error belong (an `ActOptions.at`), or null for the page's top. */
  at = $state<string | null>(null);

  /** Says `notice` at `at` (a change made outside `act`). */
  say(notice: string, at: string | null = null): void {
    this.error = '';
    this.at = at;
    this.notice = notice;
  }
  /** The open tab's load, for the reload after a change. */
  #load: () => Promise<void> = async () => {};
  #kept = new Map<unknown, unknown>();

  /** Shows why something failed (for `.catch`). */
  fail = (e: unknown): void => {
    this.at = null;
    this.error = describe(e);
  };

  /** Loads the open tab with `load` (remembered for the reload after a change), clearing what
   * the page said; a failure is shown. */
  async load(load: () => Promise<void>): Promise<void> {
    this.#load = load;
    this.error = this.notice = '';
    this.at = null;
    try {
      await load();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Runs a change, reloads the tab, then says `done` (or what `fn` returned, when a string).
   * A change refused because another administrator changed the entry first (412) reloads the
   * tab too, then `changed` runs and the page says so; what was typed stays. With `confirm`,
   * nothing runs unless the user confirms. */
  async act(fn: () => Promise<unknown>, done: string, o: ActOptions = {}): Promise<void> {
    if (o.confirm !== undefined && !(await confirmAction(o.confirm, o.action))) return;
    this.error = this.notice = '';
    try {
      const said = await fn();
      await this.load(this.#load);
      this.at = o.at ?? null;
      this.notice = typeof said === 'string' ? said : done;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await this.load(this.#load);
        o.changed?.();
        this.error = CONFLICT;
      } else this.fail(e);
      this.at = o.at ?? null;
    }
  }

  /** The state of type `T` of this page, made on first use: a tab keeps what it loaded and what
   * was typed in it while another tab is open, for as long as the console is. */
  keep<T>(make: new () => T): T {
    let kept = this.#kept.get(make) as T | undefined;
    if (kept === undefined) this.#kept.set(make, (kept = new make()));
    return kept;
  }
}
