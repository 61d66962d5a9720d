// Delivery over the network Klaviyo's API is on (issue 17): HTTP/1.1 and HTTP/2 (over TLS), on loopback and with answers
// 50-150 ms away, against a strict collector at a random phase of its windows. Per case: 1500 identifies for
// different people in one page, their first-to-last arrival, the 429s, the busiest 1 s, and this browser's own floor
// for that protocol and latency: 1500 bare fetches started by page script as fast as Klaviyo's windows allow, no
// bound on the requests in flight (e2e/harness/network.ts). And 4 windows x 300 over HTTP/2 with latency. Chromium opens
// each page in a browser that has run a second (runningChromium): a visitor's browser is running before the page.
// Always asserted: no 429, every person delivered, never over 350 in any 1 s. The issue's targets are asserted with
// NETWORK_TARGETS=1 (they need the delivery's in-flight controller): HTTP/2 50-150 ms within 1.25x the 4.0 s ideal,
// HTTP/1.1 50-150 ms within 10% of the floor, loopback within 10% of the floor (as e2e/rateLimit.test.ts), 4 windows
// within 1.3x the ideal. Chromium runs every case; Firefox and WebKit run HTTP/2 50-150 ms and report.
// Writes test-output/network.json and prints the table.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Collector } from '../dev/collector/index';
import { hasOpenssl } from '../dev/collector/tls';
import { idealSpanMs } from '../bench/serverModel';
import { arrivalsInEngine } from './harness/browser';
import { eachEngine, type EngineName } from './harness/engines';
import {
  LATENCY, TOGETHER_ARGS, arrivalsChromium, caseName, landed, collectorFor, figuresOf, textTable, trackerAndFloor, windowsTogether, type NetworkCase, type Opener, type RunFigures,
} from './harness/network';
import { startSite, trackerPage, type Site } from './harness/site';

