import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KLAVIYO_WINDOWS, applyHint, createLimiter, mergeStates, nextStart, planStarts, recordAnswer, recordStart } from '../../src/core/limiter';
import type { LimiterOptions, LimiterState, RateWindow } from '../../src/core/limiter';
import { fixedWindowServer, maxInSliding, mulberry32, simulate } from '../../bench/serverModel';
import type { SimEvent } from '../../bench/serverModel';

// Small windows crowd many more window edges into a short trace than Klaviyo's do.
const SMALL: RateWindow[] = [{ ms: 100, limit: 5 }, { ms: 1000, limit: 20 }];

const event: fc.Arbitrary<SimEvent[]> = fc.oneof(
  // a burst
  fc.record({ at: fc.integer({ min: 0, max: 180_000 }), count: fc.integer({ min: 1, max: 1500 }) }).map(({ at, count }) => [
    { at, kind: 'demand' as const, count },
  ]),
  // a trickle: `count` items every `every` ms, `times` times
  fc
    .record({
      at: fc.integer({ min: 0, max: 120_000 }),
      count: fc.integer({ min: 1, max: 40 }),
      every: fc.integer({ min: 1, max: 2000 }),
      times: fc.integer({ min: 1, max: 60 }),
    })
    .map(({ at, count, every, times }) =>
      Array.from({ length: times }, (_, k) => ({ at: at + k * every, kind: 'demand' as const, count })),
    ),
  // a 429 with Retry-After
  fc.record({ at: fc.integer({ min: 0, max: 180_000 }), wait: fc.integer({ min: 0, max: 30_000 }) }).map(({ at, wait }) => [
    { at, kind: 'pause' as const, until: at + wait },
  ]),
  // RateLimit-Remaining / RateLimit-Reset
  fc
    .record({
      at: fc.integer({ min: 0, max: 180_000 }),
      remaining: fc.integer({ min: 0, max: 600 }),
      resetSeconds: fc.integer({ min: 0, max: 60 }),
    })
    .map(({ at, remaining, resetSeconds }) => [{ at, kind: 'hint' as const, remaining, resetSeconds }]),
);

const trace = fc.record({
  events: fc.array(event, { minLength: 1, maxLength: 8 }).map((groups) => groups.flat()),
  small: fc.boolean(),
  baseDelay: fc.integer({ min: 0, max: 3000 }),
  spread: fc.constantFrom(0, 10, 50, 200, 2000),
  inFlight: fc.constantFrom(1, 12, Infinity),
  seed: fc.integer(),
});

describe('random traces under simulated time', () => {
  it('start everything, never exceed any window on arrival, and draw zero 429s at any server phase', () => {
    fc.assert(
      fc.property(trace, ({ events, small, baseDelay, spread, inFlight, seed }) => {
        const windows = small ? SMALL : KLAVIYO_WINDOWS;
        const opts: LimiterOptions = { windows };
        const random = mulberry32(seed);
        // Integer delays there and back in [d, d + spread], any spread: nothing about the network is assumed.
        const leg = (): number => baseDelay + Math.floor(random() * (spread + 1));
        const { starts, arrivals } = simulate({ events, delay: leg, inFlight, opts });

        // Nothing dropped: every queued item started.
        const demand = events.reduce((n, e) => n + (e.kind === 'demand' ? e.count : 0), 0);
        expect(starts.length).toBe(demand);
        // Nothing started during a pause.
        for (const e of events)
          if (e.kind === 'pause') expect(starts.some((t) => t > e.at && t < e.until)).toBe(false);

        const sorted = [...arrivals].sort((a, b) => a - b);
        for (const w of windows) expect(maxInSliding(sorted, w.ms)).toBeLessThanOrEqual(w.limit);
        for (let k = 0; k < 4; k++) {
          const server = fixedWindowServer(sorted, random() * 60_000, windows);
          expect(server.rejected).toBe(0);
          server.maxSeen.forEach((m, i) => expect(m).toBeLessThanOrEqual(windows[i]!.limit));
        }
      }),
      { numRuns: 120 },
    );
  });

  it('the strict server model does catch a sender that counts requests at their start (the check can fail)', () => {
    // The schedule planStarts gives (as if every answer came at once), sent over delays spread by 50 ms: the
    // sliding log of starts is full, and with the delays some arrival window must see too many.
    const random = mulberry32(7);
    const plan = planStarts(createLimiter(), 0, 2000);
    const sorted = plan.map((t) => t + 100 + Math.floor(random() * 51)).sort((a, b) => a - b);
    expect(maxInSliding(plan, 1000)).toBe(350);
    expect(maxInSliding(sorted, 1000)).toBeGreaterThan(350);
    const rejected = Array.from({ length: 20 }, (_, k) => fixedWindowServer(sorted, k * 50).rejected);
    expect(Math.max(...rejected)).toBeGreaterThan(0);
  });
});

const history = fc
  .array(fc.integer({ min: 0, max: 400 }), { maxLength: 400 })
  .map((gaps) => gaps.reduce<number[]>((acc, g) => [...acc, (acc[acc.length - 1] ?? 0) + (g < 200 ? 0 : g - 200)], []));

