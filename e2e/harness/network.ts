// What the network test (e2e/network.test.ts) and the bench share: the protocol x latency cases, collectors for
// them, the bare-fetch floor paced by the windows, a Chromium with no DevTools client that accepts the collector's
// self-signed certificate, and the figures of one run.
import type { Collector, CollectorOptions } from '../../dev/collector/index';
import { startCollector } from '../../dev/collector/index';
import { buildRequest } from '../../src/core/body';
import { KLAVIYO_WINDOWS } from '../../src/core/limiter';
import { idealSpanMs, maxInSliding, spanOf } from '../../bench/serverModel';
import { identifyCalls } from './bursts';
import { trackerPage, type Site } from './site';
import { acceptedArrivals, runningChromium } from './browser';

export type Protocol = 'http/1.1' | 'h2';
/** Answer latency of the collector: none (loopback), or uniform in [min, max] ms, as Klaviyo's API 50-200 ms away. */
export type Latency = 0 | [number, number];

export interface NetworkCase {
  protocol: Protocol;
  latency: Latency;
}

export const LATENCY: [number, number] = [50, 150];
export const caseName = ({ protocol, latency }: NetworkCase): string =>
  `${protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1'} ${latency ? `${latency[0]}-${latency[1]} ms` : 'loopback'}`;

/** A collector for the case: plain HTTP/1.1 or HTTP/2 over TLS, answers delayed by the case's latency. */
export function collectorFor(c: NetworkCase, opts: CollectorOptions = {}): Promise<Collector> {
  return startCollector({ strict: true, http2: c.protocol === 'h2', latencyMs: c.latency || undefined, ...opts });
}

/**
 * n requests of the tracker's shape (URL, headers, body of distinct people), started by page script as soon as Klaviyo's
 * windows allow counting starts only: at most 350 starts in any 1 s and 3500 in any 60 s, and at most 350 unanswered
 * (more can never fit in one 1 s window of the server's; and Chromium here fails requests, "Failed to fetch", once
 * ~1000 wait in its HTTP/1.1 pool). What this browser can send over this protocol at this latency when only the
 * windows hold it back: over HTTP/1.1 its 6 connections per host are the floor; over HTTP/2, the server's streams.
 * Sent to a collector without limits (the pacing is on starts, so arrivals may bunch at the server). A fetch that fails
 * is sent again (a new start) and reported to the page's own origin as GET `errorPath`?<error>, so a floor is never
 * short of requests and the test can say how many failed.
 */
export function windowedBareFetches(apiHost: string, company: string, n: number, errorPath = '/bare-error'): string {
  const { url, headers } = buildRequest({ email: 'x@example.com' }, { apiHost, company });
  return `(() => {
  const windows = ${JSON.stringify(KLAVIYO_WINDOWS)};
  const starts = [];
  const again = [];
  let i = 0;
  let timer = 0;
  let open = 0;
  const send = (i) => {
    const email = 'bare' + i + '@example.com';
    const body = JSON.stringify({ data: { type: 'profile', attributes: { email, properties: { i } }, meta: { identifiers: { email } } } });
    open++;
    fetch(${JSON.stringify(url)}, { method: 'POST', credentials: 'omit', referrerPolicy: 'no-referrer', headers: ${JSON.stringify(headers)}, body }).then(
      () => {
        open--;
        if (!timer) tick();
      },
      (e) => {
        open--;
        new Image().src = ${JSON.stringify(errorPath)} + '?' + encodeURIComponent(String(e));
        again.push(i);
        if (!timer) tick();
      },
    );
  };
  const tick = () => {
    timer = 0;
    while ((again.length || i < ${n}) && open < ${KLAVIYO_WINDOWS[0]!.limit}) {
      const now = performance.now();
      let at = now;
      for (const w of windows) if (starts.length >= w.limit) at = Math.max(at, starts[starts.length - w.limit] + w.ms);
      if (at > now) return void (timer = setTimeout(tick, at - now));
      starts.push(now);
      send(again.length ? again.shift() : i++);
    }
  };
  tick();
})();`;
}

/** Chromium flag: accept the collector's self-signed certificate (a browser launched by Playwright gets ignoreHTTPSErrors). */
export const INSECURE = '--ignore-certificate-errors';

/**
 * As arrivalsUninstrumented (e2e/harness/browser.ts): open `url` in a Chromium with no DevTools client that has run
 * `startUpMs` (runningChromium), wait until `collector` has accepted n requests, close it; their arrival times,
 * ascending. Told to accept the self-signed certificate of an HTTP/2 collector.
 */
export async function arrivalsChromium(url: string, collector: Collector, n: number, timeoutMs = 90_000, args: string[] = [], startUpMs?: number): Promise<number[]> {
  const browser = runningChromium(url, [INSECURE, ...args], startUpMs);
  try {
    return await acceptedArrivals(collector, n, timeoutMs);
  } finally {
    await browser.close();
  }
}

/**
 * The inline calls for `urls.length` windows of one site that identify together, each `each` people
 * (`tab<i>-<n>@example.com`), for arrivalsChromium with TOGETHER_ARGS on urls[0]. The first page opens the others as
 * windows of their own (visible, as a shopper's windows side by side: a background tab runs its timers once a second,
 * which would be the test of another case); each announces itself on a BroadcastChannel once loaded (its bundle
 * too), and a second after all are (SETTLE_MS), every page identifies at once. No DevTools client: in a browser Playwright drives, every request is also reported to it.
 */
