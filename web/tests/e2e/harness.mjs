// What the browser test files share: where the binary, the browser and the screenshots are, a
// free port, the environment without RAMPART_* keys, waiting for a server to be ready, axe-core's
// WCAG 2.1 A/AA check, a fake OpenAI-compatible model streaming chat completion chunks, and a
// `rampart serve` on a fresh data directory with its users, and tone WAV files.
// (Not a test file: `node --test` picks only *.test.mjs.)

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const root = new URL('../../', import.meta.url).pathname;
export const BIN = process.env.RAMPART_BIN ?? join(root, '../target/debug/rampart');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = join(root, 'test-results');
export const PASSWORD = 'a long enough passphrase';

/** The environment without RAMPART_* (they would be configuration keys for the server). */
export function clean(env) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('RAMPART_')));
}

/** A port the kernel says is free now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const l = createNetServer();
    l.once('error', fail);
    l.listen(0, '127.0.0.1', () => {
      const { port } = l.address();
      l.close(() => ok(port));
    });
  });
}

/** Waits until `base`/readyz answers 200 (at most `ms`). */
export async function untilReady(base, ms = 30_000) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** axe-core's WCAG 2.1 A/AA violations on the page as it is (the context must bypass the CSP). */
export async function axeViolations(page) {
  await page.addScriptTag({ path: join(root, 'node_modules/axe-core/axe.min.js') });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  });
}

/** A fake OpenAI chat-completions server: the answer `answerFor(request body)` (or a promise of
 * it) streamed in pieces of `piece` characters as SSE chunks, then `finish_reason` and
 * `[DONE]`; or, when the request does not ask to stream, one `chat.completion`; an answer
 * `{ status }` is an OpenAI error with that HTTP status instead, and `{ toolCall: { name,
 * arguments } }` a streamed call of that tool (finish reason `tool_calls`). */
export function fakeOpenAi(answerFor, piece = 12) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const request = JSON.parse(body || '{}');
      const answer = await answerFor(request);
      if (typeof answer === 'object' && answer.toolCall) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const call = { index: 0, id: 'call_1', type: 'function', function: { name: answer.toolCall.name, arguments: answer.toolCall.arguments } };
        res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { tool_calls: [call] } }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })}\n\n`);
        return res.end('data: [DONE]\n\n');
      }
      if (typeof answer === 'object') {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'refused', type: 'invalid_request_error' } }));
      }
      if (request.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const message = { role: 'assistant', content: answer };
        res.end(JSON.stringify({ id: 'c', object: 'chat.completion', model: request.model, choices: [{ index: 0, message, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const part of answer.match(new RegExp(`[\\s\\S]{1,${piece}}`, 'g'))) {
        res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: part } }] })}\n\n`);
        await new Promise((ok) => setTimeout(ok, 10));
      }
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** A configuration with one OpenAI-compatible model (`local`, at `upstream`; offered tools when
 * `tools`) and `assistants` ({ id, name, description? }) on it. */
export function modelConfig(upstream, assistants, { tools = false } = {}) {
  const model = `[[models]]\nid = "local"\nprovider = "openai"\nbase_url = "http://127.0.0.1:${upstream.address().port}/v1"\nmodel = "m"\n${tools ? 'tools = true\n' : ''}`;
  const one = (a) =>
    `\n[[assistants]]\nid = "${a.id}"\nname = "${a.name}"\n${a.description ? `description = "${a.description}"\n` : ''}kind = "model"\nmodel = "local"\n`;
  return model + assistants.map(one).join('');
}

/** `rampart serve` on a fresh data directory (`tag` names it): `config` (TOML text) as its
 * configuration file when given, `users` ([email, ...groups]) added first with PASSWORD, `env`
 * extra variables. Argon2 made cheap, no access log. */
export async function startRampart({ tag, config, users = [], env: extra = {} }) {
  assert.ok(existsSync(BIN), `${BIN} is missing (cargo build --bin rampart)`);
  mkdirSync(SHOTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), `rampart-e2e-${tag}-`));
  const env = {
    ...clean(process.env),
    RAMPART_DATA_DIR: dataDir,
    RAMPART_AUTH__ARGON2__MEMORY_KIB: '8192',
    RAMPART_AUTH__ARGON2__ITERATIONS: '1',
    RAMPART_ACCESS_LOG__TARGET: 'off',
    RAMPART_LOG: 'error',
    ...extra,
  };
  if (config) {
    env.RAMPART_CONFIG = join(dataDir, 'rampart.toml');
    writeFileSync(env.RAMPART_CONFIG, config);
  }
  for (const [email, ...groups] of users) {
    const args = ['user', 'add', '--email', email, ...groups.flatMap((g) => ['--group', g]), '--password-stdin'];
    execFileSync(BIN, args, { input: PASSWORD, env });
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const srv = spawn(BIN, ['serve'], { env: { ...env, RAMPART_LISTEN: `127.0.0.1:${port}` }, stdio: ['ignore', 'ignore', 'inherit'] });
  await untilReady(base);
  return { base, dataDir, stop: () => srv.kill('SIGTERM') };
}

/** A 16-bit PCM WAV of `seconds` of a tone at `hz` (the second channel, if any, inverted). */
export function toneWav({ seconds = 2, rate = 48000, hz = 440, channels = 1 } = {}) {
  const n = seconds * rate;
  const frame = 2 * channels;
  const b = Buffer.alloc(44 + n * frame);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * frame, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * frame, 28);
  b.writeUInt16LE(frame, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * frame, 40);
  for (let i = 0; i < n; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 0.4 * 32767);
    for (let c = 0; c < channels; c++) b.writeInt16LE(c ? -v : v, 44 + i * frame + c * 2);
  }
  return b;
}

/** Debian's chromium, headless. */
export function launchBrowser() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** An access token for `email` (signed in with PASSWORD through the API). */
export async function apiToken(base, email) {
  const r = await fetch(`${base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password: PASSWORD }) });
  return (await r.json()).accessToken;
}

/** `GET /v1/meetings/search?q=` as token `t` sees it: the items (asserting a 200). */
export async function apiMeetingSearch(base, t, q) {
  const r = await fetch(`${base}/v1/meetings/search?q=${encodeURIComponent(q)}`, { headers: { authorization: `Bearer ${t}` } });
  assert.equal(r.status, 200);
  return (await r.json()).items;
}

/** A new browser context signed in as `email` through the sign-in page, on the chat page; page
 * errors are collected in `problems`. */
export async function signInPage(browser, base, email, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport, bypassCSP: true });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  return { page, problems };
}
