// Delivery under faults (issue 5), in every engine installed here (issue 13: Chromium, Firefox, WebKit through the
// engine adapter, e2e/harness/engines), with the built bundle and the collector's fault modes: nothing lost, the
// last write wins. Every identify carries one unique tag (a property key `t_…`), so the accepted requests tell
// what arrived, what arrived twice and what never did. The scenarios are independent (each has its own collector
// and browser context) and run concurrently within an engine, a few at a time; the engines run one after another.
// Prints the fault table (engine x scenario) and each engine's time; writes test-output/fault-table.json.
//
// Engine-neutral on purpose: the page records its own console (CONSOLE_SHIM, first in <head>: WebKit has no
// console events), a fault that must come before any page script is inline in <head> too (WebKit has no init
// scripts), and "offline" is a proxy in front of the collector that refuses connections (no engine but Chromium
// emulates the network) followed by the page's `online` event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { startCollector, type Collector, type CollectorOptions, type RecordedRequest } from '../dev/collector/index';
import { CONSOLE_SHIM, describeEngines, engines, launch, makeTempDir, removeDir, type Browser, type EngineName, type Page } from './harness/engines';
import { startSite, trackerPage, type Site } from './harness/site';
import { faultTable, tally } from './harness/faultTable';
import { accepted, formatRequests, posts, type ProfileBody } from './harness/requests';
import { bundleLoaded, flushTracker, trackerStats } from './harness/tracker';
import { sleep, until } from './harness/wait';

const avail = await engines();
console.log(`[faults] engines:\n${describeEngines(avail)}`);
if (!existsSync('dist/klaviyo.js') || !existsSync('dist/snippet.min.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

/**
 * Scenarios at once per engine. Every scenario's page must be visible, as a page the visitor is looking at:
 * Firefox opens every context's page as a tab of one window, and only the newest tab is visible, so its scenarios
 * run one at a time; a WebKit context is a browser process (and window) of its own (2 cores, shared).
 */
const PARALLEL: Record<EngineName, number> = { chromium: 5, firefox: 1, webkit: 2 };

let site: Site;
const table = faultTable();
const times: string[] = [];

beforeAll(async () => {
  site = await startSite();
});
afterAll(async () => {
  table.finish();
  if (times.length) console.log(`[faults] time per engine: ${times.join(', ')}`);
  await site?.close();
});

const propsOf = (r: RecordedRequest) => (r.body as ProfileBody | undefined)?.data?.attributes?.properties ?? {};
const tagsIn = (r: RecordedRequest) => Object.keys(propsOf(r)).filter((k) => k.startsWith('t_'));
/** Tags of every accepted request, once per request (a tag seen twice is a duplicate). */
const seenTags = (c: Collector) => accepted(c).flatMap(tagsIn);
/** What a scenario closes when it ends, in reverse order. */
type Bag = Array<() => Promise<unknown>>;

/** `n` identifies for distinct people, each tagged `t_<name>_<i>`. */
const people = (name: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ email: `${name}-${from + i}@example.com`, tag: `t_${name}_${from + i}` }));

/** Call identify for each (all in one task) and resolve when all are durable. */
function identifyAll(page: Page, list: Array<{ email: string; tag: string }>) {
  return page.evaluate(
    (l: Array<{ email: string; tag: string }>) =>
      Promise.all(l.map((p) => (window as any)._klaviyo.identify({ email: p.email, properties: { [p.tag]: 1 } }))).then(() => null),
    list,
  );
}

/** The scenarios are about a page the visitor is looking at: a hidden page (a background tab) is a harness fault. */
const visible = async (page: Page) =>
  expect(await page.evaluate(() => document.visibilityState), 'harness: the tracker page must be visible (a window of the test browser started out hidden)').toBe('visible');

/** A tracker page: the console shim first in <head>, then `head` (a script that must run before any other), then
 *  the stub, the config and the bundle. */
async function page(opts: { apiHost: string; calls?: string; head?: string }): Promise<string> {
  const html = await trackerPage({ apiHost: opts.apiHost, calls: opts.calls });
  return html.replace('<script>', `<script>${CONSOLE_SHIM}</script>${opts.head ? `<script>${opts.head}</script>` : ''}<script>`);
}

