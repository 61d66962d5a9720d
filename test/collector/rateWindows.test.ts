// @vitest-environment node
// Klaviyo's fixed rate windows: the pure counter with plain numbers, then the server with an injected clock.
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, startCollector, type Collector } from '../../dev/collector/index';
import { admit, type WindowConfig, type WindowCounts } from '../../dev/collector/rateWindows';
import { body2023, errorsOf, post } from './client';

// The collector's own defaults, Klaviyo's published limits for this endpoint.
const cfg: WindowConfig = { phaseMs: 0, ...DEFAULT_LIMITS };

it('defaults to Klaviyo\'s limits: 350 per second, 3500 per minute', () => {
  expect(DEFAULT_LIMITS).toEqual({ perSecond: 350, perMinute: 3500 });
});

/** Send n requests arriving at `at` through the pure counter; returns how many were admitted. */
function burst(counts: { c: WindowCounts | undefined }, n: number, at: number, c = cfg) {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = admit(counts.c, at, c);
    counts.c = r.counts;
    if (r.decision.ok) ok++;
  }
  return ok;
}

describe('admit (pure)', () => {
  it('admits 350 in one second window and refuses the 351st', () => {
    const s = { c: undefined as WindowCounts | undefined };
    expect(burst(s, 350, 120_000)).toBe(350);
    const r = admit(s.c, 120_999, cfg);
    expect(r.decision).toMatchObject({ ok: false, limit: 350, remaining: 0, retryAfter: 1 });
  });

  it('a burst straddling a boundary gets two full windows (fixed, not sliding)', () => {
    const s = { c: undefined as WindowCounts | undefined };
    expect(burst(s, 351, 120_999)).toBe(350); // last ms of one window
    expect(burst(s, 351, 121_000)).toBe(350); // first ms of the next
  });

  it('puts the boundaries at phaseMs + k * window', () => {
    const phased = { ...cfg, phaseMs: 400 };
    const s = { c: undefined as WindowCounts | undefined };
    expect(burst(s, 350, 121_000, phased)).toBe(350); // window [120400, 121400)
    expect(admit(s.c, 121_399, phased).decision.ok).toBe(false);
    expect(admit(s.c, 121_400, phased).decision.ok).toBe(true);
  });

  it('admits 3500 in one minute window, refuses the 3501st until the minute ends', () => {
    const s = { c: undefined as WindowCounts | undefined };
    for (let sec = 0; sec < 10; sec++) expect(burst(s, 350, 60_000 + sec * 1000)).toBe(350);
    const refused = admit(s.c, 70_500, cfg).decision;
    expect(refused).toMatchObject({ ok: false, limit: 3500, remaining: 0 });
    expect(refused.retryAfter).toBe(50); // 119999 is the minute's last ms: ceil(49.5)
    expect(admit(s.c, 119_999, cfg).decision.ok).toBe(false);
    expect(admit(s.c, 120_000, cfg).decision.ok).toBe(true);
  });

  it('Retry-After is the whole seconds until the window ends, at least 1', () => {
    const s = { c: undefined as WindowCounts | undefined };
    burst(s, 350, 5_000);
    expect(admit(s.c, 5_001, cfg).decision.retryAfter).toBe(1);
    expect(admit(s.c, 5_999, cfg).decision.retryAfter).toBe(1);
    const m = { c: undefined as WindowCounts | undefined };
    burst(m, 3500, 0, { ...cfg, perSecond: 5000 });
    expect(admit(m.c, 17_250, { ...cfg, perSecond: 5000 }).decision.retryAfter).toBe(43); // 42.75 s left
  });

  it('does not count refused requests', () => {
    const s = { c: undefined as WindowCounts | undefined };
    burst(s, 400, 1_000);
    expect(s.c).toMatchObject({ secondCount: 350, minuteCount: 350 });
  });

  it('reports the window closest to its limit in the RateLimit values', () => {
    const small: WindowConfig = { phaseMs: 0, perSecond: 5, perMinute: 7 };
    const s = { c: undefined as WindowCounts | undefined };
    burst(s, 5, 1_000, small);
    expect(admit(s.c, 2_000, small).decision).toMatchObject({ ok: true, limit: 7, remaining: 1, resetSec: 58 });
    expect(admit(undefined, 2_300, small).decision).toMatchObject({ ok: true, limit: 5, remaining: 4, resetSec: 1 });
  });
});

describe('the server counts on arrival with its own clock', () => {
  let c: Collector;
  let t = 0;
  afterEach(() => c?.close());

  async function send(n: number): Promise<number[]> {
    const statuses: number[] = [];
    // In parallel batches: all arrive within the same instant of the injected clock.
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => post(c, body2023('a@b.co'))));
      for (const r of batch) {
        statuses.push(r.status);
        await r.arrayBuffer();
      }
    }
    return statuses;
  }

  it('350 accepted and the 351st refused with 429, throttled and Retry-After; then the next window opens', async () => {
    t = 1_000_250;
    c = await startCollector({ now: () => t, phaseMs: 250 });
    const statuses = await send(350);
    expect(statuses.every((s) => s === 202)).toBe(true);
    t = 1_001_249;
    const refused = await post(c, body2023('a@b.co'));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await errorsOf(refused))[0]?.code).toBe('throttled');
    t = 1_001_250;
    const next = await post(c, body2023('a@b.co'));
    expect(next.status).toBe(202);
    expect(next.headers.get('ratelimit-remaining')).toBe('349');
  });

  it('windows are per company', async () => {
    t = 5_000;
    c = await startCollector({ now: () => t, limits: { perSecond: 2 } });
    expect((await post(c, body2023('a@b.co'))).status).toBe(202);
    expect((await post(c, body2023('a@b.co'))).status).toBe(202);
    expect((await post(c, body2023('a@b.co'))).status).toBe(429);
    expect((await post(c, body2023('a@b.co'), { company: 'XyZ789' })).status).toBe(202);
  });

  it('the per-minute window: full seconds add up to the minute\'s limit, then 429 until the minute ends', async () => {
    // Small limits keep this test quick; the pure tests above run Klaviyo's 350/3500 themselves.
    t = 120_000;
    c = await startCollector({ now: () => t, limits: { perSecond: 10, perMinute: 35 } });
    for (const sec of [0, 1, 2]) {
      t = 120_000 + sec * 1000;
      expect((await send(10)).filter((s) => s === 202)).toHaveLength(10);
    }
    t = 123_000;
    expect((await send(6)).sort()).toEqual([202, 202, 202, 202, 202, 429]); // parallel: any one of them is the 36th
    t = 130_400;
    const refused = await post(c, body2023('a@b.co'));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('50');
    expect(refused.headers.get('ratelimit-limit')).toBe('35');
    t = 180_000;
    expect((await post(c, body2023('a@b.co'))).status).toBe(202);
    expect(c.accepted()).toHaveLength(36);
  });
});
