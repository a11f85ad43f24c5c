import { describe, expect, it } from 'vitest';
import { addCopyButtons } from '../../src/lib/codecopy';
import { matchPrompts, moveActive, slashQuery } from '../../src/lib/prompts';
import { renderMarkdown } from '../../src/lib/markdown';

describe('code copy buttons', () => {
  it('adds one button per code block that copies its text and announces it', async () => {
    const root = document.createElement('div');
    root.innerHTML = renderMarkdown('Run:\n\n```bash\necho "hi" && ls\n```\n\nand\n\n```\nplain\n```');
    const copied: string[] = [];
    addCopyButtons(root, async (t) => void copied.push(t));
    addCopyButtons(root, async (t) => void copied.push(t)); // again: no second button
    const buttons = root.querySelectorAll<HTMLButtonElement>('button.code-copy');
    expect(buttons.length).toBe(2);
    expect(buttons[0].type).toBe('button');
    expect(root.querySelector('.code-lang')?.textContent).toBe('bash');
    buttons[0].click();
    await new Promise((r) => setTimeout(r, 0));
    expect(copied).toEqual(['echo "hi" && ls']);
    expect(buttons[0].textContent).toBe('Copied');
    expect(root.querySelector('[role=status]')?.textContent).toBe('Copied to the clipboard');
  });

  it('says when copying failed', async () => {
    const root = document.createElement('div');
    root.innerHTML = '<pre><code>x</code></pre>';
    addCopyButtons(root, async () => {
      throw new Error('denied');
    });
    root.querySelector<HTMLButtonElement>('button')!.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(root.querySelector('button')!.textContent).toBe('Copy failed');
  });
});

describe('prompt library in the composer', () => {
  const prompts = [
    { id: '1', title: 'Translate', text: 'Translate into French:' },
    { id: '2', title: 'Summarise', text: 'Summarise in three bullets:' },
    { id: '3', title: 'Email reply', text: 'Write a polite reply that summarises…' },
  ];
  it('opens on a slash at the start of a one-line draft', () => {
    expect(slashQuery('/sum')).toBe('sum');
    expect(slashQuery('/')).toBe('');
    expect(slashQuery('hello /sum')).toBeNull();
    expect(slashQuery('/sum\nmore')).toBeNull();
  });
  it('ranks title prefix, then title, then text matches', () => {
    expect(matchPrompts(prompts, 'sum').map((p) => p.id)).toEqual(['2', '3']);
    expect(matchPrompts(prompts, 'REPLY').map((p) => p.id)).toEqual(['3']);
    expect(matchPrompts(prompts, '').map((p) => p.id)).toEqual(['1', '2', '3']);
    expect(matchPrompts(prompts, 'zzz')).toEqual([]);
  });
  it('moves the active option with wrapping', () => {
    expect(moveActive(-1, 3, 'ArrowDown')).toBe(0);
    expect(moveActive(2, 3, 'ArrowDown')).toBe(0);
    expect(moveActive(0, 3, 'ArrowUp')).toBe(2);
    expect(moveActive(1, 3, 'End')).toBe(2);
    expect(moveActive(0, 0, 'ArrowDown')).toBe(-1);
  });
});
