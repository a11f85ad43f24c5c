// Files attached to a chat, in a real browser on a fresh `rampart` with no model configured:
// the paperclip button (keyboard) and a drop onto the chat attach files, shown as chips going
// from "reading…" to "ready"; the next answer quotes and cites the attached file; a chip's
// remove button takes the file away; the files are not knowledge bases (the Knowledge page does
// not list them) and another chat does not see them.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { root, BIN, CHROMIUM, SHOTS, PASSWORD, clean, freePort, untilReady, axeViolations } from './harness.mjs';

const LEAVE = '# Leave\n\nStaff get 25 days of annual leave each year. Unused days expire in March.\n';
const RECIPES = '# Pancakes\n\nWhisk flour, eggs and milk; rest the batter for ten minutes.\n';

let srv, base, browser, dataDir;
const problems = [];

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} is missing (cargo build --bin rampart)`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'rampart-e2e-attach-'));
  const env = { ...clean(process.env), RAMPART_DATA_DIR: dataDir, RAMPART_AUTH__ARGON2__MEMORY_KIB: '8192', RAMPART_AUTH__ARGON2__ITERATIONS: '1' };
  execFileSync(BIN, ['user', 'add', '--email', 'new@example.com', '--password-stdin'], { input: PASSWORD, env });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  srv = spawn(BIN, ['serve'], {
    env: { ...env, RAMPART_LISTEN: `127.0.0.1:${port}`, RAMPART_ACCESS_LOG__TARGET: 'off', RAMPART_LOG: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await untilReady(base);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

after(async () => {
  await browser?.close();
  srv?.kill('SIGTERM');
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

  // A new chat takes files after its first message.
  const attach = page.getByRole('button', { name: 'Attach files' });
  assert.equal(await attach.isDisabled(), true, 'nothing to attach to yet');
  const first = await ask(page, 'How much annual leave do staff get?', 0);
  assert.doesNotMatch(first, /25 days/);
  await page.waitForFunction(() => !document.querySelector('.chat-files .attach')?.hasAttribute('disabled'));

  // The paperclip, from the keyboard: a file chooser; the chip reads, then is ready.
  await attach.focus();
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
  await chooser.setFiles({ name: 'leave.md', mimeType: 'text/markdown', buffer: Buffer.from(LEAVE) });
  const chips = page.getByRole('list', { name: 'Files attached to this chat' });
  await chips.getByText('leave.md').waitFor();
  await chips.getByText('ready', { exact: true }).waitFor({ timeout: 15_000 });
  assert.deepEqual(await axeViolations(page), [], 'with an attached file');

  // The next answer quotes and cites it.
  const second = await ask(page, 'How much annual leave do staff get?', 1);
  assert.match(second, /25 days of annual leave/);
  const reply = page.getByRole('article', { name: 'Assistant' }).nth(1);
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
  const third = await ask(page, 'How much annual leave do staff get?', 2);
  assert.doesNotMatch(third, /25 days/);

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
