// The engine adapter (e2e/harness/engines), checked in every engine installed here: open a tracker page and see
// the collector accept it, cookies, a click that navigates, closing a tab, going away without waiting, console
// capture, isolated contexts, and kill() + relaunch on a persistent profile. Prints which engines ran, which
// were skipped and why, and what launching each cost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { startCollector, type Collector } from '../dev/collector/index';
import { CONSOLE_SHIM, describeEngines, engines, launch, makeTempDir, removeDir, type Browser, type Page } from './harness/engines';
import { accepted, expectRequests, posts, type ProfileBody } from './harness/requests';
import { startSite, trackerPage, type Site } from './harness/site';
import { sleep, until } from './harness/wait';

const avail = await engines();
console.log(`[engines] this run:\n${describeEngines(avail)}`);
if (!existsSync('dist/klaviyo.js') || !existsSync('dist/snippet.min.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

/** localStorage reaches the disk about 5 s after a write in Chromium and Firefox (measured): wait longer before a kill. */
const LOCAL_STORAGE_FLUSH_MS = 6500;
const SLOW_MS = 2500;

let collector: Collector;
let site: Site;
// A second origin whose pages take SLOW_MS to answer: a click that navigates there must not wait for them.
let slow: Server;
let slowUrl: string;

beforeAll(async () => {
  slow = createServer((req, res) => setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>slow</title>${req.url}`), SLOW_MS));
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;
  [collector, site] = await Promise.all([startCollector({ strict: true }), startSite()]);
});
afterAll(async () => {
  slow?.closeAllConnections();
  await Promise.all([collector?.close(), site?.close(), new Promise((r) => (slow ? slow.close(r) : r(undefined)))]);
});

const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t = Date.now();
  return [await f(), Date.now() - t];
};

for (const s of avail.skipped) describe(s.engine, () => it.skip(`skipped: ${s.reason}`, () => {}));

describe.each(avail.available)('%s', (engine) => {
  let browser: Browser;
  const figures: string[] = [];

  beforeAll(async () => {
    browser = await launch(engine);
    figures.push(`launch ${browser.launchMs} ms`);
  });
  afterAll(async () => {
    await browser?.close();
    console.log(`[engines] ${engine}: ${figures.join(', ')}`);
  });

  it('opens a tracker page whose identify before load the collector accepts (202, schema-valid)', async () => {
    collector.reset();
    const [ctx, ms] = await timed(() => browser.newContext());
    figures.push(`newContext ${ms} ms`);
    const page = await ctx.newPage();
    const email = `${engine}@example.com`;
    const url = site.page(`/${engine}/identify`, await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { email: '${email}', plan: 'smoke' }]);` }));
    await expectRequests(collector, () => page.goto(url), { expected: [{ data: { attributes: { email } } }] });
    expect(posts(collector).map((r) => r.status)).toEqual([202]);
    expect((accepted(collector)[0]!.body as ProfileBody).data.attributes).toEqual({ email, properties: { plan: 'smoke' } });
    // evaluate: a function with an argument (a promise, awaited), an expression, statements.
    expect(await page.evaluate(async (n: number) => (await Promise.resolve(n)) * 2, 21)).toBe(42);
    expect(await page.evaluate('document.title + typeof window._klaviyo.identify')).toBe('tfunction');
    await page.evaluate(`for (const k of [1, 2]) window.__x = (window.__x || 0) + k;`);
    expect(await page.evaluate(() => (window as any).__x)).toBe(3);
    await expect(page.evaluate(() => Promise.reject(new Error('no luck')))).rejects.toThrow(/no luck/);
    await ctx.close();
  });

  it('sees the _kx cookie the tracker sets from ?_kx=, and the request carries it', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const kx = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers%3D.AbC123';
    site.page(`/${engine}/kx`, await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { email: 'kx-${engine}@example.com' }]);` }));
    await expectRequests(collector, () => page.goto(`${site.url}/${engine}/kx?_kx=${kx}`), { expected: [{ data: { attributes: { email: `kx-${engine}@example.com` } } }] });
    expect((accepted(collector)[0]!.body as ProfileBody).data.meta?.identifiers).toEqual({ email: `kx-${engine}@example.com`, _kx: decodeURIComponent(kx) });
    const cookie = (await ctx.cookies()).find((c) => c.name === '_kx');
    expect(cookie).toMatchObject({ path: '/', sameSite: 'Lax', secure: false, httpOnly: false });
    expect(decodeURIComponent(cookie!.value)).toBe(decodeURIComponent(kx));
    expect(cookie!.domain.replace(/^\./, '')).toBe('127.0.0.1');
    await ctx.close();
  });

  it('click() returns while the navigation it starts goes on (location.href, form submit), then the page lands', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const url = site.page(
      `/${engine}/click`,
      `<!doctype html><title>c</title><button id="go" onclick="window.__clicked = 1; location.href = '${slowUrl}/by-href'">go</button>
