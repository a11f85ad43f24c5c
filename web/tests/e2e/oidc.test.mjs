// Rampart as an OpenID provider, end to end: two relying parties written with the libraries
// people use — authlib (Python, a confidential client with client_secret_basic and PKCE) and
// openid-client (Node, client_secret_post and PKCE) — sign a user in through the real `rampart`
// binary's sign-in page (password, then TOTP) and consent screen in Debian's chromium. Each RP
// must end with an ID token whose signature and claims it verified, and UserInfo holding exactly
// the claims of the scopes it asked for. Also: consent remembered (the second visit goes straight
// back), prompt=login asks for the password again, max_age puts auth_time in the ID token,
// prompt=none without a sign-in comes back with login_required.
//
// Needs: RAMPART_BIN (default ../target/debug/rampart), CHROMIUM (default /usr/bin/chromium),
// RAMPART_TEST_PYTHON (default ../target/pyenv/bin/python, with authlib and requests: see the
// Makefile).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { root, BIN, CHROMIUM, SHOTS, PASSWORD, clean, freePort, axeViolations } from './harness.mjs';
import * as oidc from 'openid-client';

const PYTHON = process.env.RAMPART_TEST_PYTHON ?? join(root, '../target/pyenv/bin/python');
const EMAIL = 'rosa@example.com';

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 secret, for time step `step`. */
function totpAt(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

let lastStep = -1;
/** A code of a time step not used before (a used code is refused as a replay). */
async function freshTotp(secret) {
  let step = Math.floor(Date.now() / 30_000);
  if (step <= lastStep) {
    await new Promise((ok) => setTimeout(ok, (lastStep + 1) * 30_000 - Date.now() + 200));
    step = Math.floor(Date.now() / 30_000);
  }
  lastStep = step;
  return totpAt(secret, step);
}

/** A child process that is ready once it prints `ready` (or answers `probe`). */
async function started(cmd, args, env, probe) {
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  let exited = null;
  p.stdout.on('data', (c) => (said = (said + c).slice(-4000)));
  p.stderr.on('data', (c) => {
    said = (said + c).slice(-4000);
    process.stderr.write(c);
  });
  p.on('exit', (code, signal) => (exited = signal ?? code));
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && exited === null; ) {
    if (probe ? await probe().catch(() => false) : said.includes('ready')) return p;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  p.kill('SIGKILL');
  throw new Error(`${cmd} not ready (exit: ${exited}); it said: ${said || 'nothing'}`);
}

/** The Node relying party: openid-client, confidential (client_secret_post) with PKCE. */
async function nodeRp(issuer, port, secret) {
  const config = await oidc.discovery(new URL(issuer), 'node-rp', secret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  // ID tokens from the token endpoint get their signature checked against the JWKS too.
  oidc.enableNonRepudiationChecks(config);
  const redirect_uri = `http://127.0.0.1:${port}/cb`;
  const pending = new Map();
  let result = {};
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, redirect_uri);
    const json = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/login') {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const extra = Object.fromEntries(url.searchParams);
      pending.set(state, { verifier, nonce, extra });
      const to = oidc.buildAuthorizationUrl(config, {
        redirect_uri,
        scope: 'openid profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...extra,
      });
      return json(302, {}, { location: to.href });
    }
    if (url.pathname === '/cb') {
      const p = pending.get(url.searchParams.get('state')) ?? {};
      try {
        const tokens = await oidc.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: p.verifier,
          expectedState: url.searchParams.get('state'),
          expectedNonce: p.nonce,
          maxAge: p.extra?.max_age ? Number(p.extra.max_age) : undefined,
        });
        const claims = tokens.claims();
        const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        result = { verified: true, id_token: claims, userinfo };
      } catch (e) {
        // An error response from the provider (after openid-client checked its state and iss).
        result = typeof e?.error === 'string' ? { error: e.error } : { failed: `${e.name}: ${e.message}` };
      }
      return json(200, result);
    }
    if (url.pathname === '/result') return json(200, result);
    json(404, {});
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return server;
}

let rampart, pyRp, nodeServer, browser, base, py, node, totpSecret;

