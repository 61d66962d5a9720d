// The stub and the bundle's replay, in happy-dom: the real snippet source and the real entry file.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

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
  });
  afterEach(() => vi.unstubAllGlobals());

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
    await import('../src/index');
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
    await import('../src/index');
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
    await import('../src/index');
    await inner;
    await vi.waitFor(() => expect(bodies.map((b) => b.data.attributes.email).sort()).toEqual(['inner@example.com', 'outer@example.com']));
  });

  it('a `_klaviyo` that is not an array stops the tracker with one console error, and nothing is thrown', async () => {
    (window as any)._klaviyo = true;
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    await import('../src/index');
    expect(error).toHaveBeenCalledWith('[klaviyo] failed to start', expect.anything());
    expect((window as any)._klaviyo).toBe(true);
  });

  it('works with only `window._klaviyo = window._klaviyo || []`, and loading twice is harmless', async () => {
    (window as any)._klaviyo = (window as any)._klaviyo || [];
    const k = (window as any)._klaviyo;
    k.push(['account', 'XyZ789'], ['config', { apiHost: 'http://127.0.0.1:1' }]);
    k.push(['identify', { email: 'plain@example.com' }]);
    await import('../src/index');
    const push = k.push;
    vi.resetModules();
    await import('../src/index'); // a second copy of the bundle
    await vi.waitFor(() => expect(bodies.length).toBe(1));
    expect(k.push).toBe(push); // the second copy left the first one's push in place
    k.push(['identify', { email: 'again@example.com' }]);
    await vi.waitFor(() => expect(bodies.length).toBe(2));
    await new Promise((r) => setTimeout(r, 50));
    expect(bodies.length).toBe(2);
  });
});