const limiterState: fc.Arbitrary<LimiterState> = fc
  .record({
    bounds: history,
    pausedUntil: fc.integer({ min: 0, max: 50_000 }),
    hint: fc.option(fc.record({ remaining: fc.integer({ min: 0, max: 400 }), resetAt: fc.integer({ min: 0, max: 90_000 }) }), {
      nil: undefined,
    }),
  })
  .map(({ bounds, pausedUntil, hint }) => (hint ? { bounds, pausedUntil, hint } : { bounds, pausedUntil }));

const small: LimiterOptions = { windows: SMALL };

describe('pure functions on random states', () => {
  it('planStarts equals repeated nextStart + recordStart + an answer at once', () => {
    fc.assert(
      fc.property(limiterState, fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), (s, now, n, useSmall) => {
        const opts = useSmall ? small : undefined;
        const copy = structuredClone(s);
        const plan = planStarts(s, now, n, opts);
        expect(s).toEqual(copy);
        const stepwise: number[] = [];
        for (let i = 0, t = now; i < n; i++) {
          t = nextStart(copy, t, opts);
          recordAnswer(recordStart(copy, t, opts), t, t, true, opts);
          stepwise.push(t);
        }
        expect(plan).toEqual(stepwise);
      }),
    );
  });

  it('a hint only ever delays, and is ignored from resetAt on', () => {
    fc.assert(
      fc.property(limiterState, fc.integer({ min: 0, max: 90_000 }), fc.boolean(), (s, now, useSmall) => {
        const opts = useSmall ? small : undefined;
        const { hint, ...bare } = s;
        const plain = nextStart(bare, now, opts);
        const hinted = nextStart(s, now, opts);
        expect(hinted).toBeGreaterThanOrEqual(plain);
        if (!hint || plain >= hint.resetAt) expect(hinted).toBe(plain);
        else expect(hinted).toBeLessThanOrEqual(Math.max(plain, hint.resetAt));
      }),
    );
  });

  it('nextStart leaves fewer than L bounds later than t - W for every window, and is the earliest such time', () => {
    fc.assert(
      fc.property(limiterState, fc.integer({ min: 0, max: 90_000 }), fc.boolean(), (s, now, useSmall) => {
        const windows = (useSmall ? small : {}).windows ?? KLAVIYO_WINDOWS;
        const t = nextStart(s, now, useSmall ? small : undefined);
        expect(t).toBeGreaterThanOrEqual(Math.max(now, s.pausedUntil));
        const full = (u: number) => windows.some((w) => s.bounds.filter((x) => x > u - w.ms).length >= w.limit);
        expect(full(t)).toBe(false);
        // ... and one millisecond earlier a window was full, unless now, the pause or a hint set the time.
        if (!s.hint && t > Math.max(now, s.pausedUntil)) expect(full(t - 1)).toBe(true);
      }),
    );
  });

  it('mergeStates: commutative, sorted, and a history merged with its own prefix is itself', () => {
    fc.assert(
      fc.property(limiterState, limiterState, fc.nat(), (a, b, cut) => {
        const m = mergeStates(a, b);
        expect(mergeStates(b, a).bounds).toEqual(m.bounds);
        expect(m.bounds.every((t, i) => i === 0 || t >= m.bounds[i - 1]!)).toBe(true);
        expect(m.bounds.length).toBeLessThanOrEqual(a.bounds.length + b.bounds.length);
        expect(m.bounds.length).toBeGreaterThanOrEqual(Math.max(a.bounds.length, b.bounds.length));
        const prefix = { ...a, bounds: a.bounds.slice(0, cut % (a.bounds.length + 1)) };
        expect(mergeStates(prefix, a).bounds).toEqual(a.bounds);
        expect(m.pausedUntil).toBe(Math.max(a.pausedUntil, b.pausedUntil));
      }),
    );
  });
});

describe('throughput of a 10 000-item backlog at t=0 (the round trip\'s cost included)', () => {
  // 12 in flight (the tracker's bound) reach 350 a second over round trips up to 34 ms; longer ones need more.
  it.each([
    [0, 0, 12],
    [10, 7, 12],
    [100, 100, Infinity],
    [200, 300, Infinity],
  ])('delays %i ms + up to %i each way, %s in flight: ~350 in the first second, 3500 in the first minute, 7000 in two', (base, spread, inFlight) => {
    const random = mulberry32(base + spread + 1);
    const leg = () => base + Math.floor(random() * (spread + 1));
    const { starts, arrivals } = simulate({ events: [{ at: 0, kind: 'demand', count: 10_000 }], delay: leg, inFlight });
    const by = (times: number[], from: number, ms: number): number => times.filter((t) => t < from + ms).length;
    for (const [ms, allowance] of [[1000, 350], [60_000, 3500], [120_000, 7000]] as const) {
      // At least 97% of the allowance, never more than it.
      expect(by(starts, 0, ms)).toBeGreaterThanOrEqual(Math.ceil(allowance * 0.97));
      expect(by(starts, 0, ms)).toBeLessThanOrEqual(allowance);
      expect(by(arrivals, base, ms)).toBeGreaterThanOrEqual(Math.ceil(allowance * 0.97));
    }
    expect(starts.length).toBe(10_000);
  });
});
