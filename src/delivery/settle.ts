// Settling a request by its answer: the limiter learns when it arrived, and the retry policy's verdict updates the
// mirror at once (storage catches up on its own).
import type { DeliveryState, Flight } from './state';
import type { Batch } from '../core/merge';
import type { Answer } from '../core/types';
import { applyHint, pause, recordAnswer } from '../core/limiter';
import { decide } from '../core/retry';
import { afterError, afterFailure } from '../core/streak';
import { drop } from './drops';
import { update } from './mirror';
import { forget } from './removals';
import { writeRate } from './reservations';

/** Settle a batch by its answer. Never rejects: where storage fails the items stay queued, and everyone waits a
 *  backoff (never an immediate resend loop). */
export function settle(d: DeliveryState, b: Batch, res: Answer, f: Flight): Promise<void> {
  const now = d.env_.now();
  return verdict(d, b, res, f, now).catch(() => void pause(d.lim_, afterError(d.streak_, d.env_.now(), d.env_.random)));
}

async function verdict(d: DeliveryState, b: Batch, res: Answer, { sentAt, revision, company }: Flight, now: number) {
  const { env_: env, stats_: stats } = d;
  // It reached the server by now, if at all (without an answer, within the margin).
  recordAnswer(d.lim_, sentAt, now, res.status > 0);
  applyHint(d.lim_, now, res.rateRemaining, res.rateReset);
  const v = decide({ ...res, revision }, { ...b, attempts: b.attempts + 1 }, now, env.random);
  if (d.cfg_.debug) env.log.info('[klaviyo] answer', res.status);
  if (v.action == 'done') {
    d.streak_.fails = 0;
    stats.sent++;
    stats.merged += b.ids.length - 1;
    return forget(d, b.ids, company);
  }
  if (v.action == 'retired') {
    // Kept as they are (their fields are the same in every revision's shape). One console error per revision.
    if (!d.retired_.has(revision)) env.log.error(v.message);
    d.retired_.add(revision);
    return;
  }
  if (v.action != 'drop') return failed(d, b, v, sentAt, now);
  if (v.reason != 'client' || b.ids.length == 1) return drop(d, b.ids, { reason: v.reason, status: res.status, message: v.message }, company);
  // A 4xx for a merged request: which update the server refused is unknown, so each goes again on its own and only
  // one refused alone is dropped (DESIGN §6: "drop that item").
  d.replan_ = true;
  return update(d, b.ids, (it) => ({ ...it, solo: true }));
}

async function failed(d: DeliveryState, b: Batch, v: { action: 'retry'; at: number } | { action: 'pause'; until: number }, sentAt: number, now: number) {
  d.stats_.retried++;
  const paused = v.action == 'pause';
  const at = afterFailure(d.streak_, v, sentAt, now, d.env_.random);
  const longer = at > d.lim_.pausedUntil;
  pause(d.lim_, at);
  // Issued first: the mirror already lets these items go again, and a delete after a quick resend must follow this
  // write, not be undone by it. A 429 is not the items' fault: their attempts stay.
  const put = update(d, b.ids, (it) => ({ ...it, attempts: it.attempts + (paused ? 0 : 1), notBefore: at }));
  // A tab that takes over must see the server's pause too: written once per pause (the other 429s of a burst carry
  // the same one), with the reservations held.
  if (paused && longer) await writeRate(d, d.reserved_);
  await put;
}
