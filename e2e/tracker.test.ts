// The tracker end to end: the built bundle in real Chromium against the strict local collector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startCollector, type Collector } from '../dev/collector/index';
import { launchChromium } from './harness/browser';
import { readFileSync } from 'node:fs';
import { startSite, trackerPage, until, type Site } from './harness/site';

let browser: Browser;
let collector: Collector;
let site: Site;

beforeAll(async () => {
  [browser, collector, site] = await Promise.all([launchChromium(), startCollector({ strict: true }), startSite()]);
});
afterAll(async () => {
  await Promise.all([browser?.close(), collector?.close(), site?.close()]);
});

const bodies = (c: Collector) => c.accepted().map((r) => r.body as { data: { attributes: Record<string, unknown>; meta?: { identifiers: Record<string, string> } } });
const rejected = (c: Collector) => c.requests().filter((r) => r.method === 'POST' && r.status !== 202);

describe('tracker in Chromium', () => {
  it('replays three identifies pushed before load, in order, schema-valid', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const url = site.page(
      '/three',
      await trackerPage({
        apiHost: collector.url,
        calls: `for (const n of [1, 2, 3]) window._klaviyo.push(['identify', { email: 'p' + n + '@example.com', $first_name: 'P' + n, plan: 'pro' + n }]);`,
      }),
    );
    // The order the browser sends them in. (Three people's requests run concurrently, so the server may
    // see them in another order; per person the last update wins, see the fault tests.)
    const sentOrder: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && sentOrder.push(JSON.parse(r.postData() ?? '{}').data.attributes.email));
    await page.goto(url);
    // Playwright reports the page's requests asynchronously: the collector may have all three before the test has
    // heard of the last two.
    await until(() => collector.accepted().length >= 3 && sentOrder.length >= 3, { describe: () => JSON.stringify(collector.requests()) });
    expect(rejected(collector)).toEqual([]);
    expect(sentOrder).toEqual(['p1@example.com', 'p2@example.com', 'p3@example.com']);
    const got = bodies(collector).sort((a, b) => String(a.data.attributes.email).localeCompare(String(b.data.attributes.email)));
    expect(got.map((b) => b.data.attributes.email)).toEqual(['p1@example.com', 'p2@example.com', 'p3@example.com']);
    expect(got[0]).toEqual({
      data: {
        type: 'profile',
        attributes: { email: 'p1@example.com', first_name: 'P1', properties: { plan: 'pro1' } },
        meta: { identifiers: { email: 'p1@example.com' } },
      },
    });
    const req = collector.accepted()[0]!;
    expect(req.path).toBe('/client/profiles/');
    expect(req.query).toEqual({ company_id: 'AbC123' });
    expect(req.headers.revision).toBe('2023-01-24');
    expect(req.headers['content-type']).toBe('application/json');
    await ctx.close();
  });

  it('works on a page with only window._klaviyo = window._klaviyo || [] (no stub)', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const url = site.page(
      '/nostub',
      await trackerPage({ apiHost: collector.url, stub: false, calls: `window._klaviyo.push(['identify', { $email: 'legacy@example.com', $city: 'Boston' }]);` }),
    );
    await page.goto(url);
    await until(() => collector.accepted().length >= 1);
    expect(bodies(collector)[0]!.data.attributes).toEqual({ email: 'legacy@example.com', location: { city: 'Boston' } });
    // After load, the methods exist and identify resolves once durable.
    await page.evaluate(() => (window as any)._klaviyo.identify({ email: 'after@example.com' }));
    await until(() => collector.accepted().length >= 2);
    expect(rejected(collector)).toEqual([]);
    await ctx.close();
  });

  it('carries ?_kx= from the URL, and on a later page from the cookie', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const kx = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers%3D.AbC123';
    site.page('/kx', await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { email: 'kx@example.com' }]);` }));
    site.page('/kx2', await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { first_name: 'Later' }]);` }));
    await page.goto(site.url + '/kx?_kx=' + kx);
    await until(() => collector.accepted().length >= 1);
    await page.goto(site.url + '/kx2');
    await until(() => collector.accepted().length >= 2);
    const ids = bodies(collector).map((b) => b.data.meta?.identifiers);
    expect(ids[0]).toEqual({ email: 'kx@example.com', _kx: decodeURIComponent(kx) });
    // The second page has no _kx in its URL and no email in the call: both come back from storage.
    expect(ids[1]).toEqual({ email: 'kx@example.com', _kx: decodeURIComponent(kx) });
    expect(rejected(collector)).toEqual([]);
    await ctx.close();
  });

  it('delivers an identify made right before navigating away, on the next visit', async () => {
    collector.reset();
    collector.fault({ mode: 'hang' }); // nothing gets through during the first visit
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const url = site.page('/nav', await trackerPage({ apiHost: collector.url }));
    await page.goto(url);
    await page.waitForFunction(() => (window as any)._klaviyo.loaded);
    await page.evaluate(() => (window as any)._klaviyo.identify({ email: 'leaving@example.com' }));
    await page.goto('about:blank');
    collector.clearFaults();
    await page.goto(url);
    await until(() => bodies(collector).some((b) => b.data.attributes.email === 'leaving@example.com'));
    expect(rejected(collector).filter((r) => r.status !== 0)).toEqual([]);
    await ctx.close();
  });

  it("runs the README's usage example as written, and its stats() has the documented keys", async () => {
    collector.reset();
    const readme = readFileSync('README.md', 'utf8');
    const example = readme.match(/```js\n([\s\S]*?)```/)![1]!;
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(site.page('/readme', await trackerPage({ apiHost: collector.url })));
    await page.waitForFunction(() => (window as any)._klaviyo.loaded);
    // The example's last expression is stats(): return it.
    const body = example.trim().replace(/\n(window\._klaviyo\.stats\(\);[^\n]*)$/, '\nreturn $1');
    const stats = await page.evaluate(`(async () => {\n${body}\n})()`);
    expect(Object.keys(stats as object)).toEqual(['queued', 'sent', 'retried', 'merged', 'dropped']);
    expect(Object.keys((stats as { dropped: object }).dropped)).toEqual(['invalid', 'client', 'gone', 'attempts', 'ttl', 'cap']);
    await until(() => collector.profiles().length >= 1);
    expect(collector.profiles()[0]!.attributes).toMatchObject({ email: 'sarah@example.com', first_name: 'Sarah', location: { city: 'Boston' }, properties: { plan: 'pro' } });
    expect(rejected(collector)).toEqual([]);
    await ctx.close();
  });
});
