// The tracker as a guest in someone else's page, in every engine installed here (Chromium, Firefox, WebKit) against
// the strict collector: hostile `_kx` values, the `_kx` cookie's attributes (http and https, configured domain), a
// strict CSP with a nonce and Subresource Integrity, SRI from another origin, two companies on one origin, and no
// personal data in URLs or in the console. The adapter has no request interception: what left the browser is what
// the site and the collector recorded, and under a CSP whose connect-src is the collector alone any other request
// would be a violation the page records (window.__csp). Console lines come from CONSOLE_SHIM, first in every page.
import { expect, it } from 'vitest';
import { world } from './harness/world';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLE_SHIM, eachEngine, type Page } from './harness/engines';
import { accepted, acceptedBodies, acceptedEmails, formatRequests, refused, type ProfileBody } from './harness/requests';
import { bundleLoaded, flushTracker } from './harness/tracker';
import { until } from './harness/wait';


const w = world();

// Names under .localhost resolve to 127.0.0.1 in all three engines with no resolver flags (RFC 6761); cookie
// domains need a real hostname, not an IP. localhost is not a public suffix, so the registrable domain of
// www.shop.example.localhost is example.localhost, as example.test is for www.shop.example.test.
const HOST = 'www.shop.example.localhost';
const REGISTRABLE = '.example.localhost';
const CONFIGURED = 'shop.example.localhost';

const sitePort = () => new URL(w.site.url).port;
const VALID_KX = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.AbC123';
const decoded = (v: string) => {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
};

// First in every page: the console shim, a record of CSP violations, of script elements that failed to load
// (an SRI mismatch), and of every document.cookie assignment (the adapter reports no cookie expiry).
const WATCH = `${CONSOLE_SHIM}
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });
window.__scriptErrors = [];
addEventListener('error', function (e) { if (e.target && e.target.tagName === 'SCRIPT') window.__scriptErrors.push(e.target.src); }, true);
window.__cookieWrites = [];
(function () {
  for (var p = Document.prototype; p; p = Object.getPrototypeOf(p)) {
    var d = Object.getOwnPropertyDescriptor(p, 'cookie');
    if (!d) continue;
    Object.defineProperty(document, 'cookie', { configurable: true, get: function () { return d.get.call(document); }, set: function (v) { window.__cookieWrites.push(String(v)); d.set.call(document, v); } });
    return;
  }
})();`;