<form action="${slowUrl}/by-form" method="get"><input name="q" value="1"><button id="submit" type="submit">submit</button></form>`,
    );
    for (const [button, landing] of [['#go', `${slowUrl}/by-href`], ['#submit', `${slowUrl}/by-form?q=1`]] as const) {
      await page.goto(url);
      const [, ms] = await timed(() => page.click(button));
      figures.push(`click ${button} ${ms} ms`);
      expect(ms).toBeLessThan(SLOW_MS - 500);
      await page.waitForURL(landing);
      expect(await page.evaluate(() => document.title)).toBe('slow');
    }
    // Going away without waiting: right after a page call, as when the user types another address.
    await page.goto(url);
    await page.evaluate(() => ((window as any).__y = 1));
    const [, ms] = await timed(() => page.gotoNoWait(`${slowUrl}/typed`));
    figures.push(`gotoNoWait ${ms} ms`);
    expect(ms).toBeLessThan(SLOW_MS - 500);
    await page.waitForURL(`${slowUrl}/typed`);
    await page.reload();
    expect(await page.url()).toBe(`${slowUrl}/typed`);
    await ctx.close();
  });

  it('page.close() of a tab fires pagehide and visibilitychange (a sendBeacon from each arrives)', async () => {
    const ctx = await browser.newContext();
    const keep = await ctx.newPage(); // the context keeps one tab open
    await keep.goto(site.page(`/${engine}/keep`, '<title>keep</title>'));
    const tab = await ctx.newPage();
    await tab.goto(
      site.page(
        `/${engine}/close`,
        `<!doctype html><title>close</title><script>
