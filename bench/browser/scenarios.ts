// The measurements of one bench run, each in a new browser context (a cold profile: empty IndexedDB,
// HTTP cache and V8 code cache) against a freshly reset collector.
import type { RawBrowser, RawPage } from './cdp';
import type { Collector } from '../../dev/collector/index';
import { acceptedArrivals, arrivalsUninstrumented } from '../../e2e/harness/browser';
import { spanOf } from '../serverModel';
import { bareFetches, identifyCalls } from '../../e2e/harness/bursts';
import { trackerPage, until, type Site } from '../../e2e/harness/site';
import { COMPANY, heapAfterGc, longTasks, mainThread, openPage, sleep } from './page';

/** Quiet time after load before a page is measured: the tracker's start (IndexedDB open, lock, queue read) is done by then. */
const SETTLE_MS = 700;
/** The window after a burst whose main-thread time and long tasks count (ms). */
const AFTER_MS = 5000;

/** Net main-thread cost (ms) of loading the bundle: the tracker page minus the same page without the script tag. */
export async function measureLoad(browser: RawBrowser, urls: { withBundle: string; empty: string }, run: number) {
  const one = async (url: string, bundle: boolean) => {
    const s = await openPage(browser);
    try {
      await s.goto(url);
      if (bundle) await s.waitForFunction(() => (window as unknown as { _klaviyo: { loaded?: boolean } })._klaviyo.loaded === true);
      await sleep(SETTLE_MS);
      return await mainThread(s);
    } finally {
      await s.close();
    }
  };
  // Alternate the order between runs so a warming machine favours neither page.
  let bundle: Awaited<ReturnType<typeof one>>;
  let empty: Awaited<ReturnType<typeof one>>;
  if (run % 2) (empty = await one(urls.empty, false)), (bundle = await one(urls.withBundle, true));
  else (bundle = await one(urls.withBundle, true)), (empty = await one(urls.empty, false));
  return { taskMs: bundle.task - empty.task, scriptMs: bundle.script - empty.script, taskCpuMs: bundle.taskCpu - empty.taskCpu, scriptCpuMs: bundle.scriptCpu - empty.scriptCpu };
}

interface BurstMark { t0: number; wall0: number; loopMs: number }

/** In the page, in a task of its own (a timer, as a page's code would run; a long-task observer does not see
 *  DevTools' evaluation tasks): n identify calls in one loop, timed with performance.now(). Durability is noted on
 *  `__bench`. */
function burstInPage(o: { n: number; prefix: string; samePerson: boolean }): Promise<BurstMark> {
  // One expression, no named inner function: tsx would wrap a named one in a helper the page does not have.
  return new Promise((resolve) => setTimeout(() => {
    const k = (window as unknown as { _klaviyo: { identify(p: unknown): Promise<void> } })._klaviyo;
    const ps: Promise<void>[] = new Array(o.n);
    const wall0 = Date.now();
    const t0 = performance.now();
    for (let i = 0; i < o.n; i++) {
      ps[i] = k.identify({ email: o.prefix + (o.samePerson ? '' : i) + '@example.com', first_name: 'Ann', properties: { n: i, plan: 'pro' } });
    }
    const loopMs = performance.now() - t0;
    const mark = { t0, wall0, loopMs, durableMs: -1 };
    (window as unknown as { __bench: typeof mark }).__bench = mark;
    Promise.all(ps).then(
      () => void (mark.durableMs = performance.now() - t0),
      () => void (mark.durableMs = NaN),
    );
    resolve({ t0, wall0, loopMs });
  }));
}

async function loadTracker(page: RawPage, url: string) {
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { _klaviyo: { loaded?: boolean } })._klaviyo.loaded === true);
  await sleep(SETTLE_MS);
}

/** ms from the loop's start until every identify promise resolved (NaN if one rejected), waiting for it if need be. */
async function durableMs(page: RawPage): Promise<number> {
  const read = () => page.evaluate(() => (window as unknown as { __bench: { durableMs: number } }).__bench.durableMs);
  await until(async () => (await read()) !== -1, { timeoutMs: 60_000, describe: () => 'identify promises never resolved' });
  return read();
}

/** A burst of n distinct people: main thread in the loop and in the 5 s after it, long tasks, time to durable;
 *  with `deliver`, time until the collector accepted all n and the heap growth once the queue drained. */
