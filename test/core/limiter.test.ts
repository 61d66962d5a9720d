import { describe, expect, it } from 'vitest';
import {
  KLAVIYO_WINDOWS,
  MARGIN_MS,
  PENDING_MS,
  applyHint,
  createLimiter,
  mergeStates,
  nextStart,
  pause,
  planStarts,
  recordAnswer,
  recordStart,
} from '../../src/core/limiter';
import type { LimiterOptions, LimiterState } from '../../src/core/limiter';
import { simulate as simulateSender } from '../../bench/serverModel';

/** Start n requests one by one, each as early as allowed and answered at its start (a zero round trip);
 *  returns their start times. The clock moves on to each start (nextStart has no floor at the latest start:
 *  its caller's clock never runs back). */
function run(state: LimiterState, now: number, n: number, opts?: LimiterOptions): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = (now = nextStart(state, now, opts));
    recordStart(state, t, opts);
    recordAnswer(state, t, t, true, opts);
    out.push(t);
  }
  return out;
}

/** n requests queued at `now`, each started as early as allowed and answered `rtt` ms after its start (the
 *  shared simulated sender, bench/serverModel.ts); returns their start times. The state carries on. */
const simulate = (state: LimiterState, now: number, n: number, rtt: number, opts?: LimiterOptions): number[] =>
  simulateSender({ events: [{ at: now, kind: 'demand', count: n }], delay: () => 0, rtt: () => rtt, opts, state }).starts;

const clone = (s: LimiterState): LimiterState => JSON.parse(JSON.stringify(s)) as LimiterState;
const repeat = (t: number, n: number): number[] => Array<number>(n).fill(t);

describe('constants', () => {
  it('exports Klaviyo client windows, the margin and the pending bound', () => {
    expect(KLAVIYO_WINDOWS).toEqual([{ ms: 1000, limit: 350 }, { ms: 60000, limit: 3500 }]);
    expect(MARGIN_MS).toBe(50);
    expect(PENDING_MS).toBe(11_000);
  });
});

describe('windows', () => {
  it('lets the first 350 start at t=0 and the 351st at exactly 1000 when answered at once', () => {
    const times = run(createLimiter(), 0, 351);
    expect(times.slice(0, 350)).toEqual(repeat(0, 350));
    expect(times[350]).toBe(1000);
    // The margin only covers requests without an answer: it does not move answered ones.
    expect(run(createLimiter(), 0, 351, { marginMs: 200 })[350]).toBe(1000);
  });

  it('stretches a burst cycle by one round trip (the answer of the request 350 places back)', () => {
    const times = simulate(createLimiter(), 0, 1051, 30);
    expect(times.slice(0, 350)).toEqual(repeat(0, 350));
    expect(times.slice(350, 700)).toEqual(repeat(1030, 350));
    expect(times.slice(700, 1050)).toEqual(repeat(2060, 350));
    expect(times[1050]).toBe(3090);
  });

  it('starts the 3501st at 60000 after the first, bursts 1000 ms apart before that', () => {
    const times = run(createLimiter(), 0, 3501);
    expect(times[349]).toBe(0);
    expect(times[350]).toBe(1000);
    expect(times[3499]).toBe(9000);
    expect(times[3500]).toBe(60000);
    // The second minute repeats the first.
    const more = run(createLimiter(), 0, 7001);
    expect(more[3849]).toBe(60000);
    expect(more[3850]).toBe(61000);
    expect(more[6999]).toBe(69000);
    expect(more[7000]).toBe(120000);
  });

  it('slides: the window is counted back from each start, not from fixed boundaries', () => {
    const s = createLimiter();
    run(s, 0, 1);
    for (let i = 0; i < 349; i++) recordAnswer(recordStart(s, 500), 500, 500);
    // 350 bounds later than t - 1000 until the one at 0 leaves the window, then until the ones at 500 leave.
    expect(nextStart(s, 600)).toBe(1000);
    run(s, 1000, 1);
    expect(nextStart(s, 1000)).toBe(1500);
  });

  it('never returns a time before now or the pause, and has no floor at the latest start', () => {
    const s = createLimiter();
    expect(nextStart(s, 1234)).toBe(1234);
    recordStart(s, 5000);
    recordAnswer(s, 5000, 5000);
    expect(nextStart(s, 1234)).toBe(1234);
    expect(nextStart(s, 7000)).toBe(7000);
    // Even a request in flight does not hold back a start while the windows have room.
    recordStart(s, 6000);
    expect(nextStart(s, 1234)).toBe(1234);
  });

  it('keeps out-of-order starts and answers sorted', () => {
    const s = createLimiter();
    recordStart(s, 10);
    recordStart(s, 30);
    recordStart(s, 20);
    expect(s.bounds).toEqual([10 + PENDING_MS, 20 + PENDING_MS, 30 + PENDING_MS]);
    recordAnswer(s, 30, 35);
    expect(s.bounds).toEqual([35, 10 + PENDING_MS, 20 + PENDING_MS]);
    recordAnswer(s, 10, 50);
    expect(s.bounds).toEqual([35, 50, 20 + PENDING_MS]);
    recordAnswer(s, 20, 25);
    expect(s.bounds).toEqual([25, 35, 50]);
  });

  it('honours custom windows', () => {
    const opts = { windows: [{ ms: 100, limit: 2 }], marginMs: 10 };
    expect(run(createLimiter(), 0, 5, opts)).toEqual([0, 0, 100, 100, 200]);
    expect(simulate(createLimiter(), 0, 5, 5, opts)).toEqual([0, 0, 105, 105, 210]);
  });

  it('survives a JSON round trip (another tab continues the same schedule)', () => {
    const s = createLimiter();
    simulate(s, 0, 500, 30);
    recordStart(s, 1050); // still in flight
    recordStart(s, 1060);
    applyHint(s, 1100, 100, 30);
    pause(s, 2000);
    const copy = clone(s);
    expect(copy).toEqual(s);
    const a = run(copy, 1200, 400);
    expect(a).toEqual(run(s, 1200, 400));
    expect(a[0]).toBe(2000);
  });
});