before(async () => {
  for (const [what, path] of [
    ['rampart', BIN],
    ['chromium', CHROMIUM],
    ['the test venv (make target/pyenv/.authlib)', PYTHON],
  ]) {
    assert.ok(existsSync(path), `${path} is missing: ${what}`);
  }
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'rampart-oidc-'));
  const [port, pyPort, nodePort] = [await freePort(), await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  py = `http://127.0.0.1:${pyPort}`;
  node = `http://127.0.0.1:${nodePort}`;
  const pySecretFile = join(dir, 'py-rp.secret');
  writeFileSync(pySecretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  const nodeSecret = randomBytes(32).toString('base64url');
  const conf = join(dir, 'rampart.toml');
  writeFileSync(
    conf,
    `[[auth.oauth_clients]]\nclient_id = "py-rp"\nname = "Python Wiki"\nredirect_uris = ["${py}/cb"]\n` +
      `client_secret_file = "${pySecretFile}"\n\n` +
      `[[auth.oauth_clients]]\nclient_id = "node-rp"\nname = "Node Tracker"\nredirect_uris = ["${node}/cb"]\n` +
      `client_secret = "${nodeSecret}"\n\n[access_log]\ntarget = "off"\n`,
  );
  const env = {
    ...clean(process.env),
    RAMPART_DATA_DIR: dir,
    RAMPART_LISTEN: `127.0.0.1:${port}`,
    RAMPART_CONFIG: conf,
    RAMPART_AUTH__ARGON2__MEMORY_KIB: '8192',
    RAMPART_AUTH__ARGON2__ITERATIONS: '1',
    RAMPART_LOG: 'warn',
  };
  execFileSync(BIN, ['user', 'add', '--email', EMAIL, '--display-name', 'Rosa Diaz', '--password-stdin'], {
    input: PASSWORD,
    env,
  });
  rampart = await started(BIN, ['serve'], env, async () => (await fetch(`${base}/readyz`)).ok);
  // The user turns on TOTP (through the API: the browser part is in app.test.mjs).
  const call = async (path, token, body) => {
    const r = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    assert.ok(r.ok, `${path}: ${r.status} ${await r.clone().text()}`);
    return r.json();
  };
  const { accessToken } = await call('/v1/auth/login', null, { username: EMAIL, password: PASSWORD });
  totpSecret = (await call('/v1/me/mfa/totp', accessToken, {})).secret;
  await call('/v1/me/mfa/totp/verify', accessToken, { code: await freshTotp(totpSecret) });

  pyRp = await started(PYTHON, [join(root, 'tests/e2e/rp_authlib.py'), base, 'py-rp', pySecretFile, String(pyPort)], clean(process.env));
  nodeServer = await nodeRp(base, nodePort, nodeSecret);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  nodeServer?.close();
  pyRp?.kill('SIGTERM');
  rampart?.kill('SIGTERM');
});

/** Password and TOTP on Rampart's sign-in page, which names the application asking. */
async function signIn(page, appName) {
  await page.waitForURL(`${base}/authorize?**`);
  assert.match(await page.getByTestId('authorize-for').innerText(), new RegExp(`continue to ${appName}`));
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Code from your authenticator app, or a recovery code').fill(await freshTotp(totpSecret));
  await page.getByRole('button', { name: 'Verify' }).click();
}

/** What the RP at `rp` ended with, once the browser is back there. */
async function outcome(page, rp) {
  await page.waitForURL(`${rp}/cb?**`);
  return (await fetch(`${rp}/result`)).json();
}

