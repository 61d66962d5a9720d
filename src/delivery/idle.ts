// The callers of flush(): told when nothing queued can go now (the queue is empty, or each item waits on a retry or
// the server's pause).
import type { DeliveryState } from './state';
import type { RateRecord } from './reservations';

/** How often a flush() waiting on another tab's round looks at storage. */
const LOOK_MS = 500;

/** Resolves when the queue is empty or holds only items waiting on a retry; `kick` starts a round. Another tab may
 *  hold the lock for long: meanwhile the caller looks at storage itself. */
export const flush = (d: DeliveryState, kick: () => void) =>
  new Promise<void>((resolve) => {
    if (!d.company_) return resolve();
    d.waiting_.push(resolve);
    kick();
    d.env_.setTimeout(() => look(d, resolve), LOOK_MS);
  });

/** Nothing can go now: every caller is done. */
export function settled(d: DeliveryState) {
  for (const done of d.waiting_.splice(0)) done();
}

/** Stop waiting when nothing stored could go now (each item waits on a retry, or the stored pause holds). */
async function look(d: DeliveryState, done: () => void) {
  const { store } = d.env_;
  if (!d.waiting_.includes(done)) return;
  if (!d.holding_) {
    const now = d.env_.now();
    const paused = ((await store.getMeta<RateRecord>(d.company_, 'rate'))?.pausedUntil ?? 0) > now;
    const due = !paused && (await store.list(d.company_)).some((i) => i.notBefore <= now);
    const i = d.waiting_.indexOf(done);
    if (!due && i >= 0) {
      d.waiting_.splice(i, 1);
      return done();
    }
  }
  d.env_.setTimeout(() => look(d, done), LOOK_MS);
}
