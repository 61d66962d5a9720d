// The engine adapter's interface: the few browser operations the e2e scenarios need, the same in Chromium
// (Playwright), Firefox (puppeteer-core over WebDriver BiDi) and WebKit (WebKitWebDriver, classic WebDriver).
// Everything is async, since WebKit's answers come over HTTP. What an engine cannot do is in its `features`.

export type EngineName = 'chromium' | 'firefox' | 'webkit';

/** What this engine's adapter can do; a test checks these instead of the engine's name. */
export interface Features {
  /** newContext() starts with no cookies and no storage (Chromium and Firefox: a browser context; WebKit: a browser of its own). */
  isolatedContexts: boolean;
  /** launch(engine, { profileDir }) keeps IndexedDB, localStorage and cookies over kill() and a relaunch. */
  persistentProfile: boolean;
  /** consoleMessages() sees every message from the protocol; false: only what CONSOLE_SHIM recorded in the page. */
  consoleEvents: boolean;
  /** Context.addInitScript() runs a script before any page script. */
  initScripts: boolean;
}

/** Every engine accepts the tests' self-signed certificates (https pages on 127.0.0.1 and *.localhost). */
export interface LaunchOptions {
  /** A profile directory of the caller's (kept): launching on it again after kill() finds the storage. */
  profileDir?: string;
}

export interface Cookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  sameSite: 'Strict' | 'Lax' | 'None';
  secure: boolean;
  httpOnly: boolean;
}

/** A console call or an uncaught error ('pageerror'). `type` as Playwright names it: log, info, warning, error, debug… */
export interface ConsoleMessage {
  type: string;
  text: string;
  /** The script or page the message came from, where the engine says. */
  url?: string;
}

/** A page function (called with `arg`), or JavaScript source: an expression (its value) or statements (their
 *  completion value in Chromium and Firefox, null in WebKit: do not rely on it). */
export type PageFunction<A, R> = string | ((arg: A) => R | Promise<R>);

export interface Page {
  /** Navigate and wait for the load event. */
  goto(url: string): Promise<void>;
  /** Start a navigation the way a user typing a URL does, and return without waiting for it. */
  gotoNoWait(url: string): Promise<void>;
  reload(): Promise<void>;
  /** Run in the page; promises are awaited; the result comes back as JSON (undefined may come back as null). */
  evaluate<R = unknown, A = unknown>(fn: PageFunction<A, R>, arg?: A): Promise<R>;
  /** A real (trusted) click on the first match; returns without waiting for a navigation it starts. */
  click(selector: string): Promise<void>;
  /** The URL the engine reports for the tab (WebKit: already a pending navigation's). */
  url(): Promise<string>;
  /** Wait until the document at `url` (string: equal; RegExp: matching) has loaded (readyState complete). */
  waitForURL(url: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Console messages so far (see Features.consoleEvents). */
  consoleMessages(): Promise<ConsoleMessage[]>;
  /** Close the tab as a user does: pagehide and visibilitychange fire. */
  close(): Promise<void>;
}

export interface Context {
  /** False when this context shares storage with others (a profile's own context). */
  readonly isolated: boolean;
  newPage(): Promise<Page>;
  /** Cookies of this context (WebKit: only those the current page's document can see, a WebDriver classic limit). */
  cookies(): Promise<Cookie[]>;
  /** Run `source` before any script of every page opened from now on (Features.initScripts; else it throws). */
  addInitScript(source: string): Promise<void>;
  close(): Promise<void>;
}

export interface Browser {
  readonly engine: EngineName;
  readonly features: Features;
  /** Milliseconds launch() took (WebKit: also its first context's browser, started eagerly). */
  readonly launchMs: number;
  /** A fresh context; with a profileDir, the profile's own context (isolated: false). */
  newContext(): Promise<Context>;
  /** Close every context and the browser; delete temporary profiles; end every process started. */
  close(): Promise<void>;
  /** SIGKILL the browser's process group(s), as a crash: nothing is flushed. close() afterwards is still safe. */
  kill(): Promise<void>;
}
