// `npm run bench`'s network cases (issue 17): the tracker in a Chromium with no DevTools client against a strict
// collector at a random phase, over HTTP/1.1 and HTTP/2 (TLS), on loopback and with answers 50-150 ms away, each
// beside the same browser's bare-fetch floor for that case; and 4 windows x 300 over HTTP/2 far away. The cases,
// the floor and the windows are e2e/network.test.ts's (e2e/harness/network.ts), so the bench and the test agree.
// Each page opens in a browser that has been running a second (runningChromium); one more case, reported only,
// opens HTTP/2 far away's page with the browser's launch, as a link clicked while the browser was closed.
import { hasOpenssl } from '../../dev/collector/tls';
import { identifyCalls } from '../../e2e/harness/bursts';
import { LATENCY, arrivalsChromium, collectorFor, figuresOf, landed, trackerAndFloor, windowsTogether, type NetworkCase } from '../../e2e/harness/network';
import { trackerPage, type Site } from '../../e2e/harness/site';
import { idealSpanMs } from '../serverModel';

/** The cases, and how many identifies each: 1500 where the windows set the pace, 600 where HTTP/1.1's connections
 *  do (50-150 ms away a run takes ~10 s for 600; the ratio to the floor is the figure). */
export const NETWORK_CASES: Array<NetworkCase & { n: number }> = [
  { protocol: 'http/1.1', latency: 0, n: 1500 },
  { protocol: 'h2', latency: 0, n: 1500 },
  { protocol: 'http/1.1', latency: LATENCY, n: 600 },
  { protocol: 'h2', latency: LATENCY, n: 1500 },
].filter((c) => c.protocol !== 'h2' || hasOpenssl()) as Array<NetworkCase & { n: number }>;

const phase = () => Math.floor(Math.random() * 60_000);

/** One run of case `nc` (trackerAndFloor, as the test): the tracker's first-to-last arrival and 429s, and the floor. */
export async function measureNetwork(site: Site, nc: NetworkCase & { n: number }, run: number) {
  const tag = `${nc.protocol === 'h2' ? 'h2' : 'h1'}${nc.latency ? 'far' : 'near'}${run}`;
  const { c, free, t, floorMs } = await trackerAndFloor(site, nc, nc.n, (col, url, n) => arrivalsChromium(url, col, n, 120_000), `/net/${tag}`, phase());
  await Promise.all([c.close(), free.close()]);
  return { spanMs: t.spanMs, idealMs: idealSpanMs(nc.n), floorMs, throttled: t.throttled, peakPerSecond: t.peakPerSecond };
}

/** One run of 4 windows x 300 identifying together over HTTP/2 50-150 ms (windowsTogether, as the test). */
export async function measureWindows(site: Site, run: number) {
  const { c, t } = await windowsTogether(site, `/net/windows${run}`, phase());
  await c.close();
  return { spanMs: t.spanMs, idealMs: idealSpanMs(1200), throttled: t.throttled, peakPerSecond: t.peakPerSecond };
}

/** One run of 1500 identifies over HTTP/2 50-150 ms in a page opened with the browser's launch (no floor: reported). */
export async function measureLaunch(site: Site, run: number) {
  const n = 1500;
  const c = await collectorFor({ protocol: 'h2', latency: LATENCY }, { phaseMs: phase() });
  const url = site.page(`/net/launch${run}`, await trackerPage({ apiHost: c.url, calls: identifyCalls(n, 'net') }));
  await arrivalsChromium(url, c, n, 120_000, [], 0);
  await landed();
  const t = figuresOf(c, n);
  await c.close();
  return { spanMs: t.spanMs, idealMs: idealSpanMs(n), throttled: t.throttled };
}
