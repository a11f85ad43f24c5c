// Search over past meetings (issue 17), in a real browser against the real `rampart` binary: a
// 30-second recording is uploaded and transcribed by the pass-through recogniser (one
// "utterance N ends" per second and channel); on the meetings page a search finds the passage
// said at 0:24; the link opens the meeting there — that segment marked and in view, the
// recording's player moved to 24 s. Another user's search does not find it. axe-core checks the
// results page.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium),
// the web bundle built (npm run build).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, axeViolations, apiToken, apiMeetingSearch, signInPage, startRampart, launchBrowser, toneWav } from './harness.mjs';

let rampart, browser, base;

before(async () => {
  rampart = await startRampart({
    tag: 'msearch',
    users: [['ann@example.com'], ['bob@example.com']],
    env: { RAMPART_SPEECH__ENGINE: 'passthrough', RAMPART_SPEECH__PASSTHROUGH_INTERVAL: '1s' },
  });
  base = rampart.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rampart?.stop();
});




test('meeting search: a passage found on the meetings page opens its meeting at that moment', async () => {
  const ann = await apiToken(base, 'ann@example.com');
  const form = new FormData();
  form.append('file', new Blob([toneWav({ seconds: 30, rate: 16000, channels: 2 })], { type: 'audio/wav' }), 'board.wav');
  form.append('title', 'Board call');
  const up = await fetch(`${base}/v1/meetings/upload`, { method: 'POST', headers: { authorization: `Bearer ${ann}` }, body: form });
  assert.equal(up.status, 202);
  const id = (await up.json()).id;
  // Transcribed, ended and indexed in the background.
  for (let i = 0; i < 300 && !(await apiMeetingSearch(base, ann, 'utterance 25')).length; i++) await new Promise((ok) => setTimeout(ok, 100));
  assert.equal((await apiMeetingSearch(base, ann, 'utterance 25'))[0]?.meeting.id, id);

  const { page, problems } = await signInPage(browser, base, 'ann@example.com');
  try {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Meetings' }).click();
    await page.getByLabel('Search past meetings').fill('utterance 25');
    await page.getByLabel('Search past meetings').press('Enter');
    const results = page.getByRole('region', { name: 'Search results' });
    await results.getByRole('link', { name: 'Board call' }).waitFor();
    assert.equal(await page.getByRole('list', { name: 'Meetings' }).count(), 0, 'the list is hidden while results are shown');
    const cite = results.getByRole('link', { name: /^0:24 · / }).first();
    assert.match((await cite.locator('xpath=..').textContent()) ?? '', /utterance 25 ends/);
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(SHOTS, 'meeting-search.png'), fullPage: true });

    await cite.click();
    await page.waitForURL(/\?t=24000$/);
    const marked = page.locator('section[aria-label="Transcript"] [aria-current="true"]');
    await marked.waitFor();
    assert.match((await marked.textContent()) ?? '', /0:24[\s\S]*utterance 25 ends/);
    const inView = await marked.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const box = el.closest('section').getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom;
    });
    assert.ok(inView, 'the cited segment is scrolled into the transcript’s view');
    await page.waitForFunction(() => Math.abs((document.querySelector('audio')?.currentTime ?? -1) - 24) < 0.5, null, { timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'meeting-cited.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, 'last-failure-meeting-search.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await page.context().close();
  }

  // Not shared with Bob: his search finds nothing, in the browser too.
  assert.deepEqual(await apiMeetingSearch(base, await apiToken(base, 'bob@example.com'), 'utterance 25'), []);
  const bob = await signInPage(browser, base, 'bob@example.com');
  await bob.page.goto(`${base}/meetings`);
  await bob.page.getByLabel('Search past meetings').fill('utterance 25');
  await bob.page.getByRole('button', { name: 'Search', exact: true }).click();
  await bob.page.getByText('No meeting matches “utterance 25”.').waitFor();
  await bob.page.context().close();
});
