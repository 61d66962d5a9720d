// The requests in flight: who they carry, how many, and the keepalive budget while the page hides.
import type { DeliveryState, Flight } from './state';
import type { Batch } from '../core/merge';
import { buildRequest } from '../core/body';
import { onAnswer, onStart } from '../core/concurrency';
import { settle } from './settle';

/** Chromium refuses keepalive requests once their bodies in flight pass 64 KiB in total: the UTF-8 bytes of
 *  keepalive bodies in flight, and of one merged batch planned while hidden, stay under this. */
export const KEEPALIVE_BYTES = 60_000;

/** Send a batch; with `onlyKeepalive`, not at all (false) unless it fits the keepalive budget. */
export function send(d: DeliveryState, b: Batch, f: Flight, onlyKeepalive?: boolean): boolean {
  const { env_: env, cfg_: cfg } = d;
  const req = buildRequest(b.profile, { apiHost: cfg.apiHost, company: f.company, revision: f.revision });
  // Chromium's keepalive cap counts UTF-8 bytes, measured only when it matters (the page is hiding).
  const size = d.leaving_ ? new TextEncoder().encode(req.body).length : 0;
  const keepalive = d.leaving_ && d.keepaliveBytes_ + size <= KEEPALIVE_BYTES;
  if (onlyKeepalive && !keepalive) return false;
  if (keepalive) d.keepaliveBytes_ += size;
  onStart(d.concurrency_, f.sentAt);
  for (const k of b.keys) d.busy_.add(k);
  for (const id of b.ids) d.flying_.add(id);
  if (cfg.debug) env.log.info('[klaviyo] send', req.body);
  void env.send(req, { keepalive, timeoutMs: 10_000 }).then((res) => {
    if (keepalive) d.keepaliveBytes_ -= size;
    onAnswer(d.concurrency_, f.sentAt, env.now(), res.status > 0);
    // The slot and the person are free as soon as the answer is in; settle updates the mirror before its first
    // await, so the round, woken here, sees the verdict.
    for (const k of b.keys) d.busy_.delete(k);
    for (const id of b.ids) d.flying_.delete(id);
    d.wake_?.();
    return settle(d, b, res, f);
  });
  return true;
}
