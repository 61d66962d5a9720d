// Chromium through Playwright (the project's driver), launched the way e2e/harness/browser.ts does. Always on a
// profile directory (the caller's, or a temporary one removed at close) so that kill() can find the browser
// process by its --user-data-dir: Playwright does not expose the pid. newContext() opens an incognito context
// beside the profile's (fresh cookies and storage, ~35 ms); with a profileDir it hands out the profile's own.
import type { BrowserContext, Page as PwPage } from 'playwright-core';
import { launchPersistent } from '../browser';
import { pidWithArg, signalGroup } from './procs';
import { makeTempDir, removeDir } from './tempDir';
import type { Browser, ConsoleMessage, Context, Cookie, Features, LaunchOptions, Page } from './types';
import { waitForURL } from './waitForURL';

const FEATURES: Features = { isolatedContexts: true, persistentProfile: true, consoleEvents: true, initScripts: true };

function wrapPage(page: PwPage): Page {
  const messages: ConsoleMessage[] = [];
  page.on('console', (m) => messages.push({ type: m.type(), text: m.text(), url: m.location().url }));
  page.on('pageerror', (e) => messages.push({ type: 'pageerror', text: e.message }));
  const self: Page = {
    goto: async (url) => void (await page.goto(url)),
    // Not awaited: the navigation is sent now (before any later command on the connection) and runs on.
    gotoNoWait: async (url) => void page.goto(url).catch(() => {}),
    reload: async () => void (await page.reload()),
    evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
    // noWaitAfter: Playwright would otherwise wait for the navigation the click starts.
    click: (selector) => page.click(selector, { noWaitAfter: true }),
    url: async () => page.url(),
    waitForURL: (url, timeoutMs) => waitForURL(self, url, timeoutMs),
    consoleMessages: async () => messages.slice(),
    // Closing the target fires pagehide and visibilitychange (checked in e2e/engines.test.ts).
    close: () => page.close(),
  };
  return self;
}

function wrapContext(ctx: BrowserContext, isolated: boolean): Context {
  const pages = new Set<PwPage>();
  return {
    isolated,
    async newPage() {
      const page = await ctx.newPage();
      pages.add(page);
      page.once('close', () => pages.delete(page));
      return wrapPage(page);
    },
    cookies: async () =>
      (await ctx.cookies()).map((c): Cookie => ({ name: c.name, value: c.value, domain: c.domain, path: c.path, sameSite: c.sameSite, secure: c.secure, httpOnly: c.httpOnly })),
    addInitScript: async (source) => void (await ctx.addInitScript(source)),
    // The profile's own context lives as long as the browser: closing it here closes only its pages.
    close: async () => void (isolated ? await ctx.close() : await Promise.all([...pages].map((p) => p.close()))),
  };
}

export async function launchChromiumEngine(opts: LaunchOptions = {}): Promise<Browser> {
  const t0 = Date.now();
  const dir = opts.profileDir ?? makeTempDir('klaviyo-engine-chromium-');
  // With the back/forward cache on, as in every Chrome: Playwright turns it off by default.
  const profile = await launchPersistent(dir, { ignoreDefaultArgs: ['--disable-back-forward-cache'], ignoreHTTPSErrors: true }).catch(async (e) => {
    if (!opts.profileDir) await removeDir(dir);
    throw e;
  });
  const pid = pidWithArg(`--user-data-dir=${dir}`);
  const gone = new Promise<void>((r) => profile.once('close', () => r()));
  return {
    engine: 'chromium',
    features: FEATURES,
    launchMs: Date.now() - t0,
    async newContext() {
      if (opts.profileDir) return wrapContext(profile, false);
      return wrapContext(await profile.browser()!.newContext({ ignoreHTTPSErrors: true }), true);
    },
    async close() {
      await profile.close().catch(() => {});
      if (!opts.profileDir) await removeDir(dir);
    },
    async kill() {
      if (!pid) throw new Error(`chromium: no browser process found for --user-data-dir=${dir}`);
      // Playwright starts Chromium as a process group leader: this takes the renderers and the GPU process too.
      signalGroup(pid, 'SIGKILL');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    },
  };
}
