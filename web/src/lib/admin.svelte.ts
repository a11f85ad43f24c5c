// The administration console's page: the notice and the error every tab shows in the one region
// of the page, the one way a tab runs a change (`act`: the call, the reload, what the page says,
// the 412 conflict), and each tab's state, kept while the console is open.
import { ApiError, describe } from './api';

/** What the page says when a change was refused because the entry changed since it was read (412). */
export const CONFLICT =
  'Another administrator changed this entry since you opened it. Save again to replace their change with what is shown here, or open the entry again to see theirs.';

export class AdminPage {
  error = $state('');
  notice = $state('');
  /** The open tab's load, for the reload after a change. */
  #load: () => Promise<void> = async () => {};
  #kept = new Map<unknown, unknown>();

  /** Shows why something failed (for `.catch`). */
  fail = (e: unknown): void => {
    this.error = describe(e);
  };

  /** Loads the open tab with `load` (remembered for the reload after a change), clearing what
   * the page said; a failure is shown. */
  async load(load: () => Promise<void>): Promise<void> {
    this.#load = load;
    this.error = this.notice = '';
    try {
      await load();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Runs a change, reloads the tab, then says `done` (or what `fn` returned, when a string).
   * A change refused because another administrator changed the entry first (412) reloads the
   * tab too, then `changed` runs and the page says so; what was typed stays. */
  async act(fn: () => Promise<unknown>, done: string, changed?: () => void): Promise<void> {
    this.error = this.notice = '';
    try {
      const said = await fn();
      await this.load(this.#load);
      this.notice = typeof said === 'string' ? said : done;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await this.load(this.#load);
        changed?.();
        this.error = CONFLICT;
      } else this.fail(e);
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