/** Wait until every tag has arrived; on a timeout the error also tells what the page says (stats, its console). */
const waitAll = (c: Collector, tags: string[], timeoutMs = 30_000, page?: Page) =>
  until(
    () => {
      const seen = new Set(seenTags(c));
      return tags.every((t) => seen.has(t));
    },
    { timeoutMs, describe: () => `${new Set(seenTags(c)).size} of ${tags.length} delivered; ${formatRequests(c)}` },
  ).catch(async (e: Error) => {
    if (!page) throw e;
    const said = await Promise.all([
      page.evaluate(() => (window as any)._klaviyo?.stats?.() ?? null).catch((x: Error) => `(stats: ${x.message})`),
      page.consoleMessages().catch((x: Error) => `(console: ${x.message})`),
      page.url().catch(() => '?'),
    ]);
    throw new Error(`${e.message}; page ${said[2]}: stats ${JSON.stringify(said[0])}, console ${JSON.stringify(said[1])}`);
  });

/** At most `n` of the functions given at once. */
function slots(n: number) {
  let free = n;
  const waiting: Array<() => void> = [];
  return async <T>(f: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await f();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/**
 * A TCP proxy in front of `target` (the collector) that can go "offline": while it is, every connection is reset
 * on arrival (the browser's fetch fails with a network error, as offline) and none reaches the collector; open
 * connections are cut when it goes offline.
 */
async function network(target: string) {
  const { hostname, port } = new URL(target);
  let offline = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (offline) return void client.resetAndDestroy();
    const upstream = connect(Number(port), hostname);
    const end = () => (client.destroy(), upstream.destroy(), open.delete(client), open.delete(upstream));
    for (const s of [client, upstream]) open.add(s), s.on('error', end), s.on('close', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    setOffline(v: boolean) {
      offline = v;
      if (v) for (const s of open) s.resetAndDestroy();
    },
    close: () => new Promise<void>((r) => (open.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

for (const s of avail.skipped) describe(`delivery under faults in ${s.engine}`, () => it.skip(`skipped: ${s.reason}`, () => {}));

describe.each(avail.available)('delivery under faults in %s (built bundle, collector faults)', (engine) => {
  let browser: Browser;
  let t0 = 0;
  const slot = slots(PARALLEL[engine]);
  /** A scenario, run when a slot is free; what it registers in `bag` (collectors, contexts) is closed when it ends. */
  const scenarioTest = (name: string, body: (bag: Bag, skip: (note: string) => never) => Promise<void>) =>
    it.concurrent(name, ({ skip }) =>
      slot(async () => {
        const bag: Bag = [];
        try {
          await body(bag, skip);
        } finally {
          for (const f of bag.reverse()) await f().catch(() => {});
        }
      }),
    );
  const add = (row: Parameters<typeof table.add>[0]) => table.add({ engine, ...row });
  const opening = slots(1);

  beforeAll(async () => {
    t0 = Date.now();
    browser = await launch(engine);
  });
  afterAll(async () => {
    await browser?.close();
    times.push(`${engine} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`[faults] ${engine}: ${Date.now() - t0} ms (launch ${browser?.launchMs} ms)`);
  });

  /** A collector, a fresh browser context and a tracker page of its own. */
  async function scenario(bag: Bag, name: string, opts: { collector?: CollectorOptions; calls?: string; head?: string; apiHost?: (c: Collector) => Promise<string> } = {}) {
    const collector = await startCollector({ strict: true, ...opts.collector });
    bag.push(() => collector.close());
    const apiHost = opts.apiHost ? await opts.apiHost(collector) : collector.url;
    const url = site.page(`/${engine}/${name}`, await page({ apiHost, calls: opts.calls, head: opts.head }));
    // One context (in WebKit a browser window) at a time: WebKit windows opened at once can start out hidden.
    const { ctx, p } = await opening(async () => {
      const ctx = await browser.newContext();
      bag.push(() => ctx.close());
      return { ctx, p: await ctx.newPage() };
    });
    const open = async () => {
      await p.goto(url);
      await bundleLoaded(p);
      await visible(p);
    };
    return { collector, ctx, page: p, url, open, console: () => p.consoleMessages() };
  }

  scenarioTest('1. 20 identifies then immediate navigation, 5 rounds: all delivered after reopening', async (bag) => {
    // Latency keeps requests in flight when the page goes: they are cut off mid-flight.
    const s = await scenario(bag, 's1', { collector: { latencyMs: 150 } });
    const sent: string[] = [];
    for (let round = 0; round < 5; round++) {
      await s.open();
      const list = people(`nav${round}`, 20);
      sent.push(...list.map((p) => p.tag));
      await identifyAll(s.page, list); // durable now
      await s.page.goto('about:blank'); // and gone at once
    }
    const beforeReopen = new Set(seenTags(s.collector)).size;
    await s.open();
    await waitAll(s.collector, sent, 30_000, s.page);
    await flushTracker(s.page);
    const row = tally(sent, seenTags(s.collector));
    add({ scenario: '1 navigate away x5', ...row, note: `${beforeReopen} arrived before the final reopen` });
    expect(row).toMatchObject({ items: 100, delivered: 100, lost: 0 });
  });

  scenarioTest('2. 200 queued while the collector hangs, browser SIGKILLed, relaunched on the same profile: all delivered', async (bag, skip) => {
    if (!browser.features.persistentProfile) {
      // The adapter's own reason (what launch on a profile says in this engine).
      const why = await launch(engine, { profileDir: tmpdir() }).then(
        async (b) => (await b.close(), 'features.persistentProfile is false'),
        (e: Error) => e.message,
      );
      add({ scenario: '2 SIGKILL mid-flight', items: 0, delivered: 0, duplicates: 0, lost: 0, skipped: why });
      skip(why);
    }
    const collector = await startCollector({ strict: true });
    const dir = makeTempDir(`klaviyo-crash-${engine}-`);
    let b: Browser | undefined;
    // The profile goes once the browser using it has closed (it writes there while closing).
    bag.push(() => collector.close(), async () => (await b?.close(), await removeDir(dir)));
    const url = site.page(`/${engine}/s2`, await page({ apiHost: collector.url }));
    collector.fault({ mode: 'hang' });
    b = await launch(engine, { profileDir: dir });
    let p = await (await b.newContext()).newPage();
    await p.goto(url);
    await bundleLoaded(p);
    await visible(p);
    const list = people('crash', 200);
    await identifyAll(p, list);
    // The tracker is sending (its requests hang): the crash comes mid-flight.
    await until(() => posts(collector).length >= 1);
    await b.kill();
    const beforeCrash = accepted(collector).length;
    collector.clearFaults();

    b = await launch(engine, { profileDir: dir });
    p = await (await b.newContext()).newPage();
    await p.goto(url);
    await waitAll(collector, list.map((p) => p.tag), 30_000, p);
    await flushTracker(p);
    const row = tally(list.map((p) => p.tag), seenTags(collector));
    add({ scenario: '2 SIGKILL mid-flight', ...row, note: `${beforeCrash} accepted before the kill, ${posts(collector).length} POSTs in all` });
    expect(beforeCrash).toBe(0);
    expect(row).toMatchObject({ items: 200, delivered: 200, lost: 0 });
  });

  scenarioTest('3. 500 for 10 s during 50 identifies: all delivered after recovery, requests during the outage bounded', async (bag) => {
    const s = await scenario(bag, 's3');
    await s.open();
    const outageMs = 10_000;
    const start = Date.now();
    s.collector.fault({ mode: 'status', status: 500, forMs: outageMs });
    const sent: string[] = [];
    // 50 identifies spread over the first 5 s of the outage.
    for (let i = 0; i < 10; i++) {
      const list = people('outage', 5, i * 5);
      sent.push(...list.map((p) => p.tag));
      await identifyAll(s.page, list);
      await sleep(500);
    }
    await waitAll(s.collector, sent, 90_000, s.page);
    const during = posts(s.collector).filter((r) => r.time < start + outageMs);
    const firstOk = accepted(s.collector)[0]!.time;
    const row = tally(sent, seenTags(s.collector));
    add({
      scenario: '3 500 for 10 s',
      ...row,
      note: `${during.length} requests during the outage, first 202 ${firstOk - (start + outageMs)} ms after it ended`,
    });
    expect(during.every((r) => r.status === 500)).toBe(true);
    expect(during.length).toBeGreaterThan(0);
    expect(during.length).toBeLessThan(50);
    expect(row).toMatchObject({ items: 50, delivered: 50, lost: 0 });
  });

  scenarioTest('4. 429 with Retry-After: 5: no request in those 5 seconds, then all delivered', async (bag) => {
    const s = await scenario(bag, 's4');
    await s.open();
    s.collector.fault({ mode: 'status', status: 429, retryAfter: 5, count: 1 });
    const first = people('throttle', 1);
    await identifyAll(s.page, first);
    const throttled = (await until(() => posts(s.collector).find((r) => r.status === 429)))!;
    // More updates while paused: they must wait too. (Pushed once the page has the 429, not just the
    // collector: on a loaded machine the answer can still be on its way, and updates queued before it
    // go out at once, as they should.)
    await until(async () => (await trackerStats(s.page)).retried >= 1, { describe: () => 'the page never saw the 429' });
    const more = people('throttle', 20, 1);
    await identifyAll(s.page, more);
    const sent = [...first, ...more].map((p) => p.tag);
    await waitAll(s.collector, sent, 30_000, s.page);
    const after = posts(s.collector).filter((r) => r.seq > throttled.seq);
    const gap = Math.min(...after.map((r) => r.time)) - throttled.time;
    const row = tally(sent, seenTags(s.collector));
    add({ scenario: '4 429 Retry-After 5', ...row, note: `next request ${gap} ms after the 429` });
    expect(posts(s.collector).filter((r) => r.seq < throttled.seq)).toEqual([]);
    const log = posts(s.collector).map((r) => `#${r.seq} ${r.status} +${r.time - throttled.time} ms ${tagsIn(r).join(',')}`);
    expect(gap, log.join('; ')).toBeGreaterThanOrEqual(5_000);
    expect(row).toMatchObject({ items: 21, delivered: 21, lost: 0 });
  });

  scenarioTest('5. 30 identifies for one email, n = 1..30, latency 0-300 ms: the server ends with n = 30, in fewer than 30 requests', async (bag) => {
    const s = await scenario(bag, 's5', { collector: { latencyMs: [0, 300] } });
    await s.open();
    const email = 'last-wins@example.com';
    const sent = Array.from({ length: 30 }, (_, i) => `t_n${i + 1}`);
    await s.page.evaluate(async (email: string) => {
      for (let n = 1; n <= 30; n++) {
        await (window as any)._klaviyo.identify({ email, properties: { n, ['t_n' + n]: 1 } });
        // Spread over about a second, so requests are in flight while later updates arrive.
        await new Promise((r) => setTimeout(r, Math.random() * 60));
      }
      return null;
    }, email);
    await waitAll(s.collector, sent, 30_000, s.page);
    await flushTracker(s.page);
    const person = s.collector.profiles().find((p) => p.identifiers.email === email);
    const final = (person?.attributes.properties as Record<string, unknown> | undefined)?.n;
    const requests = posts(s.collector).length;
    const stats = await trackerStats(s.page);
    const row = tally(sent, seenTags(s.collector));
    add({ scenario: '5 last write wins', ...row, note: `final n = ${String(final)}, ${requests} requests, ${stats.merged} merged` });
    expect(final).toBe(30);
    expect(requests).toBeLessThan(30);
    expect(accepted(s.collector).length).toBe(requests);
    expect(row).toMatchObject({ items: 30, delivered: 30, lost: 0, duplicates: 0 });
  });

  scenarioTest('6. offline then online: delivered', async (bag) => {
    let net: Awaited<ReturnType<typeof network>> | undefined;
    const s = await scenario(bag, 's6', {
      apiHost: async (c) => {
        net = await network(c.url);
        bag.push(() => net!.close());
        return net.url;
      },
    });
    await s.open();
    net!.setOffline(true);
    const list = people('offline', 5);
    await identifyAll(s.page, list);
    // It tried and failed (a network error) while offline.
    await until(async () => (await trackerStats(s.page)).retried >= 1, { describe: () => 'no failed attempt while offline' });
    expect(posts(s.collector)).toEqual([]);
    const online = Date.now();
    net!.setOffline(false);
    await s.page.evaluate(() => (dispatchEvent(new Event('online')), null));
    await waitAll(s.collector, list.map((p) => p.tag), 30_000, s.page);
    const took = Date.now() - online;
    const row = tally(list.map((p) => p.tag), seenTags(s.collector));
    add({ scenario: '6 offline then online', ...row, note: `delivered ${took} ms after going online` });
    expect(row).toMatchObject({ items: 5, delivered: 5, lost: 0 });
  });

  // Three ways IndexedDB is unusable: missing (old private modes), open throws (Firefox private mode, blocked
  // storage), open never answers (Safari 14). Inline first in <head>, before the stub and the bundle.
  const noIdb = {
    missing: `delete window.indexedDB;`,
    throws: `IDBFactory.prototype.open = function () {
  throw new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError');
};`,
    hangs: `IDBFactory.prototype.open = function () { return {}; };`,
  };
  for (const [kind, head] of Object.entries(noIdb)) {
    scenarioTest(`7. IndexedDB unavailable (${kind}): delivered, exactly one warning`, async (bag) => {
      const s = await scenario(bag, 's7' + kind, { head });
      await s.open();
      expect(await s.page.evaluate(() => (window as any).indexedDB === undefined)).toBe(kind === 'missing');
      const list = people('noidb' + kind, 5);
      await identifyAll(s.page, list);
      await waitAll(s.collector, list.map((p) => p.tag), 30_000, s.page);
      // Another task's updates go through the fallback as well, without a second warning.
      const later = people('noidb' + kind, 3, 5);
      await identifyAll(s.page, later);
      const sent = [...list, ...later].map((p) => p.tag);
      await waitAll(s.collector, sent, 30_000, s.page);
      await flushTracker(s.page);
      const msgs = await s.console();
      const warnings = msgs.filter((m) => m.type === 'warning');
      const row = tally(sent, seenTags(s.collector));
      add({ scenario: `7 no IndexedDB (${kind})`, ...row, note: `${warnings.length} warning: ${warnings[0]?.text ?? '-'}` });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.text).toMatch(/^\[klaviyo\] IndexedDB unavailable/);
      expect(msgs.filter((m) => m.type === 'error' && m.text.includes('[klaviyo]'))).toEqual([]);
      expect(row).toMatchObject({ items: 8, delivered: 8, lost: 0 });
    });
  }

  scenarioTest('8. a 400 drops one update with a console error quoting the detail; the rest flows; stats and onError see it', async (bag) => {
    const s = await scenario(bag, 's8', {
      calls: `window._klaviyo.push(['config', { onError: function (e) { (window.__drops = window.__drops || []).push(e); } }]);`,
    });
    await s.open();
    // The first request to arrive gets the fault; the other five of the same burst are accepted.
    s.collector.fault({ mode: 'status', status: 400, count: 1 });
    const list = people('drop400', 6);
    const sent = list.map((p) => p.tag);
    await identifyAll(s.page, list);
    const refused = (await until(() => posts(s.collector).find((r) => r.status === 400)))!;
    const dropped = tagsIn(refused);
    // And the queue keeps flowing after the drop.
    const rest = people('after-drop', 4);
    sent.push(...rest.map((p) => p.tag));
    await identifyAll(s.page, rest);
    await waitAll(s.collector, sent.filter((t) => !dropped.includes(t)), 30_000, s.page);
    await flushTracker(s.page);
    const stats = await trackerStats(s.page);
    const drops = await s.page.evaluate(() => (window as any).__drops ?? []);
    // (Chromium adds its own "Failed to load resource" line for every 4xx/5xx: not ours.)
    const errors = (await s.console()).filter((m) => m.type === 'error' && !m.text.startsWith('Failed to load resource')).map((m) => m.text);
    const row = tally(sent, seenTags(s.collector), dropped);
    add({ scenario: '8 400 drops one', ...row, note: `${dropped.length} dropped as intended; stats.dropped ${JSON.stringify(stats.dropped)}` });
    expect(dropped).toHaveLength(1);
    expect(row).toMatchObject({ items: 10, delivered: 9, lost: 0, duplicates: 0 });
    expect(errors).toEqual(['[klaviyo] dropped an update (400): "Injected fault: status 400."']);
    expect(stats).toMatchObject({ sent: 9, dropped: { client: 1, invalid: 0, attempts: 0, ttl: 0, cap: 0 } });
    expect(drops).toEqual([{ reason: 'client', status: 400, message: errors[0], count: 1 }]);
  });
});
