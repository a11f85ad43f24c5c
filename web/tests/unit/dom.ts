// Driving mounted components through the DOM, the way a user does, for the component tests.
import { vi } from 'vitest';
import { flushSync } from 'svelte';

export function one<E extends Element = HTMLElement>(root: ParentNode, selector: string): E {
  const el = root.querySelector<E>(selector);
  if (!el) throw new Error(`nothing matches ${selector}`);
  return el;
}

export function all(root: ParentNode, selector: string): Element[] {
  return [...root.querySelectorAll(selector)];
}

export function texts(root: ParentNode, selector: string): string[] {
  return all(root, selector).map((e) => (e.textContent ?? '').trim());
}

export function button(root: ParentNode, name: string): HTMLButtonElement {
  const b = all(root, 'button').find((e) => e.getAttribute('aria-label') === name || e.textContent?.trim() === name);
  if (!b) throw new Error(`no button ${name}`);
  return b as HTMLButtonElement;
}

export function click(el: Element) {
  (el as HTMLElement).click();
  flushSync();
}

export function type(el: HTMLInputElement | HTMLTextAreaElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

export function choose(el: HTMLSelectElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

export function submit(form: HTMLFormElement) {
  form.requestSubmit(); // with constraint validation, as a browser does
  flushSync();
}

/** Lets pending promises (awaited callbacks, fetches) settle, then flushes the DOM. */
export async function settle(check: () => void) {
  await vi.waitFor(() => {
    flushSync();
    check();
  });
}

/** jsdom has <dialog> without its modal methods: gives it the two the components use. */
export function modalDialogs(): void {
  const d = HTMLDialogElement.prototype as any;
  d.showModal ??= function (this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
  d.close ??= function (this: HTMLDialogElement) {
    this.removeAttribute('open');
    this.dispatchEvent(new Event('close'));
  };
}
