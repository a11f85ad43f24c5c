// An error said where the user is looking: beside the form or list whose action failed, not at
// the top of a long page. `at` names the place; `ErrorAt` (components/ErrorAt.svelte) shows the
// error in the place it names, and the page's top shows only errors that belong to no place.
import { describe } from './api';

export class PlacedError {
  text = $state('');
  at = $state<string | null>(null);

  /** Records why something failed, to be shown at `at` (the page's top when null). */
  set(e: unknown, at: string | null = null): void {
    this.text = describe(e);
    this.at = at;
  }

  /** For `.catch`: records the failure at `at`. */
  to(at: string | null): (e: unknown) => void {
    return (e) => this.set(e, at);
  }

  clear(): void {
    this.text = '';
    this.at = null;
  }
}
