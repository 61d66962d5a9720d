import { describe, expect, it } from 'vitest';
import {
  KLAVIYO_WINDOWS,
  applyHint,
  createLimiter,
  mergeStates,
  nextStart,
  pause,
  planStarts,
  recordStart,
} from '../src/core/limiter';
import type { LimiterOptions, LimiterState } from '../src/core/limiter';

/** Start n requests one by one, each as early as allowed; returns their start times. */
function run(state: LimiterState, now: number, n: number, opts?: LimiterOptions): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = nextStart(state, now, opts);
    recordStart(state, t, opts);
    out.push(t);
  }
  return out;
}

const clone = (s: LimiterState): LimiterState => JSON.parse(JSON.stringify(s)) as LimiterState;

describe('windows', () => {
  it('exports Klaviyo client windows', () => {
    expect(KLAVIYO_WINDOWS).toEqual([{ ms: 1000, limit: 350 }, { ms: 60000, limit: 3500 }]);
  });

  it('lets the first 350 start at t=0 and the 351st at exactly 1000 + margin', () => {
    const s = createLimiter();
    const times = run(s, 0, 351);
    expect(times.slice(0, 350).every((t) => t === 0)).toBe(true);
    expect(times[350]).toBe(1050);
    const s0 = createLimiter();
    expect(run(s0, 0, 351, { marginMs: 0 })[350]).toBe(1000);
    const s200 = createLimiter();
    expect(run(s200, 0, 351, { marginMs: 200 })[350]).toBe(1200);
  });

  it('starts the 3501st at 60000 + margin after the first, bursts 1050 ms apart before that', () => {
    const times = run(createLimiter(), 0, 3501);
    expect(times[3499]).toBe(9 * 1050);
    expect(times[3500]).toBe(60050);
    // The second minute repeats the first, shifted by the margin.
    const more = run(createLimiter(), 0, 7001);
    expect(more[3850]).toBe(60050 + 1050);
    expect(more[7000]).toBe(2 * 60050);
  });

  it('slides: the window is counted back from each start, not from fixed boundaries', () => {
    const s = createLimiter();
    recordStart(s, 0);
    for (let i = 0; i < 349; i++) recordStart(s, 500);
    // 350 in (t - 1050, t] until the start at 0 leaves the window, then until the ones at 500 leave.
    expect(nextStart(s, 600)).toBe(1050);
    recordStart(s, 1050);
    expect(nextStart(s, 1050)).toBe(1550);
  });

  it('never returns a time before now, the pause or the latest start', () => {
    const s = createLimiter();
    expect(nextStart(s, 1234)).toBe(1234);
    recordStart(s, 5000);
    expect(nextStart(s, 1234)).toBe(5000);
    expect(nextStart(s, 7000)).toBe(7000);
  });

  it('keeps an out-of-order start sorted', () => {
    const s = createLimiter();
    recordStart(s, 10);
    recordStart(s, 30);
    recordStart(s, 20);
    expect(s.starts).toEqual([10, 20, 30]);
  });

  it('forgets starts older than the longest window + margin and keeps at most the largest limit', () => {
    const s = createLimiter();
    run(s, 0, 8000);
    expect(s.starts.length).toBeLessThanOrEqual(3500);
    const last = s.starts[s.starts.length - 1]!;
    expect(s.starts[0]!).toBeGreaterThan(last - 60050);
    recordStart(s, last + 60050);
    expect(s.starts).toEqual([last + 60050]);
    // Pruning never changes the answer: the same history without pruning would give the same next start.
    const t = createLimiter();
    const times = run(t, 0, 4000);
    const full: LimiterState = { starts: times.slice(), pausedUntil: 0 };
    expect(nextStart(full, 0)).toBe(nextStart(t, 0));
  });

  it('honours custom windows', () => {
    const opts = { windows: [{ ms: 100, limit: 2 }], marginMs: 10 };
    expect(run(createLimiter(), 0, 5, opts)).toEqual([0, 0, 110, 110, 220]);
  });

  it('survives a JSON round trip (another tab continues the same schedule)', () => {
    const s = createLimiter();
    run(s, 0, 500);
    applyHint(s, 1100, 100, 30);
    pause(s, 2000);
    const copy = clone(s);
    expect(run(copy, 1200, 50)).toEqual(run(s, 1200, 50));
  });
});

describe('pause', () => {
  it('holds every start until the pause ends, and a shorter pause does not shorten it', () => {
    const s = createLimiter();
    pause(s, 5000);
    pause(s, 3000);
    expect(s.pausedUntil).toBe(5000);
    expect(nextStart(s, 100)).toBe(5000);
    expect(nextStart(s, 6000)).toBe(6000);
  });

  it('still applies the windows after the pause', () => {
    const s = createLimiter();
    run(s, 0, 350);
    pause(s, 500);
    expect(nextStart(s, 0)).toBe(1050);
  });
});

