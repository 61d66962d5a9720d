// `npm run bench`'s network cases (issue 17): the tracker in a Chromium with no DevTools client against a strict
// collector at a random phase, over HTTP/1.1 and HTTP/2 (TLS), on loopback and with answers 50-150 ms away, each
// beside the same browser's bare-fetch floor for that case; and 4 windows x 300 over HTTP/2 far away. The cases,
// the floor and the windows are e2e/network.test.ts's (e2e/harness/network.ts), so the bench and the test agree.
import type { Collector } from '../../dev/collector/index';
import { hasOpenssl } from '../../dev/collector/tls';
import { identifyCalls } from '../../e2e/harness/bursts';
import {
  LATENCY, TOGETHER_ARGS, arrivalsChromium, collectorFor, figuresOf, togetherCalls, windowedBareFetches, type NetworkCase,
} from '../../e2e/harness/network';
import { trackerPage, type Site } from '../../e2e/harness/site';
import { idealSpanMs } from '../serverModel';
import { COMPANY } from './page';

/** The cases, and how many identifies each: 1500 where the windows set the pace, 600 where HTTP/1.1's connections
 *  do (50-150 ms away a run takes ~10 s for 600; the ratio to the floor is the figure). */
export const NETWORK_CASES: Array<NetworkCase & { n: number }> = [
  { protocol: 'http/1.1', latency: 0, n: 1500 },
  { protocol: 'h2', latency: 0, n: 1500 },
  { protocol: 'http/1.1', latency: LATENCY, n: 600 },
  { protocol: 'h2', latency: LATENCY, n: 1500 },
].filter((c) => c.protocol !== 'h2' || hasOpenssl()) as Array<NetworkCase & { n: number }>;

const phase = () => Math.floor(Math.random() * 60_000);

/** One run of case `nc`: the tracker's first-to-last arrival and 429s, and the floor (the same browser's bare
 *  fetches held to the windows, arrival by arrival, as the test). */
export async function measureNetwork(site: Site, nc: NetworkCase & { n: number }, run: number) {
  const [c, free] = await Promise.all([collectorFor(nc, { phaseMs: phase() }), collectorFor(nc, { limits: { perSecond: 1e9, perMinute: 1e9 } })]);
  try {
    const tag = `${nc.protocol === 'h2' ? 'h2' : 'h1'}${nc.latency ? 'far' : 'near'}${run}`;
    const page = site.page(`/net/${tag}`, await trackerPage({ apiHost: c.url, company: COMPANY, calls: identifyCalls(nc.n, `${tag}_`) }));
    await arrivalsChromium(page, c, nc.n, 120_000);
    const bare = site.page(`/net/${tag}-bare`, `<!doctype html><script>${windowedBareFetches(free.url, COMPANY, nc.n)}</script>`);
    await arrivalsChromium(bare, free, nc.n, 120_000);
    await settle();
    const t = figuresOf(c, nc.n);
    return { spanMs: t.spanMs, idealMs: idealSpanMs(nc.n), floorMs: Math.round(idealSpanMs(nc.n, figuresOf(free, nc.n).arrivals)), throttled: t.throttled, peakPerSecond: t.peakPerSecond };
  } finally {
    await Promise.all([c.close(), free.close()]);
  }
}

/** One run of 4 windows x 300 identifying together over HTTP/2 50-150 ms (togetherCalls). */
export async function measureWindows(site: Site, run: number) {
  const c: Collector = await collectorFor({ protocol: 'h2', latency: LATENCY }, { phaseMs: phase() });
  try {
    const urls = Array.from({ length: 4 }, (_, i) => `${site.url}/net/windows${run}/${i}`);
    for (let i = 0; i < urls.length; i++) site.page(new URL(urls[i]!).pathname, await trackerPage({ apiHost: c.url, company: COMPANY, calls: togetherCalls(urls, i, 300) }));
    await arrivalsChromium(urls[0]!, c, 1200, 120_000, TOGETHER_ARGS);
    await settle();
    const t = figuresOf(c, 1200);
    return { spanMs: t.spanMs, idealMs: idealSpanMs(1200), throttled: t.throttled, peakPerSecond: t.peakPerSecond };
  } finally {
    await c.close();
  }
}

/** Anything still in flight lands before the counts. */
const settle = () => new Promise((r) => setTimeout(r, 300));
