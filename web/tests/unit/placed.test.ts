// Errors said in place (lib/placed.svelte.ts with components/ErrorAt.svelte), the confirmation
// dialog (components/ConfirmHost.svelte) and the table reflow action (lib/reflow.ts).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flushSync } from 'svelte';
import { cleanup, render } from './render.svelte';
import { modalDialogs } from './dom';
import { ApiError } from '../../src/lib/api';
import { PlacedError } from '../../src/lib/placed.svelte';
import { confirmAction, confirmer } from '../../src/lib/confirm.svelte';
import { reflow } from '../../src/lib/reflow';
import ErrorAt from '../../src/components/ErrorAt.svelte';
import ConfirmHost from '../../src/components/ConfirmHost.svelte';

beforeAll(modalDialogs);
afterEach(cleanup);

describe('an error in its place', () => {
  it('is shown only where it belongs, once', () => {
    const error = new PlacedError();
    const top = render(ErrorAt, { error });
    const form = render(ErrorAt, { error, at: 'create' });
    error.set(new ApiError(409, 'conflict', 'That name is taken.'), 'create');
    flushSync();
    expect(form.textContent).toBe('That name is taken.');
    expect(form.querySelector('[role="alert"]')).not.toBeNull();
    expect(top.textContent).toBe('');
    error.to(null)(new ApiError(500, 'internal', 'Something went wrong.'));
    flushSync();
    expect([top.textContent, form.textContent]).toEqual(['Something went wrong.', '']);
    error.clear();
    flushSync();
    expect(top.textContent).toBe('');
  });
});

describe('the confirmation dialog', () => {
  it('names the action, starts on Cancel, and answers what was chosen', async () => {
    const root = render(ConfirmHost, {});
    const answer = confirmAction('The key stops working.', 'Revoke');
    flushSync();
    const dialog = root.querySelector('dialog')!;
    expect(dialog.getAttribute('role')).toBe('alertdialog');
    expect(dialog.querySelector('h2')?.textContent).toBe('Revoke?');
    expect(dialog.querySelector('#confirm-message')?.textContent).toBe('The key stops working.');
    const [yes, cancel] = [...dialog.querySelectorAll('button')];
    expect(document.activeElement).toBe(cancel);
    yes.click();
    expect(await answer).toBe(true);
    const again = confirmAction('Gone for good.');
    flushSync();
    [...root.querySelectorAll('dialog button')][1].dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(await again).toBe(false);
    expect(confirmer.asking).toBeNull();
  });
});

describe('a reflowing table', () => {
  it('labels each cell with its header, also in rows added later, but not cells that span', async () => {
    const table = document.body.appendChild(document.createElement('table'));
    table.innerHTML = '<thead><tr><th>Email</th><th></th></tr></thead><tbody><tr><td>a@x</td><td><button>Delete</button></td></tr></tbody>';
    const { destroy } = reflow(table);
    const cells = () => [...table.querySelectorAll('td')].map((td) => td.dataset.label ?? null);
    expect(cells()).toEqual(['Email', null]);
    expect(table.classList.contains('reflow')).toBe(true);
    expect(table.querySelector('td')?.getAttribute('role')).toBe('cell');
    table.tBodies[0].insertAdjacentHTML('beforeend', '<tr><td>b@x</td><td></td></tr><tr><td colspan="2">No more.</td></tr>');
    await new Promise((r) => setTimeout(r, 0)); // the observer runs after the change
    expect(cells()).toEqual(['Email', null, 'Email', null, null]);
    destroy();
    table.remove();
  });
});
