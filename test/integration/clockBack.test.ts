import { describe, expect, it } from 'vitest';
import { fakeEnv, tracking } from '../support/fakeEnv';

describe('a visitor whose clock went back', () => {
  it('delivers at once on the next visit, though the stored history is stamped an hour in its future', async () => {
    // Visit 1 sends 400 requests: more than the 1 s window holds, so its history alone would hold the next start.
    const first = fakeEnv();
    const t1 = tracking(first.env);
    for (let i = 0; i < 400; i++) t1.run(['identify', { email: `p${i}@example.com` }]);
    await first.advance(3_000);
    expect(first.sent).toHaveLength(400);

    // Visit 2, same storage, with Date.now an hour behind (NTP, a manual change).
    const next = fakeEnv();
    next.env.store = first.store;
    next.clock.set(first.clock.get() - 3_600_000);
    const t2 = tracking(next.env);
    t2.run(['identify', { email: 'late@example.com' }]);
    await next.advance(2_000);
    expect(next.sent.map((s) => s.body.data.attributes.email)).toEqual(['late@example.com']);
  });
});
