// What the live view's chart draws, computed from the collector's own record (never from what a client says it
// sent): per 1 s window, the requests accepted, refused and throttled; the count the server held against the limits;
// the fault periods; and a summary with the busiest windows seen. The 1 s and 60 s windows are the collector's own
// fixed windows (same phase), so a bar is exactly what one rate window counted. Pure: record in, data out.
import type { RecordedRequest } from '../types';

/** One change of the injected faults, as the live view marks it on the time axis. */
export interface FaultPeriod {
  /** 'status' (outage, 429…), 'hang', 'drop', 'latency', or 'healthy' (every fault removed: a point in time). */
  mode: string;
  /** What a person reads on the chart: "outage (500)", "429, Retry-After 5 s", "healthy"… */
  label: string;
  start: number;
  /** When it ends or ended (its forMs, or when it was replaced, removed or its count used up; may be ahead of now);
   *  null while it lasts with no end in sight. */
  end: number | null;
  /** The fault's request budget (`count`), if it had one: it ends with its last use. */
  count?: number;
}

/** One fixed 1 s window of the collector. */
export interface SecondBar {
  /** Window start on the collector's clock (ms). */
  t: number;
  /** Answered 2xx. */
  accepted: number;
  /** Answered 4xx/5xx other than 429 (a fault's 500, a 400 for bad input…), or dropped by a fault. */
  refused: number;
  /** Answered 429 (the rate windows', or an injected 429). */
  throttled: number;
  /** Counted against the limits in this window (what the 350 applies to). */
  counted: number;
  /** Counted in the 60 s ending at this window's end, sliding (what 3500 would be held against). */
  sliding60: number;
}

/** The busiest fixed window seen: its count, start and company. */
export interface Busiest {
  count: number;
  start: number | null;
  company: string | null;
}

export interface LiveData {
  now: number;
  phaseMs: number;
  limits: { perSecond: number; perMinute: number };
  /** The last `seconds` windows, oldest first, the current (partial) one last. */
  seconds: SecondBar[];
  /** Fault periods that overlap the shown span (and any still active), oldest first. */
  faults: FaultPeriod[];
  summary: {
    posts: number;
    accepted: number;
    refused: number;
    throttled: number;
    unanswered: number;
    profiles: number;
    busiest1s: Busiest;
    busiest60s: Busiest;
  };
}

export interface LiveInput {
  records: readonly RecordedRequest[];
  faults: readonly FaultPeriod[];
  profiles: number;
  now: number;
  phaseMs: number;
  limits: { perSecond: number; perMinute: number };
  /** How many 1 s windows to return; default 60. */
  seconds?: number;
}

const COMPANY_ID = /^[A-Za-z0-9]{6}$/;

/** Whether the collector held `r` against its rate windows (index.ts's rule: not faulted, a valid company, not a
 *  429 (a refused request is not counted); a pending one was counted on arrival). */
export const isCounted = (r: RecordedRequest): boolean => r.method === 'POST' && !r.fault && r.status !== 429 && COMPANY_ID.test(r.company ?? '');

const windowStart = (t: number, size: number, phase: number) => phase + Math.floor((t - phase) / size) * size;

/** The busiest fixed window of `size` ms over every counted request, per company. */
function busiest(posts: readonly RecordedRequest[], size: number, phase: number): Busiest {
  const counts = new Map<string, number>();
  let best: Busiest = { count: 0, start: null, company: null };
  for (const r of posts) {
    if (!isCounted(r)) continue;
    const start = windowStart(r.time, size, phase);
    const key = `${r.company} ${start}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    if (n > best.count) best = { count: n, start, company: r.company ?? null };
  }
  return best;
}

/** A fault period's end: its own, or the arrival of the request that used up its count. */
function periodEnd(p: FaultPeriod, posts: readonly RecordedRequest[]): number | null {
  if (p.count === undefined || p.mode === 'latency' || p.mode === 'healthy') return p.end;
  const used = posts.filter((r) => r.fault === p.mode && r.time >= p.start && (p.end === null || r.time < p.end));
  return used.length >= p.count ? used[p.count - 1]!.time : p.end;
}

/** The per-second bars of the last `n` windows ending with the one that holds `now`. */
function bars(posts: readonly RecordedRequest[], now: number, phase: number, n: number): SecondBar[] {
  const last = windowStart(now, 1000, phase);
  const first = last - (n - 1) * 1000;
  const out: SecondBar[] = Array.from({ length: n }, (_, i) => ({ t: first + i * 1000, accepted: 0, refused: 0, throttled: 0, counted: 0, sliding60: 0 }));
  // The sliding 60 s sum needs the 59 windows before the first one shown too.
  const counted = new Array<number>(n + 59).fill(0);
  for (const r of posts) {
    const i = Math.floor((r.time - first) / 1000);
    if (i < -59 || i >= n) continue;
    if (isCounted(r)) counted[i + 59]! += 1;
    const bar = out[i];
    if (!bar) continue;
    if (isCounted(r)) bar.counted += 1;
    if (r.status >= 200 && r.status < 300) bar.accepted += 1;
    else if (r.status === 429) bar.throttled += 1;
    else if (r.status !== 0 || r.fault === 'drop') bar.refused += 1;
  }
  let sum = counted.slice(0, 59).reduce((a, b) => a + b, 0);
  out.forEach((bar, i) => {
    sum += counted[i + 59]!;
    bar.sliding60 = sum;
    sum -= counted[i]!;
  });
  return out;
}

/** The live view's data: see LiveData. */
export function liveData(input: LiveInput): LiveData {
  const n = Math.max(1, Math.min(input.seconds ?? 60, 600));
  const posts = input.records.filter((r) => r.method === 'POST');
  const seconds = bars(posts, input.now, input.phaseMs, n);
  const from = seconds[0]!.t;
  const faults = input.faults
    .map((p) => ({ ...p, end: periodEnd(p, posts) }))
    .filter((p) => p.end === null || p.end >= from);
  const accepted = posts.filter((r) => r.status >= 200 && r.status < 300).length;
  const throttled = posts.filter((r) => r.status === 429).length;
  const unanswered = posts.filter((r) => r.status === 0).length;
  return {
    now: input.now,
    phaseMs: input.phaseMs,
    limits: input.limits,
    seconds,
    faults,
    summary: {
      posts: posts.length,
      accepted,
      refused: posts.length - accepted - throttled - unanswered,
      throttled,
      unanswered,
      profiles: input.profiles,
      busiest1s: busiest(posts, 1000, input.phaseMs),
      busiest60s: busiest(posts, 60_000, input.phaseMs),
    },
  };
}

/** How a fault reads on the chart. */
export function faultLabel(f: { mode: string; status?: number; retryAfter?: number; ms?: number | [number, number]; forMs?: number }): string {
  const during = f.forMs !== undefined ? ` for ${Math.round(f.forMs / 100) / 10} s` : '';
  if (f.mode === 'status' && f.status === 429) return `429, Retry-After ${f.retryAfter ?? 1} s${during}`;
  if (f.mode === 'status') return `outage (${f.status})${during}`;
  if (f.mode === 'latency') return `latency ${[f.ms].flat().join('-')} ms`;
  return `${f.mode}${during}`;
}
