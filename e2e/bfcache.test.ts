// The back/forward cache, in every engine installed here: a tracker page left for another page of the site and
// restored from the cache (history.back()) keeps working: a new identify is delivered once (no handler added twice),
// and identifying then leaving again in one task still loses nothing.
import { expect, it } from 'vitest';
import { world } from './harness/world';
import { eachEngine } from './harness/engines';
import { acceptedEmails, expectRequests } from './harness/requests';
import { sleep } from './harness/wait';


const w = world();

const withEmail = (email: string) => ({ data: { attributes: { email } } });

await eachEngine('back/forward cache', (engine, browser) => {

  it('a page restored from the cache delivers new identifies once, and leaving again loses nothing', async () => {
    const company = `BF${engine.slice(0, 4).toUpperCase()}`;
    // Eligible for the cache: no-cache rather than the site's usual no-store (Firefox never caches a no-store
    // document), no unload listener.
    const cacheable = { 'cache-control': 'no-cache' };
    const other = w.site.page(`/bf/${engine}/other`, `<!doctype html><title>other</title><button id="back" onclick="history.back()">back</button>`, cacheable);
    const url = w.site.page(
      `/bf/${engine}/page`,
      `<!doctype html><html><head><meta charset="utf-8"><title>bf</title>
<script>${w.stub}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: w.collector.url })}]);
window.__shows = [];
addEventListener('pageshow', function (e) { window.__shows.push(e.persisted); });
</script>
<script async src="/dist/klaviyo.js?company_id=${company}"></script></head>
<body><a id="away" href="${other}">away</a>
<button id="leave" onclick="window._klaviyo.push(['identify', { email: 'third@example.com' }]); location.href = '${other}'">leave</button></body></html>`,
      cacheable,
    );
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(url);
    await expectRequests(w.collector, () => page.evaluate(() => (window as any)._klaviyo.identify({ email: 'first@example.com' })), { company, expected: [withEmail('first@example.com')] });
    await page.click('#away');
    await page.waitForURL(other);
    await page.click('#back');
    await page.waitForURL(url);
    const shows = await page.evaluate(() => (window as any).__shows as boolean[]);
    console.log(`[bfcache] ${engine}: pageshow persisted flags ${JSON.stringify(shows)} (${shows.includes(true) ? 'restored from the cache' : 'loaded again'})`);
    // The same document came back (its own pageshow log has the first, not persisted, and the restored one).
    expect(shows).toEqual([false, true]);
    await expectRequests(w.collector, () => page.evaluate(() => (window as any)._klaviyo.identify({ email: 'second@example.com' })), { company, expected: [withEmail('second@example.com')] });
    // Identify and leave in one task, once more after the restore.
    await expectRequests(
      w.collector,
      async () => {
        await page.click('#leave');
        await page.waitForURL(other);
        await page.goto(url); // the next visit delivers whatever the leaving did not
      },
      { company, expected: [withEmail('third@example.com')] },
    );
    await sleep(300);
    const sent = acceptedEmails(w.collector, { company });
    expect(sent.filter((e) => e == 'second@example.com')).toHaveLength(1);
    expect(sent.filter((e) => e == 'first@example.com')).toHaveLength(1);
    await ctx.close();
  });
});
