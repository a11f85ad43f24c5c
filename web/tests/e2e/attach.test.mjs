// Files attached to a chat, in a real browser on a fresh `rampart` with no model configured:
// the paperclip button (keyboard) and a drop onto the chat attach files, shown as chips going
// from "reading…" to "ready" (a file can start a chat, before its first question); the next
// answer quotes and cites the attached file; a chip's
// remove button takes the file away; the files are not knowledge bases (the Knowledge page does
// not list them) and another chat does not see them.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, PASSWORD, axeViolations, startRampart, launchBrowser } from './harness.mjs';

const LEAVE = '# Leave\n\nStaff get 25 days of annual leave each year. Unused days expire in March.\n';
const RECIPES = '# Pancakes\n\nWhisk flour, eggs and milk; rest the batter for ten minutes.\n';

let rampart, base, browser;
const problems = [];

before(async () => {
  rampart = await startRampart({ tag: 'attach', users: [['new@example.com']] });
  base = rampart.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rampart?.stop();
});

/** Sends a message and waits for the answer to end; returns the answer's text. */
async function ask(page, text, n) {
  const box = page.getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
  const reply = page.getByRole('article', { name: 'Assistant' }).nth(n);
  await reply.getByRole('button', { name: 'Copy reply' }).waitFor({ timeout: 15_000 });
  return reply.locator('.md').innerText();
}

test('attach files to a chat: button and drop, status chips, cited answers, remove, not a knowledge base', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await ctx.newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(e.message));
  t.after(async () => {
    if (!page.isClosed()) await page.screenshot({ path: join(SHOTS, 'attach-last-failure.png'), fullPage: true }).catch(() => {});
  });

  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill('new@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');

  // Files may come before the first question: the paperclip, from the keyboard, starts the
  // chat (named by the file in the list); the chip reads, then is ready.
  const attach = page.getByRole('button', { name: 'Attach files' });
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), attach.press('Enter')]);
  await chooser.setFiles({ name: 'leave.md', mimeType: 'text/markdown', buffer: Buffer.from(LEAVE) });
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  const chips = page.getByRole('list', { name: 'Files attached to this chat' });
  await chips.getByText('leave.md').waitFor();
  await chips.getByText('ready', { exact: true }).waitFor({ timeout: 15_000 });
  await page.getByRole('link', { name: 'leave.md' }).waitFor();
  assert.deepEqual(await axeViolations(page), [], 'with an attached file');

  // The first answer quotes and cites it.
  const first = await ask(page, 'How much annual leave do staff get?', 0);
  assert.match(first, /25 days of annual leave/);
  const reply = page.getByRole('article', { name: 'Assistant' }).nth(0);
  await reply.locator('a.cite[data-cite="1"]').click();
  await page.getByRole('region', { name: 'Source 1: leave.md' }).waitFor();
  await page.getByRole('button', { name: 'Close source' }).click();

  // A drop onto the chat attaches another file.
  const dropped = await page.evaluateHandle((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], 'pancakes.md'));
    return dt;
  }, RECIPES);
  await page.getByRole('region', { name: 'Conversation' }).dispatchEvent('drop', { dataTransfer: dropped });
  await chips.getByText('pancakes.md').waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('.chat-files .chip')].every((c) => c.textContent.includes('ready')), null, { timeout: 15_000 });
  await page.screenshot({ path: join(SHOTS, 'attach-chips.png') });

  // Removing a chip (keyboard) takes the file away.
  await chips.getByRole('button', { name: 'Remove file leave.md' }).focus();
  await page.keyboard.press('Enter');
  await chips.getByText('leave.md').waitFor({ state: 'detached' });
  const second = await ask(page, 'How much annual leave do staff get?', 1);
  assert.doesNotMatch(second, /25 days/);

  // Not a knowledge base; another chat does not see the files.
  await page.getByRole('link', { name: 'Knowledge', exact: true }).click();
  await page.getByLabel('Name').waitFor();
  assert.doesNotMatch(await page.locator('main').innerText(), /pancakes|chat:/);
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.getByRole('button', { name: 'New chat' }).click();
  const other = await ask(page, 'How do I make pancakes batter?', 0);
  assert.doesNotMatch(other, /Whisk flour/);
  assert.equal(await page.getByRole('list', { name: 'Files attached to this chat' }).count(), 0);

  assert.deepEqual(problems, []);
  await ctx.close();
});
