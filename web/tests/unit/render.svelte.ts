// Mounting components in jsdom for the component tests, with Svelte's own `mount`/`unmount`
// (vite.config.ts resolves Svelte's browser build under Vitest).
import { flushSync, mount, unmount, type Component } from 'svelte';

const mounted: (() => void)[] = [];

/** Mounts `component` into a fresh element in the document and returns that element. `props`
 * may come from `reactive`, so a test can change them the way a parent page does. */
export function render<P extends Record<string, any>>(component: Component<P>, props: P): HTMLElement {
  const target = document.body.appendChild(document.createElement('div'));
  const instance = mount(component, { target, props });
  flushSync();
  mounted.push(() => {
    void unmount(instance);
    target.remove();
  });
  return target;
}

/** Unmounts everything `render` mounted (for `afterEach`). */
export function cleanup(): void {
  for (const done of mounted.splice(0)) done();
}

/** Deeply reactive props: assigning to them updates the mounted component (after `flushSync`). */
export function reactive<T extends object>(value: T): T {
  const props = $state(value);
  return props;
}
