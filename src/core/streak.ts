// What failed answers do to everyone's pace: the failure streak and the server's pause. Pure, like the limiter:
// the state is plain data, changed in place; the caller applies the returned time to the limiter and the items.
import { backoff } from './retry';

/** The failure streak and when it last grew, and the end of the server's latest 429 pause. */
export interface Streak {
  fails: number;
  failedAt: number;
  throttled: number;
  /** End of the last 429 pause this tab set itself (`throttled` also takes a stored pause, which may be a failure's
   *  backoff): what "a 429 again right after a pause" is measured from. */
  ended: number;
}

export const calm = (): Streak => ({ fails: 0, failedAt: 0, throttled: 0, ended: 0 });

/** Klaviyo's longest window (ms): a 429 refused a request that long at most before the window ends. */
const WINDOW = 6e4;
/** The widest spread past Retry-After (ms), for a 429 that follows a pause closely. */
export const SPREAD_CAP = 18e4;

/**
 * How far past Retry-After (`ra`, ms) a 429's items may be spread, uniformly. Every visitor of a store shares the
 * account's windows, so trackers that all came back at Retry-After would meet in the window's first second.
 * - A first 429 (`again` false): up to half of Retry-After more. A browser refused once waits at most 1.5 x RA.
 * - A 429 for a request sent within a window of the end of the previous pause (`again`): it waited, came back and was
 *   refused again, so others share the account and are over it. The window was full `ra` before its end, at a time
 *   the tracker cannot see: taken as halfway to its refusal, arrivals ran at 2W / (W - ra) times the allowance, and
 *   what the window refused needs that many windows less one: W (W + ra) / (W - ra), at most SPREAD_CAP (chosen by
 *   `npm run bench:fleet`; ARCHITECTURE.md, "When the audience is over").
 */
export const spread = (ra: number, again: boolean): number =>
  // (A Retry-After of a window or more divides by 0: the cap.)
  again ? Math.min(SPREAD_CAP, (WINDOW * (WINDOW + ra)) / Math.max(WINDOW - ra, 0)) : ra / 2;

/**
 * A request started at `sentAt` failed at `now` with a retry or pause verdict: returns when its items may go again.
 * A 429 (`pause`) holds everyone until Retry-After plus a uniform draw of `spread` (requests in flight when a pause
 * began are not `again`; an earlier end never shortens a longer pause), and is not the items' fault. Other failures
 * (5xx, timeouts, network errors) hit everyone too, so the whole delivery backs off by the streak as well as the item
 * by its own verdict. Requests sent before the streak last grew fail for the same reason: one step per round trip,
 * not one per request (a full pipeline's failures would otherwise jump the backoff many steps and outlast a short
 * outage).
 */
export function afterFailure(s: Streak, v: { action: 'retry'; at: number } | { action: 'pause'; until: number }, sentAt: number, now: number, random: () => number): number {
  if (v.action == 'pause') {
    // A pause of ours ended at most a window before this request started.
    const again = s.ended > 0 && s.ended <= sentAt && sentAt < s.ended + WINDOW;
    s.ended = Math.max(s.ended, v.until + random() * spread(v.until - now, again));
    return (s.throttled = Math.max(s.throttled, s.ended));
  }
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
