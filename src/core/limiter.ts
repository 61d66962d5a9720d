// Sliding-log rate limiter: (state, now) -> earliest start time, never over any window at any server phase,
// whatever the network delays.
//
// The log holds, for each recent request, a bound on when it reached the server: its answer time once answered
// (the server counts a request when it arrives, before it answers), start + PENDING_MS while in flight (the
// request is abandoned before then). Rule: a request may start at t only if, for every window (W ms, limit L),
// fewer than L bounds in the log are later than t - W.
//
// Why the server never sees more than L (Klaviyo counts on ARRIVAL, in fixed windows of unknown phase): take any
// server window [x, x + W) and the requests that arrive in it; let k be the one of them that started last, at s_k.
// Every other one, j, started before k and arrived at a_j >= x > a_k - W >= s_k - W. When k started, j was in the
// log with a bound b_j >= a_j > s_k - W, so j was counted, and the rule let k start with fewer than L counted:
// the window holds at most L. This holds for every phase x and every delay, however spread: nothing about the
// network is assumed (a margin on start times would assume how far delays spread).
// With sorted bounds the rule is index arithmetic: when len >= L the earliest time is bounds[len - L] + W.
// Throughput: a burst cycle stretches from W to W plus one round trip (the answer of the request L places back);
// with instant answers this admits L in every W, the most any phase-blind sender can. `marginMs` covers the requests
// no answer bounds: one abandoned without an answer (timeout, network error) counts until its end plus the margin.
// A vanished tab's reservations count as requests in flight (see delivery/reservations.ts).
//
// State: mutated in place and returned (recordStart is an insert near the end of a log of <= ~3500 numbers);
// nextStart and planStarts never modify it; mergeStates builds a new state. The state is plain JSON.

/** A client-side window: at most `limit` (>= 1) requests per `ms` milliseconds. */
export interface RateWindow { ms: number; limit: number }

/** Klaviyo's client windows: 350 per 1 s, 3500 per 60 s. */
export const KLAVIYO_WINDOWS: RateWindow[] = [{ ms: 1000, limit: 350 }, { ms: 60000, limit: 3500 }];

/** `windows` default KLAVIYO_WINDOWS; `marginMs` (default 50): how long after its end a request without an answer
 *  may still arrive. */
export interface LimiterOptions { windows?: RateWindow[]; marginMs?: number }

/** Recent requests' arrival bounds (ms, ascending), a pause until, and a server hint. Plain data: it is persisted
 *  to IndexedDB as JSON so another tab can continue. */
export interface LimiterState { bounds: number[]; pausedUntil: number; hint?: { remaining: number; resetAt: number } }

/** An empty limiter: no requests, no pause, no hint. */
export const createLimiter = (): LimiterState => ({ bounds: [], pausedUntil: 0 });

/** The default margin (ms): see marginMs. */
export const MARGIN_MS = 50;

/** A request in flight counts this long after its start: longer than the tracker's request timeout (10 s). */
export const PENDING_MS = 11_000;

/** The longest window, ms. */
const longest = (windows: RateWindow[]) => Math.max(...windows.map((w) => w.ms));

/** Earliest time >= now (and >= pausedUntil) at which one more request may start. */
export const nextStart = ({ bounds: s, pausedUntil, hint: h }: LimiterState, now: number, { windows = KLAVIYO_WINDOWS }: LimiterOptions = {}): number => {
  const n = s.length;
  let t = Math.max(now, pausedUntil);
  // Raising t for one window only empties the others further, so the max over windows is the answer.
  for (const { ms, limit } of windows) {
    if (n >= limit) t = Math.max(t, s[n - limit]! + ms);
  }
  // The server's hint can only delay (max), and is ignored from resetAt on. It matters only when someone
  // else spends the same quota (our own starts never exceed a window), so it acts only when nothing is left.
  // RateLimit-Reset is whole seconds rounded up: the window may end up to a second before resetAt, so wait
  // for that earliest end, not resetAt itself (nor a low remainder spread over it): those leave a lone sender's
  // quota unused, and a quota shared closer than that still meets the 429 pause.
  if (h && h.remaining <= 0 && t < h.resetAt) t = Math.max(t, h.resetAt - 1000);
  return t;
};

/** Insert a bound, keeping the log sorted (usually near its end), and drop bounds no start from t on can count. */
const insert = (s: number[], b: number, t: number, windows: RateWindow[]) => {
  let i = s.length;
  while (s[i - 1]! > b) i--;
  s.splice(i, 0, b);
  const from = t - longest(windows);
  s.splice(0, s.findIndex((x) => x > from));
};

