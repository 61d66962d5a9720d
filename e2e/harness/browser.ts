// Finds a Chromium to drive and launches it the way this project's machines need.
// Order: CHROMIUM_PATH, Debian's /usr/bin/chromium and the usual install places, then the
// browsers Playwright itself may have downloaded. Playwright's own download cannot run here
// (no internet but the registries), so we never ask for it.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from 'playwright-core';
import type { Collector } from '../../dev/collector/index';
import type { Browser as EngineBrowser } from './engines/types';
import { spawnGroup } from './engines/procs';
import { makeTempDir, removeDir } from './engines/tempDir';
import { accepted } from './requests';
import { until } from './wait';

/** Flags that keep headless Chromium quiet on a machine with a closed network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SYSTEM_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

function playwrightCacheBrowsers(): string[] {
  const root = process.env.PLAYWRIGHT_BROWSERS_PATH || join(homedir(), '.cache', 'ms-playwright');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => d.startsWith('chromium'))
    .flatMap((d) => [
      join(root, d, 'chrome-linux', 'chrome'),
      join(root, d, 'chrome-linux64', 'chrome'),
      join(root, d, 'chrome-mac', 'Chromium.app', 'Contents', 'MacOS', 'Chromium'),
    ]);
}

/** The first Chromium found, or undefined. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return [...SYSTEM_PATHS, ...playwrightCacheBrowsers()].find((p) => existsSync(p));
}

/** One line that tells a user how to get a browser, instead of a stack trace. */
export const NO_CHROMIUM =
  'No Chromium found: install one (Debian/Ubuntu: apt-get install -y chromium) or set CHROMIUM_PATH=/path/to/chrome.';

function executable(): string {
  const path = findChromium();
  if (!path) {
    // Thrown as a plain message: vitest prints it as one line per failing file.
    const err = new Error(NO_CHROMIUM);
    err.stack = NO_CHROMIUM;
    throw err;
  }
  return path;
}

/** Launch a fresh headless Chromium (new empty profile). */
export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: executable(), args: CHROMIUM_ARGS, ...options });
}

/**
 * Launch Chromium on a persistent profile directory, so IndexedDB and cookies survive a relaunch
 * (the crash test kills the process and opens the same profile again).
 */
export function launchPersistent(userDataDir: string, options: Parameters<typeof chromium.launchPersistentContext>[1] = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, { executablePath: executable(), args: CHROMIUM_ARGS, ...options });
}

/** Start Chromium without Playwright on a fresh profile (`args` after the usual flags), in its own process group;
 *  `close` kills it with every helper process it started and deletes the profile. */
export function spawnChromium(args: string[], stdio: StdioOptions = 'ignore'): { proc: ChildProcess; close(): Promise<void> } {
  const dir = makeTempDir('klaviyo-chromium-');
  const group = spawnGroup(executable(), [...CHROMIUM_ARGS, `--user-data-dir=${dir}`, ...args], { stdio });
  return {
    proc: group.proc,
    async close() {
      await group.kill();
      await removeDir(dir);
    },
  };
}

/** How long a Chromium runs before runningChromium opens the measured page (by default). */
export const START_UP_MS = 1_000;

/**
 * spawnChromium (`args`), on `url` once the browser has run `startUpMs` on a blank page: a visitor's page opens in a
 * browser that is already running. A new Chromium's own start-up (a new profile, its first processes) keeps both
 * cores of this machine busy for ~1-1.5 s, and a page opened with the launch measures that too. Measured (HTTP/2,
 * 50-150 ms, 1500 identifies at load): opened with the launch, 4.85-5.06 s first to last (5 runs); 1 s after it,
 * 4.72-4.77 s (4 runs); 2 s after it, 4.71-4.80 s (5 runs). `startUpMs` 0: the page opens with the launch (as a link
 * clicked while the browser was closed), which the bench reports beside the cases.
 */
export function runningChromium(url: string, args: string[] = [], startUpMs = START_UP_MS): ReturnType<typeof spawnChromium> {
  if (!startUpMs) return spawnChromium([...args, url]);
  const blank = `<!doctype html><script>setTimeout(() => (location.href = ${JSON.stringify(url)}), ${startUpMs})</script>`;
  return spawnChromium([...args, `data:text/html,${encodeURIComponent(blank)}`]);
}

/** Wait until `collector` has accepted n requests: their arrival times at the collector, ascending (ms). */
export async function acceptedArrivals(collector: Collector, n: number, timeoutMs = 60_000): Promise<number[]> {
  await until(() => accepted(collector).length >= n, { timeoutMs, describe: () => `${accepted(collector).length} of ${n} accepted` });
  return accepted(collector).map((r) => r.time).sort((a, b) => a - b);
}

/**
 * Open `url` (a page that sends on load) in a Chromium process with no DevTools client attached, for timing
 * figures, wait until `collector` has accepted n requests, and close it: their arrival times (acceptedArrivals).
 * Playwright enables CDP's Network domain on every page, and Chromium then reports each request (with its
 * JavaScript stack) to it: measured here, 1500 bare fetches take 5.7-6.9 s that way and 3.1-4.9 s without.
 */
export async function arrivalsUninstrumented(url: string, collector: Collector, n: number, timeoutMs = 60_000): Promise<number[]> {
  const browser = runningChromium(url);
  try {
    return await acceptedArrivals(collector, n, timeoutMs);
  } finally {
    await browser.close();
  }
}

/**
 * The same measurement through the engine adapter (e2e/harness/engines), for the engines with no way to start
 * them free of their driver: open `url` (a page that sends on load) in a fresh context of `browser` (WebKit: a
 * MiniBrowser of its own; Firefox: a new user context of the running browser), wait until `collector` has
 * accepted n requests, and close the context: their arrival times, ascending (acceptedArrivals). The driver's
 * instrumentation (if any) costs every run the same, so compare such a run only with another run taken this way.
 */
export async function arrivalsInEngine(browser: EngineBrowser, url: string, collector: Collector, n: number, timeoutMs = 60_000): Promise<number[]> {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(url);
    return await acceptedArrivals(collector, n, timeoutMs);
  } finally {
    await ctx.close();
  }
}
