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

/** The network under a sender, as a browser sees it (ms). HTTP/1.1: 6 connections per host, a request waits in the
 *  browser's pool for a free one and holds it until its answer is back; HTTP/2: one connection, `connections`
 *  streams at once (Infinity: as many as the server announces and more than any sender here uses). */
export interface NetworkModel {
  /** Requests on the wire at once: 6 for HTTP/1.1, the server's streams (or Infinity) for HTTP/2. */
  connections: number;
  /** The server's answer time for request i (ms): the collector's `latencyMs`. */
  latency: (i: number) => number;
  /** Wire delay each way (ms); default 0 (loopback). */
  wireMs?: number;
  /** Between the page's script and the browser's network stack, each way (ms): a request reaches the pool this long
   *  after the script started it, and the script learns of an answer this long after it came in. Default 0. */
  hopMs?: number;
  /** The browser hands requests to the network at most one per this many ms (its own per-request cost); default 0. */
  sendGapMs?: number;
}

/** What decides the requests in flight: a fixed number, or a controller (src/core/concurrency.ts's shape). */
export interface InFlightPolicy {
  limit(): number;
  onStart(now: number): void;
  onAnswer(sentAt: number, now: number, ok: boolean): void;
}
export const fixedInFlight = (n: number): InFlightPolicy => ({ limit: () => n, onStart() {}, onAnswer() {} });

export interface NetworkRun {
  /** Script start time, arrival at the server, answer seen by the script: per request, in start order. */
  starts: number[];
  arrivals: number[];
  answers: number[];
  /** [time, limit] at each answer: how the in-flight limit moved. */
  limits: Array<[number, number]>;
  /** The most requests the script had in flight at once. */
  peakInFlight: number;
}

/**
 * A sender of `items` requests queued at t=0 over `network`: the limiter (unless `paced` is false) decides when each
 * may start, `policy` how many may be in flight; starts wait for both. With `paced: 'starts'` the windows hold start
 * times only, with no in-flight bound: the bare fetches a page script issues as fast as the windows allow (the
 * floor). Event order at one instant: answers, then starts. Deterministic for deterministic `latency`.
 */
export function simulateNetwork({
  items,
  network,
  policy = fixedInFlight(Infinity),
  paced = true,
  opts,
}: {
  items: number;
  network: NetworkModel;
  policy?: InFlightPolicy;
  paced?: boolean | 'starts';
  opts?: LimiterOptions;
}): NetworkRun {
  const { connections, latency, wireMs = 0, hopMs = 0, sendGapMs = 0 } = network;
  const windows = opts?.windows ?? KLAVIYO_WINDOWS;
  const state = createLimiter();
  const starts: number[] = [];
  const arrivals: number[] = [];
  const answers: number[] = [];
  const limits: Array<[number, number]> = [];
  /** Pending events, earliest first: a request reaching the browser's pool, its answer back at the browser (the
   *  connection frees), the script hearing of it. */
  const events: Array<{ at: number; kind: 'pool' | 'back' | 'heard'; id: number }> = [];
  const push = (e: (typeof events)[number]) => {
    let k = events.length;
    while (k && events[k - 1]!.at > e.at) k--;
    events.splice(k, 0, e);
  };
  const pool: number[] = [];
  let busy = 0;
  let wireFree = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let now = 0;
  /** Start-only windows for `paced: 'starts'`. */
  const startAllowed = (t: number): number => {
    for (const { ms, limit } of windows) if (starts.length >= limit) t = Math.max(t, starts[starts.length - limit]! + ms);
    return t;
  };
  const nextAt = (): number => {
    if (starts.length >= items || inFlight >= policy.limit()) return Infinity;
    const t = paced === 'starts' ? startAllowed(now) : paced ? nextStart(state, now, opts) : now;
    return Math.max(t, now);
  };
  /** Put pooled requests on free connections (streams), one per sendGapMs. */
  const dispatch = () => {
    while (pool.length && busy < connections) {
      const id = pool.shift()!;
      busy++;
      const onWire = Math.max(now, wireFree);
      wireFree = onWire + sendGapMs;
      arrivals[id] = onWire + wireMs;
      push({ at: arrivals[id]! + latency(id) + wireMs, kind: 'back', id });
    }
  };
  for (;;) {
    const start = nextAt();
    const ev = events[0];
    if (ev && ev.at <= start) {
      events.shift();
      now = Math.max(now, ev.at);
      if (ev.kind === 'pool') pool.push(ev.id);
      else if (ev.kind === 'back') busy--, push({ at: now + hopMs, kind: 'heard', id: ev.id });
      else {
        answers[ev.id] = now;
        inFlight--;
        if (paced === true) recordAnswer(state, starts[ev.id]!, now, true, opts);
        policy.onAnswer(starts[ev.id]!, now, true);
        limits.push([now, policy.limit()]);
      }
      dispatch();
      continue;
    }
    if (start === Infinity) break;
    now = start;
    const id = starts.push(now) - 1;
    if (paced === true) recordStart(state, now, opts);
    policy.onStart(now);
    peakInFlight = Math.max(peakInFlight, ++inFlight);
    push({ at: now + hopMs, kind: 'pool', id });
  }
  return { starts, arrivals, answers, limits, peakInFlight };
}
