// `BENCH_PROFILE=1 npm run bench`: where the main-thread time of a burst goes. The tracker is rebuilt unminified
// (names and lines readable), one burst of n identifies is run under the CDP sampling profiler for the loop and
// the given time after it, and the functions with the most self and total time are printed.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { RawBrowser } from './cdp';
import type { Collector } from '../../dev/collector/index';
import { openPage, sleep } from './page';

/** Where the unminified bundle is written; serve this directory at `/prof/` (the collector's `static` option). */
export const PROFILE_DIR = 'test-output/prof';

/** Build src/index.ts unminified to PROFILE_DIR/klaviyo.js. */
export async function buildForProfile(): Promise<void> {
  mkdirSync(PROFILE_DIR, { recursive: true });
  await build({ entryPoints: ['src/index.ts'], outfile: `${PROFILE_DIR}/klaviyo.js`, bundle: true, format: 'iife', target: ['chrome96'], minify: false });
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Self and total time (ms) per function (`name file:line`), largest first. */
export function hotFunctions(p: CpuProfile): Array<{ fn: string; self: number; total: number }> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop() ?? ''}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  p.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; the sample's own span is the next delta.
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const leaf = byId.get(id)!;
    self.set(key(leaf), (self.get(key(leaf)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
      const k = key(n);
      if (!seen.has(k)) seen.add(k), total.set(k, (total.get(k) ?? 0) + ms);
    }
  });
  return [...total.keys()].map((fn) => ({ fn, self: self.get(fn) ?? 0, total: total.get(fn)! })).sort((a, b) => b.self - a.self);
}

/** Profile one burst of n distinct people on `url` (a page loading the PROFILE_DIR bundle) for the loop's task plus `afterMs`;
 *  writes the .cpuprofile next to the bundle and returns the hot functions. */
export async function profileBurst(browser: RawBrowser, collector: Collector, url: string, o: { n: number; afterMs: number }) {
  collector.reset();
  const page = await openPage(browser);
  const { cdp } = page;
  try {
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { _klaviyo: { loaded?: boolean } })._klaviyo.loaded === true);
    await sleep(700);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    await page.evaluate(
      (n) =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            const k = (window as unknown as { _klaviyo: { identify(p: unknown): Promise<void> } })._klaviyo;
            for (let i = 0; i < n; i++) void k.identify({ email: `prof${i}@example.com`, first_name: 'Ann', properties: { n: i, plan: 'pro' } });
            resolve();
          }),
        ),
      o.n,
    );
    if (o.afterMs) await sleep(o.afterMs);
    const { profile } = await cdp.send<{ profile: CpuProfile }>('Profiler.stop');
    writeFileSync(`${PROFILE_DIR}/burst-${o.n}-${o.afterMs}ms.cpuprofile`, JSON.stringify(profile));
    return hotFunctions(profile);
  } finally {
    await page.close();
  }
}

/** Profile a cold load of `url` (navigation to idle after SETTLE ms) and return the hot functions. */
export async function profileLoad(browser: RawBrowser, url: string, settleMs = 700) {
  const page = await openPage(browser);
  const { cdp } = page;
  try {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
    await cdp.send('Profiler.start');
    await page.goto(url);
    await sleep(settleMs);
    const { profile } = await cdp.send<{ profile: CpuProfile }>('Profiler.stop');
    writeFileSync(`${PROFILE_DIR}/load.cpuprofile`, JSON.stringify(profile));
    return hotFunctions(profile);
  } finally {
    await page.close();
  }
}
