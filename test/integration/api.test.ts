// The ESM entry (dist/klaviyo.mjs for bundler users): the same tracker, created on first use.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

describe('ESM api', () => {
  let bodies: any[];
  beforeEach(() => {
    bodies = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      bodies.push({ url, body: JSON.parse(String(init.body)) });
      return new Response(null, { status: 202 });
    });
    vi.spyOn(console, 'warn').mockImplementation(() => {}); // happy-dom has no IndexedDB: one fallback warning
    vi.spyOn(console, 'error').mockImplementation(() => {}); // the bad identify below
    vi.resetModules();
  });
  afterEach(() => vi.unstubAllGlobals());

  it('has no side effect on import, then account/config/identify/flush/stats work as in the snippet', async () => {
    // What creating a tracker does first: listen to the page's lifecycle.
    const listen = vi.spyOn(document, 'addEventListener');
    const api = await import('../../src/api');
    expect((window as any)._klaviyo).toBeUndefined();
    expect(listen).not.toHaveBeenCalled();
    await api.config({ apiHost: 'http://127.0.0.1:1' });
    expect(listen).toHaveBeenCalledWith('visibilitychange', expect.any(Function), expect.anything());
    await api.account('XyZ789');
    await api.identify({ email: 'esm@example.com', plan: 'pro' });
    await expect(api.identify({ email: 'nope' })).rejects.toThrow(/\[klaviyo\] identify: email/);
    await vi.waitFor(() => expect(bodies).toHaveLength(1));
    await api.flush();
    expect(bodies[0].url).toBe('http://127.0.0.1:1/client/profiles/?company_id=XyZ789');
    expect(bodies[0].body.data.attributes).toEqual({ email: 'esm@example.com', properties: { plan: 'pro' } });
    expect(api.stats()).toMatchObject({ queued: 1, sent: 1, dropped: { invalid: 1 } });
  });

  it('keeps a _kx from the page URL in its cookie once the account is set, with no identify on this page', async () => {
    const kx = 'J8fjcn003Wy6b-3ILNlOyZXabW6dcFwTyeuxrowMers=.AbC123';
    history.replaceState(null, '', '/landing?_kx=' + encodeURIComponent(kx));
    try {
      const writes = vi.spyOn(document, 'cookie', 'set');
      const api = await import('../../src/api');
      await api.config({ apiHost: 'http://127.0.0.1:1' });
      expect(document.cookie).not.toContain('_kx=');
      const set = api.account('XyZ789');
      // A config made right after, in the same task, still applies to the cookie.
      void api.config({ cookieDomain: 'cookies.example' });
      await set;
      expect(writes.mock.calls[0]?.[0]).toContain('domain=cookies.example');
      writes.mockRestore();
      expect(decodeURIComponent(document.cookie)).toContain('_kx=' + kx);
    } finally {
      history.replaceState(null, '', '/');
      document.cookie = '_kx=; max-age=0; path=/';
    }
  });
});
