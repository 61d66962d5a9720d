import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KLAVIYO_WINDOWS, applyHint, createLimiter, mergeStates, nextStart, planStarts, recordStart } from '../src/core/limiter';
import type { LimiterOptions, LimiterState, RateWindow } from '../src/core/limiter';
import { fixedWindowServer, maxInSliding, mulberry32, simulate } from '../bench/serverModel';
import type { SimEvent } from '../bench/serverModel';

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
  marginMs: fc.constantFrom(0, 10, 50, 137),
  jitterShare: fc.double({ min: 0, max: 1, noNaN: true }),
  baseDelay: fc.integer({ min: 0, max: 3000 }),
  batch: fc.constantFrom(1, 7, 350, 5000),
  seed: fc.integer(),
});

describe('random traces under simulated time', () => {
  it('start everything, never exceed any window on arrival, and draw zero 429s at any server phase', () => {
    fc.assert(
      fc.property(trace, ({ events, small, marginMs, jitterShare, baseDelay, batch, seed }) => {
        const windows = small ? SMALL : KLAVIYO_WINDOWS;
        const opts: LimiterOptions = { windows, marginMs };
        const random = mulberry32(seed);
        // Integer delays in [d, d + jitter], jitter <= margin: the spread the margin is sized for.
        const jitter = Math.floor(jitterShare * marginMs);
        const delay = (): number => baseDelay + Math.floor(random() * (jitter + 1));
        const { starts, arrivals } = simulate({ events, batch, delay, opts });

        // Nothing dropped: every queued item started.
        const demand = events.reduce((n, e) => n + (e.kind === 'demand' ? e.count : 0), 0);
        expect(starts.length).toBe(demand);
        // Nothing started during a pause.
        for (const e of events)
          if (e.kind === 'pause') expect(starts.some((t) => t > e.at && t < e.until)).toBe(false);

        const sorted = [...arrivals].sort((a, b) => a - b);
        for (const w of windows) {
          expect(maxInSliding(starts, w.ms + marginMs)).toBeLessThanOrEqual(w.limit);
          expect(maxInSliding(sorted, w.ms)).toBeLessThanOrEqual(w.limit);
        }
        for (let k = 0; k < 4; k++) {
          const server = fixedWindowServer(sorted, random() * 60_000, windows);
          expect(server.rejected).toBe(0);
          server.maxSeen.forEach((m, i) => expect(m).toBeLessThanOrEqual(windows[i]!.limit));
        }
      }),
      { numRuns: 120 },
    );
  });

  it('the strict server model does catch a sender with no margin for its jitter (the check can fail)', () => {
    // Bursts at the sliding-log limit with margin 0 but 50 ms of jitter: some phase must see too many.
    const random = mulberry32(7);
    const { arrivals } = simulate({
      events: [{ at: 0, kind: 'demand', count: 2000 }],
      batch: 350,
      delay: () => 100 + Math.floor(random() * 51),
      opts: { marginMs: 0 },
    });
    const sorted = arrivals.sort((a, b) => a - b);
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
    starts: history,
    pausedUntil: fc.integer({ min: 0, max: 50_000 }),
    hint: fc.option(fc.record({ remaining: fc.integer({ min: 0, max: 400 }), resetAt: fc.integer({ min: 0, max: 90_000 }) }), {
      nil: undefined,
    }),
  })
  .map(({ starts, pausedUntil, hint }) => (hint ? { starts, pausedUntil, hint } : { starts, pausedUntil }));

const small: LimiterOptions = { windows: SMALL, marginMs: 20 };

describe('pure functions on random states', () => {
  it('planStarts equals repeated nextStart + recordStart', () => {
    fc.assert(
      fc.property(limiterState, fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), (s, now, n, useSmall) => {
        const opts = useSmall ? small : undefined;
        const copy = structuredClone(s);
        const plan = planStarts(s, now, n, opts);
        expect(s).toEqual(copy);
        const stepwise: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = nextStart(copy, now, opts);
          recordStart(copy, t, opts);
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

  it('nextStart leaves fewer than L starts in (t - W - margin, t] for every window', () => {
    fc.assert(
      fc.property(limiterState, fc.integer({ min: 0, max: 90_000 }), fc.boolean(), (s, now, useSmall) => {
        const opts = useSmall ? small : { marginMs: 50 };
        const t = nextStart(s, now, opts);
        expect(t).toBeGreaterThanOrEqual(Math.max(now, s.pausedUntil));
        for (const w of opts.windows ?? KLAVIYO_WINDOWS)
          expect(s.starts.filter((x) => x > t - w.ms - opts.marginMs! && x <= t).length).toBeLessThan(w.limit);
        // ... and it is the earliest such time when no hint or pause holds it back.
        if (!s.hint && t > Math.max(now, s.pausedUntil, s.starts[s.starts.length - 1] ?? 0)) {
          const u = t - 1;
          const full = (opts.windows ?? KLAVIYO_WINDOWS).some(
            (w) => s.starts.filter((x) => x > u - w.ms - opts.marginMs! && x <= u).length >= w.limit,
          );
          expect(full).toBe(true);
        }
      }),
    );
  });

  it('mergeStates: commutative, sorted, and a history merged with its own prefix is itself', () => {
    fc.assert(
      fc.property(limiterState, limiterState, fc.nat(), (a, b, cut) => {
        const m = mergeStates(a, b);
        expect(mergeStates(b, a).starts).toEqual(m.starts);
        expect(m.starts.every((t, i) => i === 0 || t >= m.starts[i - 1]!)).toBe(true);
        expect(m.starts.length).toBeLessThanOrEqual(a.starts.length + b.starts.length);
        expect(m.starts.length).toBeGreaterThanOrEqual(Math.max(a.starts.length, b.starts.length));
        const prefix = { ...a, starts: a.starts.slice(0, cut % (a.starts.length + 1)) };
        expect(mergeStates(prefix, a).starts).toEqual(a.starts);
        expect(m.pausedUntil).toBe(Math.max(a.pausedUntil, b.pausedUntil));
      }),
    );
  });
});

describe('throughput of a 10 000-item backlog at t=0 (margin cost included)', () => {
  it.each([0, 50, 200])('margin %i ms: ~350 in the first second, 3500 in the first minute, 7000 in two', (marginMs) => {
    const random = mulberry32(marginMs + 1);
    const base = 80;
    const { starts, arrivals } = simulate({
      events: [{ at: 0, kind: 'demand', count: 10_000 }],
      batch: 350,
      delay: () => base + Math.floor(random() * (marginMs + 1)),
      opts: { marginMs },
    });
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
