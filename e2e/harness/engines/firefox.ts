// Firefox through puppeteer-core over WebDriver BiDi (no geckodriver: Firefox speaks BiDi itself). Chosen over
// playwright-core's Firefox-over-BiDi mode, which is undocumented and fails with playwright-core 1.65
// (`emulation.setMediaFeaturesOverride: unknown command`). puppeteer-core 25.19 drives Firefox 153 ESR.
// Always on a profile directory (the caller's, or a temporary one removed at close); puppeteer starts Firefox
// as a process group leader, so kill() takes its content processes too. newContext() is a BiDi user context
// (fresh cookies and storage); with a profileDir it hands out the default one, which is the profile's storage.
import type { BrowserContext, Page as PpPage } from 'puppeteer-core';
import { signalGroup } from './procs';
import { makeTempDir, removeDir } from './tempDir';
import type { Browser, ConsoleMessage, Context, Cookie, Features, LaunchOptions, Page } from './types';
import { waitForURL } from './waitForURL';

const FEATURES: Features = { isolatedContexts: true, persistentProfile: true, consoleEvents: true, initScripts: true };

const TIMEOUT = 60_000;

/** puppeteer's console types as Playwright names them (the interface's vocabulary). */
const TYPE: Record<string, string> = { warn: 'warning', verbose: 'debug' };

function wrapPage(page: PpPage): Page {
  const messages: ConsoleMessage[] = [];
  page.on('console', (m) => messages.push({ type: TYPE[m.type()] ?? m.type(), text: m.text(), url: m.location().url }));
  page.on('pageerror', (e) => messages.push({ type: 'pageerror', text: e instanceof Error ? e.message : String(e) }));
  const self: Page = {
    goto: async (url) => void (await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT })),
    gotoNoWait: async (url) => void page.goto(url, { timeout: TIMEOUT }).catch(() => {}),
    reload: async () => void (await page.reload({ waitUntil: 'load', timeout: TIMEOUT })),
    evaluate: (fn, arg) => (typeof fn === 'string' ? page.evaluate(fn) : page.evaluate(fn as never, arg)) as never,
    // A trusted click (BiDi input actions); puppeteer never waits for the navigation it starts.
    click: (selector) => page.click(selector),
    url: async () => page.url(),
    waitForURL: (url, timeoutMs) => waitForURL(self, url, timeoutMs),
    consoleMessages: async () => messages.slice(),
    // browsingContext.close: pagehide and visibilitychange fire (checked in e2e/engines.test.ts).
    close: () => page.close(),
  };
  return self;
}

function wrapContext(ctx: BrowserContext, isolated: boolean): Context {
  const init: string[] = [];
  const pages = new Set<PpPage>();
  return {
    isolated,
    async newPage() {
      const page = await ctx.newPage();
      page.setDefaultTimeout(TIMEOUT);
      pages.add(page);
      page.once('close', () => pages.delete(page));
      // A BiDi preload script per page: the context-wide kind is not in puppeteer's API.
      for (const s of init) await page.evaluateOnNewDocument(s);
      return wrapPage(page);
    },
    cookies: async () =>
      (await ctx.cookies()).map((c): Cookie => ({
        name: c.name,
        value: c.value,
        domain: c.domain,
        path: c.path,
        // 'Default' (no attribute): Firefox treats it as None (network.cookie.sameSite.laxByDefault is off).
        sameSite: c.sameSite === 'Strict' || c.sameSite === 'Lax' ? c.sameSite : 'None',
        secure: !!c.secure,
        httpOnly: !!c.httpOnly,
      })),
    // Pages opened from now on (as in Playwright, where it also reaches pages already open on their next document).
    addInitScript: async (source) => void init.push(source),
    close: async () => void (isolated ? await ctx.close() : await Promise.all([...pages].map((p) => p.close()))),
  };
}

/** The Firefox to drive: FIREFOX_PATH, else the usual install places. */
export const FIREFOX_PATHS = ['/usr/bin/firefox-esr', '/usr/bin/firefox', '/usr/lib/firefox-esr/firefox-esr', '/usr/lib/firefox/firefox', '/snap/bin/firefox'];

export async function launchFirefoxEngine(executablePath: string, opts: LaunchOptions = {}): Promise<Browser> {
  const t0 = Date.now();
  const { default: puppeteer } = await import('puppeteer-core');
  const dir = opts.profileDir ?? makeTempDir('klaviyo-engine-firefox-');
  const browser = await puppeteer
    .launch({ browser: 'firefox', protocol: 'webDriverBiDi', executablePath, headless: true, userDataDir: dir, acceptInsecureCerts: true, protocolTimeout: TIMEOUT })
    .catch(async (e) => {
      if (!opts.profileDir) await removeDir(dir);
      throw e;
    });
  const proc = browser.process()!;
  const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
  return {
    engine: 'firefox',
    features: FEATURES,
    launchMs: Date.now() - t0,
    async newContext() {
      if (opts.profileDir) return wrapContext(browser.defaultBrowserContext(), false);
      return wrapContext(await browser.createBrowserContext(), true);
    },
    async close() {
      if (browser.connected) await browser.close().catch(() => {});
      signalGroup(proc.pid!, 'SIGKILL'); // whatever did not exit with it
      await exited;
      if (!opts.profileDir) await removeDir(dir);
    },
    async kill() {
      signalGroup(proc.pid!, 'SIGKILL');
      await exited;
      // puppeteer restores the profile's own prefs.js/user.js once the process has exited (a few file renames):
      // let that finish before a relaunch on the same profile backs them up again.
      await new Promise((r) => setTimeout(r, 200));
    },
  };
}
