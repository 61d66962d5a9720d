// A 410 means the API revision is retired (Klaviyo retires one two years after its release), not that the update
// is bad: nothing is dropped, one console error names config.revision, and a newer revision sends everything.
import { describe, expect, it } from 'vitest';
import { fakeEnv, tracking } from '../support/fakeEnv';

describe('a retired revision (410)', () => {
  it('keeps every update, logs once, and sends them all in the shape of the revision configured next', async () => {
    const f = fakeEnv((req) => (req.headers.revision == '2023-01-24' ? { status: 410, detail: 'Revision 2023-01-24 is retired.' } : { status: 202 }));
    const t = tracking(f.env);
    for (let i = 0; i < 5; i++) t.run(['identify', { email: `p${i}@example.com`, plan: 'pro' }]);
    await f.advance(60_000);
    const first = f.sent.length;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(5); // sending stopped for that revision: no retries
    expect(f.logs.filter(([level]) => level == 'error')).toEqual([
      ['error', '[klaviyo] config.revision 2023-01-24 is retired (410): updates are kept until a newer revision is configured: "Revision 2023-01-24 is retired."'],
    ]);
    expect(t.stats().dropped).toEqual({ invalid: 0, client: 0, attempts: 0, ttl: 0, cap: 0 });
    expect((await f.store.list('AbC123')).length).toBe(5);
    await expect(t.flush()).resolves.toBeUndefined(); // nothing can go: flush() callers are not kept waiting

    t.run(['config', { revision: '2026-10-15' }]);
    await f.advance(5_000);
    const later = f.sent.slice(first);
    expect(later.map((s) => s.body.data.attributes.email).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `p${i}@example.com`));
    for (const s of later) {
      expect(s.headers.revision).toBe('2026-10-15');
      expect(s.url).toBe('https://a.klaviyo.com/client/profiles?company_id=AbC123');
      expect(s.body.data.meta).toBeUndefined();
      expect(s.body.data.attributes.properties).toEqual({ plan: 'pro' });
    }
    expect(await f.store.list('AbC123')).toEqual([]);
  });
});
