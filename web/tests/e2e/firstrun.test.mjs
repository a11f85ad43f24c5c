// The first run in a real browser: a fresh `rampart` with no model configured. A newcomer
// uploads a document, asks, and gets the best passages quoted with citations and a note on how
// to add a model; a citation opens the passage in context inside the app, and the document
// downloads through an authenticated fetch. Knowledge bases chosen with `#` in the composer
// (keyboard only) narrow what the next answer draws on.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, PASSWORD, axeViolations, startRampart, launchBrowser } from './harness.mjs';

const LEAVE = '# Leave\n\nStaff get 25 days of annual leave each year. Unused days expire in March.\n';
const RECIPES = '# Pancakes\n\nWhisk flour, eggs and milk; rest the batter for ten minutes.\n';

let rampart, base, browser;
const problems = [];

before(async () => {
  rampart = await startRampart({ tag: 'firstrun', users: [['new@example.com']] });
  base = rampart.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rampart?.stop();
});

/** A knowledge base made on the Knowledge page, with one document dropped on it and ingested. */
async function knowledgeBase(page, name, file, text) {
  await page.getByRole('link', { name: 'Knowledge', exact: true }).click();
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name }).waitFor();
  const dropped = await page.evaluateHandle(([f, t]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], f));
    return dt;
  }, [file, text]);
  await page.getByRole('region', { name: 'Upload documents' }).dispatchEvent('drop', { dataTransfer: dropped });
  await page.getByRole('cell', { name: 'ready', exact: true }).waitFor({ timeout: 15_000 });
}

test('no model: quoted passages with citations that open in the app, download, and # to choose knowledge bases', async (t) => {
  // axe is injected as a script, which the app's CSP forbids: this context bypasses the CSP
  // (app.test.mjs checks the pages under it).
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, bypassCSP: true });
  const page = await ctx.newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(e.message));
  t.after(async () => {
    if (!page.isClosed()) await page.screenshot({ path: join(SHOTS, 'firstrun-last-failure.png'), fullPage: true }).catch(() => {});
  });

  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill('new@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  await knowledgeBase(page, 'handbook', 'leave.md', LEAVE);
  await knowledgeBase(page, 'recipes', 'pancakes.md', RECIPES);

  // The question, with no model anywhere: the best passage quoted and cited, and the note.
  await page.getByRole('link', { name: 'Chat' }).click();
  await page.getByLabel('Message').fill('How much annual leave do staff get?');
  await page.getByRole('button', { name: 'Send' }).click();
  const reply = page.getByRole('article', { name: 'Assistant' }).last();
  await reply.locator('.md').getByText('No generative model is configured', { exact: false }).waitFor();
  const text = await reply.locator('.md').innerText();
  assert.match(text, /25 days of annual leave/);
  assert.doesNotMatch(text, /Pancakes|flour/, 'only the passages that match');

  // The citation opens the passage in context, inside the app (not a JSON 401 in a new tab).
  await reply.locator('a.cite[data-cite="1"]').click();
  const card = page.getByRole('region', { name: 'Source 1: leave.md' });
  await card.getByText('in handbook').waitFor();
  await card.getByTestId('citation-excerpt').getByText('25 days of annual leave', { exact: false }).waitFor();
  assert.equal(page.url().split('/').length, 5, 'still on the chat page');
  await page.screenshot({ path: join(SHOTS, 'firstrun-source.png') });
  assert.deepEqual(await axeViolations(page), [], 'the source opened');

  // The document downloads with the sign-in's token, as uploaded.
  const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'Download' }).click()]);
  assert.equal(download.suggestedFilename(), 'leave.md');
  assert.equal(readFileSync(await download.path(), 'utf8'), LEAVE);
  await card.getByRole('button', { name: 'Close source' }).click();
  await card.waitFor({ state: 'detached' });

  // `#` opens the knowledge bases; arrows and Enter choose one, shown as a removable chip.
  const box = page.getByLabel('Message');
  await box.click();
  await box.pressSequentially('#rec');
  const list = page.getByRole('listbox', { name: 'Knowledge bases' });
  await list.getByRole('option', { name: '#recipes' }).waitFor();
  assert.equal(await list.getByRole('option').count(), 1, 'filtered by what follows #');
  assert.match(await box.getAttribute('aria-activedescendant'), /kb-options-0/);
  assert.equal(await box.getAttribute('aria-controls'), 'kb-options');
  assert.deepEqual(await axeViolations(page), [], 'the # list open');
  await box.press('Enter');
  await list.waitFor({ state: 'detached' });
  const chips = page.getByRole('list', { name: 'Knowledge bases for this chat' });
  await chips.getByRole('button', { name: 'Remove knowledge base recipes' }).waitFor();
  assert.equal(await box.inputValue(), '', 'the #word is replaced by the chip');
  assert.equal(await box.getAttribute('aria-controls'), null, 'no reference to the closed list');
  assert.deepEqual(await axeViolations(page), [], 'with a chip');

  // The next answer draws on the chosen knowledge base only.
  await box.fill('How much annual leave do staff get?');
  await box.press('Enter');
  const second = page.getByRole('article', { name: 'Assistant' }).nth(1);
  await second.locator('.md').getByText('I found nothing about that', { exact: false }).waitFor();
  assert.doesNotMatch(await second.locator('.md').innerText(), /25 days/);
  await page.screenshot({ path: join(SHOTS, 'firstrun-chips.png') });

  // The choice is kept with the chat: it reopens with the chip.
  await page.reload();
  await chips.getByRole('button', { name: 'Remove knowledge base recipes' }).waitFor();

  // Escape closes the list without choosing; a removed chip is gone.
  await box.fill('');
  await box.pressSequentially('#');
  await list.getByRole('option', { name: '#handbook' }).waitFor();
  await box.press('Escape');
  await list.waitFor({ state: 'detached' });
  const kept = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.ok());
  await chips.getByRole('button', { name: 'Remove knowledge base recipes' }).click();
  await chips.waitFor({ state: 'detached' });
  // Removing it is kept too.
  await kept;
  await page.reload();
  await page.getByRole('article', { name: 'Assistant' }).nth(1).waitFor();
  assert.equal(await chips.count(), 0);

  assert.deepEqual(problems, []);
  await ctx.close();
});
