// Simulated time for the limiter: a sender driven by the pure limiter, a strict fixed-window server model that
// counts on arrival, and sliding-window maxima. Shared by `bench/limiter.ts` and the limiter's tests.
import { applyHint, createLimiter, pause, planStarts, recordStart, KLAVIYO_WINDOWS } from '../src/core/limiter';
import type { LimiterOptions, LimiterState, RateWindow } from '../src/core/limiter';

/** Seeded PRNG (mulberry32): floats in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Largest number of times (ascending) inside any half-open span [x, x + span). */
export function maxInSliding(times: number[], span: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= span) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** What a strict server saw: per window, the most arrivals in one fixed window, and the 429s it answered. */
export interface ServerReport { maxSeen: number[]; rejected: number }

/** A strict fixed-window server: window k of size W covers [phase + kW, phase + (k+1)W) (phase taken modulo W);
 *  an arrival is answered 429 (and not counted) when any of its windows already holds `limit` accepted ones. */
export function fixedWindowServer(arrivals: number[], phase: number, windows: RateWindow[] = KLAVIYO_WINDOWS): ServerReport {
  // Arrivals in time order visit each window once, so one open window per size is all the state needed.
  const key = windows.map(() => NaN);
  const seen = windows.map(() => 0);
  const accepted = windows.map(() => 0);
  const maxSeen = windows.map(() => 0);
  let rejected = 0;
  for (const a of [...arrivals].sort((p, q) => p - q)) {
    let full = false;
    for (let i = 0; i < windows.length; i++) {
      const { ms, limit } = windows[i]!;
      const k = Math.floor((a - (phase % ms)) / ms);
      if (k !== key[i]) [key[i], seen[i], accepted[i]] = [k, 0, 0];
      seen[i]!++;
      maxSeen[i] = Math.max(maxSeen[i]!, seen[i]!);
      if (accepted[i]! >= limit) full = true;
    }
    if (full) rejected++;
    else for (let i = 0; i < windows.length; i++) accepted[i]!++;
  }
  return { maxSeen, rejected };
}

/** Things that happen to the sender at a time (ms): items queued, a 429 pause, RateLimit headers. */
export type SimEvent =
  | { at: number; kind: 'demand'; count: number }
  | { at: number; kind: 'pause'; until: number }
  | { at: number; kind: 'hint'; remaining: number; resetSeconds: number };

/** A scenario: events, how many starts the sender reserves at once (planStarts), each request's delay (ms). */
export interface Scenario { events: SimEvent[]; batch: number; delay: (i: number) => number; opts?: LimiterOptions; state?: LimiterState }

/** The actual starts (ascending), their arrivals (in start order: sort before measuring), the final state. */
export interface SimResult { starts: number[]; arrivals: number[]; state: LimiterState }

/** Run a sender the way the tracker does: when idle with items queued, reserve up to `batch` starts with
 *  planStarts, record them, then start each at its time. A 429 pause cancels the reservations not yet started
 *  (their items go back to the queue; the reservations stay in the log, which only over-counts). */
export function simulate({ events, batch, delay, opts, state = createLimiter() }: Scenario): SimResult {
  const todo = [...events].sort((p, q) => p.at - q.at);
  const starts: number[] = [];
  const arrivals: number[] = [];
  let now = 0;
  let queued = 0;
  let plan: number[] = [];
  let next = 0; // index of the next reservation in plan
  let e = 0;
  for (;;) {
    if (queued > 0 && next === plan.length) {
      plan = planStarts(state, now, Math.min(queued, batch), opts);
      for (const t of plan) recordStart(state, t, opts);
      queued -= plan.length;
      next = 0;
    }
    const res = plan[next] ?? Infinity;
    const ev = todo[e];
    if (res === Infinity && !ev) break;
    if (!ev || res <= ev.at) {
      now = res;
      next++;
      starts.push(now);
      arrivals.push(now + delay(starts.length - 1));
      continue;
    }
    now = Math.max(now, ev.at);
    e++;
    if (ev.kind === 'demand') queued += ev.count;
    else if (ev.kind === 'pause') {
      pause(state, ev.until);
      queued += plan.length - next;
      next = plan.length;
    } else applyHint(state, now, ev.remaining, ev.resetSeconds, opts);
  }
  return { starts, arrivals, state };
}
