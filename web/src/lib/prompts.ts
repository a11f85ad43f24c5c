// The prompt library in the composer: typing `/` at the start of the message lists the saved
// prompts whose title (or text) matches what follows the slash; choosing one puts its text in
// the composer. The page keeps the list and the keyboard; this module is the logic.

export interface SavedPrompt {
  id: string;
  title: string;
  text: string;
  updatedAt?: number;
}

/** The filter text when the draft asks for the library (`/` first, one line), else null. */
export function slashQuery(draft: string): string | null {
  if (!draft.startsWith('/') || draft.includes('\n')) return null;
  return draft.slice(1);
}

/** The prompts that match `q`: title prefix first, then title contains, then text contains. */
export function matchPrompts(prompts: SavedPrompt[], q: string, max = 8): SavedPrompt[] {
  const n = q.trim().toLowerCase();
  if (!n) return prompts.slice(0, max);
  const rank = (p: SavedPrompt) => {
    const t = p.title.toLowerCase();
    if (t.startsWith(n)) return 0;
    if (t.includes(n)) return 1;
    if (p.text.toLowerCase().includes(n)) return 2;
    return 3;
  };
  return prompts
    .map((p, i) => ({ p, r: rank(p), i }))
    .filter((x) => x.r < 3)
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .slice(0, max)
    .map((x) => x.p);
}

/** The next active option for a key, wrapping; `-1` when there are none. */
export function moveActive(active: number, count: number, key: string): number {
  if (count === 0) return -1;
  switch (key) {
    case 'ArrowDown':
      return (active + 1) % count;
    case 'ArrowUp':
      return active <= 0 ? count - 1 : active - 1;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return active;
  }
}
