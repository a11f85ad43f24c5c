// Choosing knowledge bases for a chat from its composer, as Open WebUI's `#`: typing `#` at the
// start of a word opens a list of the knowledge bases the user may read, filtered by what
// follows; arrow keys move, Enter or Tab chooses, Escape closes. The combobox pattern's
// mechanics on a multi-line composer: a `textarea` may not take the combobox role (ARIA in
// HTML), so it stays a textbox with `aria-autocomplete="list"`, `aria-controls` naming the
// listbox and `aria-activedescendant` the active option, and a status line says how many
// match (the `action` sets the attributes). Chosen ones become removable chips.

import { untrack } from 'svelte';
import { get } from './api';

export interface KbOption {
  id: string;
  name: string;
  description?: string;
}

/** The `#word` being typed at the caret: where it starts and what follows the `#`. */
export function hashQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)#([^\s#]*)$/.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

export class KbPicker {
  /** Every knowledge base the user may read (loaded when `#` is first typed). */
  all = $state<KbOption[] | null>(null);
  chosen = $state<KbOption[]>([]);
  open = $state(false);
  query = $state('');
  active = $state(0);
  error = $state('');
  readonly listId: string;
  private start = 0;
  private el: HTMLTextAreaElement | null = null;

  /** `onchange`: the user chose or removed one (not called by `clear` or `restore`). */
  constructor(
    private draft: () => string,
    private setDraft: (v: string) => void,
    id = 'kb-options',
    private onchange: (ids: string[]) => void = () => {},
  ) {
    this.listId = id;
  }

  /** The knowledge bases matching what was typed, those already chosen left out. */
  get options(): KbOption[] {
    const q = this.query.toLowerCase();
    const taken = new Set(this.chosen.map((k) => k.id));
    return (this.all ?? []).filter((k) => !taken.has(k.id) && k.name.toLowerCase().includes(q)).slice(0, 50);
  }

  optionId(i: number): string {
    return `${this.listId}-${i}`;
  }

  /** The ids to send with a message. */
  ids(): string[] {
    return this.chosen.map((k) => k.id);
  }

  /** Forgets the choice (another chat opened). Untracked: callers may run inside an effect. */
  clear(): void {
    untrack(() => {
      if (this.chosen.length) this.chosen = [];
      if (this.open) this.close();
    });
  }

  /** Shows a chat's kept choice: those of `ids` the user may still read. */
  async restore(ids: string[]): Promise<void> {
    if (!ids.length) return;
    if (this.all === null) await this.load();
    const wanted = new Set(ids);
    this.chosen = (this.all ?? []).filter((k) => wanted.has(k.id));
  }

  close(): void {
    this.open = false;
    this.sync();
  }

  private async load(): Promise<void> {
    try {
      const r = await get<{ items: KbOption[] }>('/v1/knowledge-bases');
      this.all = r.items.map((k) => ({ id: k.id, name: k.name, description: k.description }));
      this.error = '';
    } catch {
      this.all = [];
      this.error = 'Your knowledge bases could not be loaded.';
    }
  }

  /** After each input: opens, filters or closes the list. */
  update(): void {
    const el = this.el;
    const q = el ? hashQuery(this.draft(), el.selectionStart ?? 0) : null;
    if (!q) {
      if (this.open) this.close();
      return;
    }
    this.start = q.start;
    if (this.query !== q.query) this.active = 0;
    this.query = q.query;
    if (!this.open) {
      this.open = true;
      this.active = 0;
      // Fresh each time the list opens: a knowledge base made in another tab shows up.
      void this.load().then(() => this.sync());
    }
    this.sync();
  }

  choose(k: KbOption): void {
    const text = this.draft();
    const end = this.el?.selectionStart ?? text.length;
    const rest = text.slice(end).replace(/^\s+/, '');
    const head = text.slice(0, this.start);
    this.setDraft(head + rest);
    if (!this.chosen.some((c) => c.id === k.id)) {
      this.chosen = [...this.chosen, k];
      this.onchange(this.ids());
    }
    this.close();
    const el = this.el;
    if (el) {
      queueMicrotask(() => {
        el.focus();
        el.setSelectionRange(head.length, head.length);
      });
    }
  }

  remove(k: KbOption): void {
    this.chosen = this.chosen.filter((c) => c.id !== k.id);
    this.onchange(this.ids());
    this.el?.focus();
  }

  /** The composer's keys while the list is open; true when the key was the list's. */
  keydown(e: KeyboardEvent): boolean {
    if (!this.open) return false;
    const n = this.options.length;
    switch (e.key) {
      case 'ArrowDown':
        if (n) this.active = (this.active + 1) % n;
        break;
      case 'ArrowUp':
        if (n) this.active = (this.active - 1 + n) % n;
        break;
      case 'Enter':
      case 'Tab': {
        const k = this.options[this.active];
        if (!k) {
          if (e.key === 'Tab') return false;
          this.close();
          break;
        }
        this.choose(k);
        break;
      }
      case 'Escape':
        this.close();
        break;
      default:
        return false;
    }
    e.preventDefault();
    this.sync();
    return true;
  }

  /** The combobox attributes of the composer, kept in step with the list. */
  private sync(): void {
    untrack(() => this.syncNow());
  }

  private syncNow(): void {
    const el = this.el;
    if (!el) return;
    const n = this.options.length;
    // `aria-controls` names the list only while it is there (a missing id is an ARIA error).
    if (this.open && this.all !== null) el.setAttribute('aria-controls', this.listId);
    else el.removeAttribute('aria-controls');
    if (this.open && n) el.setAttribute('aria-activedescendant', this.optionId(Math.min(this.active, n - 1)));
    else el.removeAttribute('aria-activedescendant');
  }

  /** `use:picker.action` on the composer's textarea. */
  action = (el: HTMLTextAreaElement) => {
    this.el = el;
    el.setAttribute('aria-autocomplete', 'list');
    const input = () => this.update();
    const blur = () => setTimeout(() => this.open && document.activeElement !== el && this.close(), 150);
    el.addEventListener('input', input);
    el.addEventListener('click', input);
    el.addEventListener('blur', blur);
    return {
      destroy: () => {
        el.removeEventListener('input', input);
        el.removeEventListener('click', input);
        el.removeEventListener('blur', blur);
        this.el = null;
      },
    };
  };
}
