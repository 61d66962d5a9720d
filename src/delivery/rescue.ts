// The tracker's batches whose IndexedDB write is under way are neither durable nor in the mirror, and a navigation
// aborts the write. They are kept in the journal (localStorage, written synchronously) until the write commits; the
// next page of the site puts what it finds there back. When the page hides they also go out at once with keepalive,
// as far as the limiter and the keepalive budget allow.
import type { DeliveryState } from './state';
import type { QueueItem } from '../core/types';
import { nextStart, recordStart } from '../core/limiter';
import { planBatches } from '../core/merge';
import { byId } from '../store/store';
import { limit } from '../core/concurrency';
import { KEEPALIVE_BYTES, send } from './flights';
import { revisionOf, sendable } from './mirror';
import { take } from './reservations';

/** Updates per batch journaled as their write begins (a page usually identifies one person per task). */
const EAGER_JOURNAL = 100;

/** Journal and send at once what is still being written. */
export function rescue(d: DeliveryState) {
  if (!d.unsaved_.size) return;
  // What goes here may be in the round's plan: it plans again before sending anything more.
  d.replan_ = true;
  for (const [k, list] of d.unsaved_) if (!d.kept_.has(k) && d.env_.journal?.save(k, list)) d.kept_.add(k);
  const late = [...d.unsaved_.values()].flat().filter((i) => i.company == d.company_ && !d.flying_.has(i.id));
  // Holding this company's round, the mirror is its queue: a person's queued and late updates go as one request
  // (the last identify wins). Otherwise late updates go on their own, counted in this tab's own limiter.
  const mine = d.holding_ && d.round_ == d.company_;
  const all = (mine ? byId([...d.items_.values(), ...late]) : late).filter(sendable(d));
  const by = new Map(all.map((i) => [i.id, i]));
  const now = d.env_.now();
  for (const b of planBatches(all, now, d.busy_, KEEPALIVE_BYTES)) {
    if (d.concurrency_.inFlight_ >= limit(d.concurrency_) || nextStart(d.lim_, now) > now) break;
    const revision = revisionOf(d, by.get(b.ids[b.ids.length - 1]!));
    // Only with keepalive: a plain request would die with the page (what does not fit waits in the journal).
    if (!send(d, b, { sentAt: now, revision, company: d.company_ }, true)) continue;
    if (mine) take(d, now, 1);
    else recordStart(d.lim_, now);
  }
}

/** Durably add a batch of the tracker; returns it once written, less what was delivered meanwhile (sent while the
 *  page was hidden). A write that fails rejects, and what the journal kept stays for the next page. */
export async function write(d: DeliveryState, list: QueueItem[]): Promise<QueueItem[]> {
  const k = list[0]!.id;
  d.unsaved_.set(k, list);
  // In the journal at once, not only when the page hides: a tab the browser closes may get no pagehide (Firefox over
  // WebDriver BiDi), and the write below dies with the page. Only a batch of a page's usual size: a large one's JSON
  // would cost the identifying task as much as its own work; it is journaled when the page hides.
  if (list.length <= EAGER_JOURNAL && d.env_.journal?.save(k, list)) d.kept_.add(k);
  // Hidden already (a pagehide handler identifying, say): sent at once, as if it had come earlier.
  if (d.leaving_) rescue(d);
  try {
    await d.env_.store.add(list);
  } finally {
    list = d.unsaved_.get(k)!;
    d.unsaved_.delete(k);
  }
  if (d.kept_.delete(k)) d.env_.journal?.save(k, []);
  return list;
}

/** Put what earlier pages left in the journal back into the store, one entry at a time; `restored(company)` after each. */
export async function restore(d: DeliveryState, restored: (company: string) => void) {
  const { journal, store } = d.env_;
  try {
    for (const [k, list] of journal?.entries() ?? []) {
      await store.add(list);
      journal!.save(k, []);
      d.env_.announce(list[0]!.company);
      restored(list[0]!.company);
    }
  } catch {
    // A store that fails falls back to memory: no rejection is expected.
  }
}
