// Deletes of delivered or dropped items, coalesced: while one transaction runs or waits, the ids of later answers
// join the next, so a burst costs a few transactions. (A page closed meanwhile sends those again on the next visit:
// an identify is an upsert, so late is harmless.)
import type { DeliveryState } from './state';

/** While answers keep coming, a delete waits this long for the next ones to join it: one transaction per answer
 *  costs the page main-thread time on every request of a burst. */
const REMOVE_EVERY = 100;

/** Take ids of company `c` out of the mirror, the journal and storage. */
export function forget(d: DeliveryState, ids: string[], c: string): Promise<void> {
  for (const id of ids) {
    d.items_.delete(id);
    d.sizes_.delete(id);
    d.removing_.add(id);
  }
  d.doomed_.set(c, (d.doomed_.get(c) ?? []).concat(ids));
  // Sent while leaving before their write was confirmed: out of the journal too, or the next page sends them again.
  for (const [k, list] of d.unsaved_) {
    const rest = list.filter((i) => !d.removing_.has(i.id));
    if (rest.length == list.length) continue;
    d.unsaved_.set(k, rest);
    if (d.kept_.has(k)) d.env_.journal?.save(k, rest);
  }
  return (d.removal_ ??= run(d));
}

async function run(d: DeliveryState) {
  try {
    while (d.doomed_.size) {
      if (d.concurrency_.inFlight_ && !d.leaving_) await new Promise<void>((r) => d.env_.setTimeout((d.hurry_ = r), REMOVE_EVERY));
      const [company, ids] = d.doomed_.entries().next().value!;
      d.doomed_.delete(company);
      try {
        await d.env_.store.remove(company, ids);
      } finally {
        for (const id of ids) d.removing_.delete(id);
      }
    }
  } finally {
    // In the same step as the empty check: no id can slip between.
    d.removal_ = undefined;
  }
}