describe('requests in flight', () => {
  it('counts a request in flight until it is answered', () => {
    const s = createLimiter();
    for (let i = 0; i < 350; i++) recordStart(s, 0);
    expect(s.bounds).toEqual(repeat(PENDING_MS, 350));
    // A second later the window has passed, but none is known to have arrived: wait for the pending bound.
    expect(nextStart(s, 1000)).toBe(PENDING_MS + 1000);
    recordAnswer(s, 0, 30);
    expect(s.bounds).toEqual([30, ...repeat(PENDING_MS, 349)]);
    expect(nextStart(s, 0)).toBe(1030);
    expect(nextStart(s, 1000)).toBe(1030);
    expect(nextStart(s, 1500)).toBe(1500);
    // Only the answered one left room: the 352nd waits for the others.
    recordStart(s, 1030);
    expect(nextStart(s, 1030)).toBe(PENDING_MS + 1000);
  });

  it('narrows only one of several requests started at the same millisecond', () => {
    const s = createLimiter();
    recordStart(s, 0);
    recordStart(s, 0);
    recordAnswer(s, 0, 30);
    expect(s.bounds).toEqual([30, PENDING_MS]);
    recordAnswer(s, 0, 40);
    expect(s.bounds).toEqual([30, 40]);
    // A third answer for the same start has nothing left to narrow.
    recordAnswer(s, 0, 50);
    expect(s.bounds).toEqual([30, 40]);
  });

  it('counts a request without an answer until its end plus the margin', () => {
    const windows = [{ ms: 1000, limit: 1 }];
    const answered = createLimiter();
    recordAnswer(recordStart(answered, 0, { windows }), 0, 400, true, { windows });
    expect(answered.bounds).toEqual([400]);
    expect(nextStart(answered, 0, { windows })).toBe(1400);

    const failed = createLimiter();
    recordAnswer(recordStart(failed, 0, { windows }), 0, 400, false, { windows });
    expect(failed.bounds).toEqual([400 + MARGIN_MS]);
    expect(nextStart(failed, 0, { windows })).toBe(1450);

    const custom = createLimiter();
    recordAnswer(recordStart(custom, 0, { windows }), 0, 400, false, { windows, marginMs: 200 });
    expect(custom.bounds).toEqual([600]);
    expect(nextStart(custom, 0, { windows })).toBe(1600);
  });

  it('never lets an answer extend a request past its pending bound', () => {
    const late = createLimiter();
    recordAnswer(recordStart(late, 0), 0, 20_000);
    expect(late.bounds).toEqual([PENDING_MS]);
    const lost = createLimiter();
    recordAnswer(recordStart(lost, 0), 0, PENDING_MS - 10, false);
    expect(lost.bounds).toEqual([PENDING_MS]);
  });

  it('changes nothing when answering a start it does not hold', () => {
    const s = createLimiter();
    recordStart(s, 100);
    recordStart(s, 200);
    recordAnswer(s, 200, 230);
    applyHint(s, 230, 5, 1);
    const before = clone(s);
    expect(recordAnswer(s, 150, 260)).toBe(s);
    expect(s).toEqual(before);
    recordAnswer(s, 200, 260); // already answered
    expect(s).toEqual(before);
    const empty = createLimiter();
    recordAnswer(empty, 0, 10, false);
    expect(empty).toEqual(createLimiter());
  });

  it('does not count an answer against the hint (the start did)', () => {
    const s = createLimiter();
    applyHint(s, 0, 5, 1);
    recordStart(s, 0);
    expect(s.hint).toEqual({ remaining: 4, resetAt: 1000 });
    recordAnswer(s, 0, 30);
    expect(s.hint).toEqual({ remaining: 4, resetAt: 1000 });
  });
});