addEventListener('pagehide', (e) => navigator.sendBeacon('/${engine}/bye/pagehide?persisted=' + e.persisted));
document.addEventListener('visibilitychange', () => navigator.sendBeacon('/${engine}/bye/visibility-' + document.visibilityState));
</script>`,
      ),
    );
    await tab.close();
    await until(() => site.hits.some((h) => h.startsWith(`/${engine}/bye/pagehide`)), { describe: () => JSON.stringify(site.hits.filter((h) => h.includes('/bye/'))) });
    await sleep(300);
    const seen = site.hits.filter((h) => h.startsWith(`/${engine}/bye/`)).map((h) => h.slice(`/${engine}/bye/`.length));
    figures.push(`close fired ${seen.join(' + ')}`);
    expect(seen).toContain('pagehide?persisted=false');
    expect(seen).toContain('visibility-hidden');
    await ctx.close();
  });

  it("collects the page's console errors, the tracker's [klaviyo] error included", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    // The shim is for engines without console events (WebKit); elsewhere the protocol already reports everything.
    const html = (await trackerPage({ apiHost: collector.url, calls: `console.error('page says hi'); window._klaviyo.push(['identify', { email: 'not-an-email' }]);` })).replace(
      '<script>',
      `<script>${CONSOLE_SHIM}</script><script>`,
    );
    await page.goto(site.page(`/${engine}/console`, html));
    const errors = async () => (await page.consoleMessages()).filter((m) => m.type === 'error').map((m) => m.text);
    await until(async () => (await errors()).some((t) => t.includes('[klaviyo]')), { describe: () => 'no [klaviyo] error' });
    expect((await errors()).filter((t) => !/favicon|Failed to load resource/.test(t))).toEqual(['page says hi', expect.stringMatching(/\[klaviyo\].*email/)]);
    figures.push(`console: ${browser.features.consoleEvents ? 'protocol events' : 'in-page shim only'}`);
    await ctx.close();
  });

  it('gives each context its own cookies and storage', async () => {
    const url = site.page(`/${engine}/iso`, '<title>iso</title>');
    const a = await browser.newContext();
    const pa = await a.newPage();
    await pa.goto(url);
    await pa.evaluate(() => {
      localStorage.setItem('who', 'a');
      document.cookie = 'who=a; path=/';
    });
    const [b, ms] = await timed(() => browser.newContext());
    figures.push(`another context ${ms} ms`);
    const pb = await b.newPage();
    await pb.goto(url);
    expect(b.isolated).toBe(browser.features.isolatedContexts);
    expect(await pb.evaluate(() => [localStorage.getItem('who'), document.cookie])).toEqual([null, '']);
    expect((await b.cookies()).map((c) => c.name)).toEqual([]);
    expect((await a.cookies()).map((c) => c.name)).toEqual(['who']);
    await Promise.all([a.close(), b.close()]);
  });

  it('kill() + relaunch on the same profile keeps IndexedDB at once and localStorage once flushed (where the engine has profiles)', async () => {
    if (!browser.features.persistentProfile) {
      await expect(launch(engine, { profileDir: tmpdir() })).rejects.toThrow(/no persistent profile/);
      figures.push('persistent profile: none (storage is in memory; nothing survives kill)');
      // kill() still works (a crash, then a fresh browser), and close() after it is safe.
      const b = await launch(engine);
      const page = await (await b.newContext()).newPage();
      await page.goto(site.page(`/${engine}/crash`, '<title>crash</title>'));
      await b.kill();
      await expect(page.evaluate('1')).rejects.toThrow();
      await b.close();
      return;
    }
    const dir = makeTempDir(`klaviyo-engines-test-${engine}-`);
    const url = site.page(`/${engine}/persist`, '<title>persist</title>');
    const idb = `new Promise((resolve, reject) => {
      const r = indexedDB.open('smoke', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('kv');
      r.onerror = () => reject(r.error);
      r.onsuccess = () => {
        const tx = r.result.transaction('kv', 'readwrite');
        const store = tx.objectStore('kv');
        const req = typeof WRITE === 'string' ? store.put(WRITE, 'k') : store.get('k');
        tx.oncomplete = () => { r.result.close(); resolve(req.result ?? null); };
        tx.onerror = () => reject(tx.error);
      };
    })`;
    const open = async () => {
      const [b, ms] = await timed(() => launch(engine, { profileDir: dir }));
      const page = await (await b.newContext()).newPage();
      await page.goto(url);
      return { b, page, ms };
    };
    const read = (page: Page) => Promise.all([page.evaluate(idb.replaceAll('WRITE', 'undefined')), page.evaluate(() => localStorage.getItem('k'))]);
    let b: Browser | undefined;
    try {
      let page: Page;
      ({ b, page } = await open());
      await page.evaluate(idb.replaceAll('WRITE', "'idb-1'"));
      await page.evaluate(() => localStorage.setItem('k', 'ls-1'));
      await b.kill(); // at once
      ({ b, page } = await open());
      const [idbAfter, lsAfter] = await read(page);
      expect(idbAfter).toBe('idb-1');
      figures.push(`localStorage written just before kill: ${lsAfter === 'ls-1' ? 'kept' : 'lost'}`);
      await page.evaluate(() => localStorage.setItem('k', 'ls-2'));
      await sleep(LOCAL_STORAGE_FLUSH_MS);
      await b.kill();
      let ms: number;
      ({ b, page, ms } = await open());
      figures.push(`relaunch on profile ${ms} ms`);
      expect(await read(page)).toEqual(['idb-1', 'ls-2']);
    } finally {
      await b?.close();
      await removeDir(dir);
    }
  });
});
