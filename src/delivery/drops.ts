// Giving up on updates: they leave the queue, and the console and the host's hook are told how many and why.
import type { DeliveryState } from './state';
import type { Drop } from '../core/types';
import { forget } from './removals';

/** Drop these updates of company `c`, and tell the host how many. */
export async function drop(d: DeliveryState, ids: string[], e: Omit<Drop, 'count'>, c: string) {
  await forget(d, ids, c);
  d.stats_.dropped[e.reason] += ids.length;
  d.env_.log[e.reason == 'cap' ? 'warn' : 'error'](e.message);
  try {
    d.cfg_.onError?.({ ...e, count: ids.length });
  } catch {
    // The host's hook must not stop delivery.
  }
}

/** Evict the round's updates that are too old (TTL) or over the queue caps. */
export async function dropOld(d: DeliveryState, ids: string[], reason: 'ttl' | 'cap') {
  const why = reason == 'ttl' ? 'older than 6 days' : 'queue full';
  if (ids.length) await drop(d, ids, { reason, message: `[klaviyo] dropped ${ids.length} updates (${why})` }, d.round_);
}
