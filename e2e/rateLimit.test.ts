// The limiter in every engine installed here, against a strict fixed-window collector: the full allowance, never a
// 429. A 1500-identify burst paced against that engine's own bare-fetch floor, and two and four tabs of one context
// sharing the limiter (Web Locks + BroadcastChannel + the stored reservations). Prints per engine the span, the
// floor, their ratio, the 429s and the most arrivals in any 1 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startCollector, type Collector } from '../dev/collector/index';
import { idealSpanMs, maxInSliding, spanOf } from '../bench/serverModel';
import { arrivalsInEngine, arrivalsUninstrumented } from './harness/browser';
import { UNLIMITED, bareFetches, identifyCalls } from './harness/bursts';
import { describeEngines, engines, launch, type Browser, type EngineName, type Page } from './harness/engines';
import { accepted, acceptedEmails, posts } from './harness/requests';
import { startSite, trackerPage, type Site } from './harness/site';
import { bundleLoaded, identifyInTabs } from './harness/tracker';
import { sleep, until } from './harness/wait';

const avail = await engines();
console.log(`[rateLimit] engines:\n${describeEngines(avail)}`);
if (!existsSync('dist/klaviyo.js') || !existsSync('dist/snippet.min.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

/** Klaviyo's windows for this endpoint, as the collector enforces them. */
const PER_SECOND = 350;
const PER_MINUTE = 3500;

let site: Site;
const collectors: Collector[] = [];

beforeAll(async () => {
  site = await startSite();
});
afterAll(async () => {
  await Promise.all([site?.close(), ...collectors.map((c) => c.close())]);
});

async function collectorAtRandomPhase() {
  const phaseMs = Math.floor(Math.random() * 60_000);
  const c = await startCollector({ strict: true, phaseMs });
  collectors.push(c);
  return { c, phaseMs };
}

/** The most POSTs that arrived in any 1 s and any 60 s (sliding: every phase of the server's fixed windows). */
const peaks = (c: Collector) => {
  const times = posts(c).map((r) => r.time).sort((a, b) => a - b);
  return { perSecond: maxInSliding(times, 1000), perMinute: maxInSliding(times, 60_000) };
};

for (const s of avail.skipped) describe(`rate limits in ${s.engine}`, () => it.skip(`skipped: ${s.reason}`, () => {}));

describe.each(avail.available)('rate limits in %s', (engine: EngineName) => {
  let browser: Browser;
  let t0 = 0;
  const figures: string[] = [];

  beforeAll(async () => {
    t0 = Date.now();
    browser = await launch(engine);
  });
  afterAll(async () => {
    await browser?.close();
    console.log(`[rateLimit] ${engine} (${((Date.now() - t0) / 1000).toFixed(1)} s):\n  ${figures.join('\n  ')}`);
  });

  it('1500 identifies in one loop: zero 429s, all delivered, within 10% of this engine’s bare-fetch floor', async () => {
    const N = 1500;
    // How a page that sends on load is timed; the collectors clock it. Chromium: in a Chromium with no DevTools
    // client, since Playwright's instrumentation of every request (CDP's Network domain) costs more than the tracker
    // itself (see arrivalsUninstrumented). Firefox and WebKit cannot be started free of their driver here (puppeteer
    // over BiDi; WebKitWebDriver's MiniBrowser --automation), so both the tracker and the bare floor are timed
    // through the adapter, in a fresh context each: the same instrumentation on both sides, so the ratio is fair.
    const timed = (c: Collector, html: string) => {
      const url = site.page(`/${engine}/timed${collectors.length}`, html);
      return engine === 'chromium' ? arrivalsUninstrumented(url, c, N) : arrivalsInEngine(browser, url, c, N);
    };
    // What this engine on this machine can send at all: N bare fetches of the same shape, 12 at a time, to a
    // collector without limits. On 2 cores that is near 350 a second, and a freshly started browser sends its
    // first few hundred at about half its later pace, so it bounds the ideal too.
    const bareRun = async () => {
      const free = await startCollector(UNLIMITED);
      collectors.push(free);
      return timed(free, `<!doctype html><script>${bareFetches(free.url, 'AbC123', N)}</script>`);
    };
    const trackerRun = async () => {
      const { c, phaseMs } = await collectorAtRandomPhase();
      const took = spanOf(await timed(c, await trackerPage({ apiHost: c.url, calls: identifyCalls(N, 'burst') })));
      const all = posts(c);
      return {
        phaseMs,
        took,
        requests: all.length,
        throttled: all.filter((r) => r.status === 429).length,
        people: new Set(acceptedEmails(c)).size,
        ...peaks(c),
      };
    };
    // The floor: the shortest first-to-last time any phase-blind sender could reach inside the server's windows,
    // sending at this engine's measured bare pace request by request (its slow start included), averaged over a bare
    // run just before the tracker's and one just after (the machine's pace drifts). With no pace limit it is the
    // rate-limit ideal, 4000 ms. Best of at most three runs at random phases, each against its own floor: this
    // shared 2-core machine varies by about ±8% run to run, and the bare runs by as much. Every run must still be
    // free of 429s, complete, and within the windows.
    const SLACK = 1.1;
    const rateIdeal = idealSpanMs(N);
    let before = await bareRun();
    const runs: Array<Awaited<ReturnType<typeof trackerRun>> & { ideal: number; bare: [number[], number[]] }> = [];
    while (runs.length < 3 && !runs.some((r) => r.took <= r.ideal * SLACK)) {
      const run = await trackerRun();
      const after = await bareRun();
      runs.push({ ...run, ideal: (idealSpanMs(N, before) + idealSpanMs(N, after)) / 2, bare: [before, after] });
      before = after;
    }
    for (const r of runs) {
      const [b0, b1] = r.bare;
      const line =
        `${N} identifies (phase ${r.phaseMs} ms): span ${r.took} ms, floor ${Math.round(r.ideal)} ms, ratio ${(r.took / r.ideal).toFixed(3)}, ` +
        `${r.throttled} x 429, max ${r.perSecond} per 1 s, ${r.perMinute} per 60 s; ${r.people} delivered in ${r.requests} requests; ` +
        `bare ${N} fetches in ${spanOf(b0)} ms before, ${spanOf(b1)} ms after (the first 350 in ${b0[349]! - b0[0]!} and ${b1[349]! - b1[0]!} ms); ` +
        `rate-limit ideal ${rateIdeal} ms (${((r.took / rateIdeal - 1) * 100).toFixed(1)}% over)`;
      console.log(`[rateLimit] ${engine}: ${line}`);
      figures.push(line);
    }
    for (const r of runs) {
      expect(r.throttled).toBe(0);
      expect(r.people).toBe(N);
      expect(r.perSecond).toBeLessThanOrEqual(PER_SECOND);
      expect(r.perMinute).toBeLessThanOrEqual(PER_MINUTE);
    }
    expect(Math.min(...runs.map((r) => r.took / r.ideal))).toBeLessThanOrEqual(SLACK);
  });

  it.each([
    [2, 600],
    [4, 300],
  ])('%i tabs of one context, %i identifies each, started together: one limiter, all delivered, zero 429s', async (tabs, each) => {
    const total = tabs * each;
    const { c, phaseMs } = await collectorAtRandomPhase();
    const ctx = await browser.newContext();
    try {
      const url = site.page(`/${engine}/tabs${tabs}`, await trackerPage({ apiHost: c.url }));
      const pages: Page[] = [];
      for (let i = 0; i < tabs; i++) pages.push(await ctx.newPage());
      await Promise.all(pages.map((p) => p.goto(url)));
      await Promise.all(pages.map((p) => bundleLoaded(p)));

      // The tabs of one context share what the limiter stands on (in WebKit a context is a MiniBrowser of its own;
      // its windows are the tabs): Web Locks, BroadcastChannel and storage, each seen from another tab.
      const [first, second] = [pages[0]!, pages[1]!];
      const shared = await second.evaluate(() => {
        const w = window as any;
        w.__heard = [];
        new BroadcastChannel('rate-limit-test').onmessage = (e: MessageEvent) => w.__heard.push(e.data);
        return { locks: typeof navigator.locks?.request === 'function', channel: typeof BroadcastChannel === 'function', visibility: document.visibilityState };
      });
      const visibility = await Promise.all(pages.map((p) => p.evaluate(() => document.visibilityState)));
      await first.evaluate(async () => {
        localStorage.setItem('rate-limit-test', 'tab0');
        new BroadcastChannel('rate-limit-test').postMessage('hello from tab0');
        // Hold a lock until released, so another tab's query sees it.
        const w = window as any;
        await new Promise<void>((held) => {
          navigator.locks.request('rate-limit-test', () => {
            held();
            return new Promise<void>((release) => (w.__release = release));
          });
        });
      });
      const seen = await second.evaluate(async () => {
        const w = window as any;
        const deadline = Date.now() + 2000;
        while (!w.__heard.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const q = await navigator.locks.query();
        return { storage: localStorage.getItem('rate-limit-test'), heard: w.__heard as string[], lockHeld: (q.held ?? []).some((l) => l.name === 'rate-limit-test') };
      });
      await first.evaluate(() => (window as any).__release());
      expect({ ...shared, ...seen, visibility }).toMatchObject({ locks: true, channel: true, storage: 'tab0', heard: ['hello from tab0'], lockHeld: true });

      // Started together: each tab's calls go in one task, every tab's sent before any is awaited (in WebKit the
      // session runs the scripts one after another, a few ms apart).
      await identifyInTabs(pages, each);
      await until(() => new Set(acceptedEmails(c)).size >= total, {
        timeoutMs: 60_000,
        describe: () => `${accepted(c).length} accepted, ${posts(c).filter((r) => r.status === 429).length} x 429`,
      });
      // Anything still in flight lands before the counts.
      await sleep(300);
      const throttled = posts(c).filter((r) => r.status === 429).length;
      const emails = acceptedEmails(c);
      const times = accepted(c).map((r) => r.time);
      const peak = peaks(c);
      const line =
        `${tabs} tabs x ${each} (phase ${phaseMs} ms; visibility ${visibility.join('/')}): ${new Set(emails).size} distinct delivered, ` +
        `${emails.length - new Set(emails).size} duplicates, ${throttled} x 429, max ${peak.perSecond} per 1 s, ${peak.perMinute} per 60 s, ` +
        `first to last ${Math.max(...times) - Math.min(...times)} ms (rate-limit ideal ${idealSpanMs(total)} ms)`;
      console.log(`[rateLimit] ${engine}: ${line}`);
      figures.push(line);
      expect(throttled).toBe(0);
      expect(new Set(emails).size).toBe(total);
      expect(peak.perSecond).toBeLessThanOrEqual(PER_SECOND);
      expect(peak.perMinute).toBeLessThanOrEqual(PER_MINUTE);
    } finally {
      await ctx.close();
    }
  });
});
