// A small W3C WebDriver (classic) client over fetch, for WebKitWebDriver.
// Why not selenium-webdriver: WebKitWebDriver speaks plain W3C over HTTP and the dozen commands below are all
// we use; Selenium's extras do not apply here (Selenium Manager would fetch drivers from the internet; we start
// one WebKitWebDriver per session ourselves, since it serves one session at a time), and it brings its own
// dependencies and command semantics between the test and the wire. Errors come back as WebDriverError
// with the W3C error code ("no such element", "script timeout", "timeout"…).

/** The key of an element reference in a W3C answer. */
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriverError extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(`${error}${message ? ': ' + message : ''}`);
  }
}

export interface W3CCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  secure?: boolean;
  httpOnly?: boolean;
  expiry?: number;
  sameSite?: string;
}

async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let value: any;
  try {
    value = JSON.parse(text).value;
  } catch {
    throw new WebDriverError('unknown error', `HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  if (!res.ok || (value && typeof value === 'object' && typeof value.error === 'string')) throw new WebDriverError(value?.error ?? 'unknown error', value?.message ?? `HTTP ${res.status}`);
  return value as T;
}

/** Wait until the driver at `base` answers /status (it has bound its port), or `alive()` turns false. */
export async function waitForDriver(base: string, alive: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await call(base, 'GET', '/status');
      return;
    } catch (e) {
      if (!alive() || Date.now() > end) throw new Error(`WebDriver at ${base} did not answer: ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One WebDriver session: the commands act on its current window (switchTo to change it). */
export class Session {
  private constructor(
    private readonly base: string,
    readonly id: string,
  ) {}

  static async create(base: string, alwaysMatch: Record<string, unknown>): Promise<Session> {
    const v = await call<{ sessionId: string }>(base, 'POST', '/session', { capabilities: { alwaysMatch } });
    return new Session(base, v.sessionId);
  }

  cmd<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return call<T>(this.base, method, `/session/${this.id}${path}`, body ?? (method === 'POST' ? {} : undefined));
  }

  setTimeouts(t: { script?: number; pageLoad?: number; implicit?: number }) {
    return this.cmd('POST', '/timeouts', t);
  }
  navigate(url: string) {
    return this.cmd('POST', '/url', { url });
  }
  url() {
    return this.cmd<string>('GET', '/url');
  }
  refresh() {
    return this.cmd('POST', '/refresh');
  }
  /** `script` is a function body; its last argument is the callback that ends it with a value. */
  executeAsync<T>(script: string, args: unknown[] = []) {
    return this.cmd<T>('POST', '/execute/async', { script, args });
  }
  async click(css: string) {
    const el = await this.cmd<Record<string, string>>('POST', '/element', { using: 'css selector', value: css });
    await this.cmd('POST', `/element/${el[ELEMENT]}/click`);
  }
  cookies() {
    return this.cmd<W3CCookie[]>('GET', '/cookie');
  }
  window() {
    return this.cmd<string>('GET', '/window');
  }
  async newWindow(): Promise<string> {
    return (await this.cmd<{ handle: string }>('POST', '/window/new', { type: 'tab' })).handle;
  }
  switchTo(handle: string) {
    return this.cmd('POST', '/window', { handle });
  }
  /** Close the current window; the handles left. */
  closeWindow() {
    return this.cmd<string[]>('DELETE', '/window');
  }
  delete() {
    return this.cmd('DELETE', '');
  }
}
