// `npm run screenshot`: regenerates docs/live-view.png, the README's picture of the live view, from a real run
// rather than by hand: the demo sends 1000 identifies (the limiter holding the 350/s line, no 429), then the live
// view's own buttons put on a 5 s outage and a 429 with Retry-After 5 s while the demo sends 10 more into each,
// and the queue drains once they end. The demo pages run in Chromium with no DevTools client (a driver's
// per-request instrumentation would set the pace instead of the limiter); the live view is driven and photographed
// through Playwright.
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { LiveData } from '../dev/collector/live/liveData';
import { startDemo, type Demo } from '../dev/start';
import { launchChromium, spawnChromium } from '../e2e/harness/browser';
import { until } from '../e2e/harness/wait';

const OUT = 'docs/live-view.png';

const data = async (demo: Demo): Promise<LiveData> => (await fetch(`${demo.collector.url}/__control/live`)).json() as Promise<LiveData>;

/** Open the demo page with `?send=n` in a Chromium of its own and wait until the collector has accepted `total`. */
async function send(demo: Demo, n: number, total: number): Promise<void> {
  const sender = spawnChromium([`${demo.demoUrl}?send=${n}`]);
  try {
    await until(async () => (await data(demo)).summary.accepted >= total, { timeoutMs: 60_000, describe: () => `fewer than ${total} accepted` });
  } finally {
    await sender.close();
  }
}

/** Press a fault button on the live view and wait for the collector's yes. */
async function press(live: Page, kind: string): Promise<void> {
  await live.click(`#faults button[data-fault="${kind}"]`);
  await live.locator('#fault-status', { hasText: kind === 'healthy' ? 'Healthy' : / on$/ }).waitFor();
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const demo = await startDemo({ port: 0 });
  const browser = await launchChromium();
  try {
    const live = await (await browser.newContext({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 })).newPage();
    await live.goto(demo.liveUrl);
    await send(demo, 1000, 1000);
    await pause(2000);

    // A 5 s outage with 10 people sent into it; a 429 with Retry-After: 5 once it is over, 10 more into that.
    await press(live, 'outage');
    const outage = send(demo, 10, 1020);
    await pause(6000);
    await press(live, '429');
    await send(demo, 10, 1020);
    await outage;
    await press(live, 'healthy');
    await pause(1500);

    const { summary } = await data(demo);
    mkdirSync('docs', { recursive: true });
    await live.locator('#rate').screenshot({ path: OUT });
    console.log(`${OUT}: ${summary.accepted} accepted, busiest 1 s ${summary.busiest1s.count}/350, ${summary.refused} refused (outage), ${summary.throttled} throttled (injected 429)`);
  } finally {
    await browser.close();
    await demo.close();
  }
}

await main();
