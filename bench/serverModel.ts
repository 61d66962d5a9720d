// Simulated time for the limiter: a sender driven by the pure limiter, a strict fixed-window server model that
// counts on arrival, sliding-window maxima, and the ideal delivery time. Shared by the benches, the limiter and
// delivery unit tests, and the 1500-identify browser test.
import { applyHint, createLimiter, nextStart, pause, recordAnswer, recordStart, KLAVIYO_WINDOWS } from '../src/core/limiter';
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

/**
 * The shortest possible first-to-last time for n requests from a sender of a given capacity that must keep every
 * sliding window within its limit (no margin): the i-th start is the later of the previous start plus the
 * sender's own gap and, per window, the start `limit` places earlier plus the window. The capacity is a pace
 * (starts a second; Infinity for none) or the ascending arrival times of a run of the same sender with no limits:
 * its measured gap before each request (a freshly started browser sends its first few hundred slowly). With no
 * capacity bound this is (ceil(n / 350) - 1) s below a minute.
 */
export function idealSpanMs(n: number, pace: number | number[] = Infinity, windows: RateWindow[] = KLAVIYO_WINDOWS): number {
  const s: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = i ? s[i - 1]! + (typeof pace == 'number' ? 1000 / pace : pace[i]! - pace[i - 1]!) : 0;
    for (const w of windows) if (i >= w.limit) t = Math.max(t, s[i - w.limit]! + w.ms);
    s.push(t);
  }
  return n ? s[n - 1]! : 0;
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

/** A scenario: events; each request's delay to the server and round trip (ms; the answer comes back no sooner than
 *  the request arrived; by default the way back takes another draw of `delay`); at most `inFlight` requests at once (default no bound). */
export interface Scenario {
  events: SimEvent[];
  delay: (i: number) => number;
  rtt?: (i: number, delay: number) => number;
  inFlight?: number;
  opts?: LimiterOptions;
  state?: LimiterState;
}

/** The actual starts (ascending), their arrivals (in start order: sort before measuring), the final state. */
export interface SimResult { starts: number[]; arrivals: number[]; state: LimiterState }

/** Run a sender driven by the limiter, as the tracker's loop is: whenever items wait and a request slot is free
 *  (`inFlight` slots, unbounded by default; the tracker keeps MAX_IN_FLIGHT), start one at the limiter's next start
 *  time; record each answer when it comes back. At one instant answers come first, then events, then starts. */
export function simulate({ events, delay, rtt = (i, d) => d + delay(i), inFlight = Infinity, opts, state = createLimiter() }: Scenario): SimResult {
  const todo = [...events].sort((p, q) => p.at - q.at);
  const starts: number[] = [];
  const arrivals: number[] = [];
  /** Answers still to come, earliest first. */
  const answers: Array<{ at: number; start: number }> = [];
  let now = 0;
  let queued = 0;
  let e = 0;
  for (;;) {
    const ev = todo[e];
    const ans = answers[0];
    const start = queued > 0 && answers.length < inFlight ? nextStart(state, now, opts) : Infinity;
    const next = Math.min(ans?.at ?? Infinity, ev?.at ?? Infinity, start);
    if (next === Infinity) break;
    now = Math.max(now, next);
    if (ans && ans.at === next) {
      answers.shift();
      recordAnswer(state, ans.start, ans.at, true, opts);
    } else if (ev && ev.at === next) {
      e++;
      if (ev.kind === 'demand') queued += ev.count;
      else if (ev.kind === 'pause') pause(state, ev.until);
      else applyHint(state, now, ev.remaining, ev.resetSeconds, opts);
    } else {
      recordStart(state, now, opts);
      queued--;
      const i = starts.push(now) - 1;
      const d = delay(i);
      arrivals.push(now + d);
      const at = now + Math.max(d, rtt(i, d));
      let k = answers.length;
      while (k && answers[k - 1]!.at > at) k--;
      answers.splice(k, 0, { at, start: now });
    }
  }
  return { starts, arrivals, state };
}

/** First to last of ascending times. */
export const spanOf = (times: number[]) => times[times.length - 1]! - times[0]!;