function onFailure(t, page, name) {
  const problems = [];
  // Rampart's pages only (the RPs' pages are JSON without a favicon).
  page.on('console', (m) => {
    if (m.type() === 'error' && m.location().url.startsWith(base)) problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(e.message));
  t.after(async () => {
    if (!page.isClosed()) await page.screenshot({ path: join(SHOTS, `oidc-${name}.png`), fullPage: true }).catch(() => {});
    if (problems.length) t.diagnostic(problems.join(' | '));
  });
  return problems;
}

test('authlib RP: sign-in with TOTP, consent naming the app and scopes, verified ID token, remembered consent, prompt=login', async (t) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = onFailure(t, page, 'authlib');
  await page.goto(`${py}/login`);
  await signIn(page, 'Python Wiki');
  await page.getByRole('heading', { name: 'Allow Python Wiki?' }).waitFor();
  assert.deepEqual(await page.getByTestId('consent-scopes').getByRole('listitem').allInnerTexts(), [
    'Who you are: an identifier for your Rampart account',
    'Your email address',
  ]);
  await page.screenshot({ path: join(SHOTS, 'oidc-consent.png') });
  await page.getByRole('button', { name: 'Allow' }).click();
  let r = await outcome(page, py);
  assert.equal(r.verified, true, JSON.stringify(r));
  assert.equal(r.id_token.email, EMAIL);
  assert.equal(r.id_token.name, undefined, 'no profile scope, no name');
  assert.deepEqual(Object.keys(r.userinfo).sort(), ['email', 'sub']);
  assert.equal(r.userinfo.sub, r.id_token.sub);

  // Again: signed in and consent remembered, so straight back with a new code.
  await page.goto(`${py}/login`);
  r = await outcome(page, py);
  assert.equal(r.verified, true, JSON.stringify(r));

  // prompt=login: the password again, even though the browser is signed in.
  await page.goto(`${py}/login?prompt=login`);
  await signIn(page, 'Python Wiki');
  r = await outcome(page, py);
  assert.equal(r.verified, true, JSON.stringify(r));
  assert.ok(Math.abs(r.id_token.auth_time - Date.now() / 1000) < 60, `auth_time ${r.id_token.auth_time} is the new sign-in`);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('openid-client RP: profile scope, max_age and auth_time, a refusal, prompt=none without a sign-in', async (t) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = onFailure(t, page, 'openid-client');
  // prompt=none with no sign-in in this browser: back at once with login_required.
  await page.goto(`${node}/login?prompt=none`);
  assert.deepEqual(await outcome(page, node), { error: 'login_required' });

  await page.goto(`${node}/login?max_age=600`);
  await signIn(page, 'Node Tracker');
  await page.getByRole('heading', { name: 'Allow Node Tracker?' }).waitFor();
  assert.deepEqual(await page.getByTestId('consent-scopes').getByRole('listitem').allInnerTexts(), [
    'Who you are: an identifier for your Rampart account',
    'Your name and groups',
  ]);
  // Cancel first: the RP hears access_denied and gets nothing.
  await page.getByRole('button', { name: 'Cancel' }).click();
  assert.deepEqual(await outcome(page, node), { error: 'access_denied' });

  await page.goto(`${node}/login?max_age=600`);
  await page.getByRole('button', { name: 'Allow' }).click();
  const r = await outcome(page, node);
  assert.equal(r.verified, true, JSON.stringify(r));
  assert.equal(r.id_token.aud, 'node-rp');
  assert.equal(typeof r.id_token.auth_time, 'number');
  assert.equal(r.id_token.name, 'Rosa Diaz');
  assert.equal(r.id_token.email, undefined, 'no email scope, no email');
  assert.deepEqual(Object.keys(r.userinfo).sort(), ['groups', 'name', 'sub']);
  assert.equal(r.userinfo.name, 'Rosa Diaz');

  // Now signed in and consented: prompt=none succeeds silently.
  await page.goto(`${node}/login?prompt=none`);
  assert.equal((await outcome(page, node)).verified, true);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('the sign-in and consent pages for another application pass axe in the light and the dark theme', async () => {
  // axe is injected as a script, which the app's CSP forbids: this context bypasses the CSP
  // (the tests above load the pages under it).
  const ctx = await browser.newContext({ bypassCSP: true, colorScheme: 'light' });
  const page = await ctx.newPage();
  const report = [];
  await page.goto(`${node}/login?prompt=consent`);
  await page.getByTestId('authorize-for').waitFor();
  for (const v of await axeViolations(page)) report.push(`sign-in: ${v}`);
  await signIn(page, 'Node Tracker');
  // Signed in (the refresh cookie set) before the reloads below, or a reload could land between
  // Verify and its answer and show the sign-in page again.
  await page.getByRole('heading', { name: 'Allow Node Tracker?' }).waitFor();
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.reload();
    await page.getByRole('heading', { name: 'Allow Node Tracker?' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), scheme);
    for (const v of await axeViolations(page)) report.push(`consent (${scheme}): ${v}`);
  }
  assert.deepEqual(report, []);
  await ctx.close();
});