export async function measureBurst(browser: RawBrowser, collector: Collector, url: string, o: { n: number; run: number; deliver: boolean }) {
  collector.reset();
  const page = await openPage(browser, { longTasks: true });
  try {
    const { cdp } = page;
    await loadTracker(page, url);
    const heap0 = o.deliver ? await heapAfterGc(cdp) : NaN;
    const m0 = await mainThread(page);
    const mark = await page.evaluate(burstInPage, { n: o.n, prefix: `r${o.run}n${o.n}-${Date.now()}-`, samePerson: false });
    const m1 = await mainThread(page);
    // Nothing talks to the page during the 5 s: only the collector is polled.
    await sleep(AFTER_MS);
    const m2 = await mainThread(page);
    const inLoop = await longTasks(page, mark.t0, mark.t0 + mark.loopMs);
    const after = await longTasks(page, mark.t0, mark.t0 + mark.loopMs + AFTER_MS);
    const durable = await durableMs(page);
    const out = {
      loopMs: mark.loopMs,
      loopTaskMs: m1.task - m0.task,
      loopTaskCpuMs: m1.taskCpu - m0.taskCpu,
      plus5sTaskMs: m2.task - m0.task,
      plus5sTaskCpuMs: m2.taskCpu - m0.taskCpu,
      longInLoop: inLoop.count,
      longPlus5s: after.count,
      longestMs: after.longest,
      durableMs: durable,
      firstMs: NaN,
      deliveredMs: NaN,
      throttled: NaN,
      heapGrowth: NaN,
    };
    if (o.deliver) {
      // Arrival times on the collector's clock (the same machine clock as the page's Date.now()), ascending.
      const arrivals = await acceptedArrivals(collector, o.n);
      out.firstMs = arrivals[0]! - mark.wall0;
      out.deliveredMs = arrivals[arrivals.length - 1]! - mark.wall0;
      out.throttled = collector.requests().filter((r) => r.status === 429).length;
      await page.evaluate(() => (window as unknown as { _klaviyo: { flush(): Promise<void> } })._klaviyo.flush());
      out.heapGrowth = (await heapAfterGc(cdp)) - heap0;
    }
    return out;
  } finally {
    await page.close();
  }
}

/** One person updated n times in one loop (properties.n = i): requests used per identify once delivered, and whether
 *  the collector's merged profile holds the last value. */
export async function measureMerge(browser: RawBrowser, collector: Collector, url: string, o: { n: number; run: number }) {
  collector.reset();
  const page = await openPage(browser);
  try {
    await loadTracker(page, url);
    const prefix = `merge-r${o.run}-${Date.now()}`;
    await page.evaluate(burstInPage, { n: o.n, prefix, samePerson: true });
    await durableMs(page);
    await page.evaluate(() => (window as unknown as { _klaviyo: { flush(): Promise<void> } })._klaviyo.flush());
    // Only this person's requests and state: a late answer of an earlier scenario may still arrive.
    const email = prefix + '@example.com';
    const mine = (body: unknown) => JSON.stringify(body ?? '').includes(email);
    const posts = collector.requests().filter((r) => r.method === 'POST' && mine(r.body));
    const last = collector.profiles().find((p) => mine(p.attributes))?.attributes.properties as { n?: number } | undefined;
    return { requestsPerIdentify: posts.length / o.n, lastWins: last?.n === o.n - 1 };
  } finally {
    await page.close();
  }
}

/** The same page's main thread with no tracker at all, sending n fetches of the tracker's shape (as many at a time as it keeps in flight) to
 *  `collector` (one without limits): the floor any tracker that sends n requests pays in this browser, and the
 *  pace it can send at (the arrival times, ascending). */
export async function measureBareFetches(browser: RawBrowser, collector: Collector, url: string, o: { n: number }) {
  collector.reset();
  const page = await openPage(browser);
  try {
    await page.goto(url);
    await sleep(SETTLE_MS);
    const m0 = await mainThread(page);
    // In a task of its own, as a page's code would run.
    await page.cdp.send('Runtime.evaluate', { expression: `setTimeout(() => { ${bareFetches(collector.url, COMPANY, o.n)} })` });
    await sleep(AFTER_MS);
    const m2 = await mainThread(page);
    const arrivals = await acceptedArrivals(collector, o.n);
    return { plus5sTaskMs: m2.task - m0.task, plus5sTaskCpuMs: m2.taskCpu - m0.taskCpu, arrivals };
  } finally {
    await page.close();
  }
}

/** Delivery of n distinct people in a Chromium with no DevTools client attached (Playwright's instrumentation of
 *  each request costs more main thread than the tracker's own work): first to last arrival at the collector. The
 *  page pushes the n identifies before the bundle loads (replayed in one task at load). */
export async function measureUninstrumented(collector: Collector, site: Site, o: { n: number; run: number }) {
  collector.reset();
  const url = site.page(`/plain${o.run}`, await trackerPage({ apiHost: collector.url, company: COMPANY, calls: identifyCalls(o.n, `plain${o.run}_`) }));
  const spanMs = spanOf(await arrivalsUninstrumented(url, collector, o.n, 120_000));
  return { spanMs, throttled: collector.requests().filter((r) => r.status === 429).length };
}
