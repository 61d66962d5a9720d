// The `npm start` experience in real Chromium: the demo page (snippet pasted, strict CSP) sends an
// identify from its form, and the profile appears on the collector's live page without a reload.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startDemo, type Demo } from '../dev/start';
import { launchChromium } from './harness/browser';

let browser: Browser;
let demo: Demo;

beforeAll(async () => {
  [browser, demo] = await Promise.all([launchChromium(), startDemo({ port: 0 })]);
});
afterAll(async () => {
  await Promise.all([browser?.close(), demo?.close()]);
});

it('the demo form sends an identify and the live page shows the profile', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const problems: string[] = [];
  ctx.on('console', (m) => {
    // CSP violations and tracker errors both land here as errors.
    if (m.type() === 'error') problems.push(`${m.text()} (${m.location().url})`);
  });
  ctx.on('weberror', (e) => problems.push(String(e.error())));

  // The live page first, so the profile must arrive through its live updates.
  const live = await ctx.newPage();
  await live.goto(demo.liveUrl);
  await live.getByText('No profile yet.').waitFor();

  const page = await ctx.newPage();
  await page.goto(demo.demoUrl);
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Favourite colour').fill('teal');
  await page.getByRole('button', { name: 'Send identify' }).click();
  await page.getByText('Queued identify for ada@example.com').waitFor();

  const row = live.locator('#profiles tbody tr', { hasText: 'ada@example.com' });
  await row.waitFor({ timeout: 30_000 });
  expect(await row.textContent()).toContain('teal');
  await live.locator('#requests tbody tr', { hasText: '202' }).first().waitFor();

  mkdirSync('test-output', { recursive: true });
  await live.screenshot({ path: 'test-output/demo-live.png', fullPage: true });

  expect(demo.collector.profiles('AbC123')).toMatchObject([
    { identifiers: { email: 'ada@example.com' }, attributes: { email: 'ada@example.com', first_name: 'Ada', properties: { favorite_color: 'teal' } }, updates: 1 },
  ]);
  expect(demo.collector.requests().filter((r) => r.method === 'POST' && r.status !== 202)).toEqual([]);
  expect(problems).toEqual([]);

  // Input the tracker refuses (the browser's own email check lets `a@b` through) is reported as refused.
  await page.getByLabel('Email').fill('a@b');
  await page.getByRole('button', { name: 'Send identify' }).click();
  await page.getByText('Refused: [klaviyo] identify: email must be an email address').waitFor();
  await ctx.close();
});
