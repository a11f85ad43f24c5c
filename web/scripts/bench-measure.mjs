// Measurements for bench/web-load.sh (here, beside web/node_modules, for playwright-core).
import { chromium } from 'playwright-core';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.BASE;
const seeded = JSON.parse(process.env.SEEDED);
const runs = Number(process.env.RUNS ?? 5);
const dist = new URL('../dist/', import.meta.url).pathname;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

// 1. The app shell as stored: every file index.html loads, plain / gzip / brotli.
const shell = ['index.html', ...readdirSync(join(dist, 'assets')).filter((f) => /\.(js|css)$/.test(f)).map((f) => `assets/${f}`)];
const size = (f) => statSync(join(dist, f)).size;
const sum = (ext) => shell.reduce((n, f) => n + (ext ? size(f + ext) : size(f)), 0);
console.log(`app shell: ${shell.length} files, ${(sum('') / 1024).toFixed(1)} KB plain, ${(sum('.gz') / 1024).toFixed(1)} KB gzip, ${(sum('.br') / 1024).toFixed(1)} KB brotli`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

// 2. Transfer on a cold first load, and time to interactive of the sign-in page.
const tti = [];
let transferred = 0;
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => (bytes += e.encodedDataLength));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').waitFor();
  // Interactive: the form accepts input (measured in the page, from navigation start).
  await page.getByLabel('Email').fill('x');
  tti.push(await page.evaluate(() => performance.now()));
  transferred = bytes;
  await ctx.close();
}
console.log(`first load: ${(transferred / 1024).toFixed(1)} KB transferred (headers included, cold cache); sign-in page interactive after ${ms(median(tti))} median of ${runs} (min ${ms(Math.min(...tti))}, max ${ms(Math.max(...tti))})`);

// 3. Sign in, open the long session, show earlier messages.
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
await page.goto(`${base}/login`);
await page.getByLabel('Email').fill(seeded.email);
await page.getByLabel('Password').fill(seeded.password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForURL('**/chat');
const open = [];
const more = [];
let longTasks = 0;
for (let i = 0; i < runs; i++) {
  await page.goto(`${base}/chat`);
  await page.getByRole('button', { name: 'New chat' }).waitFor();
  await page.evaluate(() => {
    window.__lt = 0;
    new PerformanceObserver((l) => l.getEntries().forEach((e) => (window.__lt += e.duration))).observe({ type: 'longtask', buffered: false });
  });
  const t0 = await page.evaluate(() => performance.now());
  await page.getByRole('link', { name: /^Question 0/ }).first().click();
  await page.getByText(`Question ${seeded.messages ? 0 : 0}`).first().waitFor({ state: 'attached' }).catch(() => {});
  await page.getByRole('button', { name: /earlier messages/ }).waitFor();
  const t1 = await page.evaluate(() => performance.now());
  open.push(t1 - t0);
  const t2 = await page.evaluate(() => performance.now());
  await page.getByRole('button', { name: /earlier messages/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('article').length >= 200);
  more.push((await page.evaluate(() => performance.now())) - t2);
  longTasks = Math.max(longTasks, await page.evaluate(() => window.__lt));
}
const count = await page.locator('article').count();
console.log(`session of 2,000 messages: opened (newest 100 rendered) in ${ms(median(open))} median; 100 earlier ones in ${ms(median(more))}; long tasks at most ${ms(longTasks)} per open; ${count} messages in the DOM after one "show earlier"`);

// 4. The admin user list over 10,000 users: first page, a search, the next page.
const first = [];
const search = [];
const next = [];
for (let i = 0; i < runs; i++) {
  const t0 = Date.now();
  await page.goto(`${base}/admin/users`);
  await page.getByRole('cell', { name: /@example.com/ }).first().waitFor();
  first.push(Date.now() - t0);
  const t1 = Date.now();
  await page.getByLabel('Search users').fill('user0999');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('cell', { name: 'user09999@example.com' }).waitFor();
  search.push(Date.now() - t1);
  await page.getByLabel('Search users').fill('');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 50);
  const t2 = Date.now();
  await page.getByRole('button', { name: 'More' }).click();
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 100);
  next.push(Date.now() - t2);
}
console.log(`admin users (10,001): first page of 50 in ${ms(median(first))} (navigation included), search in ${ms(median(search))}, next page in ${ms(median(next))}, medians of ${runs}`);
await browser.close();
