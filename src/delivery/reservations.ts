// The limiter's start times, written to storage before they are used: a tab that takes over after this one closes
// mid-burst stays inside every window. Slots are written in chunks, in the background while some remain, so a
// burst never waits on a write.
import type { DeliveryState } from './state';
import { createLimiter, mergeStates, planStarts, recordStart, PENDING_MS, type LimiterState } from '../core/limiter';

/** A reserved start time is used within this long of its planned time, or planned again. A tab that takes over
 *  assumes each reservation of a vanished flusher was spent as late as this allows. */
const SLACK = 1_000;
/** Start times reserved per storage write. */
export const RESERVE = 50;

/** The limiter history as stored per company: arrival bounds, start times reserved and maybe not used yet, the
 *  pause, and the clock when it was written. */
export interface RateRecord {
  bounds: number[];
  reserved: number[];
  pausedUntil: number;
  savedAt?: number;
  /** The in-flight window the writer measured. */
  window?: number;
}

/** Store the history with these start times reserved. */
export function writeRate(d: DeliveryState, reserved: number[]) {
  const rec: RateRecord = { bounds: d.lim_.bounds, reserved, pausedUntil: d.lim_.pausedUntil, savedAt: d.env_.now(), window: d.concurrency_.window_ };
  return d.env_.store.setMeta(d.round_, 'rate', rec);
}

/** A round of `d.round_` begins: the stored history is merged into this tab's own (requests it made while hidden
 *  were never written). `fresh`: the account changed, and another account's history is not this one's. */
export async function loadRate(d: DeliveryState, fresh: boolean) {
  if (fresh) d.lim_ = createLimiter();
  const rec = await d.env_.store.getMeta<RateRecord>(d.round_, 'rate');
  if (rec?.bounds) d.lim_ = mergeStates(d.lim_, fromRecord(rec, d.env_.now()));
  // The tabs of a browser share its connection to the API: a tab taking over starts from the window measured last.
  if (+rec?.window! > d.concurrency_.window_) d.concurrency_.window_ = +rec!.window!;
}

/** A stored record as a limiter state at `now`. Each reservation of a vanished flusher may have started a request
 *  (as late as SLACK after its planned time, never after now) that is still on its way, as a keepalive request
 *  outlives its page: it counts as in flight, until it can no longer arrive. Times are shifted back when the record
 *  was written "after" now: the visitor's clock went back (NTP, a manual change), and history stamped in the future
 *  would stall every window for as long. */
export function fromRecord(rec: RateRecord, now: number): LimiterState {
  const skew = Math.max(0, (+rec.savedAt! || 0) - now);
  const spent = (rec.reserved ?? []).map((t) => Math.min(t + SLACK, now + skew) + PENDING_MS);
  return {
    bounds: rec.bounds
      .concat(spent)
      .map((t) => t - skew)
      .sort((a, b) => a - b),
    pausedUntil: (+rec.pausedUntil || 0) - skew,
  };
}

/** Usable reserved start times at `now` (those too old to use go). */
export function slots(d: DeliveryState, now: number): number {
  while (now > d.reserved_[0]! + SLACK) d.reserved_.shift();
  return d.reserved_.length;
}

/** Take a start slot now. While the page hides a missing one is reserved without waiting for the write: an
 *  unload would not wait, and keepalive requests must leave inside the pagehide task. */
export function take(d: DeliveryState, now: number, planned: number) {
  d.ahead_ = true;
  if (!slots(d, now)) {
    d.reserved_ = planStarts(d.lim_, now, Math.min(RESERVE, planned));
    void writeRate(d, d.reserved_);
  }
  d.reserved_.shift();
  recordStart(d.lim_, now);
}

/** Store the next n start times behind the ones held, and add them once stored (a failed write adds none, and
 *  rejects). While one runs, that one is returned. */
export function topUp(d: DeliveryState, now: number, n: number): Promise<void> {
  if (d.topping_) return d.topping_;
  const held = d.reserved_;
  const more = planStarts({ ...d.lim_, bounds: d.lim_.bounds.concat(held).sort((a, b) => a - b) }, now, n);
  d.ahead_ = true;
  return (d.topping_ = writeRate(d, held.concat(more))
    .then(() => void held.push(...more))
    .finally(() => (d.topping_ = undefined)));
}

/** The round ends: its reservations become the starts they were (a page view that sent nothing writes nothing). */
export async function settleRate(d: DeliveryState) {
  if (!d.ahead_) return;
  d.ahead_ = false;
  await writeRate(d, (d.reserved_ = []));
}
