// Chromium driven over a bare DevTools pipe (--remote-debugging-pipe), for the bench's main-thread figures.
// Playwright enables CDP's Network domain on every page it opens, and Chromium then reports each request, with
// its JavaScript stack, to it: 1000 fetches cost the page's main thread about twice what they cost with no
// DevTools client, which would be charged to the tracker. This client enables Page (for load events) and, where
// a figure needs it, Performance or Profiler; never Network. Messages on the pipe are JSON, each ended by a NUL byte.
import type { Readable, Writable } from 'node:stream';
import { spawnChromium } from '../../e2e/harness/browser';
import { until } from '../../e2e/harness/site';

/** One CDP session (a target attached in flat mode): commands, and its events by method. */
export interface Session {
  send<T = any>(method: string, params?: object): Promise<T>;
  /** The next event `method` of this session. */
  next<T = any>(method: string): Promise<T>;
}

/** A page in a browser context of its own (a cold profile), with two sessions: `cdp` for wall-clock metrics and
 *  `cpu` for thread CPU (Performance.enable takes one time domain per session). */
export interface RawPage {
  cdp: Session;
  cpu: Session;
  goto(url: string): Promise<void>;
  /** Run `fn(arg)` in the page (its source, so it must not use helpers of the bench's own module) and return its
   *  JSON result, awaiting a promise. */
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  waitForFunction(fn: () => unknown, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface RawBrowser {
  version: string;
  /** A new context and page; `initScript` runs before any page script (Page.addScriptToEvaluateOnNewDocument). */
  newPage(opts?: { initScript?: string }): Promise<RawPage>;
  close(): Promise<void>;
}

/** Launch the harness's Chromium (findChromium: CHROMIUM_PATH, then the usual places) headless, on a fresh profile
 *  deleted at close. */
export async function launchRaw(): Promise<RawBrowser> {
  // fd 3: commands to Chromium; fd 4: its answers and events.
  const chromium = spawnChromium(['--remote-debugging-pipe', 'about:blank'], ['ignore', 'ignore', 'ignore', 'pipe', 'pipe']);
  const { proc } = chromium;
  const out = proc.stdio[3] as Writable;
  let seq = 0;
  const pending = new Map<number, { ok(v: unknown): void; ko(e: Error): void }>();
  const waiting: Array<{ method: string; sessionId?: string; ok(v: unknown): void; ko(e: Error): void }> = [];
  // A browser that dies fails what waits on it, instead of hanging the bench.
  proc.once('exit', () => {
    const gone = new Error('Chromium exited');
    for (const w of [...pending.values(), ...waiting.splice(0)]) w.ko(gone);
    pending.clear();
  });
  let buf = '';
  (proc.stdio[4] as Readable).on('data', (d: Buffer) => {
    buf += d.toString();
    for (let end; (end = buf.indexOf('\0')) >= 0; buf = buf.slice(end + 1)) {
      const m = JSON.parse(buf.slice(0, end));
      const p = pending.get(m.id);
      if (p) {
        pending.delete(m.id);
        m.error ? p.ko(new Error(`${m.error.message} (${m.error.code})`)) : p.ok(m.result);
        continue;
      }
      const i = waiting.findIndex((w) => w.method === m.method && w.sessionId === m.sessionId);
      if (i >= 0) waiting.splice(i, 1)[0]!.ok(m.params);
    }
  });
  const session = (sessionId?: string): Session => ({
    send: (method, params = {}) =>
      new Promise((ok, ko) => {
        pending.set(++seq, { ok: ok as (v: unknown) => void, ko });
        out.write(JSON.stringify({ id: seq, method, params, sessionId }) + '\0');
      }),
    next: (method) => new Promise((ok, ko) => waiting.push({ method, sessionId, ok: ok as (v: unknown) => void, ko })),
  });
  const browser = session();
  const { product } = await browser.send<{ product: string }>('Browser.getVersion');
  return {
    version: product,
    async newPage({ initScript } = {}) {
      const { browserContextId } = await browser.send('Target.createBrowserContext');
      const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank', browserContextId });
      const attach = async () => session((await browser.send('Target.attachToTarget', { targetId, flatten: true })).sessionId);
      const [cdp, cpu] = [await attach(), await attach()];
      await cdp.send('Page.enable');
      if (initScript) await cdp.send('Page.addScriptToEvaluateOnNewDocument', { source: initScript });
      const evaluate = async <A, R>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> => {
        const expression = `(${fn.toString()})(${arg === undefined ? '' : JSON.stringify(arg)})`;
        const r = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
        if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as R;
      };
      return {
        cdp,
        cpu,
        evaluate,
        async goto(url) {
          const loaded = cdp.next('Page.loadEventFired');
          await cdp.send('Page.navigate', { url });
          await loaded;
        },
        waitForFunction: (fn, timeoutMs = 30_000) => until(() => evaluate(fn), { timeoutMs, describe: () => `${fn}` }).then(() => {}),
        close: () => browser.send('Target.disposeBrowserContext', { browserContextId }),
      };
    },
    close: chromium.close,
  };
}