export function togetherCalls(urls: string[], tab: number, each: number): string {
  const others = JSON.stringify(tab ? [] : urls.slice(1));
  // Ready on 'load' (it waits for the async bundle): the first page says go SETTLE_MS after it and all the others are.
  return `(() => {
  const bc = new BroadcastChannel('together');
  let ready = 0;
  const go = () => { for (let i = 0; i < ${each}; i++) window._klaviyo.push(['identify', { email: 'tab${tab}-' + i + '@example.com' }]); };
  const one = () => { if (++ready === ${urls.length}) setTimeout(() => (bc.postMessage('go'), go()), ${SETTLE_MS}); };
  bc.onmessage = (e) => (e.data === 'go' ? go() : one());
  for (const u of ${others}) window.open(u, '_blank', 'noopener,popup,width=800,height=600');
  addEventListener('load', () => (${tab} ? bc.postMessage('ready') : one()));
})();`;
}

/** From the last window loaded to the identifies: a shopper's identify (a sign-up, a checkout) comes after the page
 *  has settled, not in the instant its last script ran. */
const SETTLE_MS = 1_000;

/** Chromium flags for togetherCalls: the first page may open windows without a click. */
export const TOGETHER_ARGS = ['--disable-popup-blocking'];

/** The figures of one run against `c` (its POSTs: accepted, 429s, people, arrivals). */
export function figuresOf(c: Collector, n: number) {
  const posts = c.requests().filter((r) => r.method === 'POST');
  const accepted = posts.filter((r) => r.status === 202);
  const people = accepted.map((r) => (r.body as { data: { attributes: { email: string } } }).data.attributes.email);
  const arrivals = accepted.map((r) => r.time).sort((a, b) => a - b);
  const all = posts.map((r) => r.time).sort((a, b) => a - b);
  const versions: Record<string, number> = {};
  for (const r of posts) versions[r.httpVersion ?? '?'] = (versions[r.httpVersion ?? '?'] ?? 0) + 1;
  return {
    n,
    requests: posts.length,
    accepted: accepted.length,
    throttled: posts.filter((r) => r.status === 429).length,
    people: new Set(people).size,
    duplicates: people.length - new Set(people).size,
    spanMs: arrivals.length ? spanOf(arrivals) : NaN,
    /** The most POSTs that arrived in any 1 s (sliding: every phase of the server's windows). */
    peakPerSecond: maxInSliding(all, 1000),
    peakPerMinute: maxInSliding(all, 60_000),
    httpVersions: versions,
    /** Accepted arrivals, ascending (ms on the collector's clock). */
    arrivals,
  };
}
export type RunFigures = ReturnType<typeof figuresOf>;

/** Right-aligned text table. */
export function textTable(head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Waits for anything still in flight to land at the collector before a run's counts are taken. */
export const landed = () => new Promise((r) => setTimeout(r, 300));

/** Opens `url` (a page that sends on load) and resolves once `collector` has accepted n requests. */
export type Opener = (collector: Collector, url: string, n: number) => Promise<unknown>;

/**
 * One case as the network test and the bench run it: n identifies for different people in a tracker page against
 * a strict collector at `phaseMs` (`c`), and n bare fetches (windowedBareFetches) against one with no limits
 * (`free`), each page opened by `open` under `path`. Side by side where HTTP/1.1's connections set the pace far
 * away (little CPU, ~10-25 s each), else one after the other (the CPU is the limit). The caller closes the
 * collectors. floorMs: the bare arrivals held to the windows, arrival by arrival (at least the ideal).
 */
export async function trackerAndFloor(site: Site, nc: NetworkCase, n: number, open: Opener, path: string, phaseMs: number) {
  const [c, free] = await Promise.all([collectorFor(nc, { phaseMs }), collectorFor(nc, { limits: { perSecond: 1e9, perMinute: 1e9 } })]);
  const errorPath = `${path}/bare-error`;
  const tracker = async () => open(c, site.page(path, await trackerPage({ apiHost: c.url, calls: identifyCalls(n, 'net') })), n);
  const bare = () => open(free, site.page(`${path}/bare`, `<!doctype html><script>${windowedBareFetches(free.url, 'AbC123', n, errorPath)}</script>`), n);
  if (nc.protocol === 'http/1.1' && nc.latency) await Promise.all([tracker(), bare()]);
  else await tracker(), await bare();
  await landed();
  const b = figuresOf(free, n);
  const bareErrors = site.hits.filter((h) => h.startsWith(errorPath + '?')).map((h) => decodeURIComponent(h.slice(errorPath.length + 1)));
  return { c, free, t: figuresOf(c, n), b, floorMs: Math.round(idealSpanMs(n, b.arrivals)), bareErrors };
}

/** 4 windows x `each` identifying together over HTTP/2 50-150 ms (togetherCalls), in a Chromium with no DevTools
 *  client, against a strict collector at `phaseMs` under `path`: the collector (the caller closes it) and the figures. */
export async function windowsTogether(site: Site, path: string, phaseMs: number, each = 300) {
  const c = await collectorFor({ protocol: 'h2', latency: LATENCY }, { phaseMs });
  const urls = Array.from({ length: 4 }, (_, i) => `${site.url}${path}/${i}`);
  for (let i = 0; i < urls.length; i++) site.page(new URL(urls[i]!).pathname, await trackerPage({ apiHost: c.url, calls: togetherCalls(urls, i, each) }));
  await arrivalsChromium(urls[0]!, c, 4 * each, 90_000, TOGETHER_ARGS);
  await landed();
  return { c, t: figuresOf(c, 4 * each) };
}
