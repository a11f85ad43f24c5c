// Everyday chat in a real browser (issue 16): the assistant picker by name, rename / pin /
// archive / unarchive / delete behind a confirmation, search by content, export (Markdown and
// JSON through an authenticated download), the copy button on code blocks, and the prompt
// library (managed in a dialog, offered after `/` in the composer, keyboard only) — at desktop
// width and at a phone's (390 px). Screenshots go to web/test-results/chatux-*.png.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeOpenAi, SHOTS, PASSWORD, axeViolations, modelConfig, startRampart, launchBrowser } from './harness.mjs';

// Every answer: a sentence, then a code block to copy.
const ANSWER = 'Use this command:\n\n```bash\ndu -sh /var/log\n```\n';

/** The fake model: OpenAI chat completions, streamed in a few pieces. */
const fakeModel = () => fakeOpenAi(() => ANSWER, 12);

let upstream, rampart, browser, base;
const problems = [];

before(async () => {
  upstream = await fakeModel();
  const config = modelConfig(upstream, [
    { id: 'default', name: 'General helper', description: 'Everyday questions and drafting.' },
    { id: 'ops-bot', name: 'Operations', description: 'Servers, logs and disks.' },
  ]);
  rampart = await startRampart({ tag: 'chatux', config, users: [['desk@example.com'], ['phone@example.com']] });
  base = rampart.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rampart?.stop();
  upstream?.close();
});

