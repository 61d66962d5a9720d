// The tracker end to end: the built bundle against the strict local collector, in every engine installed here
// (Chromium, Firefox, WebKit through the engine adapter, e2e/harness/engines), each launched once for this file.
// Prints which engines ran and which were skipped and why, and what each engine's run took.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { startCollector, type Collector } from '../dev/collector/index';
import { eachEngine } from './harness/engines';
import { accepted, acceptedBodies, expectRequests, isAccepted, isRefused, posts } from './harness/requests';
import { startSite, trackerPage, type Site } from './harness/site';
import { bundleLoaded } from './harness/tracker';
import { until } from './harness/wait';

if (!existsSync('dist/klaviyo.js') || !existsSync('dist/snippet.min.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

let collector: Collector;
let site: Site;

beforeAll(async () => {
  [collector, site] = await Promise.all([startCollector({ strict: true }), startSite()]);
});
afterAll(async () => {
  await Promise.all([collector?.close(), site?.close()]);
});

const withEmail = (email: string) => ({ data: { attributes: { email } } });

/**
 * The order the page hands its POSTs to fetch, recorded in the page (window.__sent: each body's email): the order
 * the browser sends them in, the same way in every engine. The tracker reads the page's global fetch at each call
 * (src/browser/transport.ts), so a wrapper installed before the bundle sees every request. (The collector's arrival
 * order is not it: three people's requests run concurrently, so the server may see them in another order.)
 */
const RECORD_SENT = `window.__sent = [];
(function (orig) {
  window.fetch = function (url, init) {
    try { if (init && init.method === 'POST') window.__sent.push(JSON.parse(init.body).data.attributes.email); } catch (e) {}
    return orig.apply(this, arguments);
  };
})(window.fetch);`;

await eachEngine('tracker', (engine, browser) => {
  const t0 = Date.now();
  afterAll(() => console.log(`[tracker] ${engine}: launch ${browser.launchMs} ms, whole run ${Date.now() - t0} ms`));

  it('replays three identifies pushed before load, in order, schema-valid', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const url = site.page(
      `/${engine}/three`,
      await trackerPage({
        apiHost: collector.url,
        calls: `${RECORD_SENT}
for (const n of [1, 2, 3]) window._klaviyo.push(['identify', { email: 'p' + n + '@example.com', $first_name: 'P' + n, plan: 'pro' + n }]);`,
      }),
    );
    await expectRequests(collector, () => page.goto(url), {
      expected: [1, 2, 3].map((n) => withEmail(`p${n}@example.com`)),
      refuted: [(r) => !isAccepted(r)], // none refused, none left unanswered
    });
    // The page records each body before handing it to fetch: all three are in by now.
    expect(await page.evaluate<string[]>(() => (window as any).__sent)).toEqual(['p1@example.com', 'p2@example.com', 'p3@example.com']);
    const got = acceptedBodies(collector).sort((a, b) => String(a.data.attributes.email).localeCompare(String(b.data.attributes.email)));
    expect(got.map((b) => b.data.attributes.email)).toEqual(['p1@example.com', 'p2@example.com', 'p3@example.com']);
    expect(got[0]).toEqual({
      data: {
        type: 'profile',
        attributes: { email: 'p1@example.com', first_name: 'P1', properties: { plan: 'pro1' } },
        meta: { identifiers: { email: 'p1@example.com' } },
      },
    });
    const req = accepted(collector)[0]!;
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
      `/${engine}/nostub`,
      await trackerPage({ apiHost: collector.url, stub: false, calls: `window._klaviyo.push(['identify', { $email: 'legacy@example.com', $city: 'Boston' }]);` }),
    );
    await expectRequests(collector, () => page.goto(url), { expected: [withEmail('legacy@example.com')] });
    expect(acceptedBodies(collector)[0]!.data.attributes).toEqual({ email: 'legacy@example.com', location: { city: 'Boston' } });
    // After load, the methods exist and identify resolves once durable.
    await expectRequests(collector, () => page.evaluate(() => (window as any)._klaviyo.identify({ email: 'after@example.com' })), { expected: [withEmail('after@example.com')] });
    expect(posts(collector).filter((r) => !isAccepted(r))).toEqual([]);
    await ctx.close();
  });

  it('carries ?_kx= from the URL, and on a later page from the cookie', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const kx = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers%3D.AbC123';
    site.page(`/${engine}/kx`, await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { email: 'kx@example.com' }]);` }));
    site.page(`/${engine}/kx2`, await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { first_name: 'Later' }]);` }));
    await expectRequests(collector, () => page.goto(`${site.url}/${engine}/kx?_kx=${kx}`), { expected: [withEmail('kx@example.com')] });
    await expectRequests(collector, () => page.goto(`${site.url}/${engine}/kx2`), { expected: [{ data: { attributes: { first_name: 'Later' } } }] });
    const ids = acceptedBodies(collector).map((b) => b.data.meta?.identifiers);
    expect(ids[0]).toEqual({ email: 'kx@example.com', _kx: decodeURIComponent(kx) });
    // The second page has no _kx in its URL and no email in the call: both come back from storage.
    expect(ids[1]).toEqual({ email: 'kx@example.com', _kx: decodeURIComponent(kx) });
    expect(posts(collector).filter((r) => !isAccepted(r))).toEqual([]);
    await ctx.close();
  });

  it('delivers an identify made right before navigating away, on the next visit', async () => {
    collector.reset();
    collector.fault({ mode: 'hang' }); // nothing gets through during the first visit
    try {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const url = site.page(`/${engine}/nav`, await trackerPage({ apiHost: collector.url }));
      // Requests of the first visit hang and end unanswered (status 0); none may be refused.
      await expectRequests(
        collector,
        async () => {
          await page.goto(url);
          await bundleLoaded(page);
          // As a site does: identify, and go at once, without waiting for identify() to resolve.
          await page.evaluate(() => void (window as any)._klaviyo.identify({ email: 'leaving@example.com' }));
          await page.goto('about:blank');
          collector.clearFaults();
          await page.goto(url);
        },
        { expected: [withEmail('leaving@example.com')], refuted: [isRefused] },
      );
      await ctx.close();
    } finally {
      collector.clearFaults();
    }
  });

  it("runs the README's usage example as written, and its stats() has the documented keys", async () => {
    collector.reset();
    const readme = readFileSync('README.md', 'utf8');
    const example = readme.match(/```js\n([\s\S]*?)```/)![1]!;
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(site.page(`/${engine}/readme`, await trackerPage({ apiHost: collector.url })));
    await bundleLoaded(page);
    // The example's last expression is stats(): return it.
    const body = example.trim().replace(/\n(window\._klaviyo\.stats\(\);[^\n]*)$/, '\nreturn $1');
    // The keys are read in the page: WebKitWebDriver hands an object back with its keys reordered (measured:
    // { queued, sent, retried, merged } arrives as { merged, queued, sent, retried }), and the order is documented.
    const [keys, droppedKeys] = await page.evaluate<[string[], string[]]>(
      `(async () => {\n${body}\n})().then((stats) => [Object.keys(stats), Object.keys(stats.dropped)])`,
    );
    expect(keys).toEqual(['queued', 'sent', 'retried', 'merged', 'dropped']);
    expect(droppedKeys).toEqual(['invalid', 'client', 'attempts', 'ttl', 'cap']);
    await until(() => collector.profiles().length >= 1);
    expect(collector.profiles()[0]!.attributes).toMatchObject({ email: 'sarah@example.com', first_name: 'Sarah', location: { city: 'Boston' }, properties: { plan: 'pro' } });
    expect(posts(collector).filter((r) => !isAccepted(r))).toEqual([]);
    await ctx.close();
  });
});
