// The figures of one run, from what the simulation recorded.
import type { RunData } from './sim';
import type { TrafficModel } from './traffic';

export interface Figures {
  identifies: number;
  requests: number;
  /** 429s as a share of all requests, and the share of all requests that were 429s no policy could avoid: a
   *  tracker's requests before its first answer (it cannot know the account is over its limits). */
  refusedShare: number;
  blindShare: number;
  requestsPerUpdate: number;
  /** Identify to first acceptance, ms. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Updates never accepted (dropped, or still queued when nothing more could happen). */
  lost: number;
  /** Share of updates first accepted from a later page view than their own (the leaving model). */
  nextVisit: number;
  /** The backlog: from the first 429 (t0) until the last update identified by the overload's end is accepted (t1). */
  backlog?: {
    t0: number;
    t1: number;
    /** Accepted requests in [t0, t1], and the least time the account's windows take to accept as many from t0. */
    work: number;
    minDrain: number;
    /** Per server minute window starting in [t0, t1): what it accepted as a share of what it could have, the least of
     *  3500 and the visitors with an update waiting at its start (so a last few stragglers do not count as a window
     *  left empty); mean and least. */
    meanMinute: number;
    leastMinute: number;
    minutes: number;
  };
}

export const quantile = (sorted: Float64Array, q: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;

export function figures(d: RunData, model: TrafficModel): Figures {
  const lat: number[] = [];
  let lost = 0;
  let t1 = -Infinity;
  for (let i = 0; i < d.identifies; i++) {
    const a = d.acceptedAt[i]!;
    if (Number.isNaN(a)) lost++;
    else {
      lat.push(a - d.identifiedAt[i]!);
      if (d.identifiedAt[i]! <= model.peakEnd) t1 = Math.max(t1, a);
    }
  }
  const sorted = Float64Array.from(lat).sort();
  const f: Figures = {
    identifies: d.identifies,
    requests: d.requests,
    refusedShare: d.refused / d.requests,
    blindShare: d.blindRefused / d.requests,
    requestsPerUpdate: d.requests / d.identifies,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    lost,
    nextVisit: d.nextVisit / d.identifies,
  };
  // (Where pages close, the drain is the visitors' return, days later, not the account's: not measured.)
  if (!model.pages && !Number.isNaN(d.firstRefusal) && t1 > d.firstRefusal) f.backlog = backlog(d, d.firstRefusal, t1);
  return f;
}

function backlog(d: RunData, t0: number, t1: number): NonNullable<Figures['backlog']> {
  const { phase } = d;
  // Work: what was accepted in [t0, t1], counted by server second windows (the first and last only in part).
  let work = 0;
  for (const t of d.acceptedTimes) if (t >= t0 && t <= t1) work++;
  // The least time: an ideal sender fills every window from t0 on (the windows open at t0 hold what they held).
  const s0 = Math.floor((t0 - phase) / 1000);
  let usedMinute = d.atFirstRefusal.minuteCount;
  let minute = Math.floor((t0 - phase) / 60_000);
  let left = work;
  let s = s0;
  for (; ; s++) {
    const m = Math.floor(s / 60);
    if (m !== minute) (minute = m), (usedMinute = 0);
    const take = Math.min(350 - (s === s0 ? d.atFirstRefusal.secondCount : 0), 3500 - usedMinute, left);
    usedMinute += take;
    left -= take;
    if (!left) break;
  }
  const minDrain = Math.max(0, phase + s * 1000 - t0);
  // Server minutes starting inside the backlog, and the visitors waiting at each one's start.
  const first = Math.ceil((t0 - phase) / 60_000);
  const starts: number[] = [];
  for (let k = first; phase + k * 60_000 < t1; k++) starts.push(phase + k * 60_000);
  const waiting = starts.map(() => new Set<number>());
  for (let i = 0; i < d.identifies; i++) {
    const from = d.identifiedAt[i]!;
    const to = d.acceptedAt[i]!;
    for (let j = 0; j < starts.length; j++) if (from < starts[j]! && !(to < starts[j]!)) waiting[j]!.add(d.who[i]!);
  }
  const shares = starts.flatMap((_, j) => (waiting[j]!.size ? [Math.min(1, (d.perMinuteWindow.get(first + j) ?? 0) / Math.min(3500, waiting[j]!.size))] : []));
  return {
    t0, t1, work, minDrain,
    meanMinute: shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : NaN,
    leastMinute: shares.length ? Math.min(...shares) : NaN,
    minutes: shares.length,
  };
}
