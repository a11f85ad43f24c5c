/** A byte count for people: `512 B`, `1.5 KB`, `3.2 MB` … (powers of 1,024). */
export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/** A moment for people, in their locale and time zone; `—` when there is none. */
export const when = (t?: string | null): string => (t ? new Date(t).toLocaleString() : '—');