describe('pruning', () => {
  it('drops bounds no later start can count (older than the longest window)', () => {
    const s = createLimiter();
    recordAnswer(recordStart(s, 0), 0, 100);
    recordAnswer(recordStart(s, 200), 200, 300);
    expect(s.bounds).toEqual([100, 300]);
    // A start at 60100 counts only bounds later than 100.
    recordStart(s, 60100);
    expect(s.bounds).toEqual([300, 60100 + PENDING_MS]);
    // An answer at 60300: later starts count only bounds later than 300.
    recordAnswer(s, 60100, 60300);
    expect(s.bounds).toEqual([60300]);
  });

  it('prunes by the longest of custom windows', () => {
    const opts = { windows: [{ ms: 100, limit: 1 }, { ms: 500, limit: 3 }] };
    const s = createLimiter();
    for (const t of [0, 100, 200]) recordAnswer(recordStart(s, t, opts), t, t, true, opts);
    expect(s.bounds).toEqual([0, 100, 200]);
    recordAnswer(recordStart(s, 500, opts), 500, 500, true, opts);
    expect(s.bounds).toEqual([100, 200, 500]);
    expect(nextStart(s, 500, opts)).toBe(600);
  });

  it('keeps at most the largest limit, and pruning never changes the answer', () => {
    const s = createLimiter();
    run(s, 0, 8000);
    // Minutes of 10 bursts: 0-9000, 60000-69000, then 1000 more at 120000-122000; the last start drops
    // everything up to 62000.
    expect(s.bounds.length).toBe(3450);
    const last = s.bounds[s.bounds.length - 1]!;
    expect(s.bounds[0]!).toBeGreaterThan(last - 60000);
    recordStart(s, last + 60000);
    expect(s.bounds).toEqual([last + 60000 + PENDING_MS]);
    // The same history without pruning gives the same next start.
    const t = createLimiter();
    const times = run(t, 0, 4000);
    expect(t.bounds.length).toBeLessThan(4000);
    const full: LimiterState = { bounds: times.slice(), pausedUntil: 0 };
    expect(nextStart(full, 0)).toBe(nextStart(t, 0));
    expect(nextStart(t, 0)).toBe(61000);
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
    expect(nextStart(s, 0)).toBe(1000);
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
    expect(s.hint).toEqual({ remaining: 0, resetAt: 30_000 });
    expect(nextStart(s, 0)).toBe(29_000);
  });

  it('does not slow a lone sender with a low but non-zero remainder (its own windows are exact)', () => {
    const plain = createLimiter();
    const hinted = createLimiter();
    run(plain, 0, 1);
    run(hinted, 0, 1);
    applyHint(hinted, 0, 9, 1);
    const times = run(hinted, 0, 9);
    expect(times).toEqual(run(plain, 0, 9));
    expect(times).toEqual(repeat(0, 9));
  });

  it('does not slow a sender that has plenty remaining', () => {
    const plain = createLimiter();
    const hinted = createLimiter();
    applyHint(hinted, 0, 3400, 59);
    const times = run(hinted, 0, 351);
    expect(times).toEqual(run(plain, 0, 351));
    expect(times[350]).toBe(1000);
  });

  it('never makes sending faster than the windows allow', () => {
    const s = createLimiter();
    run(s, 0, 350);
    applyHint(s, 0, 349, 0.1);
    expect(nextStart(s, 0)).toBe(1000);
  });

  it('caps a reset beyond the longest window (a server sending an epoch time would stall us)', () => {
    const s = createLimiter();
    applyHint(s, 0, 0, 1_700_000_000);
    expect(s.hint).toEqual({ remaining: 0, resetAt: 60000 });
    expect(nextStart(s, 0)).toBe(59000);
  });
});

