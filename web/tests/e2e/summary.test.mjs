// Meeting summaries and their templates, in a real browser on real `rampart` servers with the
// pass-through recogniser: a recording uploaded through the API is transcribed, and when it ends
// its summary is written by a fake OpenAI-compatible model (one call per section) and shown on
// the meeting page as sanitized Markdown, with copy and regenerate and its status while it is
// written; on a server with no model the summary is extractive and says so. The administrators'
// "Meeting templates" tab changes a section and a shortcut button, puts one back to its default,
// and the next summary follows it. axe (WCAG 2.1 AA) on the pages.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, PASSWORD, axeViolations, fakeOpenAi, modelConfig, startRampart, launchBrowser, toneWav } from './harness.mjs';

const PASSTHROUGH = { RAMPART_SPEECH__ENGINE: 'passthrough', RAMPART_SPEECH__PASSTHROUGH_INTERVAL: '1s' };

/** What the fake model writes for each section, by the template's words. */
function answerFor(body) {
  const prompt = body.messages?.at(-1)?.content ?? '';
  const calls = (answerFor.calls = (answerFor.calls ?? 0) + 1);
  const slow = new Promise((ok) => setTimeout(ok, answerFor.delay ?? 0));
  let text = `Call ${calls}: the team met.`;
  if (prompt.includes('at most five sentences')) text = `**Gist** of call ${calls}: the team met. <img src=x onerror="window.__xss=1">`;
  if (prompt.includes('Give the gist in one line')) text = `One line, call ${calls}.`;
  if (prompt.includes('topic by topic')) text = '### Launch\n- Ana wants it on Friday';
  if (prompt.includes('action items agreed')) text = '- [ ] Ship the beta — owner: Ana — due: Friday';
  return slow.then(() => text);
}

