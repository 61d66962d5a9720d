// Pages and Chrome DevTools Protocol probes of the browser bench: the tracker page with and without
// its script tag, a long-task recorder, main-thread metrics and the JS heap.
import { trackerPage } from '../../e2e/harness/site';
import type { RawBrowser, RawPage, Session } from './cdp';

/** Company id of every bench page. */
export const COMPANY = 'BeNcH1';

/** The tracker page (stub + config + async bundle), and the same page without the bundle's script tag. */
export async function benchPages(apiHost: string): Promise<{ withBundle: string; empty: string }> {
  const withBundle = await trackerPage({ apiHost, company: COMPANY });
  const empty = withBundle.replace(/<script async src="\/dist\/klaviyo\.js[^"]*"><\/script>/, '');
  if (empty === withBundle) throw new Error('bench: could not find the bundle script tag in the tracker page');
  return { withBundle, empty };
}

/** Runs before any page script: records every long task (> 50 ms) as [startTime, duration] in `__longtasks`. */
const LONGTASKS = `window.__longtasks = [];
try { new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
  .observe({ type: 'longtask', buffered: true }); } catch (e) {}`;

/** A page in a context of its own (a cold profile), the Performance domain on before navigation: `cdp` reports
 *  wall-clock durations (timeTicks, what DevTools shows), `cpu` the main thread's own CPU time (threadTicks), which a
 *  loaded machine does not inflate. */
export async function openPage(browser: RawBrowser, opts: { longTasks?: boolean } = {}): Promise<RawPage> {
  const page = await browser.newPage({ initScript: opts.longTasks ? LONGTASKS : undefined });
  await page.cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
  await page.cpu.send('Performance.enable', { timeDomain: 'threadTicks' });
  return page;
}

/** Main-thread totals so far (ms), wall clock and thread CPU: TaskDuration (every task) less DevToolsCommandDuration
 *  (the bench's own CDP commands: waiting for `loaded`, evaluate, getMetrics), and ScriptDuration (JS execution). */
export async function mainThread(s: { cdp: Session; cpu: Session }): Promise<{ task: number; script: number; taskCpu: number; scriptCpu: number }> {
  const read = async (cdp: Session) => {
    const { metrics } = await cdp.send<{ metrics: Array<{ name: string; value: number }> }>('Performance.getMetrics');
    const m = (name: string) => (metrics.find((x) => x.name === name)?.value ?? NaN) * 1000;
    return { task: m('TaskDuration') - m('DevToolsCommandDuration'), script: m('ScriptDuration') };
  };
  const [wall, cpu] = await Promise.all([read(s.cdp), read(s.cpu)]);
  return { ...wall, taskCpu: cpu.task, scriptCpu: cpu.script };
}

/** Used JS heap (bytes) after a full garbage collection. */
export async function heapAfterGc(cdp: Session): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send<{ usedSize: number }>('Runtime.getHeapUsage');
  return usedSize;
}

/** Long tasks that overlap [from, to] (page performance.now() ms): count and longest duration. */
export async function longTasks(page: RawPage, from: number, to: number): Promise<{ count: number; longest: number }> {
  const all = await page.evaluate(() => (window as unknown as { __longtasks: Array<[number, number]> }).__longtasks);
  const hit = all.filter(([start, dur]) => start + dur > from && start < to);
  return { count: hit.length, longest: Math.max(0, ...hit.map(([, d]) => d)) };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