/** Record a request started at t (ms): it counts as in flight (until t + PENDING_MS) until recordAnswer. Counts
 *  the start against the hint. */
export const recordStart = (state: LimiterState, t: number, { windows = KLAVIYO_WINDOWS }: LimiterOptions = {}): LimiterState => {
  const h = state.hint;
  insert(state.bounds, t + PENDING_MS, t, windows);
  if (h) {
    if (t < h.resetAt) h.remaining--;
    else delete state.hint;
  }
  return state;
};

/** The request started at `start` was answered at `at` (ms): it reached the server by then. Without an answer
 *  (`answered` false: a timeout, a network error) it may still arrive a little later: `at` + marginMs. */
export const recordAnswer = (
  state: LimiterState,
  start: number,
  at: number,
  answered = true,
  { windows = KLAVIYO_WINDOWS, marginMs = MARGIN_MS }: LimiterOptions = {},
): LimiterState => {
  const s = state.bounds;
  const i = s.lastIndexOf(start + PENDING_MS);
  // (Gone when another tab's history replaced ours: nothing of it to narrow.)
  if (i >= 0) {
    s.splice(i, 1);
    insert(s, Math.min(at + (answered ? 0 : marginMs), start + PENDING_MS), at, windows);
  }
  return state;
};

/** Plan up to n starts from now: the n earliest times they could start (non-decreasing), as if each were answered
 *  at once. Does not modify state. The tracker stores these ahead of use, for a tab that may take over. */
export const planStarts = (state: LimiterState, now: number, n: number, opts?: LimiterOptions): number[] => {
  // The state is plain JSON (see above): a JSON copy is a deep copy.
  const sim: LimiterState = JSON.parse(JSON.stringify(state));
  const plan: number[] = [];
  for (let i = 0; i < n; i++) {
    plan.push((now = nextStart(sim, now, opts)));
    recordAnswer(recordStart(sim, now, opts), now, now, true, opts);
  }
  return plan;
};

/** 429: pause everything until `until` (ms); an earlier `until` never shortens a longer pause. */
export const pause = (state: LimiterState, until: number): LimiterState => {
  state.pausedUntil = Math.max(state.pausedUntil, until);
  return state;
};

/** RateLimit-Remaining / RateLimit-Reset (seconds, capped at the longest window) from an answer at `now`: kept as a
 *  hint, counted down by our starts; once nothing remains, nextStart waits for the window's end instead of bursting
 *  into a 429. Absent headers: no change. */
export const applyHint = (
  state: LimiterState,
  now: number,
  remaining: number | undefined,
  resetSeconds: number | undefined,
  { windows = KLAVIYO_WINDOWS }: LimiterOptions = {},
): LimiterState => {
  // NaN (an unparsable header) fails both comparisons and leaves the state alone, like a missing header.
  // A reset beyond the longest window is not a Klaviyo window (maybe an epoch time): cap it, never stall.
  if (remaining! >= 0 && resetSeconds! > 0)
    state.hint = { remaining: Math.floor(remaining!), resetAt: now + Math.min(resetSeconds! * 1e3, longest(windows)) };
  return state;
};

/** Merge two histories (another tab's persisted bounds + ours): sorted, each time kept as often as the history
 *  that holds it most often (shared history counts once; a burst at one millisecond is not collapsed).
 *  (Two tabs sending at the same millisecond would count once: the Web Lock keeps one flusher at a time; without
 *  Web Locks two tabs may flush at once, the risk lock.ts describes.)
 *  The longer pause and the hint that lasts longer win. Builds a new state. */
export function mergeStates(a: LimiterState, b: LimiterState): LimiterState {
  const x = a.bounds;
  const y = b.bounds;
  const bounds: number[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const p = x[i] ?? Infinity;
    const q = y[j] ?? Infinity;
    bounds.push(Math.min(p, q));
    if (p <= q) i++;
    if (q <= p) j++;
  }
  const hint = (a.hint?.resetAt ?? -Infinity) >= (b.hint?.resetAt ?? -Infinity) ? a.hint : b.hint;
  const merged: LimiterState = { bounds, pausedUntil: Math.max(a.pausedUntil, b.pausedUntil) };
  if (hint) merged.hint = { ...hint };
  return merged;
}
