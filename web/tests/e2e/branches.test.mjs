// Edit a sent message, regenerate an answer and switch between the versions (issue 16), in a
// real browser against the real `rampart` binary and a fake model that repeats the question it
// answers (so each branch is recognisable). Keyboard only where it matters: Ctrl+Enter submits
// an edit, Escape cancels it, the ‹ › switcher and Regenerate work with Enter. The page is
// reloaded at the end: the version shown is the one the server keeps as active.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fakeOpenAi, SHOTS, PASSWORD, axeViolations, modelConfig, startRampart, launchBrowser } from './harness.mjs';

/** The fake model: answer number n repeats the last question, streamed in a few pieces. */
let answered = 0;
let failing = false;
function fakeModel() {
  return fakeOpenAi((body) => {
    if (failing) return { status: 400 };
    const q = (body.messages ?? []).filter((m) => m.role === 'user').at(-1)?.content ?? '';
    return `Answer ${++answered} to: ${q}`;
  }, 8);
}

let upstream, rampart, browser, base;
const problems = [];

before(async () => {
  upstream = await fakeModel();
  const config = modelConfig(upstream, [{ id: 'default', name: 'General helper' }]);
  rampart = await startRampart({ tag: 'branches', config, users: [['branch@example.com']] });
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

const you = (page) => page.getByRole('article', { name: 'You' });
const answers = (page) => page.getByRole('article', { name: 'Assistant' });

/** Waits until the last answer is `text` and the composer is free again (the turn ended and
 * the history was read back with its ids). */
async function answered_(page, text) {
  await answers(page).last().getByText(text, { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Send' }).waitFor();
  await page.getByRole('button', { name: 'Regenerate answer' }).waitFor();
}

test('edit, regenerate and switch versions, kept after a reload', async () => {
  const { ctx, page } = await signIn({ width: 1280, height: 900 }, 'branch@example.com', 'branches');
  await page.getByLabel('Message').fill('Capital of France?');
  await page.getByRole('button', { name: 'Send' }).click();
  await answered_(page, 'Answer 1 to: Capital of France?');

  // Edit: the textarea holds the question; Escape cancels and gives focus back to Edit.
  await page.getByRole('button', { name: 'Edit question' }).click();
  const box = page.getByLabel(/Edit your question/);
  assert.equal(await box.inputValue(), 'Capital of France?');
  await box.press('Escape');
  await box.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit question');
  await page.keyboard.press('Enter');
  await box.fill('Capital of Spain?');
  await box.press('Control+Enter');
  await answered_(page, 'Answer 2 to: Capital of Spain?');
  assert.deepEqual(await you(page).allInnerTexts(), ['Capital of Spain?']);
  await page.getByRole('group', { name: 'Versions of this question' }).getByText('2 / 2').waitFor();

  // Previous version: the first question and its answer again.
  await page.getByRole('button', { name: 'Previous version of this question' }).click();
  await answered_(page, 'Answer 1 to: Capital of France?');
  assert.deepEqual(await you(page).allInnerTexts(), ['Capital of France?']);
  await page.getByRole('group', { name: 'Versions of this question' }).getByText('1 / 2').waitFor();
  // Focus stays on the switcher (now on "Next"), so the keyboard can go back.
  await page.keyboard.press('Enter');
  await answered_(page, 'Answer 2 to: Capital of Spain?');

  // Regenerate (keyboard): a second answer to the same question; the question is not repeated.
  await page.getByRole('button', { name: 'Regenerate answer' }).focus();
  await page.keyboard.press('Enter');
  await answered_(page, 'Answer 3 to: Capital of Spain?');
  assert.equal(await you(page).count(), 1);
  assert.equal(await answers(page).count(), 1);
  await page.getByRole('group', { name: 'Versions of this answer' }).getByText('2 / 2').waitFor();
  await page.screenshot({ path: join(SHOTS, 'branches-versions.png') });
  await page.getByRole('button', { name: 'Previous version of this answer' }).click();
  await answered_(page, 'Answer 2 to: Capital of Spain?');

  // A follow-up continues the branch shown; after a reload the same branch is shown.
  await page.getByLabel('Message').fill('And its population?');
  await page.getByRole('button', { name: 'Send' }).click();
  await answered_(page, 'Answer 4 to: And its population?');
  await page.reload();
  await answered_(page, 'Answer 4 to: And its population?');
  assert.deepEqual(await you(page).allInnerTexts(), ['Capital of Spain?', 'And its population?']);
  assert.deepEqual(await answers(page).allInnerTexts().then((t) => t.map((s) => s.split('\n')[0])), [
    'Answer 2 to: Capital of Spain?',
    'Answer 4 to: And its population?',
  ]);
  await page.getByRole('group', { name: 'Versions of this question' }).getByText('2 / 2').waitFor();
  await ctx.close();
  assert.deepEqual(problems, []);
});

test('Retry after a failed answer answers the stored question again, not a second copy of it', async () => {
  const { ctx, page } = await signIn({ width: 1280, height: 900 }, 'branch@example.com', 'retry');
  failing = true;
  await page.getByLabel('Message').fill('Tallest mountain?');
  await page.getByRole('button', { name: 'Send' }).click();
  const retry = page.getByRole('button', { name: 'Retry' });
  await retry.waitFor();
  failing = false;
  const next = answered + 1;
  await retry.click();
  await answered_(page, `Answer ${next} to: Tallest mountain?`);
  assert.deepEqual(await you(page).allInnerTexts(), ['Tallest mountain?']);
  await page.reload();
  await answers(page).last().getByText('Tallest mountain?', { exact: false }).waitFor();
  assert.deepEqual(await you(page).allInnerTexts(), ['Tallest mountain?'], 'stored once');
  await ctx.close();
  assert.deepEqual(problems, []);
});

test('the version switchers and the edit form pass axe', async () => {
  // axe is injected as a script, which the app's CSP forbids: this context bypasses it.
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(base + '/login');
  await page.getByLabel('Email').fill('branch@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  await page.getByRole('link', { name: 'Capital of France?' }).click();
  await page.getByRole('group', { name: 'Versions of this question' }).first().waitFor();
  const report = [...(await axeViolations(page)).map((v) => `switchers: ${v}`)];
  await page.getByRole('button', { name: 'Edit question' }).first().click();
  await page.getByLabel(/Edit your question/).waitFor();
  report.push(...(await axeViolations(page)).map((v) => `edit form: ${v}`));
  await ctx.close();
  assert.deepEqual(report, []);
});
