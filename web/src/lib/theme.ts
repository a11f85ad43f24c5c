// Light and dark themes: the system's choice unless the user picked one (kept in localStorage —
// a preference, never a credential).

export type Theme = 'light' | 'dark' | 'system';
const KEY = 'rampart.theme';

export function currentTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function setTheme(t: Theme): void {
  if (t === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, t);
  initTheme();
}

export function initTheme(): void {
  const t = currentTheme();
  if (t === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', t);
}
