// Sliding-log rate limiter: (state, now) -> earliest start time, never over any window at any server phase.
//
// Rule: a request may start at t only if fewer than L starts lie in (t - W - m, t] for every window
// (W ms, limit L), with m = marginMs, and never before the latest recorded start (the log only grows
// at its end, so later starts never land inside an earlier start's window).
//
// Why the server never sees more than L (Klaviyo counts on ARRIVAL, in fixed windows of unknown phase):
// a request started at s arrives at s + δ with δ in [d, d + j], j <= m. A server window [T, T + W)
// can only receive requests with s in [T - d - j, T + W - d): a half-open span of length W + j <= W + m.
// Any half-open span [x, x + W + m) holds at most L starts: let t be the one admitted last; all others
// were admitted before it, and t < x + W + m gives x > t - W - m, so they all lay in (t - W - m, t] when
// t was admitted, where the rule allowed at most L. Hence <= L arrivals per server window, for every phase
// T and every base delay d. With sorted starts the rule is index arithmetic: when len >= L the earliest
// time is starts[len - L] + W + m (O(1) per window).
// Throughput: with m = 0 this admits L in every W, the most any phase-blind sender can (a server window
// can sit on any W-long span of arrivals). The margin only stretches each burst cycle from W to W + m:
// 350 per 1.05 s in bursts, 3500 per 60.05 s steady (cost measured by `npm run bench:limiter`).
//
// State: mutated in place and returned (recordStart is an append on a log of <= 3500 numbers, no copy);
// nextStart and planStarts never modify it; mergeStates builds a new state. The state is plain JSON.

/** A client-side window: at most `limit` (>= 1) requests per `ms` milliseconds. */
export interface RateWindow { ms: number; limit: number }

/** Klaviyo's client windows: 350 per 1 s, 3500 per 60 s. */
export const KLAVIYO_WINDOWS: RateWindow[] = [{ ms: 1000, limit: 350 }, { ms: 60000, limit: 3500 }];

/** `windows` default KLAVIYO_WINDOWS; `marginMs` (default 50): the largest spread of network delays tolerated. */
export interface LimiterOptions { windows?: RateWindow[]; marginMs?: number }

/** Recent start times (ms, ascending), a pause until, and a server hint. Plain data: it is persisted to IndexedDB
 *  as JSON so another tab can continue. */
export interface LimiterState { starts: number[]; pausedUntil: number; hint?: { remaining: number; resetAt: number } }

/** An empty limiter: no starts, no pause, no hint. */
export const createLimiter = (): LimiterState => ({ starts: [], pausedUntil: 0 });

/** The longest window, ms. */
const longest = (windows: RateWindow[]) => Math.max(...windows.map((w) => w.ms));

/** Earliest time >= now (and >= pausedUntil and the latest recorded start) at which one more request may start. */
export const nextStart = (
  { starts: s, pausedUntil, hint: h }: LimiterState,
  now: number,
  { windows = KLAVIYO_WINDOWS, marginMs = 50 }: LimiterOptions = {},
): number => {
  const n = s.length;
  const last = s[n - 1] ?? now;
  let t = Math.max(now, pausedUntil, last);
  // Raising t for one window only empties the others further, so the max over windows is the answer.
  for (const { ms, limit } of windows) {
    if (n >= limit) t = Math.max(t, s[n - limit]! + ms + marginMs);
  }
  // The server's hint can only delay (max), and is ignored from resetAt on. It matters only when someone
  // else spends the same quota (our own starts never exceed a window), so it acts only when nothing is left.
  // RateLimit-Reset is whole seconds rounded up: the window may end up to a second before resetAt, so wait
  // for that earliest end. Waiting for resetAt itself, or spreading a low remainder over it, was measured
  // to halve a lone sender's throughput; a quota shared closer than that still meets the 429 pause.
  if (h && h.remaining <= 0 && t < h.resetAt) t = Math.max(t, h.resetAt - 1000);
  return t;
};

/** Record a request start at time t (ms); drops starts older than the longest window + margin before the
 *  latest one, which nextStart never reads. Counts the start against the hint. */
export const recordStart = (
  state: LimiterState,
  t: number,
  { windows = KLAVIYO_WINDOWS, marginMs = 50 }: LimiterOptions = {},
): LimiterState => {
  const { starts: s, hint: h } = state;
  // Usually an append: walk back from the end to keep the log sorted.
  let i = s.length;
  while (s[i - 1]! > t) i--;
  s.splice(i, 0, t);
  // Starts that obey the windows number at most the largest limit within that span: the log stays that short.
  const from = s[s.length - 1]! - longest(windows) - marginMs;
  s.splice(0, s.findIndex((x) => x > from));
  if (h) t < h.resetAt ? h.remaining-- : delete state.hint;
  return state;
};

/** Plan up to n starts from now: the n earliest allowed start times (non-decreasing), as if each were recorded.
 *  Does not modify state: record the ones you reserve with recordStart. A reservation holds only at its time. */
export const planStarts = (state: LimiterState, now: number, n: number, opts?: LimiterOptions): number[] => {
  // The state is plain JSON (see above): a JSON copy is a deep copy.
  const sim: LimiterState = JSON.parse(JSON.stringify(state));
  const plan: number[] = [];
  for (let i = 0; i < n; i++) recordStart(sim, (plan[i] = nextStart(sim, now, opts)), opts);
  return plan;
};

/** 429: pause everything until `until` (ms); an earlier `until` never shortens a longer pause. */
export const pause = (state: LimiterState, until: number): LimiterState => {
  state.pausedUntil = Math.max(state.pausedUntil, until);
  return state;
};

/** RateLimit-Remaining / RateLimit-Reset (seconds, capped at the longest window) from an answer at `now`: when
 *  remaining is low, spread the rest over the reset time instead of bursting into a 429. Absent headers: no change. */
export const applyHint = (
  state: LimiterState,
  now: number,
  remaining: number | undefined,
  resetSeconds: number | undefined,
  opts: LimiterOptions = {},
): LimiterState => {
  // NaN (an unparsable header) fails both comparisons and leaves the state alone, like a missing header.
  // A reset beyond the longest window is not a Klaviyo window (maybe an epoch time): cap it, never stall.
  if (remaining! >= 0 && resetSeconds! > 0)
    state.hint = { remaining: Math.floor(remaining!), resetAt: now + Math.min(resetSeconds! * 1e3, longest(opts.windows ?? KLAVIYO_WINDOWS)) };
  return state;
};

/** Merge two histories (another tab's persisted starts + ours): sorted, each time kept as often as the history
 *  that holds it most often (shared history counts once; a burst at one millisecond is not collapsed).
 *  (Two tabs sending at the same millisecond would count once: the Web Lock keeps one flusher at a time.)
 *  The longer pause and the hint that lasts longer win. Builds a new state. */
export function mergeStates(a: LimiterState, b: LimiterState): LimiterState {
  const x = a.starts;
  const y = b.starts;
  const starts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const p = x[i] ?? Infinity;
    const q = y[j] ?? Infinity;
    starts.push(Math.min(p, q));
    if (p <= q) i++;
    if (q <= p) j++;
  }
  const hint = (a.hint?.resetAt ?? -Infinity) >= (b.hint?.resetAt ?? -Infinity) ? a.hint : b.hint;
  const merged: LimiterState = { starts, pausedUntil: Math.max(a.pausedUntil, b.pausedUntil) };
  if (hint) merged.hint = { ...hint };
  return merged;
}
