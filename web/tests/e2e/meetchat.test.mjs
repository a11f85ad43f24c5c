// The meeting assistant panel and the chat over past meetings (issue 17), in a real browser
// against the real `rampart` binary with a fake OpenAI-compatible model that calls a tool: a
// recording is uploaded and transcribed by the pass-through recogniser ("utterance N ends");
// on its page the panel shows the administrators' shortcut buttons, a question streams its
// answer with the tool the model used shown as a step, and the chat is there again after a
// reload. On the meetings page "Ask about past meetings" answers with a citation whose source
// opens the meeting at the cited moment. axe-core checks both pages; a phone-sized screenshot
// shows the panel above the transcript.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium),
// the web bundle built (npm run build).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, axeViolations, apiToken, apiMeetingSearch, signInPage, fakeOpenAi, modelConfig, startRampart, launchBrowser, toneWav } from './harness.mjs';

let rampart, browser, base, upstream;

/** The fake model: with tools offered and no tool result yet it lists the meetings; with the
 * result it answers from it; asked about past meetings it cites the first search result. */
function answerFor(request) {
  const msgs = request.messages ?? [];
  const system = String(msgs[0]?.content ?? '');
  if (system.includes('<search_results>')) return 'It was said in the board call [1].';
  if (msgs.some((m) => m.role === 'tool')) return 'You have one meeting: the board call.';
  if (request.tools?.length) return { toolCall: { name: 'list_meetings', arguments: '{"limit": 5}' } };
  return 'A short summary.';
}

before(async () => {
  upstream = await fakeOpenAi(answerFor);
  rampart = await startRampart({
    tag: 'mchat',
    config: modelConfig(upstream, [{ id: 'default', name: 'Helper' }], { tools: true }),
    users: [['ann@example.com']],
    env: { RAMPART_SPEECH__ENGINE: 'passthrough', RAMPART_SPEECH__PASSTHROUGH_INTERVAL: '1s' },
  });
  base = rampart.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rampart?.stop();
  upstream?.close();
});




test('meeting assistant panel: shortcuts, a streamed answer with its steps, and past meetings cited at the moment', async () => {
  const ann = await apiToken(base, 'ann@example.com');
  const form = new FormData();
  form.append('file', new Blob([toneWav({ seconds: 12, rate: 16000, channels: 2 })], { type: 'audio/wav' }), 'board.wav');
  form.append('title', 'Board call');
  const up = await fetch(`${base}/v1/meetings/upload`, { method: 'POST', headers: { authorization: `Bearer ${ann}` }, body: form });
  assert.equal(up.status, 202);
  const id = (await up.json()).id;
  for (let i = 0; i < 300 && !(await apiMeetingSearch(base, ann, 'utterance 7')).length; i++) await new Promise((ok) => setTimeout(ok, 100));

  const { page, problems } = await signInPage(browser, base, 'ann@example.com');
  try {
    await page.goto(`${base}/meetings/${encodeURIComponent(id)}`);
    const panel = page.getByRole('region', { name: 'Meeting assistant' });
    await panel.waitFor();
    const shortcuts = panel.getByRole('group', { name: 'Shortcuts' });
    for (const name of ['Summarize', 'Action items', 'Topics', 'Ask assistant']) await shortcuts.getByRole('button', { name }).waitFor();

    await panel.getByLabel('Your question').fill('Which meetings do I have?');
    await panel.getByRole('button', { name: 'Ask', exact: true }).click();
    const answer = panel.getByRole('article', { name: 'Assistant' });
    await answer.getByText('You have one meeting: the board call.').first().waitFor();
    const steps = answer.locator('details.steps');
    await steps.getByText('Steps (1)').waitFor();
    await steps.locator('summary').click();
    assert.match((await steps.textContent()) ?? '', /list_meetings\s*done/);
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(SHOTS, 'meeting-assistant.png'), fullPage: true });

    // The chat is kept per meeting and user: there again after a reload.
    await page.reload();
    await page.getByRole('region', { name: 'Meeting assistant' }).getByText('You have one meeting: the board call.').first().waitFor();

    // A shortcut asks its prompt.
    await page.getByRole('group', { name: 'Shortcuts' }).getByRole('button', { name: 'Topics' }).click();
    await page.getByRole('region', { name: 'Meeting assistant' }).getByText('List the topics discussed so far', { exact: false }).waitFor();
    await page.getByRole('region', { name: 'Meeting assistant' }).getByRole('button', { name: 'Ask', exact: true }).waitFor({ timeout: 10_000 });

    // Past meetings: the answer cites the board call; its source opens the meeting at the moment.
    await page.goto(`${base}/meetings`);
    await page.getByRole('button', { name: 'Ask about past meetings' }).click();
    const past = page.getByRole('region', { name: 'Ask about past meetings' });
    await past.getByLabel('Your question').fill('When was utterance 7 said?');
    await past.getByLabel('Your question').press('Enter');
    const reply = past.getByRole('article', { name: 'Assistant' });
    await reply.getByText('It was said in the board call').waitFor();
    await reply.getByText(/Sources \(\d\)/).click();
    const source = reply.locator('details.sources a').first();
    assert.match((await source.textContent()) ?? '', /^Board call \(/);
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(SHOTS, 'past-meetings-chat.png'), fullPage: true });
    await source.click();
    await page.waitForURL(new RegExp(`/meetings/${encodeURIComponent(id)}\\?t=\\d+$`));
    await page.locator('section[aria-label="Transcript"] [aria-current="true"]').waitFor();
    assert.deepEqual(problems, []);
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, 'last-failure-meeting-chat.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await page.context().close();
  }

  // On a phone the panel comes before the long transcript.
  const phone = await signInPage(browser, base, 'ann@example.com', { width: 390, height: 844 });
  await phone.page.goto(`${base}/meetings/${encodeURIComponent(id)}`);
  await phone.page.getByRole('region', { name: 'Meeting assistant' }).getByText('You have one meeting: the board call.').first().waitFor();
  await phone.page.screenshot({ path: join(SHOTS, 'meeting-assistant-phone.png'), fullPage: false });
  await phone.page.context().close();
});
