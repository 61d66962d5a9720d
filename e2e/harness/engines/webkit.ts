// WebKit: WebKitGTK's MiniBrowser driven by WebKitWebDriver (classic W3C WebDriver, ./webdriver.ts) under an
// Xvfb display of our own. It is WebKit, not Safari: no tracking prevention, no Safari storage caps.
// What classic WebDriver and MiniBrowser allow, and what was chosen:
// - Contexts: WebKitWebDriver serves one session at a time ("Maximum number of active sessions"), and each
//   session is a MiniBrowser process of its own whose storage (cookies, localStorage, IndexedDB) lives in
//   memory only: `--automation` makes MiniBrowser's data manager ephemeral. So a Context is a driver process +
//   session + MiniBrowser: isolated, ~0.7 s to start. launch() starts the first one eagerly (in launchMs).
// - No persistent profile: nothing survives kill(), so launch(webkit, { profileDir }) throws.
// - Pages are windows of the context's session; commands are serialised per session, switching windows first.
// - No console events and no init scripts (see ./consoleShim.ts); cookies only as the current page sees them.
// - evaluate embeds the function's source in the WebDriver script (no eval: works under a strict CSP).
import { join } from 'node:path';
import { READ_SHIM } from './consoleShim';
import { freePort, spawnGroup, type Group } from './procs';
import { makeTempDir, removeDir } from './tempDir';
import type { Browser, Context, Cookie, Features, LaunchOptions, Page, PageFunction } from './types';
import { waitForURL } from './waitForURL';
import { Session, WebDriverError, waitForDriver } from './webdriver';
import { startXvfb, type Display } from './xvfb';

const FEATURES: Features = { isolatedContexts: true, persistentProfile: false, consoleEvents: false, initScripts: false };

const PAGE_LOAD_MS = 120_000;
const SCRIPT_MS = 180_000;

export const NO_PROFILE = 'webkit: no persistent profile (MiniBrowser --automation keeps all storage in memory), so nothing survives kill()';

export interface WebKitPaths {
  driver: string;
  browser: string;
  xvfb: string;
}

/** True when `src` parses as one expression (then its value is returned); else it runs as statements. */
function isExpression(src: string): boolean {
  try {
    new Function(`return (${src}\n);`);
    return true;
  } catch {
    return false;
  }
}

/** The execute/async body that runs `fn` with arguments[0] and always calls back with {ok, v} or {ok: false, e}. */
function script(fn: PageFunction<unknown, unknown>): string {
  const body = typeof fn !== 'string' ? `return (${fn.toString()})(arg);` : isExpression(fn) ? `return (${fn}\n);` : `${fn}\n;return undefined;`;
  return `var done = arguments[arguments.length - 1], arg = arguments[0];
Promise.resolve().then(function () { ${body} }).then(
  function (v) { done({ ok: true, v: v === undefined ? null : v }); },
  function (e) { done({ ok: false, e: e instanceof Error ? e.name + ': ' + e.message : String(e) }); });`;
}

/**
 * Run a command that may start a navigation with a page-load timeout of 0, so the driver answers at once (or
 * with a "timeout" error, ignored) and the navigation goes on. The next command of the session waits for it
 * (WebKitWebDriver waits for a pending navigation before running a command).
 */
async function noWait(s: Session, command: () => Promise<unknown>): Promise<void> {
  await s.setTimeouts({ pageLoad: 0 });
  try {
    await command();
  } catch (e) {
    if (!(e instanceof WebDriverError && e.error === 'timeout')) throw e;
  } finally {
    await s.setTimeouts({ pageLoad: PAGE_LOAD_MS });
  }
}

interface Driver {
  session: Session;
  group: Group;
}

/** A WebKitWebDriver on a free port and a new session on it (its MiniBrowser); retried if the port was taken. */
async function startDriver(paths: WebKitPaths, env: NodeJS.ProcessEnv): Promise<Driver> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const group = spawnGroup(paths.driver, [`--port=${port}`, '--host=127.0.0.1'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    group.proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForDriver(base, () => group.proc.exitCode === null && group.proc.signalCode === null);
      const session = await Session.create(base, { browserName: 'MiniBrowser', acceptInsecureCerts: true, 'webkitgtk:browserOptions': { binary: paths.browser, args: ['--automation'] } });
      await session.setTimeouts({ script: SCRIPT_MS, pageLoad: PAGE_LOAD_MS });
      return { session, group };
    } catch (e) {
      await group.kill();
      if (attempt >= 3) throw new Error(`webkit: ${(e as Error).message}${stderr ? '\n' + stderr.trim() : ''}`);
    }
  }
}

class WebKitContext implements Context {
  readonly isolated = true;
  private chain: Promise<unknown> = Promise.resolve();
  private current: string | undefined;
  private readonly open = new Set<string>();
  private closed = false;

  constructor(
    private readonly driver: Driver,
    /** Blank windows ready for newPage(): the session's first one, or one opened so closing the last page keeps the session. */
    private readonly spare: string[],
    private readonly onClose: () => void,
  ) {}