describe('applyHint', () => {
  it('changes nothing when a header is missing or unparsable', () => {
    const s = createLimiter();
    run(s, 0, 10);
    const before = clone(s);
    for (const [r, reset] of [[undefined, 5], [3, undefined], [NaN, 5], [3, NaN], [undefined, undefined]] as const)
      expect(applyHint(s, 0, r, reset)).toEqual(before);
  });

  it('waits for the earliest end of the window when nothing remains (Reset is rounded up), then expires', () => {
    const s = createLimiter();
    applyHint(s, 1000, 0, 2);
    expect(nextStart(s, 1000)).toBe(2000);
    expect(nextStart(s, 4000)).toBe(4000);
    recordStart(s, 3000);
    expect(s.hint).toBeUndefined();
  });

  it('counts our own starts against the hint: the last one left, then a wait', () => {
    const s = createLimiter();
    applyHint(s, 0, 1, 30);
    expect(nextStart(s, 0)).toBe(0);
    recordStart(s, 0);
    expect(nextStart(s, 0)).toBe(29_000);
  });

  it('does not slow a lone sender with a low but non-zero remainder (its own windows are exact)', () => {
    const plain = createLimiter();
    const hinted = createLimiter();
    recordStart(plain, 0);
    recordStart(hinted, 0);
    applyHint(hinted, 0, 9, 1);
    expect(run(hinted, 0, 9)).toEqual(run(plain, 0, 9));
  });

  it('does not slow a sender that has plenty remaining', () => {
    const plain = createLimiter();
    const hinted = createLimiter();
    applyHint(hinted, 0, 3400, 59);
    expect(run(hinted, 0, 350)).toEqual(run(plain, 0, 350));
  });

  it('never makes sending faster than the windows allow', () => {
    const s = createLimiter();
    run(s, 0, 350);
    applyHint(s, 0, 349, 0.1);
    expect(nextStart(s, 0)).toBe(1050);
  });

  it('caps a reset beyond the longest window (a server sending an epoch time would stall us)', () => {
    const s = createLimiter();
    applyHint(s, 0, 0, 1_700_000_000);
    expect(nextStart(s, 0)).toBe(59000);
  });
});

describe('planStarts', () => {
  it('equals repeated nextStart + recordStart, without touching the state', () => {
    const s = createLimiter();
    run(s, 0, 3000);
    pause(s, 20000);
    applyHint(s, 19000, 50, 5);
    const before = clone(s);
    const plan = planStarts(s, 15000, 1200);
    expect(s).toEqual(before);
    expect(plan).toEqual(run(clone(s), 15000, 1200));
    expect(plan.every((t, i) => i === 0 || t >= plan[i - 1]!)).toBe(true);
  });

  it('plans nothing for n = 0 and a full burst for n = 350', () => {
    expect(planStarts(createLimiter(), 7, 0)).toEqual([]);
    expect(planStarts(createLimiter(), 7, 351)).toEqual([...Array<number>(350).fill(7), 1057]);
  });
});

describe('mergeStates', () => {
  it('counts shared history once and keeps bursts at one millisecond', () => {
    const a: LimiterState = { starts: [0, 0, 0, 5, 9], pausedUntil: 100 };
    const b: LimiterState = { starts: [0, 0, 5, 7, 9, 9, 12], pausedUntil: 50, hint: { remaining: 3, resetAt: 900 } };
    const m = mergeStates(a, b);
    expect(m).toEqual({ starts: [0, 0, 0, 5, 7, 9, 9, 12], pausedUntil: 100, hint: { remaining: 3, resetAt: 900 } });
    expect(mergeStates(b, a)).toEqual(m);
    // Inputs untouched, result not aliased.
    expect(a.starts).toEqual([0, 0, 0, 5, 9]);
    m.hint!.remaining = 0;
    expect(b.hint!.remaining).toBe(3);
  });

  it('keeps the hint that lasts longer', () => {
    const a: LimiterState = { starts: [], pausedUntil: 0, hint: { remaining: 1, resetAt: 500 } };
    const b: LimiterState = { starts: [], pausedUntil: 0, hint: { remaining: 9, resetAt: 800 } };
    expect(mergeStates(a, b).hint).toEqual({ remaining: 9, resetAt: 800 });
    expect(mergeStates(createLimiter(), createLimiter())).toEqual(createLimiter());
  });

  it('lets a new flusher continue within the windows after a tab died mid-burst', () => {
    const dead = createLimiter();
    for (const t of planStarts(dead, 0, 300)) recordStart(dead, t); // reservations persisted, then the tab died
    const next = mergeStates(createLimiter(), clone(dead));
    expect(run(next, 10, 100).filter((t) => t < 1050).length).toBe(50);
    // Two tabs that both sent (no lock) at different milliseconds: both histories count in full.
    const ours = createLimiter();
    run(ours, 3, 20);
    expect(run(mergeStates(clone(dead), ours), 10, 100).filter((t) => t < 1050).length).toBe(30);
  });
});
