// The tracker as a guest in someone else's page, in Chromium against the strict collector: hostile `_kx`
// values, the `_kx` cookie's attributes (http and https, configured domain), a strict CSP with a nonce,
// Subresource Integrity from another origin, two companies on one origin, and no personal data in URLs
// or in the console.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startCollector, type Collector } from '../dev/collector/index';
import { CHROMIUM_ARGS, launchChromium } from './harness/browser';
import { snippet, startSite, trackerPage, until, type Site } from './harness/site';

let browser: Browser;
let collector: Collector;
let site: Site;

// Names under example.test resolve to 127.0.0.1 (cookie domains need a real hostname, not an IP); the
// https site uses a self-signed certificate made at test time.
const HOST = 'www.shop.example.test';
beforeAll(async () => {
  [browser, collector, site] = await Promise.all([
    launchChromium({ args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP *.example.test 127.0.0.1', '--ignore-certificate-errors'] }),
    startCollector({ strict: true }),
    startSite(),
  ]);
});
afterAll(async () => {
  await Promise.all([browser?.close(), collector?.close(), site?.close()]);
});

type Body = { data: { attributes: Record<string, unknown>; meta?: { identifiers: Record<string, string> } } };
const bodies = () => collector.accepted().map((r) => r.body as Body);
const refused = () => collector.requests().filter((r) => r.method === 'POST' && r.status !== 202 && r.status !== 0);
const sitePort = () => new URL(site.url).port;
const VALID_KX = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.AbC123';
const decoded = (v: string) => {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
};

async function loaded(page: Page) {
  await page.waitForFunction(() => (window as any)._klaviyo?.loaded === true && (window as any)._klaviyo.stats);
}
async function flushed(page: Page, count: number) {
  await page.evaluate(() => (window as any)._klaviyo.flush());
  await until(() => collector.accepted().length >= count || refused().length > 0, { describe: () => JSON.stringify(collector.requests()) });
}

describe('security in Chromium', () => {
  it('ignores hostile _kx values: never sent, never in the cookie, the DOM or storage', async () => {
    collector.reset();
    const hostile = [
      '<img src=x onerror=window.__xss=1>',
      '"><script>window.__xss=2</script>',
      'A'.repeat(5 * 1024) + '=.AbC123', // the right shape, 5 KB long
      'not-an-exchange-id',
      'J8fjcn003Wy6b=.AbC123; domain=evil.example; SameSite=None', // cookie attribute injection
      '%E0%A4%A', // malformed escape
      encodeURIComponent('<svg onload=window.__xss=3>'), // encoded twice in the URL
    ];
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    site.page('/kx-hostile', await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { email: 'kx-hostile@example.com' }]);`, body: '<p>shop</p>' }));
    for (const [i, v] of hostile.entries()) {
      await page.goto(`${site.url}/kx-hostile?_kx=${encodeURIComponent(v)}`);
      await loaded(page);
      await flushed(page, i + 1);
      const seen = await page.evaluate(() => ({ html: document.documentElement.outerHTML, storage: JSON.stringify({ ...localStorage }), cookie: document.cookie, xss: (window as any).__xss }));
      for (const needle of [v, decoded(v), 'onerror', 'onload', '<script>window']) {
        expect(seen.html, v).not.toContain(needle);
        expect(seen.storage, v).not.toContain(needle);
      }
      expect(seen.cookie, v).toBe('');
      expect(seen.xss, v).toBeUndefined();
      expect(await ctx.cookies(), v).toEqual([]);
      expect(bodies()[i]!.data.meta?.identifiers, v).toEqual({ email: 'kx-hostile@example.com' });
    }
    // The control: a valid value is stored and sent, so the checks above could see one.
    await page.goto(`${site.url}/kx-hostile?_kx=${encodeURIComponent(VALID_KX)}`);
    await loaded(page);
    await flushed(page, hostile.length + 1);
    expect(bodies()[hostile.length]!.data.meta?.identifiers).toEqual({ email: 'kx-hostile@example.com', _kx: VALID_KX });
    expect((await ctx.cookies()).map((c) => [c.name, decodeURIComponent(c.value)])).toEqual([['_kx', VALID_KX]]);
    expect(refused()).toEqual([]);
    await ctx.close();
  });

  it('writes the _kx cookie with SameSite=Lax and path=/ on the registrable or configured domain', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    site.page('/c-default', await trackerPage({ apiHost: collector.url }));
    site.page('/c-configured', await trackerPage({ apiHost: collector.url, config: { cookieDomain: 'shop.example.test' } }));
    await page.goto(`http://${HOST}:${sitePort()}/c-default?_kx=${encodeURIComponent(VALID_KX)}`);
    await loaded(page);
    const defaults = await ctx.cookies();
    expect(defaults.map(({ name, domain, path, sameSite, secure, httpOnly }) => ({ name, domain, path, sameSite, secure, httpOnly }))).toEqual([
      { name: '_kx', domain: '.example.test', path: '/', sameSite: 'Lax', secure: false, httpOnly: false },
    ]);
    expect(decodeURIComponent(defaults[0]!.value)).toBe(VALID_KX);
    // About a year (365 days), not a session cookie.
    expect(defaults[0]!.expires * 1000 - Date.now()).toBeGreaterThan(364 * 86400e3);
    await ctx.clearCookies();
    await page.goto(`http://${HOST}:${sitePort()}/c-configured?_kx=${encodeURIComponent(VALID_KX)}`);
    await loaded(page);
    expect((await ctx.cookies()).map(({ name, domain, path, sameSite }) => ({ name, domain, path, sameSite }))).toEqual([
      { name: '_kx', domain: '.shop.example.test', path: '/', sameSite: 'Lax' },
    ]);
    await ctx.close();
  });

  const openssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  // Without openssl there is no certificate to serve https with: this one case is skipped (and says so).
  it.skipIf(!openssl)('marks the _kx cookie Secure on an https page, and still delivers', async () => {
    collector.reset();
    const dir = mkdtempSync(join(tmpdir(), 'kx-tls-'));
    let server: HttpsServer | undefined;
    const ctx = await browser.newContext();
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${HOST}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const html = await trackerPage({ apiHost: collector.url, calls: `window._klaviyo.push(['identify', { email: 'tls@example.com' }]);` });
      // Serves the page and the built bundle, as the http site does.
      server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
        const path = new URL(req.url ?? '/', 'https://x').pathname;
        if (path === '/tls') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
        else if (path === '/dist/klaviyo.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync('dist/klaviyo.js'));
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const page = await ctx.newPage();
      await page.goto(`https://${HOST}:${port}/tls?_kx=${encodeURIComponent(VALID_KX)}`);
      await loaded(page);
      expect((await ctx.cookies()).map(({ name, domain, path, sameSite, secure }) => ({ name, domain, path, sameSite, secure }))).toEqual([
        { name: '_kx', domain: '.example.test', path: '/', sameSite: 'Lax', secure: true },
      ]);
      await flushed(page, 1);
      expect(bodies()[0]!.data.meta?.identifiers).toEqual({ email: 'tls@example.com', _kx: VALID_KX });
    } finally {
      await ctx.close();
      await new Promise((r) => (server ? (server.closeAllConnections(), server.close(r)) : r(undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("works under a strict CSP (script-src 'self' 'nonce-abc'; connect-src the API host) with no violation", async () => {
    collector.reset();
    const ctx = await browser.newContext();
    await ctx.addInitScript(() => {
      (window as any).__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const page = await ctx.newPage();
    const csp = `default-src 'none'; script-src 'self' 'nonce-abc'; connect-src ${collector.url}`;
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>csp</title>
<script nonce="abc">${await snippet()}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: collector.url })}]);
window._klaviyo.push(['identify', { email: 'csp@example.com' }]);</script>
<script async src="/dist/klaviyo.js?company_id=AbC123"></script></head><body></body></html>`;
    await page.goto(site.page('/csp', html, { 'content-security-policy': csp }));
    await loaded(page);
    await page.evaluate(() => (window as any)._klaviyo.identify({ email: 'csp2@example.com' }));
    await flushed(page, 2);
    // Two people, maybe in one round: either may arrive first.
    expect(bodies().map((b) => b.data.attributes.email).sort()).toEqual(['csp2@example.com', 'csp@example.com']);
    expect(await page.evaluate(() => (window as any).__csp)).toEqual([]);
    // The control: the policy is in force and the listener hears a violation (a fetch to another host).
    await page.evaluate(() => fetch('http://127.0.0.1:9/').catch(() => undefined));
    expect(await page.evaluate(() => (window as any).__csp)).toEqual(['connect-src http://127.0.0.1:9/']);
    await ctx.close();
  });

  it('loads from another origin with the built integrity hash (and refuses a wrong one)', async () => {
    collector.reset();
    const integrity = readFileSync('dist/klaviyo.js.sri', 'utf8').trim();
    expect(integrity).toMatch(/^sha384-[A-Za-z0-9+/]{64}$/);
    // localhost and 127.0.0.1 are two origins on the same server: the bundle comes "from a CDN".
    const cdn = `http://localhost:${sitePort()}/dist/klaviyo.js?company_id=AbC123`;
    const stub = await snippet();
    const html = (sri: string) => `<!doctype html><html><head><meta charset="utf-8"><title>sri</title>
<script>${stub}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: collector.url })}]);
window._klaviyo.push(['identify', { email: 'sri@example.com' }]);</script>
<script async src="${cdn}" integrity="${sri}" crossorigin="anonymous"></script></head><body></body></html>`;
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(site.page('/sri', html(integrity)));
    await loaded(p);
    await flushed(p, 1);
    expect(bodies()[0]!.data.attributes.email).toBe('sri@example.com');
    // A hash of other bytes: Chromium refuses to run the script, so the tracker never loads.
    const errors: string[] = [];
    p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const wrong = 'sha384-' + Buffer.alloc(48, 7).toString('base64');
    await p.goto(site.page('/sri-wrong', html(wrong)));
    await until(() => errors.some((e) => /integrity/i.test(e)), { describe: () => errors.join('\n') });
    expect(await p.evaluate(() => (window as any)._klaviyo.loaded)).toBeUndefined();
    await ctx.close();
  });

  it('keeps two company ids on one origin apart: queues, identities, company_id', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    site.page('/shop-a', await trackerPage({ apiHost: collector.url, company: 'AbC123' }));
    site.page('/shop-b', await trackerPage({ apiHost: collector.url, company: 'XyZ789' }));
    const [a, b] = await Promise.all([ctx.newPage(), ctx.newPage()]);
    await Promise.all([a.goto(`${site.url}/shop-a`), b.goto(`${site.url}/shop-b`)]);
    await Promise.all([loaded(a), loaded(b)]);
    // Offline, so both companies' items sit in the one IndexedDB database together before any is sent.
    await ctx.setOffline(true);
    const id = (p: Page, props: object) => p.evaluate((x) => (window as any)._klaviyo.identify(x), props);
    await id(a, { email: 'alice@example.com', shop: 'A' });
    await id(b, { email: 'bob@example.com', shop: 'B' });
    await id(a, { plan: 'a-plan' }); // no identifier: the remembered person of company A
    await id(b, { plan: 'b-plan' });
    await ctx.setOffline(false);
    const plans = () => collector.profiles().map((s) => (s.attributes.properties as Record<string, unknown> | undefined)?.plan);
    await until(() => plans().filter(Boolean).length >= 2 || refused().length > 0, { describe: () => JSON.stringify(collector.requests()) });
    // A new tab of company A, no identifier in the call: still Alice, never Bob.
    const c = await ctx.newPage();
    await c.goto(`${site.url}/shop-a`);
    await loaded(c);
    await id(c, { tier: 'gold' });
    await c.evaluate(() => (window as any)._klaviyo.flush());
    await until(() => collector.profiles('AbC123')[0]?.attributes.properties && (collector.profiles('AbC123')[0]!.attributes.properties as Record<string, unknown>).tier);
    expect(refused()).toEqual([]);
    for (const r of collector.accepted()) {
      const body = r.body as Body;
      const who = r.company === 'AbC123' ? 'alice@example.com' : 'bob@example.com';
      expect(r.company).toMatch(/^(AbC123|XyZ789)$/);
      expect(body.data.meta?.identifiers).toEqual({ email: who });
    }
    const simple = (company: string) => collector.profiles(company).map((s) => ({ ids: s.identifiers, props: s.attributes.properties }));
    expect(simple('AbC123')).toEqual([{ ids: { email: 'alice@example.com' }, props: { shop: 'A', plan: 'a-plan', tier: 'gold' } }]);
    expect(simple('XyZ789')).toEqual([{ ids: { email: 'bob@example.com' }, props: { shop: 'B', plan: 'b-plan' } }]);
    await ctx.close();
  });

  it('puts no personal data in any URL or (unless debug) the console; only the API host is called', async () => {
    collector.reset();
    const pii = { email: 'jane.doe+pii@example.com', phone_number: '+15005550006', first_name: 'Janeprivate', last_name: 'Doesecret', external_id: 'cust-8842-secret', $city: 'Springfieldpii', note: 'private-note-77' };
    const needles = [...Object.values(pii), 'jane.doe@@example.com'].flatMap((v) => [v, encodeURIComponent(v)]);
    const calls = `window._klaviyo.push(['identify', ${JSON.stringify(pii)}]);
window._klaviyo.push(['identify', { email: 'jane.doe@@example.com', first_name: 'Janeprivate' }]);`;
    site.page('/pii', await trackerPage({ apiHost: collector.url, calls }));
    site.page('/pii-debug', await trackerPage({ apiHost: collector.url, calls, config: { debug: true } }));

    const visit = async (path: string) => {
      const ctx: BrowserContext = await browser.newContext();
      const urls: string[] = [];
      const logs: string[] = [];
      ctx.on('request', (r) => urls.push(r.url()));
      const page = await ctx.newPage();
      page.on('console', (m) => logs.push(m.text()));
      await page.goto(`${site.url}${path}`);
      await loaded(page);
      await page.evaluate(() => (window as any)._klaviyo.flush());
      await until(() => collector.accepted().some((r) => (r.body as Body).data.attributes.email === pii.email));
      // Playwright reports requests asynchronously: the collector can have one before the test hears of it.
      await until(() => urls.some((u) => u.includes('/client/profiles/')));
      await ctx.close();
      return { urls, logs };
    };
    const quiet = await visit('/pii');
    const pageOrigin = new URL(site.url).origin;
    const apiOrigin = new URL(collector.url).origin;
    for (const u of quiet.urls) {
      expect([pageOrigin, apiOrigin]).toContain(new URL(u).origin);
      for (const n of needles) expect(u).not.toContain(n);
    }
    // What went where: the page and the bundle from the site; only the profiles endpoint on the API host.
    const apiPaths = quiet.urls.filter((u) => u.startsWith(apiOrigin)).map((u) => new URL(u).pathname + new URL(u).search);
    expect(new Set(apiPaths)).toEqual(new Set(['/client/profiles/?company_id=AbC123']));
    expect(quiet.urls.filter((u) => u.startsWith(pageOrigin)).map((u) => new URL(u).pathname).filter((p) => p !== '/favicon.ico')).toEqual(['/pii', '/dist/klaviyo.js']);
    // The bad call's error names the field, not the value.
    expect(quiet.logs.filter((l) => l.startsWith('[klaviyo]'))).toEqual(['[klaviyo] identify: email must be an email address']);
    for (const l of quiet.logs) for (const n of needles) expect(l).not.toContain(n);
    // The control: with debug on, the console shows the update (so the capture above would have seen it).
    collector.reset();
    const loud = await visit('/pii-debug');
    expect(loud.logs.some((l) => l.includes(pii.email))).toBe(true);
    console.log(`requests recorded: ${quiet.urls.length} (page origin + API origin only); console lines ${quiet.logs.length} without personal data, ${loud.logs.length} with debug`);
  });
});
