// Light and dark themes: the system's choice unless the user picked one (kept in localStorage —
// a preference, never a credential). The page always carries the theme in effect as
// `data-theme`, so the stylesheet has one dark palette, not one per way of choosing it.

export type Theme = 'light' | 'dark' | 'system';
const KEY = 'rampart.theme';
const dark = matchMedia('(prefers-color-scheme: dark)');

export function currentTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function setTheme(t: Theme): void {
  if (t === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, t);
  applyTheme();
}

function applyTheme(): void {
  const t = currentTheme();
  const effective = t === 'system' ? (dark.matches ? 'dark' : 'light') : t;
  document.documentElement.setAttribute('data-theme', effective);
}

/** Applies the theme now and follows the system's while the user has not picked one. */
export function initTheme(): void {
  applyTheme();
  dark.addEventListener('change', applyTheme);
}
