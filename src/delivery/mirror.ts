// The queue mirror: the round's company's stored queue, in memory while this tab holds the lock, read again only
// when storage changed behind it (another tab, a new round).
import type { DeliveryState } from './state';
import type { QueueItem } from '../core/types';

/** Queue caps: beyond these the oldest updates are evicted, with a warning. */
const MAX_ITEMS = 20_000;
const MAX_BYTES = 8e6;

/** Load the round's queue; returns the ids over the caps (the oldest), for the caller to drop. */
export async function read(d: DeliveryState): Promise<string[]> {
  const list = (await d.env_.store.list(d.round_)).filter((i) => !d.removing_.has(i.id));
  d.items_ = new Map(list.map((i) => [i.id, i]));
  let bytes = 0;
  let keep = list.length;
  // The newest MAX_ITEMS and MAX_BYTES stay (the list is oldest first).
  while (keep && list.length - keep < MAX_ITEMS && (bytes += size(d, list[keep - 1]!)) <= MAX_BYTES) keep--;
  return list.slice(0, keep).map((i) => i.id);
}

const size = (d: DeliveryState, it: QueueItem) => d.sizes_.get(it.id) ?? d.sizes_.set(it.id, JSON.stringify(it.profile).length).get(it.id)!;

/** The revision an item goes out in: its own, or the page's where its own is retired. */
export const revisionOf = (d: DeliveryState, it?: QueueItem): string => (it && !d.retired_.has(it.revision) ? it.revision : d.cfg_.revision);

/** Whether an item may go in some revision now. */
export const sendable = (d: DeliveryState) => (it: QueueItem) => !d.retired_.has(revisionOf(d, it));

/** The mirror's items that may go now. */
export const queue = (d: DeliveryState): QueueItem[] => (d.retired_.size ? [...d.items_.values()].filter(sendable(d)) : [...d.items_.values()]);

/** How many of them. */
export const queued = (d: DeliveryState): number => (d.retired_.size ? queue(d).length : d.items_.size);

/** Change the items of these ids still in the mirror, there at once and in storage (the write is returned). */
export function update(d: DeliveryState, ids: string[], change: (it: QueueItem) => QueueItem) {
  const changed: QueueItem[] = [];
  for (const id of ids) {
    const it = d.items_.get(id);
    if (it) {
      changed.push(change(it));
      d.items_.set(id, changed[changed.length - 1]!);
    }
  }
  return d.env_.store.put(changed);
}
