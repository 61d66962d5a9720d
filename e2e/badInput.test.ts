// Bad input through the built bundle in every engine installed here (Chromium, Firefox, WebKit), against the strict
// collector: a table of hostile commands interleaved with valid ones, then random values from fast-check. Each bad
// call must cost exactly one `[klaviyo]` console error naming the field, throw nothing into the page, pollute no
// prototype and send nothing; every valid call around it must still be delivered. The page records its own
// console and uncaught errors (WATCH and CONSOLE_SHIM, first in <head>: WebKit has neither init scripts nor console
// events over WebDriver), so every engine takes one code path.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { startCollector, type Collector } from '../dev/collector/index';
import { CONSOLE_SHIM, eachEngine, type Page } from './harness/engines';
import { startSite, snippet, type Site } from './harness/site';
import { BAD_INPUTS, PAGE_HELPERS, type BadInput } from './harness/badInputs';
import { accepted, acceptedBodies, refused, type ProfileBody } from './harness/requests';
import { bundleLoaded, flushTracker, trackerStats } from './harness/tracker';
import { until } from './harness/wait';

if (!existsSync('dist/klaviyo.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

let collector: Collector;
let site: Site;

beforeAll(async () => {
  [collector, site] = await Promise.all([startCollector({ strict: true }), startSite()]);
});
afterAll(async () => {
  await Promise.all([collector?.close(), site?.close()]);
});

// First in the page, before any other script (after CONSOLE_SHIM): records every console.error, every uncaught error and unhandled rejection,
// and a fingerprint of the built-in prototypes to compare against at the end.
const WATCH = `
window.__errs = []; window.__uncaught = [];
const __error = console.error;
console.error = function (...a) { window.__errs.push(a.map((x) => typeof x === 'string' ? x : String(x && x.message || x)).join(' ')); return __error.apply(this, a); };
addEventListener('error', (e) => window.__uncaught.push('error: ' + e.message));
addEventListener('unhandledrejection', (e) => window.__uncaught.push('unhandledrejection: ' + String(e.reason && e.reason.message || e.reason)));
window.__protoPrint = () => JSON.stringify([Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype]
  .map((p) => Object.getOwnPropertyNames(p).sort().map((k) => k + ':' + typeof Object.getOwnPropertyDescriptor(p, k).value)));
window.__protoBefore = window.__protoPrint();
`;
const HEAD = `<script>${CONSOLE_SHIM}\n${WATCH}</script>`;

/** Uncaught errors as the engine reports them (Chromium, Firefox: the protocol; WebKit: CONSOLE_SHIM's listeners). */
const pageErrors = async (page: Page) => (await page.consoleMessages()).filter((m) => m.type === 'pageerror').map((m) => m.text);
/** console.error lines; Chromium asks for /favicon.ico on its own (a 404 here): not the tracker's doing. */
const consoleErrors = async (page: Page) => (await page.consoleMessages()).filter((m) => m.type === 'error' && !m.url?.endsWith('/favicon.ico')).map((m) => m.text);

/** Page-side: the page's view of the invariants, after everything settled. */
async function pageInvariants(page: Page) {
  return page.evaluate(
    () =>
      new Promise<{ uncaught: string[]; polluted: string[]; protoSame: boolean; xss: string; errs: string[] }>((r) =>
        // Two timer turns: unhandledrejection is dispatched after the microtask checkpoint of the task.
        setTimeout(() =>
          setTimeout(() => {
            const w = window as any;
            // Types, not values: an undefined in an object comes back as null from WebKit's WebDriver.
            const polluted = [({} as any).polluted, (Object as any).polluted, ([] as any).polluted].map((v) => typeof v);
            r({ uncaught: w.__uncaught, polluted, protoSame: w.__protoPrint() === w.__protoBefore, xss: typeof w.__xss, errs: w.__errs });
          }),
        ),
      ),
  );
}

// A valid identify's props, page-side source. Every one carries a unique marker; some use odd-but-valid
// forms: a Date in a custom property (sent as its ISO string), legacy keys, nesting, a null-prototype object.
const VALID = `window.__valid = (i) => {
  const email = 'valid' + i + '@example.com';
  switch (i % 4) {
    case 0: return { email, marker: 'm' + i, when: new Date(Date.UTC(2020, 0, 1 + (i % 28))) };
    case 1: return { $email: email, marker: 'm' + i, $first_name: 'Zoë ' + i };
    case 2: return { email, properties: { marker: 'm' + i, nested: { list: [1, 'two', null, { i }] } } };
    default: return Object.assign(Object.create(null), { email, marker: 'm' + i, $city: 'Boston', skipped: undefined });
  }
};`;

function expectValidDelivered(b: ProfileBody, i: number) {
  const a = b.data.attributes;
  const email = `valid${i}@example.com`;
  expect(a.email).toBe(email);
  expect(b.data.meta?.identifiers.email).toBe(email);
  if (i % 4 === 0) expect(a.properties?.when).toBe(new Date(Date.UTC(2020, 0, 1 + (i % 28))).toISOString());
  if (i % 4 === 1) expect(a.first_name).toBe(`Zoë ${i}`);
  if (i % 4 === 2) expect(a.properties?.nested).toEqual({ list: [1, 'two', null, { i }] });
  if (i % 4 === 3) expect([a.location, a.properties]).toEqual([{ city: 'Boston' }, { marker: `m${i}` }]);
}

const isSetting = (c: BadInput) => /^\['(config|account)'/.test(c.make);

await eachEngine('bad input', (engine, browser) => {

  it(`${BAD_INPUTS.length + 1} kinds of bad input: one clear error each, nothing thrown, nothing polluted, every valid call delivered`, async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();

    const early = BAD_INPUTS.filter((c) => c.phase);
    const later = BAD_INPUTS.filter((c) => !c.phase);
    // Before load: the anonymous cases first (no identity yet), then the preload ones, each followed by a
    // valid call; one bad call goes through the stub's promise method and must reject with the console's text.
    let valid = 0;
    const preload: string[] = [];
    for (const c of early) {
      preload.push(`window._klaviyo.push(${c.make});`);
      if (c.phase === 'preload') preload.push(`window._klaviyo.push(['identify', __valid(${valid++})]);`);
    }
    preload.push(`window.__stubRejection = window._klaviyo.identify({ email: 'stub-method-bad' }).then(() => 'resolved', (e) => e.message);`);
    const cases = `window.__cases = [${later.map((c) => `() => (${c.make})`).join(',\n')}];`;
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>bad input</title>
${HEAD}
<script>${await snippet()}
${PAGE_HELPERS}
${VALID}
${cases}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: collector.url })}]);
${preload.join('\n')}</script>
<script async src="/dist/klaviyo.js?company_id=AbC123"></script></head><body><p>bad input</p></body></html>`;
    await page.goto(site.page('/bad', html));
    await bundleLoaded(page);

    // The replay: settings first (config/account), then the rest in push order; one error each.
    const replayOrder = [...early.filter(isSetting), ...early.filter((c) => !isSetting(c))];
    const replayErrs = await page.evaluate(() => (window as any).__errs.slice() as string[]);
    const stubRejection = await page.evaluate(() => (window as any).__stubRejection as Promise<string>);
    expect(replayErrs.length, replayErrs.join('\n')).toBe(replayOrder.length + 1);
    replayOrder.forEach((c, k) => expect(replayErrs[k], c.kind).toMatch(/^\[klaviyo\] /));
    replayOrder.forEach((c, k) => expect(replayErrs[k], c.kind).toContain(c.field));
    expect(replayErrs[replayOrder.length]).toContain('email');
    expect(stubRejection).toBe(replayErrs[replayOrder.length]);

    // After load: each bad command pushed from its own task (so anything it throws would reach
    // window.onerror), each followed by a valid one.
    const results = await page.evaluate(
      async ({ n, firstValid }) => {
        const w = window as any;
        const turn = (fn: () => void) => new Promise<void>((r) => (setTimeout(fn), setTimeout(r)));
        const out: Array<{ errs: string[]; validErrs: string[]; uncaught: string[] }> = [];
        let v = firstValid;
        for (let i = 0; i < n; i++) {
          const cmd = w.__cases[i]();
          const e0 = w.__errs.length;
          const u0 = w.__uncaught.length;
          await turn(() => w._klaviyo.push(cmd));
          const e1 = w.__errs.length;
          const props = w.__valid(v++);
          await turn(() => w._klaviyo.push(['identify', props]));
          out.push({ errs: w.__errs.slice(e0, e1), validErrs: w.__errs.slice(e1), uncaught: w.__uncaught.slice(u0) });
        }
        return out;
      },
      { n: later.length, firstValid: valid },
    );
    valid += later.length;
    const problems: string[] = [];
    results.forEach((r, i) => {
      const c = later[i]!;
      if (r.errs.length !== 1) problems.push(`${c.kind}: ${r.errs.length} errors ${JSON.stringify(r.errs)}`);
      else if (!r.errs[0]!.startsWith('[klaviyo] ') || !r.errs[0]!.includes(c.field)) problems.push(`${c.kind}: expected an error naming ${c.field}, got ${r.errs[0]}`);
      // A clear error is a short one: it never echoes a hostile value back into the console.
      else if (r.errs[0]!.length > 160) problems.push(`${c.kind}: a ${r.errs[0]!.length}-character error: ${r.errs[0]!.slice(0, 100)}…`);
      if (r.validErrs.length) problems.push(`${c.kind}: the valid call after it logged ${JSON.stringify(r.validErrs)}`);
      if (r.uncaught.length) problems.push(`${c.kind}: reached the page: ${JSON.stringify(r.uncaught)}`);
    });

    await flushTracker(page);
    // refused(): answered 4xx/5xx, here a body the strict collector found invalid (one still in flight is not).
    const markers = () => new Set(acceptedBodies(collector).map((b) => b.data.attributes.properties?.marker));
    await until(() => markers().size >= valid || refused(collector).length > 0, { describe: () => `${markers().size}/${valid} valid delivered; ${problems.join('\n')}` });
    const inv = await pageInvariants(page);
    const stats = await trackerStats(page);
    // A second net: uncaught errors and console lines as the engine reports them (see pageErrors).
    await until(async () => (await consoleErrors(page)).length >= inv.errs.length);
    const shown = await consoleErrors(page);
    const thrown = await pageErrors(page);

    const expectedMarkers = Array.from({ length: valid }, (_, i) => `m${i}`);
    const delivered = expectedMarkers.filter((m) => markers().has(m)).length;
    const strays = acceptedBodies(collector).filter((b) => !expectedMarkers.includes(b.data.attributes.properties?.marker as string));
    const kinds = BAD_INPUTS.length + 1;
    console.log(
      `[badInput] ${engine}: bad-input table: kinds tried ${kinds}, errors shown ${inv.errs.length}, valid delivered ${delivered}/${valid}, ` +
        `invalid bodies reaching the server ${strays.length + refused(collector).length} (accepted strays ${strays.length}, refused ${refused(collector).length})`,
    );

    expect(problems, problems.join('\n')).toEqual([]);
    expect(inv.uncaught).toEqual([]);
    expect(thrown).toEqual([]);
    expect(inv.polluted).toEqual(['undefined', 'undefined', 'undefined']);
    expect(inv.protoSame).toBe(true);
    expect(inv.xss).toBe('undefined');
    expect(inv.errs.length).toBe(kinds);
    expect(shown).toEqual(inv.errs); // what the page saw is what the console showed
    expect(stats.dropped.invalid).toBe(kinds);
    expect(refused(collector), JSON.stringify(refused(collector).map((r) => r.errors))).toEqual([]);
    expect(strays).toEqual([]);
    expect(delivered).toBe(valid);
    expect(accepted(collector).length).toBe(valid); // one request per valid call: nothing else was sent
    for (let i = 0; i < valid; i++) expectValidDelivered(acceptedBodies(collector).find((b) => b.data.attributes.properties?.marker === `m${i}`)!, i);
    await ctx.close();
  });

  it('random JSON-like values (fast-check) and page-made hostile values at _klaviyo.identify keep the invariants', async () => {
    collector.reset();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>random</title>
${HEAD}
<script>${await snippet()}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: collector.url })}]);</script>
<script async src="/dist/klaviyo.js?company_id=PbT123"></script></head><body></body></html>`;
    await page.goto(site.page('/random', html));
    await bundleLoaded(page);

    const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
    const hasForbidden = (v: unknown): boolean =>
      !!v && typeof v === 'object' && (Array.isArray(v) ? v.some(hasForbidden) : Object.entries(v).some(([k, x]) => FORBIDDEN.has(k) || hasForbidden(x)));
    const HOSTILE = ['bigint', 'function', 'symbol', 'cycle', 'nan', 'infinity', 'getter', 'proxy', 'map', 'instance', 'proto', 'dateEmail'] as const;
    const custom = fc.dictionary(fc.string({ maxLength: 6 }).map((k) => 'c_' + k), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 });
    const sample = fc.oneof(
      // Anything JSON: only a plain object may pass.
      fc.record({ shape: fc.constant('random' as const), json: fc.jsonValue({ maxDepth: 4 }) }),
      // Named fields with random values: may pass or not, but what passes must be accepted by the server.
      fc.record({
        shape: fc.constant('named' as const),
        json: fc.record(
          { email: fc.oneof(fc.emailAddress(), fc.string()), phone_number: fc.oneof(fc.string(), fc.stringMatching(/^\+[1-9]\d{1,14}$/)), first_name: fc.string(), $city: fc.string(), location: fc.jsonValue({ maxDepth: 1 }), external_id: fc.string() },
          { requiredKeys: [] },
        ),
      }),
      // Custom properties only: must pass (they attach to the person identified just before) unless a
      // forbidden key came up, and arrive at the server as sent.
      fc.record({ shape: fc.constant('custom' as const), json: custom }),
      // The same with a non-JSON value the page makes, put in a random container: must fail naming its path.
      fc.record({ shape: fc.constant('hostile' as const), json: custom, hostile: fc.constantFrom(...HOSTILE), at: fc.nat() }),
    );
    type Sample = { shape: 'random' | 'named' | 'custom' | 'hostile'; json: unknown; hostile?: (typeof HOSTILE)[number]; at?: number };

    let n = 0;
    let rejectedTotal = 0;
    const customSent: Array<{ marker: number; props: Record<string, unknown> }> = [];
    const tally = { random: [0, 0], named: [0, 0], custom: [0, 0], hostile: [0, 0] } as Record<Sample['shape'], [number, number]>;

    await fc.assert(
      fc.asyncProperty(fc.array(sample, { minLength: 1, maxLength: 3 }), async (samples: Sample[]) => {
        const first = n;
        n += samples.length;
        const out = await page.evaluate(
          async ({ json, first }) => {
            const samples = JSON.parse(json) as Sample[];
            const w = window as any;
            const turn = (fn: () => void) => new Promise<void>((r) => (setTimeout(fn), setTimeout(r)));
            const res: Array<{ ok: boolean; errs: string[]; message?: string; expectField?: string; uncaught: string[] }> = [];
            for (let k = 0; k < samples.length; k++) {
              const s = samples[k]!;
              const marker = first + k;
              // The person the sample attaches to when it carries no identifier of its own.
              await turn(() => w._klaviyo.push(['identify', { email: `pb${marker}@example.com`, marker: `pb${marker}` }]));
              const value = JSON.parse(JSON.stringify(s.json));
              let expectField: string | undefined;
              if (s.shape === 'hostile') {
                // Every container of the value with its path as the tracker names it, then one gets the hostile value.
                const spots: Array<[object, string]> = [];
                const walk = (v: unknown, path: string) => {
                  if (!v || typeof v !== 'object') return;
                  spots.push([v, path]);
                  for (const [key, x] of Object.entries(v)) walk(x, path ? path + '.' + key : key);
                };
                walk(value, '');
                const [box, path] = spots[s.at! % spots.length]!;
                const key = Array.isArray(box) ? String(box.length) : s.hostile === 'proto' ? '__proto__' : 'h_x';
                expectField = path ? path + '.' + key : key;
                const make: Record<string, () => unknown> = {
                  bigint: () => BigInt(7),
                  function: () => () => 1,
                  symbol: () => Symbol('s'),
                  nan: () => NaN,
                  infinity: () => -Infinity,
                  map: () => new Map(),
                  instance: () => new (class Thing {})(),
                  proxy: () => new Proxy({}, { ownKeys() { throw new Error('trap'); } }),
                  cycle: () => box,
                };
                if (s.hostile === 'dateEmail') {
                  value.email = new Date();
                  expectField = 'email';
                } else if (s.hostile === 'proto' && Array.isArray(box)) {
                  box.push(JSON.parse('{"__proto__": {"polluted": 1}}'));
                  expectField += '.__proto__';
                } else if (s.hostile === 'getter' || s.hostile === 'proto') {
                  Object.defineProperty(box, key, s.hostile === 'getter' ? { enumerable: true, configurable: true, get() { throw new Error('getter trap'); } } : { enumerable: true, configurable: true, writable: true, value: { polluted: 1 } });
                } else (box as any)[key] = make[s.hostile!]!();
              }
              const e0 = w.__errs.length;
              const u0 = w.__uncaught.length;
              let ok = false;
              let message: string | undefined;
              if (k % 2 === 0) {
                // Through the promise method: resolves when durable, rejects with the console's text.
                await w._klaviyo.identify(value).then(() => (ok = true), (e: Error) => (message = e.message));
              } else {
                await turn(() => w._klaviyo.push(['identify', value]));
                ok = w.__errs.length === e0;
              }
              res.push({ ok, errs: w.__errs.slice(e0), message, expectField, uncaught: w.__uncaught.slice(u0) });
            }
            return res;
          },
          // As JSON text: puppeteer's BiDi serializer refuses fast-check's null-prototype records, and Firefox's BiDi
          // deserializer refuses keys such as "toString" (Xray wrappers); the page takes a JSON copy of each value anyway.
          { json: JSON.stringify(samples), first },
        );
        out.forEach((r, k) => {
          const s = samples[k]!;
          const what = JSON.stringify(s).slice(0, 300);
          expect(r.uncaught, what).toEqual([]);
          expect(r.errs.length, what).toBe(r.ok ? 0 : 1);
          if (!r.ok) {
            rejectedTotal++;
            expect(r.errs[0], what).toMatch(/^\[klaviyo\] identify: /);
            if (k % 2 === 0) expect(r.message, what).toBe(r.errs[0]);
          }
          tally[s.shape][r.ok ? 0 : 1]++;
          const plainObject = !!s.json && typeof s.json === 'object' && !Array.isArray(s.json);
          if (s.shape === 'random' && !plainObject) expect(r.ok, what).toBe(false);
          if (s.shape === 'hostile') {
            expect(r.ok, what).toBe(false);
            if (!hasForbidden(s.json)) expect(r.errs[0], what).toContain(r.expectField);
          }
          if (s.shape === 'custom') {
            expect(r.ok, what).toBe(!hasForbidden(s.json));
            if (r.ok) customSent.push({ marker: first + k, props: s.json as Record<string, unknown> });
          }
        });
        const inv = await pageInvariants(page);
        expect(inv.polluted).toEqual(['undefined', 'undefined', 'undefined']);
        expect(inv.protoSame).toBe(true);
        expect(inv.uncaught).toEqual([]);
        expect(await pageErrors(page)).toEqual([]);
      }),
      { numRuns: 50 },
    );

    // Every accepted call arrives; every refused one costs one `invalid` drop and sends nothing.
    await flushTracker(page);
    const stats = await trackerStats(page);
    await until(() => refused(collector).length > 0 || accepted(collector).length >= stats.sent, { describe: () => JSON.stringify(stats) });
    console.log(`[badInput] ${engine}: property test: ${n} random identifies (${rejectedTotal} refused) + ${n} markers; outcomes [accepted, refused] ${JSON.stringify(tally)}; requests ${accepted(collector).length}`);
    expect(refused(collector), JSON.stringify(refused(collector).map((r) => [r.body, r.errors]))).toEqual([]);
    expect(stats.dropped.invalid).toBe(rejectedTotal);
    expect(stats.dropped.client).toBe(0);
    expect(stats.queued).toBe(2 * n - rejectedTotal);
    expect(stats.sent + stats.merged).toBe(stats.queued);
    expect(accepted(collector).length).toBe(stats.sent);
    // Per person: every marker, and the custom properties exactly as JSON carries them.
    const byEmail = new Map<string, Record<string, unknown>>();
    for (const b of acceptedBodies(collector)) {
      const email = b.data.meta?.identifiers.email;
      if (email) byEmail.set(email, { ...byEmail.get(email), ...b.data.attributes.properties });
    }
    for (let m = 0; m < n; m++) expect(byEmail.get(`pb${m}@example.com`)?.marker).toBe(`pb${m}`);
    for (const { marker, props } of customSent) {
      const got = byEmail.get(`pb${marker}@example.com`)!;
      for (const [k, v] of Object.entries(props)) if (v !== null) expect(got[k], k).toEqual(JSON.parse(JSON.stringify(v)));
    }
    await ctx.close();
  });
});