if (!existsSync('dist/klaviyo.js') || !existsSync('dist/snippet.min.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });

const TARGETS = process.env.NETWORK_TARGETS === '1';
const N = 1500;
const OUT = 'test-output/network.json';
const H2_LATENCY: NetworkCase = { protocol: 'h2', latency: LATENCY };
const CASES: NetworkCase[] = [
  { protocol: 'http/1.1', latency: 0 },
  { protocol: 'h2', latency: 0 },
  { protocol: 'http/1.1', latency: LATENCY },
  H2_LATENCY,
];
/** The issue's targets: first-to-last within this of the ideal or the floor. */
const TARGET = { h2Latency: 1.25, floor: 1.1, tabs: 1.3 };

interface Row {
  engine: EngineName;
  case: string;
  phaseMs: number;
  spanMs: number;
  idealMs: number;
  floorMs: number;
  throttled: number;
  peakPerSecond: number;
  people: number;
  duplicates: number;
  requests: number;
  httpVersions: Record<string, number>;
  /** The bare run (its arrivals left out). */
  bare?: RunFigures;
  /** Bare fetches that failed (and were sent again), with the browser's error. */
  bareErrors?: string[];
  target?: string;
}
const rows: Row[] = [];
let site: Site;
const collectors: Collector[] = [];
const started = Date.now();

beforeAll(async () => {
  site = await startSite();
});
afterAll(async () => {
  await Promise.all([site?.close(), ...collectors.map((c) => c.close())]);
  if (!rows.length) return;
  const head = ['engine', 'case', 'span ms', 'ideal', 'x ideal', 'floor ms', 'x floor', 'peak/1 s', '429s', 'people', 'dups', 'http', 'target'];
  const table = textTable(
    head,
    rows.map((r) => [
      r.engine, r.case, r.spanMs, r.idealMs, (r.spanMs / r.idealMs).toFixed(2), r.floorMs || '-', r.floorMs ? (r.spanMs / r.floorMs).toFixed(2) : '-',
      r.peakPerSecond, r.throttled, r.people, r.duplicates, Object.keys(r.httpVersions).join('+'), r.target ?? '',
    ]),
  );
  console.log(`[network] ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${loadavg()[0]!.toFixed(1)}, targets ${TARGETS ? 'asserted' : 'reported only (NETWORK_TARGETS=1 asserts them)'}\n${table}`);
  mkdirSync('test-output', { recursive: true });
  writeFileSync(OUT, JSON.stringify({ date: new Date(started).toISOString(), cpus: cpus().length, loadAverage: loadavg(), targetsAsserted: TARGETS, rows }, null, 2) + '\n');
});

const randomPhase = () => Math.floor(Math.random() * 60_000);

await eachEngine('network', (engine, browser) => {
  // The collector's HTTP/2 mode needs a certificate, made by openssl.
  const cases = (engine === 'chromium' ? CASES : [H2_LATENCY]).filter((c) => c.protocol !== 'h2' || hasOpenssl());
  /** Open a page that sends on load and wait for its accepted arrivals: Chromium with no DevTools client (as the
   *  rate-limit test), Firefox and WebKit through their driver, in a fresh context each. */
  let pages = 0;
  const timed: Opener = (c, url, n) => (engine === 'chromium' ? arrivalsChromium(url, c, n) : arrivalsInEngine(browser, url, c, n, 90_000));

  for (const nc of cases) {
    // 1500 where the issue sets a target against the ideal (Chromium, and every case on loopback); 600 where the pace is
    // the network's (HTTP/1.1 far away, measured against the floor of the same count) and in Firefox and WebKit
    // (reported, not held to a target): the same figures for a quarter of CI's time.
    const n = engine === 'chromium' && !(nc.protocol === 'http/1.1' && nc.latency) ? N : 600;
    const ideal = idealSpanMs(n);
    it(`${caseName(nc)}: ${n} identifies, strict collector at a random phase: zero 429s, everyone delivered; span against the ideal and the bare-fetch floor`, async () => {
      const phaseMs = randomPhase();
      const { c, free, t, b, floorMs, bareErrors } = await trackerAndFloor(site, nc, n, timed, `/${engine}/network/${++pages}`, phaseMs);
      collectors.push(c, free);
      const row: Row = {
        engine, case: caseName(nc), phaseMs, spanMs: t.spanMs, idealMs: ideal, floorMs, throttled: t.throttled,
        peakPerSecond: t.peakPerSecond, people: t.people, duplicates: t.duplicates, requests: t.requests, httpVersions: t.httpVersions, bare: { ...b, arrivals: [] }, bareErrors,
      };
      const [limit, against] = nc.protocol === 'h2' && nc.latency ? [TARGET.h2Latency * ideal, 'ideal'] : [TARGET.floor * floorMs, 'floor'];
      // The issue's targets are Chromium's; Firefox and WebKit report theirs against the floor.
      row.target = engine === 'chromium' ? `<= ${Math.round(limit)} ms (${against}): ${t.spanMs <= limit ? 'met' : 'not met'}` : 'reported';
      rows.push(row);
      console.log(`[network] ${engine} ${caseName(nc)} (phase ${phaseMs} ms): span ${t.spanMs} ms (ideal ${ideal}, floor ${floorMs}; bare span ${b.spanMs}), ${t.throttled} x 429, ` +
        `max ${t.peakPerSecond} per 1 s, ${t.people} people in ${t.requests} requests (${JSON.stringify(t.httpVersions)}); bare: max ${b.peakPerSecond} per 1 s (${JSON.stringify(b.httpVersions)}), ${bareErrors.length} failed and sent again${bareErrors.length ? ` (${[...new Set(bareErrors)].join('; ')})` : ''}`);

      expect(t.throttled).toBe(0);
      expect(t.people).toBe(n);
      expect(t.peakPerSecond).toBeLessThanOrEqual(350);
      expect(t.peakPerMinute).toBeLessThanOrEqual(3500);
      // Chromium speaks what the collector offers: the case measures the protocol it names.
      if (engine === 'chromium') expect(Object.keys(t.httpVersions)).toEqual([nc.protocol === 'h2' ? '2.0' : '1.1']);
      if (TARGETS && engine === 'chromium') expect(t.spanMs).toBeLessThanOrEqual(limit);
    });
  }

  if (engine === 'chromium' && hasOpenssl())
    it('a tab that goes to the background while it holds the round hands it to the visible tab: no 1 s gaps', async () => {
      // Tab A identifies 600 people and holds the round; 300 ms on it opens tab B, which comes to the front (A is now
      // hidden, and Chromium runs its timers once a second) and identifies 600 more. Before the hand-over, A sent all
      // 1200 with gaps of a second whenever it waited for the limiter (3 runs: 4.4, 5.3 and 6.5 s, gaps >= 1 s).
      const c = await collectorFor(H2_LATENCY, { phaseMs: randomPhase() });
      collectors.push(c);
      const [a, b] = ['A', 'B'].map((t) => `${site.url}/${engine}/network-behind/${t}`) as [string, string];
      const identify = (tag: string) => `for (let i = 0; i < 600; i++) _klaviyo.push(['identify', { email: '${tag}' + i + '@example.com' }]);`;
      const tell = (tag: string) => `new Image().src = '/${engine}/network-behind/seen?${tag}-' + document.visibilityState;`;
      site.page(new URL(a).pathname, await trackerPage({
        apiHost: c.url,
        calls: `addEventListener('load', () => { ${identify('a')} setTimeout(() => window.open(${JSON.stringify(b)}, '_blank', 'noopener'), 300); });
          document.addEventListener('visibilitychange', () => { ${tell('A')} });`,
      }));
      site.page(new URL(b).pathname, await trackerPage({ apiHost: c.url, calls: `${tell('B')} addEventListener('load', () => { ${identify('b')} });` }));
      const arrivals = await arrivalsChromium(a, c, 1200, 90_000, TOGETHER_ARGS);
      await landed();
      const t = figuresOf(c, 1200);
      const gap = Math.max(...arrivals.slice(1).map((x, i) => x - arrivals[i]!));
      const seen = site.hits.filter((h) => h.startsWith(`/${engine}/network-behind/seen?`)).map((h) => h.split('?')[1]);
      console.log(`[network] ${engine} hidden holder: span ${t.spanMs} ms, longest gap ${gap} ms, ${t.throttled} x 429, ${t.people} people; ${seen.join(', ')}`);
      // The case is what it says: A went to the background, B was in front.
      expect(seen).toEqual(expect.arrayContaining(['A-hidden', 'B-visible']));
      expect(t.throttled).toBe(0);
      expect(t.people).toBe(1200);
      expect(t.peakPerSecond).toBeLessThanOrEqual(350);
      expect(gap).toBeLessThan(600);
    });

  if (engine === 'chromium' && hasOpenssl())
    it('4 windows x 300 over HTTP/2 50-150 ms, started together: zero 429s, everyone delivered; span against the ideal', async () => {
      const tabs = 4;
      const each = 300;
      const total = tabs * each;
      const ideal = idealSpanMs(total);
      const phaseMs = randomPhase();
      // Four windows of one Chromium with no DevTools client (as the single-page cases): the first opens the others,
      // and all identify together once all are loaded (togetherCalls).
      const { c, t } = await windowsTogether(site, `/${engine}/network-tabs`, phaseMs, each);
      collectors.push(c);
      const limit = TARGET.tabs * ideal;
      rows.push({
        engine, case: `4 windows x 300, ${caseName(H2_LATENCY)}`, phaseMs, spanMs: t.spanMs, idealMs: ideal, floorMs: 0, throttled: t.throttled,
        peakPerSecond: t.peakPerSecond, people: t.people, duplicates: t.duplicates, requests: t.requests, httpVersions: t.httpVersions,
        target: `<= ${Math.round(limit)} ms (ideal): ${t.spanMs <= limit ? 'met' : 'not met'}`,
      });
      console.log(`[network] ${engine} 4 windows x 300 (phase ${phaseMs} ms): span ${t.spanMs} ms (ideal ${ideal}), ${t.throttled} x 429, max ${t.peakPerSecond} per 1 s, ${t.people} people, ${t.duplicates} duplicates`);
      expect(t.throttled).toBe(0);
      expect(t.people).toBe(total);
      expect(t.peakPerSecond).toBeLessThanOrEqual(350);
      if (TARGETS) expect(t.spanMs).toBeLessThanOrEqual(limit);
    });
});