async function token(base, email) {
  const r = await fetch(`${base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password: PASSWORD }) });
  return (await r.json()).accessToken;
}

/** Uploads a tone as `email`'s meeting titled `title` and waits until it has ended; its id. */
async function meetingOf(base, email, title) {
  const t = await token(base, email);
  const form = new FormData();
  form.append('file', new Blob([toneWav({ seconds: 3, rate: 16000 })], { type: 'audio/wav' }), 'tone.wav');
  form.append('title', title);
  const r = await fetch(`${base}/v1/meetings/upload`, { method: 'POST', headers: { authorization: `Bearer ${t}` }, body: form });
  assert.equal(r.status, 202, await r.clone().text());
  const { id } = await r.json();
  for (let i = 0; i < 200; i++) {
    const m = await (await fetch(`${base}/v1/meetings/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${t}` } })).json();
    if (m.status === 'ended') return id;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('the upload did not end');
}

const pageOf = (base, id) => `${base}/meetings/${encodeURIComponent(id).replace(/\./g, '%2E')}`;

let upstream, withModel, noModel, browser;
const problems = [];

before(async () => {
  upstream = await fakeOpenAi(answerFor);
  const config = modelConfig(upstream, [{ id: 'default', name: 'Default' }]);
  const users = [['ann@example.com'], ['root@example.com', 'admin']];
  withModel = await startRampart({ tag: 'summary', config, users, env: PASSTHROUGH });
  noModel = await startRampart({ tag: 'summary-extractive', users, env: PASSTHROUGH });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  withModel?.stop();
  noModel?.stop();
  upstream?.close();
});

async function signIn(base, email, tag) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await ctx.newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(`${tag} console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${tag}: ${e.message}`));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  return page;
}

test('the summary on the meeting page: Markdown, copy, regenerate with live status, sanitized', async (t) => {
  const base = withModel.base;
  const id = await meetingOf(base, 'ann@example.com', 'Launch sync');
  const page = await signIn(base, 'ann@example.com', 'summary');
  t.after(() => page.screenshot({ path: join(SHOTS, 'summary-last-failure.png'), fullPage: true }).catch(() => {}));
  await page.goto(pageOf(base, id));
  const region = page.getByRole('region', { name: 'Summary' });
  await region.getByRole('heading', { name: 'Action items' }).waitFor({ timeout: 20_000 });
  assert.deepEqual(await region.locator('h3.section-title').allInnerTexts(), ['Summary', 'Details', 'Action items']);
  await region.getByText('Ship the beta — owner: Ana — due: Friday').waitFor();
  assert.equal(await region.locator('strong', { hasText: 'Gist' }).count(), 1, 'Markdown is rendered');
  assert.equal(await region.locator('img').count(), 0, 'HTML in a model answer is removed');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await region.getByText(/^Written by m/).waitFor();
  assert.equal(await region.getByText('Extractive', { exact: true }).count(), 0);
  assert.equal(answerFor.calls, 3, 'one model call per section');

  await region.getByRole('button', { name: 'Copy the summary as Markdown' }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, /^# Launch sync\n\n## Summary\n\n\*\*Gist\*\* of call \d/);
  assert.match(copied, /## Action items\n\n- \[ \] Ship the beta/);

  // Regenerated: the status shows while it is written, then the new summary.
  answerFor.delay = 700;
  await region.getByRole('button', { name: 'Regenerate' }).click();
  await region.getByText(/^(Waiting to write|Writing) the summary…$/).waitFor();
  assert.equal(await region.getByRole('button', { name: 'Regenerate' }).isDisabled(), true);
  await region.getByText(/of call [4-6]: the team met/).waitFor({ timeout: 20_000 });
  answerFor.delay = 0;
  assert.equal(answerFor.calls, 6);
  assert.deepEqual(await axeViolations(page), [], 'the meeting page with its summary');
  await page.screenshot({ path: join(SHOTS, 'meeting-summary.png'), fullPage: true });
  await page.context().close();
});

test('without a model the summary is extractive and labelled so', async (t) => {
  const base = noModel.base;
  const id = await meetingOf(base, 'ann@example.com', 'Quiet sync');
  const page = await signIn(base, 'ann@example.com', 'extractive');
  t.after(() => page.screenshot({ path: join(SHOTS, 'summary-extractive-last-failure.png'), fullPage: true }).catch(() => {}));
  await page.goto(pageOf(base, id));
  const region = page.getByRole('region', { name: 'Summary' });
  await region.getByText('Extractive', { exact: true }).waitFor({ timeout: 20_000 });
  await region.getByText(/no model is configured, so these are sentences picked from the transcript/).waitFor();
  await region.getByRole('heading', { name: 'Key points' }).waitFor();
  assert.equal(await region.getByText(/^Written by/).count(), 0);
  assert.deepEqual(await axeViolations(page), []);
  await page.context().close();
});

test('the meeting templates tab: change, hide, add, reset; the next summary follows', async (t) => {
  const base = withModel.base;
  const page = await signIn(base, 'root@example.com', 'templates');
  t.after(() => page.screenshot({ path: join(SHOTS, 'templates-last-failure.png'), fullPage: true }).catch(() => {}));
  await page.goto(`${base}/admin/meeting-templates`);
  await page.getByRole('heading', { name: 'Meeting templates', level: 1 }).waitFor();
  const entry = (name) => page.getByRole('form', { name });
  const summary = entry('Summary SUMMARY');
  await summary.getByText('Default', { exact: true }).waitFor();

  // Without {transcript} it is refused, with the reason beside the form.
  await summary.getByLabel('Prompt').fill('Just summarize.');
  await summary.getByRole('button', { name: 'Save' }).click();
  await summary.getByRole('alert').getByText('A summary section must contain {transcript}.').waitFor();
  await summary.getByLabel('Label').fill('Gist');
  await summary.getByLabel('Prompt').fill('{transcript}\n\nGive the gist in one line.');
  await summary.getByRole('button', { name: 'Save' }).click();
  const gist = entry('Gist SUMMARY');
  await gist.getByRole('status').getByText('“Gist” saved; it applies from now on.').waitFor();
  await gist.getByText('Changed', { exact: true }).waitFor();
  await gist.getByText('Shipped default').click();
  await gist.getByText(/at most five sentences/).waitFor();

  // A section hidden, a shortcut button relabelled.
  const details = entry('Details DETAILS');
  await details.getByLabel('Shown').uncheck();
  await details.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('form', { name: 'Details DETAILS' }).getByText('Changed, hidden').waitFor();
  const topics = entry('Topics topics');
  await topics.getByLabel('Label').fill('Subjects');
  await topics.getByRole('button', { name: 'Save' }).click();
  await entry('Subjects topics').getByText('Changed', { exact: true }).waitFor();
  assert.deepEqual(await axeViolations(page), [], 'the meeting templates tab');
  await page.screenshot({ path: join(SHOTS, 'admin-meeting-templates.png'), fullPage: true });

  const t2 = await token(base, 'ann@example.com');
  const sc = await (await fetch(`${base}/v1/meetings/shortcuts`, { headers: { authorization: `Bearer ${t2}` } })).json();
  assert.deepEqual(sc.items.map((b) => b.label), ['Summarize', 'Action items', 'Subjects', 'Ask assistant']);

  // The next summary: the gist, no details.
  const id = await meetingOf(base, 'ann@example.com', 'After the change');
  const ann = await signIn(base, 'ann@example.com', 'templates-ann');
  await ann.goto(pageOf(base, id));
  const region = ann.getByRole('region', { name: 'Summary' });
  await region.getByRole('heading', { name: 'Action items' }).waitFor({ timeout: 20_000 });
  assert.deepEqual(await region.locator('h3.section-title').allInnerTexts(), ['Gist', 'Action items']);
  await region.getByText(/^One line, call \d+\.$/).waitFor();
  await ann.context().close();

  // Back to the default, behind a confirmation.
  await page.getByRole('form', { name: 'Gist SUMMARY' }).getByRole('button', { name: 'Reset to default' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Reset' }).click();
  await entry('Summary SUMMARY').getByText('Default', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Reset all to defaults' }).nth(1).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Reset all' }).click();
  await entry('Topics topics').getByText('Default', { exact: true }).waitFor();
  await page.context().close();
  assert.deepEqual(problems, [], 'no console errors');
});