async function signIn(viewport, email, name) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true, permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await ctx.newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(`${name}: console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  await page.goto(base + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  return { ctx, page };
}

/** Sends a message and waits for the whole answer. */
async function ask(page, text) {
  await page.getByLabel('Message').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByRole('article', { name: 'Assistant' }).last().locator('.md code').getByText('du -sh /var/log').waitFor();
  await page.getByRole('button', { name: 'Send' }).waitFor();
}

/** On a phone the conversation list is a drawer: opens it (nothing to do on a desktop). */
async function showList(page) {
  const open = page.getByRole('button', { name: 'Conversations', exact: true });
  if ((await open.isVisible()) && (await open.getAttribute('aria-expanded')) === 'false') {
    await open.click();
    await list(page).getByRole('button', { name: 'New chat' }).waitFor();
    assert.equal(await list(page).getByRole('button', { name: 'New chat' }).evaluate((b) => b === document.activeElement), true, 'focus moves into the drawer');
  }
}

async function newChat(page) {
  await showList(page);
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.waitForURL(/\/chat$/);
}

const list = (page) => page.getByRole('complementary', { name: 'Conversations' });

async function everyday(viewport, email, tag) {
  const { ctx, page } = await signIn(viewport, email, tag);
  // The picker names assistants (not ids) and describes the chosen one.
  const picker = page.getByLabel('Assistant');
  await picker.locator('option', { hasText: 'General helper' }).waitFor({ state: 'attached' });
  assert.deepEqual(await picker.locator('option').allInnerTexts(), ['General helper', 'Operations']);
  await page.getByText('Everyday questions and drafting.').waitFor();
  await picker.selectOption({ label: 'Operations' });
  await page.getByText('Servers, logs and disks.').waitFor();

  await ask(page, 'How big are the logs?');
  // Code blocks have a copy button that copies the code and says so.
  const copy = page.getByRole('button', { name: 'Copy code' });
  await copy.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  await page.getByRole('status').filter({ hasText: 'Copied to the clipboard' }).waitFor({ state: 'attached' });
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'du -sh /var/log');
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-code-copy.png`) });

  await newChat(page);
  await ask(page, 'Quarterly budget review');
  await newChat(page);
  await ask(page, 'Team offsite ideas');
  await showList(page);
  const items = list(page).getByRole('listitem');
  await items.nth(2).waitFor();

  // Rename and pin the oldest: it comes first under its new name.
  const actions = (title) => list(page).getByRole('button', { name: `Actions for ${title}` });
  await actions('How big are the logs?').click();
  await list(page).getByRole('button', { name: 'Rename' }).click();
  await page.getByLabel('New title').fill('Disk usage');
  await page.keyboard.press('Enter');
  await list(page).getByRole('link', { name: 'Disk usage' }).waitFor();
  await actions('Disk usage').click();
  await list(page).getByRole('button', { name: 'Pin', exact: true }).click();
  await list(page).getByRole('link', { name: 'Pinned: Disk usage' }).waitFor();
  assert.match(await items.first().innerText(), /Disk usage/);
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-pinned.png`) });

  // Archive one: out of the list, in the archived view, and back.
  await actions('Quarterly budget review').click();
  await list(page).getByRole('button', { name: 'Archive', exact: true }).click();
  await list(page).getByRole('link', { name: 'Quarterly budget review' }).waitFor({ state: 'detached' });
  await list(page).getByRole('button', { name: 'Archived' }).click();
  await list(page).getByRole('link', { name: 'Quarterly budget review' }).waitFor();
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-archived.png`) });
  await actions('Quarterly budget review').click();
  await list(page).getByRole('button', { name: 'Unarchive' }).click();
  await list(page).getByText('No archived conversations.').waitFor();
  await list(page).getByRole('button', { name: 'Archived' }).click();
  await list(page).getByRole('link', { name: 'Quarterly budget review' }).waitFor();

  // Search by content: every answer holds the command; by title: one.
  await page.getByLabel('Search conversations').fill('offsite');
  const results = page.getByRole('list', { name: 'Search results' });
  await results.getByRole('link', { name: /Team offsite ideas/ }).waitFor();
  assert.equal(await results.getByRole('listitem').count(), 1);
  await page.getByLabel('Search conversations').fill('var/log');
  await results.getByRole('link').nth(2).waitFor();
  await results.getByText('du -sh /var/log').first().waitFor();
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-search.png`) });
  await page.getByRole('button', { name: 'Clear search' }).click();

  // Export: Markdown and JSON, downloaded with the access token.
  await actions('Disk usage').click();
  const [md] = await Promise.all([page.waitForEvent('download'), list(page).getByRole('button', { name: 'Export Markdown' }).click()]);
  assert.equal(md.suggestedFilename(), 'disk-usage.md');
  const mdText = readFileSync(await md.path(), 'utf8');
  assert.match(mdText, /^# Disk usage\n\n## You\n\nHow big are the logs\?\n\n## Assistant\n\nUse this command:/);
  await actions('Disk usage').click();
  const [js] = await Promise.all([page.waitForEvent('download'), list(page).getByRole('button', { name: 'Export JSON' }).click()]);
  assert.equal(js.suggestedFilename(), 'disk-usage.json');
  assert.equal(JSON.parse(readFileSync(await js.path(), 'utf8')).history.length, 2);

  // Delete asks first; Cancel keeps it, Delete removes it.
  await actions('Team offsite ideas').click();
  await list(page).getByRole('button', { name: 'Delete', exact: true }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Delete?' });
  await confirm.getByText('"Team offsite ideas" and all its messages will be deleted.').waitFor();
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-delete-confirm.png`) });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await list(page).getByRole('link', { name: 'Team offsite ideas' }).waitFor();
  await actions('Team offsite ideas').click();
  await list(page).getByRole('button', { name: 'Delete', exact: true }).click();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await list(page).getByRole('link', { name: 'Team offsite ideas' }).waitFor({ state: 'detached' });

  // The prompt library: two prompts saved in the dialog, one edited.
  await newChat(page);
  await page.getByRole('button', { name: 'My prompts' }).click();
  const lib = page.getByRole('dialog', { name: 'Prompt library' });
  for (const [title, text] of [['Summarise', 'Summarise this in three bullets:'], ['Translate', 'Translate into French:']]) {
    await lib.getByLabel('Title').fill(title);
    await lib.getByLabel('Text').fill(text);
    await lib.getByRole('button', { name: 'Add prompt' }).click();
    await lib.getByRole('list', { name: 'Saved prompts' }).getByText(title, { exact: true }).waitFor();
  }
  await lib.getByRole('button', { name: 'Edit Translate' }).click();
  await lib.getByLabel('Text').fill('Translate into German:');
  await lib.getByRole('button', { name: 'Save prompt' }).click();
  await lib.getByText('Translate into German:').waitFor();
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-prompt-library.png`) });
  await lib.getByRole('button', { name: 'Close' }).click();
  // `/` lists them; typing filters; arrows move; Enter inserts the text.
  const box = page.getByLabel('Message');
  await box.fill('');
  await box.pressSequentially('/');
  const options = page.getByRole('listbox', { name: 'Saved prompts' });
  await options.getByRole('option').nth(1).waitFor();
  assert.equal(await box.getAttribute('aria-activedescendant'), 'prompt-option-0');
  await page.keyboard.press('ArrowDown');
  assert.equal(await box.getAttribute('aria-activedescendant'), 'prompt-option-1');
  assert.equal(await options.getByRole('option', { selected: true }).innerText().then((t) => t.split('\n')[0]), 'Translate');
  await page.screenshot({ path: join(SHOTS, `chatux-${tag}-slash-prompts.png`) });
  await box.pressSequentially('sum');
  assert.equal(await options.getByRole('option').count(), 1);
  await page.keyboard.press('Enter');
  await options.waitFor({ state: 'detached' });
  assert.equal(await box.inputValue(), 'Summarise this in three bullets:');
  // Escape closes the list without inserting.
  await box.fill('');
  await box.pressSequentially('/tr');
  await options.waitFor();
  await page.keyboard.press('Escape');
  await options.waitFor({ state: 'detached' });
  assert.equal(await box.inputValue(), '/tr');
  if (viewport.width < 768) {
    // The drawer: open over the conversation, closed by Escape with focus back on its button, and
    // closed by choosing a conversation.
    await showList(page);
    await page.waitForTimeout(300); // the slide-in
    await page.screenshot({ path: join(SHOTS, `chatux-${tag}-drawer.png`) });
    await page.keyboard.press('Escape');
    await list(page).waitFor({ state: 'hidden' });
    const open = page.getByRole('button', { name: 'Conversations', exact: true });
    assert.equal(await open.evaluate((b) => b === document.activeElement), true, 'focus back on the button');
    await showList(page);
    await list(page).getByRole('link', { name: /Disk usage/ }).click();
    await list(page).waitFor({ state: 'hidden' });
    assert.equal(await open.getAttribute('aria-expanded'), 'false');
  }
  await ctx.close();
}

test('everyday chat at desktop width', async () => {
  await everyday({ width: 1280, height: 800 }, 'desk@example.com', 'desktop');
});

test('everyday chat at phone width (390 px)', async () => {
  await everyday({ width: 390, height: 844 }, 'phone@example.com', 'phone');
  assert.deepEqual(problems, [], 'no console errors or CSP violations');
});

test('the actions menu, the search results, the prompt list and the library pass axe', async () => {
  // axe is injected as a script, which the app's CSP forbids: this context bypasses it.
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(base + '/login');
  await page.getByLabel('Email').fill('desk@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  const report = [];
  const check = async (name) => report.push(...(await axeViolations(page)).map((v) => `${name}: ${v}`));
  await list(page).getByRole('button', { name: 'Actions for Disk usage' }).click();
  await check('actions menu');
  await page.getByLabel('Search conversations').fill('var/log');
  await page.getByRole('list', { name: 'Search results' }).getByRole('link').first().waitFor();
  await check('search results');
  await page.getByRole('button', { name: 'Clear search' }).click();
  await page.getByLabel('Message').pressSequentially('/');
  await page.getByRole('listbox', { name: 'Saved prompts' }).waitFor();
  await check('prompt list');
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'My prompts' }).click();
  await page.getByRole('dialog', { name: 'Prompt library' }).getByText('Translate into German:').waitFor();
  await check('prompt library');
  assert.deepEqual(report, []);
  await ctx.close();
});
