// The engine adapter for the browser tests: which engines are installed here (engines()) and launch(engine),
// so one scenario runs unchanged in Chromium (Playwright), Firefox (puppeteer-core over WebDriver BiDi) and
// WebKit (WebKitWebDriver + MiniBrowser under Xvfb). Paths: CHROMIUM_PATH, FIREFOX_PATH, WEBKIT_DRIVER_PATH,
// WEBKIT_BROWSER_PATH (and XVFB_PATH) override the usual places; ENGINES=chromium,firefox runs only those.
// Launch once per test file per engine. Measured here (2 cores): Chromium ~1.1 s (a context ~35 ms), Firefox
// 4-7 s (a context ~5 ms), WebKit ~1 s for Xvfb and the first context's MiniBrowser (each further context ~0.7 s).
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { findChromium } from '../browser';
import { launchChromiumEngine } from './chromium';
import { FIREFOX_PATHS, launchFirefoxEngine } from './firefox';
import type { Browser, EngineName, LaunchOptions } from './types';
import { launchWebKitEngine, type WebKitPaths } from './webkit';

export type * from './types';
export { CONSOLE_SHIM } from './consoleShim';
export { makeTempDir, removeDir } from './tempDir';

export const ENGINE_NAMES: readonly EngineName[] = ['chromium', 'firefox', 'webkit'];

export interface Availability {
  /** Engines to run, in ENGINE_NAMES order. */
  available: EngineName[];
  /** The others, each with why (not installed, and how to get it; or left out by ENGINES). */
  skipped: { engine: EngineName; reason: string }[];
}

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const onPath = (name: string) => (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)).find(executable);

/** `env` var's path if set (undefined when it does not exist), else the first candidate that does. */
function pick(env: string, candidates: string[]): { path?: string; why: string } {
  const fromEnv = process.env[env];
  if (fromEnv) return executable(fromEnv) ? { path: fromEnv, why: '' } : { why: `${env}=${fromEnv} is not an executable` };
  return { path: candidates.find((p) => existsSync(p) && executable(p)), why: '' };
}

function firefoxPath(): { path?: string; reason?: string } {
  const f = pick('FIREFOX_PATH', [...FIREFOX_PATHS, onPath('firefox-esr') ?? '', onPath('firefox') ?? ''].filter(Boolean));
  return f.path ? { path: f.path } : { reason: f.why || 'firefox-esr not found (apt-get install -y firefox-esr, or set FIREFOX_PATH)' };
}

function webkitPaths(): { paths?: WebKitPaths; reason?: string } {
  const driver = pick('WEBKIT_DRIVER_PATH', ['/usr/bin/WebKitWebDriver', onPath('WebKitWebDriver') ?? ''].filter(Boolean));
  if (!driver.path) return { reason: driver.why || 'WebKitWebDriver not found (apt-get install -y webkit2gtk-driver, or set WEBKIT_DRIVER_PATH)' };
  const browser = pick('WEBKIT_BROWSER_PATH', [
    '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
    '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
    '/usr/libexec/webkit2gtk-4.1/MiniBrowser',
  ]);
  if (!browser.path) return { reason: browser.why || 'MiniBrowser not found (apt-get install -y libwebkit2gtk-4.1-0, or set WEBKIT_BROWSER_PATH)' };
  const xvfb = pick('XVFB_PATH', [onPath('Xvfb') ?? ''].filter(Boolean));
  if (!xvfb.path) return { reason: xvfb.why || 'Xvfb not found (apt-get install -y xvfb, or set XVFB_PATH): MiniBrowser has no headless mode' };
  return { paths: { driver: driver.path, browser: browser.path, xvfb: xvfb.path } };
}

/** Why `engine` cannot run here, or undefined when it can. */
function missing(engine: EngineName): string | undefined {
  switch (engine) {
    case 'chromium':
      return findChromium() ? undefined : process.env.CHROMIUM_PATH ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} not found` : 'chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH)';
    case 'firefox':
      return firefoxPath().reason;
    case 'webkit':
      return webkitPaths().reason;
  }
}

/** The engines ENGINES asks for (all by default); an unknown name is an error, not a silent skip. */
function wanted(): EngineName[] {
  const env = process.env.ENGINES?.trim();
  if (!env) return [...ENGINE_NAMES];
  const names = env.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const bad = names.filter((n) => !ENGINE_NAMES.includes(n as EngineName));
  if (bad.length) throw new Error(`ENGINES=${env}: unknown ${bad.join(', ')} (known: ${ENGINE_NAMES.join(', ')})`);
  return names as EngineName[];
}

/** Which engines run here, and why each other one does not. */
export async function engines(): Promise<Availability> {
  const want = wanted();
  const out: Availability = { available: [], skipped: [] };
  for (const engine of ENGINE_NAMES) {
    const why = want.includes(engine) ? missing(engine) : `not in ENGINES=${process.env.ENGINES}`;
    if (why) out.skipped.push({ engine, reason: why });
    else out.available.push(engine);
  }
  return out;
}

/** One line per engine: ran or skipped, and why. */
export function describeEngines(a: Availability): string {
  return ENGINE_NAMES.map((e) => {
    const skip = a.skipped.find((s) => s.engine === e);
    return `${e}: ${skip ? `skipped (${skip.reason})` : 'runs'}`;
  }).join('\n');
}

/** Launch `engine`: a fresh temporary profile, or `opts.profileDir` (kept) when the engine has persistent profiles. */
export async function launch(engine: EngineName, opts: LaunchOptions = {}): Promise<Browser> {
  const why = missing(engine);
  if (why) throw new Error(`${engine}: ${why}`);
  switch (engine) {
    case 'chromium':
      return launchChromiumEngine(opts);
    case 'firefox':
      return launchFirefoxEngine(firefoxPath().path!, opts);
    case 'webkit':
      return launchWebKitEngine(webkitPaths().paths!, opts);
  }
}
export { eachEngine } from './eachEngine';
