// A retired API revision (410), in every engine installed here: a collector that answers 410 for revision
// 2023-01-24 gets nothing dropped and one console error naming the revision; once the page configures
// 2026-10-15, every queued update arrives in the 2024-10-15 shape, valid against that revision's schema.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startCollector, type Collector } from '../dev/collector/index';
import { CONSOLE_SHIM, eachEngine } from './harness/engines';
import { accepted, expectRequests, formatRequests, posts } from './harness/requests';
import { snippet, startSite, type Site } from './harness/site';
import { trackerStats } from './harness/tracker';
import { sleep, until } from './harness/wait';

if (!existsSync('dist/klaviyo.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

let collector: Collector;
let site: Site;
let stub: string;
beforeAll(async () => {
  [collector, site, stub] = await Promise.all([startCollector({ strict: true, retired: ['2023-01-24'] }), startSite(), snippet()]);
});
afterAll(() => Promise.all([collector?.close(), site?.close()]));

await eachEngine('a retired revision', (engine, browser) => {

  it('keeps every update through 410s, logs once, and sends them all in the next revision configured', async () => {
    const company = `RT${engine.slice(0, 4).toUpperCase()}`;
    const only = { company };
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(
      site.page(
        `/retired/${engine}`,
        `<!doctype html><html><head><meta charset="utf-8"><title>r</title><script>${CONSOLE_SHIM}</script>
<script>${stub}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: collector.url })}]);
for (var i = 0; i < 5; i++) window._klaviyo.push(['identify', { email: 'r' + i + '@example.com', plan: 'pro' }]);
</script><script async src="/dist/klaviyo.js?company_id=${company}"></script></head><body></body></html>`,
      ),
    );
    await until(() => posts(collector, only).some((r) => r.status === 410), { describe: () => formatRequests(collector) });
    // Sending stops for that revision: no retry of the refused updates.
    await sleep(1_500);
    const gone = posts(collector, only).length;
    expect(gone).toBeLessThanOrEqual(5);
    expect(posts(collector, only).every((r) => r.status === 410)).toBe(true);
    const errors = (await page.consoleMessages()).filter((m) => m.type === 'error' && m.text.includes('[klaviyo]')).map((m) => m.text);
    expect(errors).toEqual([expect.stringMatching(/^\[klaviyo\] config\.revision 2023-01-24 is retired \(410\)/)]);
    expect((await trackerStats(page)).dropped).toEqual({ invalid: 0, client: 0, attempts: 0, ttl: 0, cap: 0 });

    const emails = [0, 1, 2, 3, 4].map((i) => `r${i}@example.com`);
    await expectRequests(collector, () => page.evaluate(() => (window as any)._klaviyo.config({ revision: '2026-10-15' })), {
      company,
      expected: emails.map((email) => ({ data: { attributes: { email } } })),
    });
    const sent = accepted(collector, only);
    expect(sent.map((r) => (r.body as any).data.attributes.email).sort()).toEqual(emails);
    for (const r of sent) {
      expect(r.headers.revision).toBe('2026-10-15');
      expect(r.path).toBe('/client/profiles');
      expect(r.headers['content-type']).toBe('application/vnd.api+json');
      expect((r.body as any).data).toEqual({ type: 'profile', attributes: { email: expect.any(String), properties: { plan: 'pro' } } });
    }
    console.log(`[retired] ${engine}: ${gone} requests refused with 410, then ${sent.length} accepted in 2026-10-15`);
    await ctx.close();
  });
});