describe('planStarts', () => {
  it('equals repeated nextStart + recordStart + recordAnswer at the start, without touching the state', () => {
    const s = createLimiter();
    simulate(s, 0, 3000, 40);
    for (let i = 0; i < 20; i++) recordStart(s, 14_000); // in flight
    pause(s, 20000);
    applyHint(s, 19000, 50, 5);
    const before = clone(s);
    const plan = planStarts(s, 15000, 1200);
    expect(s).toEqual(before);
    expect(plan).toEqual(run(clone(s), 15000, 1200));
    expect(plan.length).toBe(1200);
    expect(plan[0]).toBe(20000);
    expect(plan.every((t, i) => i === 0 || t >= plan[i - 1]!)).toBe(true);
  });

  it('honours custom options like the step it repeats', () => {
    const opts = { windows: [{ ms: 100, limit: 2 }] };
    const s = createLimiter();
    recordStart(s, 0, opts);
    const plan = planStarts(s, 0, 5, opts);
    // The request in flight holds one of the two slots; the planned ones, answered at once, share the other.
    expect(plan).toEqual([0, 100, 200, 300, 400]);
    expect(plan).toEqual(run(clone(s), 0, 5, opts));
  });

  it('plans nothing for n = 0 and a full burst for n = 350', () => {
    expect(planStarts(createLimiter(), 7, 0)).toEqual([]);
    expect(planStarts(createLimiter(), 7, 351)).toEqual([...repeat(7, 350), 1007]);
  });

  it('counts the requests in flight', () => {
    const s = createLimiter();
    for (let i = 0; i < 350; i++) recordStart(s, 0);
    expect(planStarts(s, 1000, 2)).toEqual([PENDING_MS + 1000, PENDING_MS + 1000]);
    recordAnswer(s, 0, 30);
    // The planned one, answered at once, frees its own slot a window later.
    expect(planStarts(s, 1000, 2)).toEqual([1030, 2030]);
  });
});

describe('mergeStates', () => {
  it('counts shared history once and keeps bursts at one millisecond', () => {
    const a: LimiterState = { bounds: [0, 0, 0, 5, 9], pausedUntil: 100 };
    const b: LimiterState = { bounds: [0, 0, 5, 7, 9, 9, 12], pausedUntil: 50, hint: { remaining: 3, resetAt: 900 } };
    const m = mergeStates(a, b);
    expect(m).toEqual({ bounds: [0, 0, 0, 5, 7, 9, 9, 12], pausedUntil: 100, hint: { remaining: 3, resetAt: 900 } });
    expect(mergeStates(b, a)).toEqual(m);
    // Inputs untouched, result not aliased.
    expect(a.bounds).toEqual([0, 0, 0, 5, 9]);
    expect(b.bounds).toEqual([0, 0, 5, 7, 9, 9, 12]);
    m.bounds.push(99);
    expect(a.bounds.length).toBe(5);
    expect(b.bounds.length).toBe(7);
    m.hint!.remaining = 0;
    expect(b.hint!.remaining).toBe(3);
  });

  it('keeps the hint that lasts longer', () => {
    const a: LimiterState = { bounds: [], pausedUntil: 0, hint: { remaining: 1, resetAt: 500 } };
    const b: LimiterState = { bounds: [], pausedUntil: 0, hint: { remaining: 9, resetAt: 800 } };
    expect(mergeStates(a, b).hint).toEqual({ remaining: 9, resetAt: 800 });
    expect(mergeStates(createLimiter(), createLimiter())).toEqual(createLimiter());
  });

  it('lets a new flusher continue within the windows after a tab died mid-burst', () => {
    // The dead tab's reservations count as spent at their planned time, arriving within the margin.
    const dead: LimiterState = { bounds: planStarts(createLimiter(), 0, 300).map((t) => t + MARGIN_MS), pausedUntil: 0 };
    expect(dead.bounds).toEqual(repeat(50, 300));
    const next = mergeStates(createLimiter(), clone(dead));
    expect(run(next, 10, 400)).toEqual([...repeat(10, 50), ...repeat(1010, 50), ...repeat(1050, 300)]);
    // Two tabs that both sent (no lock) at different milliseconds: both histories count in full.
    const ours = createLimiter();
    run(ours, 3, 20);
    expect(run(mergeStates(clone(dead), ours), 10, 100)).toEqual([...repeat(10, 30), ...repeat(1003, 20), ...repeat(1010, 30), ...repeat(1050, 20)]);
  });

  it('keeps the other tab\'s requests in flight counting', () => {
    const other = createLimiter();
    for (let i = 0; i < 340; i++) recordStart(other, 0);
    const next = mergeStates(createLimiter(), clone(other));
    expect(run(next, 500, 11)).toEqual([...repeat(500, 10), 1500]);
  });
});
