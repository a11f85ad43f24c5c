// Passwords in a real browser (Debian's chromium through playwright-core) against the real
// `rampart` binary: an administrator's temporary password must be replaced at the first
// sign-in before any page opens, and a signed-in user changes their password on the Account
// page, which ends their other sign-ins; "Forgot password?" sends a link through a real local SMTP
// server (aiosmtpd from the test venv, when there is one) that sets a new password once.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium);
// for the reset test a Python with aiosmtpd (RAMPART_TEST_PYTHON, default ../target/pyenv).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, SHOTS, PASSWORD, freePort, startRampart, launchBrowser } from './harness.mjs';

let rampart, base, browser, smtp, maildir;
const problems = [];

/** The environment without RAMPART_* (they would be configuration keys for the server). */

async function api(method, path, token, body) {
  const r = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

function watch(page, name) {
  page.on('console', (m) => m.type() === 'error' && problems.push(`${name}: console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
}

before(async () => {
  const python = process.env.RAMPART_TEST_PYTHON ?? join(root, '../target/pyenv/bin/python');
  let mail = {};
  try {
    execFileSync(python, ['-c', 'import aiosmtpd'], { stdio: 'ignore' });
    const smtpPort = await freePort();
    maildir = join(mkdtempSync(join(tmpdir(), 'rampart-e2e-mail-')), 'maildir');
    smtp = spawn(python, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], { stdio: 'ignore' });
    mail = { RAMPART_MAIL__HOST: '127.0.0.1', RAMPART_MAIL__PORT: String(smtpPort), RAMPART_MAIL__TLS: 'none', RAMPART_MAIL__FROM: 'Rampart <rampart@example.com>' };
  } catch {
    /* no aiosmtpd: the reset test is skipped */
  }
  rampart = await startRampart({ tag: 'pw', users: [['admin@example.com', 'admin']], env: mail });
  base = rampart.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  rampart?.stop();
  smtp?.kill('SIGTERM');
});

async function signIn(page, email, password) {
  await page.goto(base + '/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a temporary password is replaced at the first sign-in before anything opens', async (t) => {
  const admin = (await api('POST', '/v1/auth/login', null, { username: 'admin@example.com', password: PASSWORD })).body.accessToken;
  const created = await api('POST', '/v1/admin/users', admin, { email: 'newbie@example.com' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const temp = created.body.temporaryPassword;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  watch(page, 'newbie');
  t.after(() => page.screenshot({ path: join(SHOTS, 'passwords-last.png'), fullPage: true }).catch(() => {}));

  await signIn(page, 'newbie@example.com', temp);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'forced-password-change.png') });
  // Nothing else opens: the app has no sign-in yet, and going elsewhere lands on sign-in.
  assert.equal(await page.getByRole('link', { name: 'Account' }).count(), 0);
  // The policy is the server's: a short one is refused with its message.
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('New password again').fill('short');
  await page.evaluate(() => document.querySelectorAll('input[minlength]').forEach((i) => i.removeAttribute('minlength')));
  const beforeRefusal = problems.length;
  await page.getByRole('button', { name: 'Set password and continue' }).click();
  await page.getByRole('alert').getByText('at least 12 characters').waitFor();
  problems.splice(beforeRefusal, problems.length - beforeRefusal, ...problems.slice(beforeRefusal).filter((p) => !/ 400 /.test(p)));
  await page.getByLabel('New password', { exact: true }).fill('my very own passphrase');
  await page.getByLabel('New password again').fill('my very own passphrase');
  await page.getByRole('button', { name: 'Set password and continue' }).click();
  await page.waitForURL('**/chat');
  // The temporary password is spent; the chosen one signs in directly.
  assert.equal((await api('POST', '/v1/auth/login', null, { username: 'newbie@example.com', password: temp })).status, 401);
  const l = await api('POST', '/v1/auth/login', null, { username: 'newbie@example.com', password: 'my very own passphrase' });
  assert.ok(l.body.accessToken, JSON.stringify(l.body));
  assert.deepEqual(problems, [], 'no console errors');
  await ctx.close();
});

test('a user changes their password on the Account page; other sign-ins end', async (t) => {
  const admin = (await api('POST', '/v1/auth/login', null, { username: 'admin@example.com', password: PASSWORD })).body.accessToken;
  assert.equal((await api('POST', '/v1/admin/users', admin, { email: 'cara@example.com', password: PASSWORD })).status, 201);
  const elsewhere = await api('POST', '/v1/auth/login', null, { username: 'cara@example.com', password: PASSWORD });
  assert.equal((await api('GET', '/v1/me', elsewhere.body.accessToken)).status, 200);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  watch(page, 'cara');
  t.after(() => page.screenshot({ path: join(SHOTS, 'passwords-last.png'), fullPage: true }).catch(() => {}));

  await signIn(page, 'cara@example.com', PASSWORD);
  await page.waitForURL('**/chat');
  await page.getByRole('link', { name: 'Account' }).click();
  // A wrong current password is refused and changes nothing.
  await page.getByLabel('Current password').fill('not the password');
  await page.getByLabel('New password', { exact: true }).fill('cara has a new passphrase');
  await page.getByLabel('New password again').fill('cara has a new passphrase');
  const beforeRefusal = problems.length;
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').getByText('The current password is incorrect.').waitFor();
  problems.splice(beforeRefusal, problems.length - beforeRefusal, ...problems.slice(beforeRefusal).filter((p) => !/ 403 /.test(p)));
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').getByText('Password changed.').waitFor();
  await page.screenshot({ path: join(SHOTS, 'account-password.png') });
  // This sign-in goes on; the other one has ended; the new password signs in.
  await page.reload();
  await page.getByRole('heading', { name: 'Account' }).waitFor();
  assert.equal((await api('GET', '/v1/me', elsewhere.body.accessToken)).status, 401);
  assert.equal((await api('POST', '/v1/auth/refresh', null, { refreshToken: elsewhere.body.refreshToken })).status, 401);
  const l = await api('POST', '/v1/auth/login', null, { username: 'cara@example.com', password: 'cara has a new passphrase' });
  assert.ok(l.body.accessToken, JSON.stringify(l.body));
  assert.deepEqual(problems, [], 'no console errors');
  await ctx.close();
});

/** The messages the SMTP sink has received, raw, waiting up to ten seconds for at least one. */
async function mailbox() {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    const dir = join(maildir, 'new');
    const files = existsSync(dir) ? readdirSync(dir) : [];
    if (files.length) return files.map((f) => readFileSync(join(dir, f), 'utf8'));
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return [];
}

test('"Forgot password?" sends a link that sets a new password once', async (t) => {
  if (!smtp) return t.skip('no Python with aiosmtpd (RAMPART_TEST_PYTHON or target/pyenv)');
  const admin = (await api('POST', '/v1/auth/login', null, { username: 'admin@example.com', password: PASSWORD })).body.accessToken;
  assert.equal((await api('POST', '/v1/admin/users', admin, { email: 'dana@example.com', password: PASSWORD })).status, 201);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  watch(page, 'dana');
  t.after(() => page.screenshot({ path: join(SHOTS, 'passwords-last.png'), fullPage: true }).catch(() => {}));

  await page.goto(base + '/login');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.waitForURL('**/reset-password');
  await page.getByLabel('Email').fill('dana@example.com');
  await page.getByRole('button', { name: 'Send link' }).click();
  await page.getByRole('status').getByText('If an account uses this address').waitFor();
  const [raw] = await mailbox();
  assert.ok(raw, 'a message arrived');
  const text = raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const link = /(http:\/\/\S+\/reset-password#token=[A-Za-z0-9_-]+)/.exec(text)?.[1];
  assert.ok(link?.startsWith(base), text);

  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the token is cleared from the address bar');
  await page.getByLabel('New password', { exact: true }).fill('dana reset this passphrase');
  await page.getByLabel('New password again').fill('dana reset this passphrase');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByRole('status').getByText('Your password is changed').waitFor();
  await page.screenshot({ path: join(SHOTS, 'password-reset.png') });
  // The link works once.
  const token = link.split('#token=')[1];
  assert.equal((await api('POST', '/v1/auth/password-reset/confirm', null, { token, newPassword: 'yet another passphrase' })).status, 401);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill('dana@example.com');
  await page.getByLabel('Password').fill('dana reset this passphrase');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/chat');
  assert.deepEqual(problems, [], 'no console errors');
  await ctx.close();
});
