// Delivery under faults (issue 5), in real Chromium with the built bundle and the collector's fault
// modes: nothing lost, the last write wins. Every identify carries one unique tag (a property key
// `t_…`), so the accepted requests tell what arrived, what arrived twice and what never did. The
// scenarios are independent (each has its own collector and browser context) and run concurrently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startCollector, type Collector, type CollectorOptions, type RecordedRequest } from '../dev/collector/index';
import { launchChromium, launchPersistent } from './harness/browser';
import { startSite, trackerPage, until, type Site } from './harness/site';
import { faultTable, tally } from './harness/faultTable';

let browser: Browser;
let site: Site;
const table = faultTable();
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [browser, site] = await Promise.all([launchChromium(), startSite()]);
});
afterAll(async () => {
  table.finish();
  await Promise.allSettled(cleanup.map((f) => f()));
  await Promise.all([browser?.close(), site?.close()]);
});

type Body = { data: { attributes: { email?: string; properties?: Record<string, unknown> } } };
const posts = (c: Collector) => c.requests().filter((r) => r.method === 'POST');
const propsOf = (r: RecordedRequest) => (r.body as Body | undefined)?.data?.attributes?.properties ?? {};
const tagsIn = (r: RecordedRequest) => Object.keys(propsOf(r)).filter((k) => k.startsWith('t_'));
/** Tags of every accepted request, once per request (a tag seen twice is a duplicate). */
const seenTags = (c: Collector) => c.accepted().flatMap(tagsIn);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` identifies for distinct people, each tagged `t_<name>_<i>`. */
const people = (name: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ email: `${name}-${from + i}@example.com`, tag: `t_${name}_${from + i}` }));

/** Call identify for each (all in one task) and resolve when all are durable. */
function identifyAll(page: Page, list: Array<{ email: string; tag: string }>) {
  return page.evaluate(
    (l) => Promise.all(l.map((p) => (window as any)._klaviyo.identify({ email: p.email, properties: { [p.tag]: 1 } }))).then(() => {}),
    list,
  );
}

/** A collector, a fresh browser context and a tracker page of its own. */
async function scenario(name: string, opts: { collector?: CollectorOptions; calls?: string } = {}) {
  const collector = await startCollector({ strict: true, ...opts.collector });
  const ctx = await browser.newContext();
  cleanup.push(() => collector.close(), () => ctx.close());
  const url = site.page('/' + name, await trackerPage({ apiHost: collector.url, calls: opts.calls }));
  const page = await ctx.newPage();
  const consoleMsgs: Array<{ type: string; text: string }> = [];
  page.on('console', (m) => consoleMsgs.push({ type: m.type(), text: m.text() }));
  const open = async () => {
    await page.goto(url);
    await page.waitForFunction(() => (window as any)._klaviyo.loaded === true);
  };
  return { collector, ctx, page, url, open, consoleMsgs };
}

const waitAll = (c: Collector, tags: string[], timeoutMs = 30_000) =>
  until(
    () => {
      const seen = new Set(seenTags(c));
      return tags.every((t) => seen.has(t));
    },
    { timeoutMs, describe: () => `${new Set(seenTags(c)).size} of ${tags.length} delivered; statuses ${JSON.stringify(posts(c).map((r) => r.status))}` },
  );

/** The main process of a Chromium started on `userDataDir` (not a renderer/GPU/zygote child). */
function browserPid(userDataDir: string): number {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (args.includes(`--user-data-dir=${userDataDir}`) && !args.some((a) => a.startsWith('--type='))) found.push(Number(d));
  }
  if (found.length !== 1) throw new Error(`expected one browser process for ${userDataDir}, found ${JSON.stringify(found)}`);
  return found[0]!;
}

describe.concurrent('delivery under faults (Chromium, built bundle, collector faults)', () => {
  it('1. 20 identifies then immediate navigation, 5 rounds: all delivered after reopening', async () => {
    // Latency keeps requests in flight when the page goes: they are cut off mid-flight.
    const s = await scenario('s1', { collector: { latencyMs: 150 } });
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
    await waitAll(s.collector, sent);
    await s.page.evaluate(() => (window as any)._klaviyo.flush());
    const row = tally(sent, seenTags(s.collector));
    table.add({ scenario: '1 navigate away x5', ...row, note: `${beforeReopen} arrived before the final reopen` });
    expect(row).toMatchObject({ items: 100, delivered: 100, lost: 0 });
  });

  it('2. 200 queued while the collector hangs, browser SIGKILLed, relaunched on the same profile: all delivered', async () => {
    const collector = await startCollector({ strict: true });
    const dir = mkdtempSync(join(tmpdir(), 'klaviyo-crash-'));
    let ctx: BrowserContext | undefined;
    // The profile goes once the browser using it has closed (it writes there while closing).
    cleanup.push(() => collector.close(), async () => (await ctx?.close(), rmSync(dir, { recursive: true, force: true })));
    const url = site.page('/s2', await trackerPage({ apiHost: collector.url }));
    collector.fault({ mode: 'hang' });
    ctx = await launchPersistent(dir);
    let page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(url);
    await page.waitForFunction(() => (window as any)._klaviyo.loaded === true);
    const list = people('crash', 200);
    await identifyAll(page, list);
    // The tracker is sending (its requests hang): the crash comes mid-flight.
    await until(() => posts(collector).length >= 1);
    const crashed = ctx;
    const closed = new Promise<void>((r) => crashed.once('close', () => r()));
    process.kill(browserPid(dir), 'SIGKILL');
    await Promise.race([closed, sleep(10_000)]);
    const beforeCrash = collector.accepted().length;
    collector.clearFaults();

    ctx = await launchPersistent(dir);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(url);
    await waitAll(collector, list.map((p) => p.tag));
    await page.evaluate(() => (window as any)._klaviyo.flush());
    const row = tally(list.map((p) => p.tag), seenTags(collector));
    table.add({ scenario: '2 SIGKILL mid-flight', ...row, note: `${beforeCrash} accepted before the kill, ${posts(collector).length} POSTs in all` });
    expect(beforeCrash).toBe(0);
    expect(row).toMatchObject({ items: 200, delivered: 200, lost: 0 });
  });

  it('3. 500 for 10 s during 50 identifies: all delivered after recovery, requests during the outage bounded', async () => {
    const s = await scenario('s3');
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
    await waitAll(s.collector, sent, 90_000);
    const during = posts(s.collector).filter((r) => r.time < start + outageMs);
    const firstOk = s.collector.accepted()[0]!.time;
    const row = tally(sent, seenTags(s.collector));
    table.add({
      scenario: '3 500 for 10 s',
      ...row,
      note: `${during.length} requests during the outage, first 202 ${firstOk - (start + outageMs)} ms after it ended`,
    });
    expect(during.every((r) => r.status === 500)).toBe(true);
    expect(during.length).toBeGreaterThan(0);
    expect(during.length).toBeLessThan(50);
    expect(row).toMatchObject({ items: 50, delivered: 50, lost: 0 });
  });

  it('4. 429 with Retry-After: 5: no request in those 5 seconds, then all delivered', async () => {
    const s = await scenario('s4');
    await s.open();
    s.collector.fault({ mode: 'status', status: 429, retryAfter: 5, count: 1 });
    const first = people('throttle', 1);
    await identifyAll(s.page, first);
    const throttled = (await until(() => posts(s.collector).find((r) => r.status === 429)))!;
    // More updates while paused: they must wait too. (Pushed once the page has the 429, not just the
    // collector: on a loaded machine the answer can still be on its way, and updates queued before it
    // go out at once, as they should.)
    await s.page.waitForFunction(() => (window as any)._klaviyo.stats().retried >= 1);
    const more = people('throttle', 20, 1);
    await identifyAll(s.page, more);
    const sent = [...first, ...more].map((p) => p.tag);
    await waitAll(s.collector, sent, 30_000);
    const after = posts(s.collector).filter((r) => r.seq > throttled.seq);
    const gap = Math.min(...after.map((r) => r.time)) - throttled.time;
    const row = tally(sent, seenTags(s.collector));
    table.add({ scenario: '4 429 Retry-After 5', ...row, note: `next request ${gap} ms after the 429` });
    expect(posts(s.collector).filter((r) => r.seq < throttled.seq)).toEqual([]);
    expect(gap).toBeGreaterThanOrEqual(5_000);
    expect(row).toMatchObject({ items: 21, delivered: 21, lost: 0 });
  });

  it('5. 30 identifies for one email, n = 1..30, latency 0-300 ms: the server ends with n = 30, in fewer than 30 requests', async () => {
    const s = await scenario('s5', { collector: { latencyMs: [0, 300] } });
    await s.open();
    const email = 'last-wins@example.com';
    const sent = Array.from({ length: 30 }, (_, i) => `t_n${i + 1}`);
    await s.page.evaluate(async (email) => {
      for (let n = 1; n <= 30; n++) {
        await (window as any)._klaviyo.identify({ email, properties: { n, ['t_n' + n]: 1 } });
        // Spread over about a second, so requests are in flight while later updates arrive.
        await new Promise((r) => setTimeout(r, Math.random() * 60));
      }
    }, email);
    await waitAll(s.collector, sent);
    await s.page.evaluate(() => (window as any)._klaviyo.flush());
    const person = s.collector.profiles().find((p) => p.identifiers.email === email);
    const final = (person?.attributes.properties as Record<string, unknown> | undefined)?.n;
    const requests = posts(s.collector).length;
    const stats = await s.page.evaluate(() => (window as any)._klaviyo.stats());
    const row = tally(sent, seenTags(s.collector));
    table.add({ scenario: '5 last write wins', ...row, note: `final n = ${String(final)}, ${requests} requests, ${stats.merged} merged` });
    expect(final).toBe(30);
    expect(requests).toBeLessThan(30);
    expect(s.collector.accepted().length).toBe(requests);
    expect(row).toMatchObject({ items: 30, delivered: 30, lost: 0, duplicates: 0 });
  });

  it('6. offline then online: delivered', async () => {
    const s = await scenario('s6');
    await s.open();
    await s.ctx.setOffline(true);
    const list = people('offline', 5);
    await identifyAll(s.page, list);
    // It tried and failed (a network error) while offline.
    await until(() => s.page.evaluate(() => (window as any)._klaviyo.stats().retried >= 1));
    expect(posts(s.collector)).toEqual([]);
    const online = Date.now();
    await s.ctx.setOffline(false);
    await waitAll(s.collector, list.map((p) => p.tag));
    const took = Date.now() - online;
    const row = tally(list.map((p) => p.tag), seenTags(s.collector));
    table.add({ scenario: '6 offline then online', ...row, note: `delivered ${took} ms after going online` });
    expect(row).toMatchObject({ items: 5, delivered: 5, lost: 0 });
  });

  // Three ways IndexedDB is unusable: missing (old private modes), open throws (Firefox private mode,
  // blocked storage), open never answers (Safari 14).
  const noIdb = {
    missing: () => delete (window as any).indexedDB,
    throws: () => {
      IDBFactory.prototype.open = () => {
        throw new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError');
      };
    },
    hangs: () => {
      IDBFactory.prototype.open = () => ({}) as IDBOpenDBRequest;
    },
  };
  for (const [kind, init] of Object.entries(noIdb)) {
    it(`7. IndexedDB unavailable (${kind}): delivered, exactly one warning`, async () => {
      const s = await scenario('s7' + kind);
      await s.page.addInitScript(init);
      await s.open();
      expect(await s.page.evaluate(() => (window as any).indexedDB === undefined)).toBe(kind === 'missing');
      const list = people('noidb' + kind, 5);
      await identifyAll(s.page, list);
      await waitAll(s.collector, list.map((p) => p.tag));
      // Another task's updates go through the fallback as well, without a second warning.
      const later = people('noidb' + kind, 3, 5);
      await identifyAll(s.page, later);
      const sent = [...list, ...later].map((p) => p.tag);
      await waitAll(s.collector, sent);
      await s.page.evaluate(() => (window as any)._klaviyo.flush());
      const warnings = s.consoleMsgs.filter((m) => m.type === 'warning');
      const row = tally(sent, seenTags(s.collector));
      table.add({ scenario: `7 no IndexedDB (${kind})`, ...row, note: `${warnings.length} warning: ${warnings[0]?.text ?? '-'}` });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.text).toMatch(/^\[klaviyo\] IndexedDB unavailable/);
      expect(s.consoleMsgs.filter((m) => m.type === 'error' && m.text.includes('[klaviyo]'))).toEqual([]);
      expect(row).toMatchObject({ items: 8, delivered: 8, lost: 0 });
    });
  }

  it('8. a 400 drops one update with a console error quoting the detail; the rest flows; stats and onError see it', async () => {
    const s = await scenario('s8', { calls: `window._klaviyo.push(['config', { onError: function (e) { (window.__drops = window.__drops || []).push(e); } }]);` });
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
    await waitAll(s.collector, sent.filter((t) => !dropped.includes(t)));
    await s.page.evaluate(() => (window as any)._klaviyo.flush());
    const stats = await s.page.evaluate(() => (window as any)._klaviyo.stats());
    const drops = await s.page.evaluate(() => (window as any).__drops ?? []);
    // (Chromium adds its own "Failed to load resource" line for every 4xx/5xx: not ours.)
    const errors = s.consoleMsgs.filter((m) => m.type === 'error' && !m.text.startsWith('Failed to load resource')).map((m) => m.text);
    const row = tally(sent, seenTags(s.collector), dropped);
    table.add({ scenario: '8 400 drops one', ...row, note: `${dropped.length} dropped as intended; stats.dropped ${JSON.stringify(stats.dropped)}` });
    expect(dropped).toHaveLength(1);
    expect(row).toMatchObject({ items: 10, delivered: 9, lost: 0, duplicates: 0 });
    expect(errors).toEqual(['[klaviyo] dropped an update (400): "Injected fault: status 400."']);
    expect(stats).toMatchObject({ sent: 9, dropped: { client: 1, invalid: 0, attempts: 0, ttl: 0, cap: 0 } });
    expect(drops).toEqual([{ reason: 'client', status: 400, message: errors[0], count: 1 }]);
  });
});