/** A guest page: WATCH, the stub with a config pointing at the collector and `calls`, then the async bundle. */
function guestPage(opts: { company?: string; calls?: string; config?: Record<string, unknown>; body?: string; nonce?: string; src?: string; integrity?: string }): string {
  const nonce = opts.nonce ? ` nonce="${opts.nonce}"` : '';
  const src = opts.src ?? `/dist/klaviyo.js?company_id=${opts.company ?? 'AbC123'}`;
  const sri = opts.integrity ? ` integrity="${opts.integrity}" crossorigin="anonymous"` : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>guest</title>
<script${nonce}>${WATCH}</script>
<script${nonce}>${w.stub}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: w.collector.url, ...opts.config })}]);
${opts.calls ?? ''}</script>
<script async${nonce} src="${src}"${sri}></script></head><body>${opts.body ?? ''}</body></html>`;
}

/** Flush the page, then wait until `count` requests in all are accepted, or one is refused (the test then says which). */
async function flushed(page: Page, count: number) {
  await flushTracker(page);
  await until(() => accepted(w.collector).length >= count || refused(w.collector).length > 0, { describe: () => formatRequests(w.collector) });
}
/** The page's CSP violations, but the engine's own request for /favicon.ico (Firefox and WebKit ask under the page's
 *  policy, img-src 'none' here; not the tracker's doing, as in the site's hits). */
const csp = async (page: Page) => (await page.evaluate(() => (window as any).__csp as string[])).filter((v) => v !== `img-src ${w.site.url}/favicon.ico`);

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

await eachEngine('security', (engine, browser) => {

  it('ignores hostile _kx values: never sent, never in the cookie, the DOM or storage', async () => {
    w.collector.reset();
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
    try {
      const page = await ctx.newPage();
      w.site.page('/kx-hostile', guestPage({ calls: `window._klaviyo.push(['identify', { email: 'kx-hostile@example.com' }]);`, body: '<p>shop</p>' }));
      for (const [i, v] of hostile.entries()) {
        await page.goto(`${w.site.url}/kx-hostile?_kx=${encodeURIComponent(v)}`);
        await bundleLoaded(page);
        await flushed(page, i + 1);
        const seen = await page.evaluate(() => ({ html: document.documentElement.outerHTML, storage: JSON.stringify({ ...localStorage }), cookie: document.cookie, xss: (window as any).__xss ?? null }));
        for (const needle of [v, decoded(v), 'onerror', 'onload', '<script>window']) {
          expect(seen.html, v).not.toContain(needle);
          expect(seen.storage, v).not.toContain(needle);
        }
        expect(seen.cookie, v).toBe('');
        expect(seen.xss, v).toBeNull();
        expect(await ctx.cookies(), v).toEqual([]);
        expect(acceptedBodies(w.collector)[i]!.data.meta?.identifiers, v).toEqual({ email: 'kx-hostile@example.com' });
      }
      // The control: a valid value is stored and sent, so the checks above could see one.
      await page.goto(`${w.site.url}/kx-hostile?_kx=${encodeURIComponent(VALID_KX)}`);
      await bundleLoaded(page);
      await flushed(page, hostile.length + 1);
      expect(acceptedBodies(w.collector)[hostile.length]!.data.meta?.identifiers).toEqual({ email: 'kx-hostile@example.com', _kx: VALID_KX });
      expect((await ctx.cookies()).map((c) => [c.name, decodeURIComponent(c.value)])).toEqual([['_kx', VALID_KX]]);
      expect(refused(w.collector)).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('writes the _kx cookie with SameSite=Lax and path=/ on the registrable or configured domain', async () => {
    w.collector.reset();
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      w.site.page('/c-default', guestPage({}));
      w.site.page('/c-configured', guestPage({ config: { cookieDomain: CONFIGURED } }));
      await page.goto(`http://${HOST}:${sitePort()}/c-default?_kx=${encodeURIComponent(VALID_KX)}`);
      await bundleLoaded(page);
      const defaults = await ctx.cookies();
      expect(defaults.map(({ name, domain, path, sameSite, secure, httpOnly }) => ({ name, domain, path, sameSite, secure, httpOnly }))).toEqual([
        { name: '_kx', domain: REGISTRABLE, path: '/', sameSite: 'Lax', secure: false, httpOnly: false },
      ]);
      expect(decodeURIComponent(defaults[0]!.value)).toBe(VALID_KX);
      // About a year (365 days), not a session cookie: the adapter reports no expiry, so the tracker's own
      // assignment is read (the cookie above is the one it made).
      const writes = (await page.evaluate(() => (window as any).__cookieWrites as string[])).filter((w) => w.startsWith('_kx='));
      expect(writes.length, writes.join('\n')).toBeGreaterThan(0);
      for (const w of writes) expect(Number(/;\s*max-age=(\d+)/i.exec(w)?.[1]) * 1000, w).toBeGreaterThan(364 * 86400e3);
      // Cleared by the page itself (no clearCookies in the adapter), and checked gone.
      await page.evaluate((d) => void (document.cookie = `_kx=; path=/; domain=${d}; max-age=0`), REGISTRABLE.slice(1));
      expect(await ctx.cookies()).toEqual([]);
      await page.goto(`http://${HOST}:${sitePort()}/c-configured?_kx=${encodeURIComponent(VALID_KX)}`);
      await bundleLoaded(page);
      expect((await ctx.cookies()).map(({ name, domain, path, sameSite }) => ({ name, domain, path, sameSite }))).toEqual([
        { name: '_kx', domain: '.' + CONFIGURED, path: '/', sameSite: 'Lax' },
      ]);
    } finally {
      await ctx.close();
    }
  });

  // Without openssl there is no certificate to serve https with. (Every engine the adapter launches accepts a
  // self-signed one.)
  it.skipIf(!openssl)('marks the _kx cookie Secure on an https page, and still delivers', async () => {
    w.collector.reset();
    const dir = mkdtempSync(join(tmpdir(), 'kx-tls-'));
    let server: HttpsServer | undefined;
    const ctx = await browser.newContext();
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${HOST}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      let html = '';
      // Serves the page and the built bundle, as the http site does, and passes the API on to the collector: an
      // https page's API is https too (WebKit blocks an https page's fetch to http://127.0.0.1 as mixed content).
      server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
        const path = new URL(req.url ?? '/', 'https://x').pathname;
        if (path.startsWith('/client/'))
          req.pipe(
            httpRequest(w.collector.url + req.url, { method: req.method, headers: req.headers }, (up) => {
              res.writeHead(up.statusCode!, up.headers);
              up.pipe(res);
            }),
          );
        else if (path === '/tls') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
        else if (path === '/dist/klaviyo.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync('dist/klaviyo.js'));
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      html = guestPage({ config: { apiHost: `https://${HOST}:${port}` }, calls: `window._klaviyo.push(['identify', { email: 'tls@example.com' }]);` });
      const page = await ctx.newPage();
      await page.goto(`https://${HOST}:${port}/tls?_kx=${encodeURIComponent(VALID_KX)}`);
      await bundleLoaded(page);
      expect((await ctx.cookies()).map(({ name, domain, path, sameSite, secure }) => ({ name, domain, path, sameSite, secure }))).toEqual([
        { name: '_kx', domain: REGISTRABLE, path: '/', sameSite: 'Lax', secure: true },
      ]);
      await flushed(page, 1);
      expect(acceptedBodies(w.collector)[0]!.data.meta?.identifiers).toEqual({ email: 'tls@example.com', _kx: VALID_KX });
    } finally {
      await ctx.close();
      await new Promise((r) => (server ? (server.closeAllConnections(), server.close(r)) : r(undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("works under a strict CSP (script-src 'self' 'nonce-abc'; connect-src the API host) with SRI, and no violation", async () => {
    w.collector.reset();
    const integrity = readFileSync('dist/klaviyo.js.sri', 'utf8').trim();
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      const policy = `default-src 'none'; script-src 'self' 'nonce-abc'; connect-src ${w.collector.url}`;
      const html = guestPage({ nonce: 'abc', integrity, calls: `window._klaviyo.push(['identify', { email: 'csp@example.com' }]);` });
      const hit0 = w.site.hits.length;
      await page.goto(w.site.page('/csp', html, { 'content-security-policy': policy }));
      await bundleLoaded(page);
      await page.evaluate(() => (window as any)._klaviyo.identify({ email: 'csp2@example.com' }));
      await flushed(page, 2);
      // Two people, maybe in one round: either may arrive first.
      expect(acceptedBodies(w.collector).map((b) => b.data.attributes.email).sort()).toEqual(['csp2@example.com', 'csp@example.com']);
      expect(await csp(page)).toEqual([]);
      expect(await page.evaluate(() => (window as any).__scriptErrors)).toEqual([]);
      expect(w.site.hits.slice(hit0).filter((h) => h !== '/favicon.ico')).toEqual(['/csp', '/dist/klaviyo.js?company_id=AbC123']);
      // The control: the policy is in force and the listener hears a violation (a fetch to another host).
      await page.evaluate(() => fetch('http://127.0.0.1:9/').catch(() => undefined));
      await until(() => csp(page).then((v) => v.length > 0), { timeoutMs: 5000 }).catch(() => {});
      expect(await csp(page)).toEqual(['connect-src http://127.0.0.1:9/']);
    } finally {
      await ctx.close();
    }
  });

  it('loads from another origin with the built integrity hash (and refuses a wrong one)', async () => {
    w.collector.reset();
    const integrity = readFileSync('dist/klaviyo.js.sri', 'utf8').trim();
    expect(integrity).toMatch(/^sha384-[A-Za-z0-9+/]{64}$/);
    // localhost and 127.0.0.1 are two origins on the same server: the bundle comes "from a CDN".
    const cdn = `http://localhost:${sitePort()}/dist/klaviyo.js?company_id=AbC123`;
    const html = (sri: string) => guestPage({ src: cdn, integrity: sri, calls: `window._klaviyo.push(['identify', { email: 'sri@example.com' }]);` });
    const ctx = await browser.newContext();
    try {
      const p = await ctx.newPage();
      await p.goto(w.site.page('/sri', html(integrity)));
      await bundleLoaded(p);
      await flushed(p, 1);
      expect(acceptedBodies(w.collector)[0]!.data.attributes.email).toBe('sri@example.com');
      expect(await p.evaluate(() => (window as any).__scriptErrors)).toEqual([]);
      // A hash of other bytes: the engine fetches the bundle, refuses to run it (the script element's error
      // event), so the tracker never loads.
      const wrong = 'sha384-' + Buffer.alloc(48, 7).toString('base64');
      const hit0 = w.site.hits.length;
      await p.goto(w.site.page('/sri-wrong', html(wrong)));
      await until(() => p.evaluate(() => (window as any).__scriptErrors.length > 0), { describe: () => 'no script error event' });
      expect(await p.evaluate(() => (window as any).__scriptErrors)).toEqual([cdn]);
      expect(w.site.hits.slice(hit0).filter((h) => h !== '/favicon.ico')).toEqual(['/sri-wrong', '/dist/klaviyo.js?company_id=AbC123']);
      expect(await p.evaluate(() => (window as any)._klaviyo.loaded ?? null)).toBeNull();
      expect(await p.evaluate(() => typeof (window as any)._klaviyo.stats)).toBe('undefined');
    } finally {
      await ctx.close();
    }
  });

  it('keeps two company ids on one origin apart: queues, identities, company_id', async () => {
    w.collector.reset();
    const ctx = await browser.newContext();
    try {
      w.site.page('/shop-a', guestPage({ company: 'AbC123' }));
      w.site.page('/shop-b', guestPage({ company: 'XyZ789' }));
      const a = await ctx.newPage();
      const b = await ctx.newPage();
      await Promise.all([a.goto(`${w.site.url}/shop-a`), b.goto(`${w.site.url}/shop-b`)]);
      await Promise.all([bundleLoaded(a), bundleLoaded(b)]);
      // No request gets through (the collector drops the connection, as an offline browser fails the fetch), so
      // both companies' items sit in the one IndexedDB database together before any is sent.
      w.collector.fault({ mode: 'drop' });
      const id = (p: Page, props: object) => p.evaluate((x) => (window as any)._klaviyo.identify(x), props);
      await id(a, { email: 'alice@example.com', shop: 'A' });
      await id(b, { email: 'bob@example.com', shop: 'B' });
      await id(a, { plan: 'a-plan' }); // no identifier: the remembered person of company A
      await id(b, { plan: 'b-plan' });
      expect(accepted(w.collector)).toEqual([]);
      // Back online: the browser fires `online`, which is what the tracker listens for.
      w.collector.clearFaults();
      for (const p of [a, b]) await p.evaluate(() => void dispatchEvent(new Event('online')));
      const plans = () => w.collector.profiles().map((s) => (s.attributes.properties as Record<string, unknown> | undefined)?.plan);
      await until(() => plans().filter(Boolean).length >= 2 || refused(w.collector).length > 0, { describe: () => formatRequests(w.collector) });
      // A new tab of company A, no identifier in the call: still Alice, never Bob.
      const c = await ctx.newPage();
      await c.goto(`${w.site.url}/shop-a`);
      await bundleLoaded(c);
      await id(c, { tier: 'gold' });
      await flushTracker(c);
      await until(() => w.collector.profiles('AbC123')[0]?.attributes.properties && (w.collector.profiles('AbC123')[0]!.attributes.properties as Record<string, unknown>).tier);
      expect(refused(w.collector)).toEqual([]);
      for (const r of accepted(w.collector)) {
        const body = r.body as ProfileBody;
        const who = r.company === 'AbC123' ? 'alice@example.com' : 'bob@example.com';
        expect(r.company).toMatch(/^(AbC123|XyZ789)$/);
        expect(body.data.meta?.identifiers).toEqual({ email: who });
      }
      const simple = (company: string) => w.collector.profiles(company).map((s) => ({ ids: s.identifiers, props: s.attributes.properties }));
      expect(simple('AbC123')).toEqual([{ ids: { email: 'alice@example.com' }, props: { shop: 'A', plan: 'a-plan', tier: 'gold' } }]);
      expect(simple('XyZ789')).toEqual([{ ids: { email: 'bob@example.com' }, props: { shop: 'B', plan: 'b-plan' } }]);
    } finally {
      w.collector.clearFaults();
      await ctx.close();
    }
  });

  it('puts no personal data in any URL or (unless debug) the console; only the API host is called', async () => {
    w.collector.reset();
    const pii = { email: 'jane.doe+pii@example.com', phone_number: '+15005550006', first_name: 'Janeprivate', last_name: 'Doesecret', external_id: 'cust-8842-secret', $city: 'Springfieldpii', note: 'private-note-77' };
    const needles = [...Object.values(pii), 'jane.doe@@example.com'].flatMap((v) => [v, encodeURIComponent(v)]);
    const calls = `window._klaviyo.push(['identify', ${JSON.stringify(pii)}]);
window._klaviyo.push(['identify', { email: 'jane.doe@@example.com', first_name: 'Janeprivate' }]);`;
    // Every request but the page's own, the bundle's and the API host's is a CSP violation the page records.
    const policy = { 'content-security-policy': `default-src 'none'; script-src 'self' 'nonce-pii'; connect-src ${w.collector.url}` };
    w.site.page('/pii', guestPage({ nonce: 'pii', calls }), policy);
    w.site.page('/pii-debug', guestPage({ nonce: 'pii', calls, config: { debug: true } }), policy);

    const visit = async (path: string) => {
      w.collector.reset();
      const hit0 = w.site.hits.length;
      const ctx = await browser.newContext();
      try {
        const page = await ctx.newPage();
        await page.goto(`${w.site.url}${path}`);
        await bundleLoaded(page);
        await flushTracker(page);
        await until(() => acceptedEmails(w.collector).includes(pii.email));
        const violations = await csp(page);
        const logs = (await page.consoleMessages()).map((m) => m.text);
        // The control: this page's listener hears a request to another host.
        await page.evaluate(() => fetch('http://127.0.0.1:9/').catch(() => undefined));
        await until(() => csp(page).then((v) => v.length > violations.length), { timeoutMs: 5000 }).catch(() => {});
        const control = (await csp(page)).slice(violations.length);
        const siteUrls = w.site.hits.slice(hit0).map((h) => w.site.url + h);
        const apiUrls = w.collector.requests().map((r) => `${w.collector.url}${r.path}${Object.keys(r.query).length ? '?' + new URLSearchParams(r.query) : ''}`);
        return { urls: [...siteUrls, ...apiUrls], apiRequests: w.collector.requests().map((r) => r.method), violations, control, logs };
      } finally {
        await ctx.close();
      }
    };
    const quiet = await visit('/pii');
    const pageOrigin = new URL(w.site.url).origin;
    const apiOrigin = new URL(w.collector.url).origin;
    expect(quiet.violations).toEqual([]);
    expect(quiet.control).toEqual(['connect-src http://127.0.0.1:9/']);
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
    const loud = await visit('/pii-debug');
    expect(loud.violations).toEqual([]);
    expect(loud.logs.some((l) => l.includes(pii.email))).toBe(true);
    console.log(
      `[security] ${engine}: requests recorded: ${quiet.urls.length} (page origin + API origin only: ${quiet.apiRequests.join(', ')}), CSP violations 0; ` +
        `console lines ${quiet.logs.length} without personal data, ${loud.logs.length} with debug`,
    );
  });
});
