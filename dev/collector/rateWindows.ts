// Klaviyo's rate limits as fixed windows: per company, 1 s (burst) and 60 s (steady) windows whose
// boundaries sit at phaseMs + k * window on the collector's clock. Pure: counts in, counts out.

/** Window sizes (ms) and limits; `phaseMs` shifts every boundary. */
export interface WindowConfig {
  phaseMs: number;
  perSecond: number;
  perMinute: number;
}

/** Requests counted in the current 1 s and 60 s windows of one company (window = its index k). */
export interface WindowCounts {
  second: number;
  secondCount: number;
  minute: number;
  minuteCount: number;
}

/** The answer for one arriving request; header values in whole seconds. */
export interface RateDecision {
  ok: boolean;
  /** RateLimit-Limit / -Remaining / -Reset of the window closest to its limit. */
  limit: number;
  remaining: number;
  resetSec: number;
  /** Seconds until every window that refused the request has ended (>= 1); only when !ok. */
  retryAfter?: number;
}

const windowOf = (now: number, size: number, phase: number) => Math.floor((now - phase) / size);
const secondsUntil = (end: number, now: number) => Math.max(1, Math.ceil((end - now) / 1000));

/**
 * Count a request arriving at `now` (ms). A throttled request is not counted (we assume Klaviyo
 * does not count refused requests), so a client that waits Retry-After gets the full window.
 */
export function admit(prev: WindowCounts | undefined, now: number, cfg: WindowConfig): { counts: WindowCounts; decision: RateDecision } {
  const second = windowOf(now, 1000, cfg.phaseMs);
  const minute = windowOf(now, 60_000, cfg.phaseMs);
  const secondCount = prev?.second === second ? prev.secondCount : 0;
  const minuteCount = prev?.minute === minute ? prev.minuteCount : 0;
  const secondEnd = cfg.phaseMs + (second + 1) * 1000;
  const minuteEnd = cfg.phaseMs + (minute + 1) * 60_000;
  const overSecond = secondCount >= cfg.perSecond;
  const overMinute = minuteCount >= cfg.perMinute;
  if (overSecond || overMinute) {
    const end = overMinute ? minuteEnd : secondEnd; // the minute window always ends last
    const decision = overMinute
      ? { ok: false, limit: cfg.perMinute, remaining: 0, resetSec: secondsUntil(minuteEnd, now) }
      : { ok: false, limit: cfg.perSecond, remaining: 0, resetSec: secondsUntil(secondEnd, now) };
    return { counts: { second, secondCount, minute, minuteCount }, decision: { ...decision, retryAfter: secondsUntil(end, now) } };
  }
  const counts = { second, secondCount: secondCount + 1, minute, minuteCount: minuteCount + 1 };
  const leftSecond = cfg.perSecond - counts.secondCount;
  const leftMinute = cfg.perMinute - counts.minuteCount;
  const decision =
    leftMinute < leftSecond
      ? { ok: true, limit: cfg.perMinute, remaining: leftMinute, resetSec: secondsUntil(minuteEnd, now) }
      : { ok: true, limit: cfg.perSecond, remaining: leftSecond, resetSec: secondsUntil(secondEnd, now) };
  return { counts, decision };
}
