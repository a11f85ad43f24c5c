// A "Copy" button on each code block of a rendered reply. The rendered HTML is sanitized with
// buttons forbidden (a reply must not bring its own controls), so the buttons are added here,
// after rendering, as real DOM elements with their own listeners. Each block gets one polite
// live region that says "Copied" (or that copying failed) to screen readers. The bar goes
// inside the `pre`, never around it: the nodes Svelte inserted for the HTML stay where they
// were, so it can replace them when the reply grows.

export type Writer = (text: string) => Promise<void>;

const defaultWriter: Writer = (t) => navigator.clipboard.writeText(t);

/** Adds the buttons to every `pre > code` in `root` that has none yet. */
export function addCopyButtons(root: HTMLElement, write: Writer = defaultWriter): void {
  for (const pre of root.querySelectorAll('pre')) {
    if (pre.querySelector(':scope > .code-bar')) continue;
    const code = pre.querySelector('code');
    if (!code) continue;
    const bar = document.createElement('div');
    bar.className = 'code-bar';
    const lang = /language-([\w-]+)/.exec(code.className)?.[1];
    const label = document.createElement('span');
    label.className = 'code-lang';
    label.textContent = lang ?? '';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'icon code-copy';
    button.textContent = 'Copy code';
    const status = document.createElement('span');
    status.className = 'visually-hidden';
    status.setAttribute('role', 'status');
    let timer: ReturnType<typeof setTimeout> | undefined;
    button.addEventListener('click', async () => {
      let said = 'Copied';
      try {
        await write(code.textContent ?? '');
      } catch {
        said = 'Copy failed';
      }
      button.textContent = said;
      status.textContent = said === 'Copied' ? 'Copied to the clipboard' : 'Copying failed';
      clearTimeout(timer);
      timer = setTimeout(() => {
        button.textContent = 'Copy code';
        status.textContent = '';
      }, 2000);
    });
    bar.append(label, button, status);
    pre.prepend(bar);
  }
}

/** Svelte action: `use:codeCopy={html}` re-adds the buttons whenever the HTML changes. */
export function codeCopy(node: HTMLElement, _html?: string) {
  addCopyButtons(node);
  return {
    update() {
      addCopyButtons(node);
    },
  };
}