  static async start(driver: Driver, onClose: (c: WebKitContext) => void): Promise<WebKitContext> {
    const c: WebKitContext = new WebKitContext(driver, [await driver.session.window()], () => onClose(c));
    return c;
  }

  /** Run `fn` alone on the session, with `handle`'s window current. */
  private run<T>(handle: string | undefined, fn: (s: Session) => Promise<T>): Promise<T> {
    const next = this.chain.then(async () => {
      if (this.closed) throw new Error('webkit: context closed');
      if (handle && handle !== this.current) {
        await this.driver.session.switchTo(handle);
        this.current = handle;
      }
      return fn(this.driver.session);
    });
    this.chain = next.catch(() => {});
    return next;
  }

  async newPage(): Promise<Page> {
    const handle = await this.run(undefined, async (s) => this.spare.pop() ?? s.newWindow());
    this.open.add(handle);
    const run = <T>(fn: (s: Session) => Promise<T>) => this.run(handle, fn);
    const page: Page = {
      goto: (url) => run(async (s) => void (await s.navigate(url))),
      // A navigation command with no time to wait for the load: the driver answers "timeout" at once and the
      // navigation goes on.
      gotoNoWait: (url) => run((s) => noWait(s, () => s.navigate(url))),
      reload: () => run(async (s) => void (await s.refresh())),
      evaluate: async <R, A>(fn: PageFunction<A, R>, arg?: A) => {
        const r = await run((s) => s.executeAsync<{ ok: boolean; v?: R; e?: string }>(script(fn as PageFunction<unknown, unknown>), [arg ?? null]));
        if (!r.ok) throw new Error(`evaluate: ${r.e}`);
        return r.v as R;
      },
      // Element Click: a trusted click at the element's centre. Without the zero page-load timeout the driver
      // sometimes waits for the navigation the click starts (when it has begun by the time the click is done).
      click: (selector) => run((s) => noWait(s, () => s.click(selector))),
      url: () => run((s) => s.url()),
      waitForURL: (url, timeoutMs) => waitForURL(page, url, timeoutMs),
      consoleMessages: () => page.evaluate(READ_SHIM),
      // Closing the window fires pagehide and visibilitychange (checked in e2e/engines.test.ts).
      close: () =>
        this.run(handle, async (s) => {
          if (this.open.size === 1) this.spare.push(await s.newWindow()); // closing the last window would end the session
          await s.closeWindow();
          this.open.delete(handle);
          this.current = undefined;
        }),
    };
    return page;
  }

  cookies(): Promise<Cookie[]> {
    const handle = this.current ?? [...this.open][0];
    return this.run(handle, async (s) =>
      (await s.cookies()).map((c) => ({
        name: c.name,
        value: c.value,
        domain: c.domain ?? '',
        path: c.path ?? '/',
        sameSite: (c.sameSite as Cookie['sameSite']) ?? 'None',
        secure: !!c.secure,
        httpOnly: !!c.httpOnly,
      })),
    );
  }

  async addInitScript(): Promise<void> {
    throw new Error('webkit: no init scripts over classic WebDriver; put the script in the page (see CONSOLE_SHIM)');
  }

  /** End the session (MiniBrowser quits), not queued behind a command still running; then end the driver. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.race([this.driver.session.delete().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    await this.driver.group.kill();
    this.onClose();
  }

  /** As a crash: the driver's process group (WebKitWebDriver, MiniBrowser and its web and network processes). */
  async kill(): Promise<void> {
    this.closed = true;
    await this.driver.group.kill('SIGKILL');
  }
}

export async function launchWebKitEngine(paths: WebKitPaths, opts: LaunchOptions = {}): Promise<Browser> {
  if (opts.profileDir) throw new Error(NO_PROFILE);
  const t0 = Date.now();
  const home = makeTempDir('klaviyo-engine-webkit-');
  let display: Display | undefined;
  const contexts = new Set<WebKitContext>();
  let warm: Promise<WebKitContext> | undefined;
  const cleanup = async () => {
    await Promise.all([...contexts].map((c) => c.close()));
    await display?.close();
    await removeDir(home);
  };
  try {
    display = await startXvfb(paths.xvfb);
    // MiniBrowser's caches and settings go to a directory of this launch's, removed at close.
    const env = {
      ...process.env,
      DISPLAY: display.display,
      GDK_BACKEND: 'x11',
      NO_AT_BRIDGE: '1',
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_DATA_HOME: join(home, 'data'),
    };
    const start = async () => {
      const c = await WebKitContext.start(await startDriver(paths, env), (closed) => contexts.delete(closed));
      contexts.add(c);
      return c;
    };
    warm = start();
    await warm;
    return {
      engine: 'webkit',
      features: FEATURES,
      launchMs: Date.now() - t0,
      async newContext() {
        const c = warm ? await warm : await start();
        warm = undefined;
        return c;
      },
      close: cleanup,
      async kill() {
        warm = undefined;
        await Promise.all([...contexts].map((c) => c.kill()));
        contexts.clear();
        await display?.close();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
