// What failed answers do to everyone's pace: the failure streak and the server's pause. Pure, like the limiter:
// the state is plain data, changed in place; the caller applies the returned time to the limiter and the items.
import { backoff } from './retry';

/** The failure streak and when it last grew, and the end of the server's latest 429 pause. */
export interface Streak {
  fails: number;
  failedAt: number;
  throttled: number;
}

export const calm = (): Streak => ({ fails: 0, failedAt: 0, throttled: 0 });

/**
 * A request started at `sentAt` failed at `now` with a retry or pause verdict: returns when its items may go again.
 * A 429 (`pause`) waits until Retry-After for everyone and is not the items' fault. Other failures (5xx, timeouts,
 * network errors) hit everyone too, so the whole delivery backs off by the streak as well as the item by its own
 * verdict. Requests sent before the streak last grew fail for the same reason: one step per round trip, not one
 * per request (a full pipeline's failures would otherwise jump the backoff many steps and outlast a short outage).
 */
export function afterFailure(s: Streak, v: { action: 'retry'; at: number } | { action: 'pause'; until: number }, sentAt: number, now: number, random: () => number): number {
  if (v.action == 'pause') return (s.throttled = Math.max(s.throttled, v.until));
  if (sentAt >= s.failedAt) {
    s.fails++;
    s.failedAt = now;
  }
  return Math.max(v.at, now + backoff(s.fails, random));
}

/** Settling an answer failed (storage): everyone waits a backoff of the grown streak, never resends at once. */
export function afterError(s: Streak, now: number, random: () => number): number {
  return now + backoff(++s.fails, random);
}
