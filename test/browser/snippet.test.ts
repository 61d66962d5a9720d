// The stub and the bundle's replay, in happy-dom: the real snippet source and the real entry file.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';

const stub = readFileSync('snippet/snippet.js', 'utf8');

describe('snippet + replay', () => {
  let bodies: any[];
  /** The company id each request went to, in the order of `bodies`. */
  let urls: string[];
  beforeEach(() => {
    bodies = [];
    urls = [];
    delete (window as any)._klaviyo;
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      urls.push(url.slice(-6));
      bodies.push(JSON.parse(String(init.body)));
      return new Response(null, { status: 202 });
    });
    vi.spyOn(console, 'warn').mockImplementation(() => {}); // happy-dom has no IndexedDB: one fallback warning
    vi.resetModules();
    localStorage.clear();
    // Each test's listeners (the stub's, the tracker's) go with it: a later test's pagehide must not wake them.
    onWindow = vi.spyOn(window, 'addEventListener');
    onDocument = vi.spyOn(document, 'addEventListener');
  });
  /** Remove the listeners added so far (the stub's, the tracker's): the page they belong to is gone. */
  function unlisten() {
    for (const [target, spy] of [[window, onWindow], [document, onDocument]] as const) {
      for (const [type, fn] of spy.mock.calls) target.removeEventListener(type, fn as EventListener);
      spy.mockClear();
    }
  }
  afterEach(() => {
    vi.unstubAllGlobals();
    unlisten();
    onWindow.mockRestore();
    onDocument.mockRestore();
  });
  let onWindow: MockInstance<Window['addEventListener']>;
  let onDocument: MockInstance<Document['addEventListener']>;

  const SAVED = '_klaviyo:q';
  const saved = () => JSON.parse(localStorage.getItem(SAVED)!);
  const emails = () => bodies.map((b, i) => [urls[i], b.data.attributes.email]);
  /** A new page of the same site: the earlier page's `_klaviyo` and bundle are gone, localStorage stays. */
  function nextPage() {
    unlisten();
    delete (window as any)._klaviyo;
    vi.resetModules();
    new Function(stub)();
    return (window as any)._klaviyo;
  }
  // Leaving: every navigation and tab close prompts to unload (beforeunload), loaded or not, in every engine.
  const hide = () => window.dispatchEvent(new Event('beforeunload'));

  it('queues calls before load (methods and pushes) and replays them in order, config first', async () => {
    new Function(stub)();
    const k = (window as any)._klaviyo;
    const p1 = k.identify({ email: 'first@example.com' });
    k.push(['identify', { email: 'second@example.com' }]);
    const p3 = k.identify({ email: 'third@example.com' });
    k.push(['account', 'XyZ789']);
    k.push(['config', { apiHost: 'http://127.0.0.1:1' }]);
    new Function(stub)(); // pasting the stub twice keeps the queue
    expect(k.length).toBe(5);
    await import('../../src/index');
    await Promise.all([p1, p3]);
    await vi.waitFor(() => expect(bodies.length).toBe(3));
    expect(bodies.map((b) => b.data.attributes.email)).toEqual(['first@example.com', 'second@example.com', 'third@example.com']);
    // After load push acts at once, and the queue array is drained.
    expect(k.length).toBe(0);
    expect(k.loaded).toBe(true);
    await k.identify({ email: 'fourth@example.com' });
    await vi.waitFor(() => expect(bodies.length).toBe(4));
  });

  it('sends each identify queued before load to the account named before it', async () => {
    new Function(stub)();
    const k = (window as any)._klaviyo;
    k.config({ apiHost: 'http://127.0.0.1:1' });
    k.account('AAAAAA');
    k.identify({ email: 'a@example.com' });
    k.account('BBBBBB');
    const last = k.identify({ email: 'b@example.com' });
    await import('../../src/index');
    await last;
    await vi.waitFor(() => expect(bodies.length).toBeGreaterThan(0));
    await new Promise((r) => setTimeout(r, 50));
    // The page now works for BBBBBB (AAAAAA's update stays queued under AAAAAA for a page of that account).
    expect(bodies.map((b, i) => [urls[i], b.data.attributes.email])).toEqual([['BBBBBB', 'b@example.com']]);
  });

  it('a call made while the queue is replayed (a getter of replayed props) runs too', async () => {
    new Function(stub)();
    const k = (window as any)._klaviyo;
    k.push(['account', 'XyZ789'], ['config', { apiHost: 'http://127.0.0.1:1' }]);
    let inner: Promise<void> | undefined;
    k.identify({
      get email() {
        inner ??= k.identify({ email: 'inner@example.com' });
        return 'outer@example.com';
      },
    });
    await import('../../src/index');
    await inner;
    await vi.waitFor(() => expect(bodies.map((b) => b.data.attributes.email).sort()).toEqual(['inner@example.com', 'outer@example.com']));
  });

  it('a `_klaviyo` that is not an array stops the tracker with one console error, and nothing is thrown', async () => {
    (window as any)._klaviyo = true;
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    await import('../../src/index');
    expect(error).toHaveBeenCalledWith('[klaviyo] failed to start', expect.anything());
    expect((window as any)._klaviyo).toBe(true);
  });

  it('works with only `window._klaviyo = window._klaviyo || []`, and loading twice is harmless', async () => {
    (window as any)._klaviyo = (window as any)._klaviyo || [];
    const k = (window as any)._klaviyo;
    k.push(['account', 'XyZ789'], ['config', { apiHost: 'http://127.0.0.1:1' }]);
    k.push(['identify', { email: 'plain@example.com' }]);
    await import('../../src/index');
    const push = k.push;
    vi.resetModules();
    await import('../../src/index'); // a second copy of the bundle
    await vi.waitFor(() => expect(bodies.length).toBe(1));
    expect(k.push).toBe(push); // the second copy left the first one's push in place
    k.push(['identify', { email: 'again@example.com' }]);
    await vi.waitFor(() => expect(bodies.length).toBe(2));
    await new Promise((r) => setTimeout(r, 50));
    expect(bodies.length).toBe(2);
  });

  it('a page that leaves before the bundle loads saves its queue; the next page delivers it first, in order', async () => {
    new Function(stub)();
    const k = (window as any)._klaviyo;
    k.config({ apiHost: 'http://127.0.0.1:1' });
    k.account('BBBBBB');
    k.identify({ email: 'one@example.com' });
    k.push(['identify', { email: 'two@example.com' }]);
    k.identify({ email: 'three@example.com' });
    hide();
    // Synchronously, as JSON: the promise settlers on each command are left out.
    expect(saved()).toEqual([
      ['config', { apiHost: 'http://127.0.0.1:1' }],
      ['account', 'BBBBBB'],
      ['identify', { email: 'one@example.com' }],
      ['identify', { email: 'two@example.com' }],
      ['identify', { email: 'three@example.com' }],
    ]);

    const k2 = nextPage();
    k2.config({ apiHost: 'http://127.0.0.1:1' });
    k2.account('BBBBBB');
    const own = k2.identify({ email: 'four@example.com' });
    await import('../../src/index');
    await own;
    await vi.waitFor(() => expect(bodies.length).toBe(4));
    expect(emails()).toEqual([
      ['BBBBBB', 'one@example.com'],
      ['BBBBBB', 'two@example.com'],
      ['BBBBBB', 'three@example.com'],
      ['BBBBBB', 'four@example.com'],
    ]);
    expect(localStorage.getItem(SAVED)).toBe(null);
  });

  it("the earlier page's account does not take this page's calls (its script URL names AAAAAA)", async () => {
    new Function(stub)();
    const k = (window as any)._klaviyo;
    k.account('BBBBBB');
    k.identify({ email: 'b@example.com' });
    hide();

    const k2 = nextPage();
    k2.config({ apiHost: 'http://127.0.0.1:1' });
    const own = k2.identify({ email: 'a@example.com' });
    // happy-dom runs no script element: the bundle's own tag, as the browser would report it.
    Object.defineProperty(document, 'currentScript', {
      configurable: true,
      value: { src: 'https://cdn.example.com/klaviyo.js?company_id=AAAAAA' },
    });
    try {
      await import('../../src/index');
    } finally {
      delete (document as any).currentScript;
    }
    await own;
    await vi.waitFor(() => expect(bodies.length).toBe(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(emails()).toEqual([['AAAAAA', 'a@example.com']]);
    // The earlier page's update was replayed, and waits stored under its own account for a page that works for it.
    k2.account('BBBBBB');
    await vi.waitFor(() => expect(emails()).toEqual([['AAAAAA', 'a@example.com'], ['BBBBBB', 'b@example.com']]));
  });

  it("a page hidden before its bundle loads neither overwrites an earlier page's saved queue nor sends its own twice", async () => {
    new Function(stub)();
    (window as any)._klaviyo.push(['account', 'XyZ789'], ['identify', { email: 'earlier@example.com' }]);
    hide();

    const k2 = nextPage();
    k2.push(['account', 'XyZ789'], ['config', { apiHost: 'http://127.0.0.1:1' }]);
    k2.identify({ email: 'mine@example.com' });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true })); // a tab switch while the bundle loads
    expect(saved()).toEqual([['account', 'XyZ789'], ['identify', { email: 'earlier@example.com' }]]);
    await import('../../src/index');
    await vi.waitFor(() => expect(bodies.length).toBe(2));
    expect(emails()).toEqual([['XyZ789', 'earlier@example.com'], ['XyZ789', 'mine@example.com']]);

    // The same page hidden, then shown again (back/forward cache), and only then its bundle: its saved queue
    // is its own, already in memory.
    localStorage.clear();
    bodies.length = urls.length = 0;
    const k3 = nextPage();
    k3.push(['account', 'XyZ789'], ['config', { apiHost: 'http://127.0.0.1:1' }]);
    k3.identify({ email: 'back@example.com' });
    // Hidden only (no pagehide: a mobile tab may be killed now), then shown again.
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    expect(saved()).toHaveLength(3);
    window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    await import('../../src/index');
    await vi.waitFor(() => expect(bodies.length).toBe(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(emails()).toEqual([['XyZ789', 'back@example.com']]);
    expect(k3.stats().queued).toBe(1); // (two copies of one update would go merged in one request)
    expect(localStorage.getItem(SAVED)).toBe(null);
    // Once the bundle is in, leaving saves nothing: the tracker has the calls.
    k3.identify({ email: 'after@example.com' });
    hide();
    expect(localStorage.getItem(SAVED)).toBe(null);
  });

  it('a value JSON cannot write, or no usable localStorage, never throws from the beforeunload handler', async () => {
    new Function(stub)();
    const k = (window as any)._klaviyo;
    const cyclic: any = { email: 'c@example.com' };
    cyclic.self = cyclic;
    k.identify({ email: 'ok@example.com' });
    k.identify(cyclic);
    k.push(['identify', { email: 'big@example.com', n: 1n }]);
    k.push(
      new Proxy([], {
        get() {
          throw new Error('hostile');
        },
      }),
    );
    const [, onHide] = onWindow.mock.calls.find(([type]) => type == 'beforeunload')!;
    const call = () => (onHide as EventListener)(new Event('beforeunload'));
    expect(call).not.toThrow();
    expect(localStorage.getItem(SAVED)).toBe(null);

    k.length = 0;
    k.identify({ email: 'ok@example.com' });
    const setItem = vi.spyOn(localStorage, 'setItem').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError');
    });
    try {
      expect(call).not.toThrow();
    } finally {
      setItem.mockRestore();
    }
    // Storage that throws on access (Chrome with site data blocked, some sandboxed frames).
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('denied', 'SecurityError');
      },
    });
    try {
      expect(call).not.toThrow();
    } finally {
      Object.defineProperty(globalThis, 'localStorage', descriptor!);
    }
    expect(localStorage.getItem(SAVED)).toBe(null);
  });

  it.each(['[["identify",{"email":', '{"not":"a list"}'])("a corrupt saved value (%s) is removed and ignored: this page's calls go as ever", async (value) => {
    localStorage.setItem(SAVED, value);
    const error = vi.spyOn(console, 'error').mockClear();
    const k = nextPage();
    k.push(['account', 'XyZ789'], ['config', { apiHost: 'http://127.0.0.1:1' }]);
    const own = k.identify({ email: 'fine@example.com' });
    await import('../../src/index');
    expect(error).not.toHaveBeenCalled();
    expect(localStorage.getItem(SAVED)).toBe(null);
    await own;
    await vi.waitFor(() => expect(emails()).toEqual([['XyZ789', 'fine@example.com']]));
  });
});
