// The delivery loop. One tab of an origin runs it per company at a time (a Web Lock), reading the
// shared IndexedDB queue, so every tab's updates go out through one limiter. It keeps a mirror of
// the queue in memory while it holds the lock and re-reads storage only when another tab wrote.
import type { QueueItem } from './core/types';
import type { Config } from './tracker';
import type { Store } from './store/store';
import type { SendResult } from './browser/transport';
import { buildRequest } from './core/body';
import { createLimiter, nextStart, planStarts, recordStart, pause, applyHint } from './core/limiter';
import { backoff, decide, expired } from './core/retry';
import { planBatches, type Batch } from './core/merge';

export interface DeliveryEnv {
  now(): number;
  random(): number;
  store: Store;
  send(req: { url: string; headers: Record<string, string>; body: string }, opts: { keepalive: boolean; timeoutMs: number }): Promise<SendResult>;
  /** Exclusive across this origin's tabs (Web Locks, or a fallback). */
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Tell other tabs that this one queued items for a company. */
  announce(company: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  log: Pick<Console, 'error' | 'warn' | 'info'>;
}

/** What `onError` receives when the tracker gives up on updates. */
export interface Drop {
  reason: 'client' | 'gone' | 'attempts' | 'ttl' | 'cap';
  status?: number;
  message: string;
  count: number;
}

/** Requests in flight at once: Chromium opens at most 6 HTTP/1.1 connections per host, and a request
 *  queued inside the browser would reach the server later than the limiter planned. */
const MAX_IN_FLIGHT = 6;
/** Chromium refuses keepalive requests once their bodies in flight pass 64 KiB in total. */
const KEEPALIVE_BYTES = 60_000;
/** Queue caps: beyond these the oldest updates are evicted, with a warning. */
const MAX_ITEMS = 20_000;
const MAX_BYTES = 8e6;
/** A reserved start slot is used within this long of its planned time, or planned again. A tab that
 *  takes over assumes each reservation of a vanished flusher was spent as late as this allows. */
const SLACK = 1_000;
const RESERVE = 50;

/** Persisted limiter history: actual starts, plus reserved ones not yet confirmed. */
interface RateRecord { starts: number[]; reserved: number[]; pausedUntil: number }

/** The delivery side of a tracker: add items, flush, react to the page's lifecycle. */
export function createDelivery(env: DeliveryEnv, cfg: Config) {
  const stats = { queued: 0, sent: 0, retried: 0, merged: 0, dropped: { invalid: 0, client: 0, gone: 0, attempts: 0, ttl: 0, cap: 0 } };
  // One state object; `holding` means this tab runs the loop and `items` mirrors the stored queue.
  const d = {
    company: '',
    active: false,
    holding: false,
    stale: true,
    replan: true,
    leaving: false,
    items: new Map<string, QueueItem>(),
    plan: [] as Batch[],
    busy: new Set<string>(),
    inFlight: 0,
    keepalive: 0,
    fails: 0,
    /** When the failure streak last grew: requests sent before then fail for the same reason, not again. */
    failedAt: 0,
    /** End of the server's 429 pause: coming online keeps it, and drops only a failure's backoff. */
    throttled: 0,
    /** Delivered or dropped ids whose delete may not be in storage yet: a read must not bring them back. */
    removing: new Set<string>(),
    lim: createLimiter(),
    reserved: [] as number[],
    wake: undefined as undefined | (() => void),
    idle: [] as Array<() => void>,
  };
  const { store, log } = env;
  const poke = () => d.wake?.();
  const save = (items: QueueItem[]) => store.put(items);

  /** Make sure a flusher runs: this tab takes the lock (waiting its turn behind other tabs). */
  function kick() {
    if (!d.company) return;
    d.stale = d.replan = true;
    if (d.active) return poke();
    d.active = true;
    env
      .lock('klaviyo-snippet:' + d.company, loop)
      .catch((e) => cfg.debug && log.info('[klaviyo] delivery stopped', e))
      .finally(() => {
        d.active = d.holding = false;
        // Items added between the loop's last look and the lock's release start a new round.
        if (d.stale) kick();
      });
  }

  /** Take ids out of the mirror and storage. A read racing the delete (flush, another tab) would
   *  otherwise put a delivered item back in the mirror and send it twice. */
  async function forget(ids: string[]) {
    for (const id of ids) d.items.delete(id), d.removing.add(id);
    try {
      await store.remove(d.company, ids);
    } finally {
      for (const id of ids) d.removing.delete(id);
    }
  }

  async function drop(ids: string[], e: Drop) {
    await forget(ids);
    stats.dropped[e.reason] += e.count;
    log[e.reason === 'cap' ? 'warn' : 'error'](e.message);
    try {
      cfg.onError?.(e);
    } catch {
      // The host's hook must not stop delivery.
    }
  }

  async function read() {
    d.stale = false;
    d.replan = true;
    const list = (await store.list(d.company)).filter((i) => !d.removing.has(i.id));
    d.items = new Map(list.map((i) => [i.id, i]));
    // Caps: keep the newest MAX_ITEMS and MAX_BYTES (list is oldest first), evict the rest.
    let bytes = 0;
    let keep = list.length;
    while (keep > 0 && list.length - keep < MAX_ITEMS && (bytes += JSON.stringify(list[keep - 1]!.profile).length) <= MAX_BYTES) keep--;
    if (keep) await drop(list.slice(0, keep).map((i) => i.id), { reason: 'cap', message: `[klaviyo] queue full: evicted the ${keep} oldest updates`, count: keep });
  }

  async function loop() {
    d.holding = true;
    const now0 = env.now();
    // The stored record is the latest history: every flusher writes it before each chunk of starts and
    // when it stops. A vanished flusher's reservations count as spent SLACK after their planned time
    // (never later than now): every window stays conservative.
    const rec = await store.getMeta<RateRecord>(d.company, 'rate');
    if (rec) d.lim = { starts: rec.starts.concat(rec.reserved.map((t) => Math.min(t + SLACK, now0))).sort((a, b) => a - b), pausedUntil: Math.max(d.lim.pausedUntil, rec.pausedUntil) };
    d.throttled = Math.max(d.throttled, d.lim.pausedUntil);
    d.stale = true;
    for (;;) {
      if (d.stale) await read();
      const now = env.now();
      if (d.replan) {
        d.replan = false;
        const old = [...d.items.values()].filter((it) => expired(it, now)).map((i) => i.id);
        if (old.length) await drop(old, { reason: 'ttl', message: `[klaviyo] dropped ${old.length} updates older than 6 days`, count: old.length });
        d.plan = planBatches([...d.items.values()], now, d.busy, d.leaving ? KEEPALIVE_BYTES : undefined);
      }
      let wait = Infinity;
      // While the server or the network is failing, one request at a time probes it.
      while (d.plan.length && d.inFlight < (d.fails ? 1 : MAX_IN_FLIGHT)) {
        const t = nextStart(d.lim, now);
        if (t > now) {
          wait = t;
          break;
        }
        // (No reservation left, or the next one is too old to use: reserve again.)
        if (!d.leaving && !(now <= d.reserved[0]! + SLACK)) {
          // Write ahead: the next start times are in storage before any is used, so a tab that takes
          // over after this one closes mid-burst stays inside every window. (Not while the page is
          // hiding: the unload will not wait for storage.)
          d.reserved = planStarts(d.lim, now, Math.min(RESERVE, d.plan.length));
          await store.setMeta(d.company, 'rate', { starts: d.lim.starts, reserved: d.reserved, pausedUntil: d.lim.pausedUntil });
          wait = now; // time moved on during the write: look again
          break;
        }
        d.reserved.shift();
        d.lim = recordStart(d.lim, now);
        send(d.plan.shift()!, now);
      }
      if (!d.items.size && !d.inFlight && !d.stale) break;
      if (!d.plan.length && !d.inFlight) {
        // Nothing can go now: only items waiting on a retry or a pause. `flush()` callers are done.
        for (const f of d.idle.splice(0)) f();
        let next = Infinity;
        for (const it of d.items.values()) next = Math.min(next, it.notBefore);
        wait = Math.max(Math.min(wait, Math.max(next, d.lim.pausedUntil)), now + 20); // never spin
      }
      if (d.stale) continue;
      if (wait > now) await sleep(wait - now);
      // Plan again once the plan is used up: people skipped as busy, retries now due, new items.
      if (!d.plan.length) d.replan = true;
    }
    // From here new local items start a new round (kick) instead of joining the mirror.
    d.holding = false;
    d.reserved = [];
    await store.setMeta(d.company, 'rate', { starts: d.lim.starts, reserved: [], pausedUntil: d.lim.pausedUntil });
    for (const f of d.idle.splice(0)) f();
  }

  function sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const h = ms < Infinity && env.setTimeout(() => d.wake?.(), ms);
      d.wake = () => {
        env.clearTimeout(h);
        d.wake = undefined;
        resolve();
      };
    });
  }

  function send(b: Batch, sentAt: number) {
    const newest = d.items.get(b.ids[b.ids.length - 1]!);
    const revision = newest?.revision ?? cfg.revision;
    const req = buildRequest(b.profile, { apiHost: cfg.apiHost, company: d.company, revision });
    const size = req.body.length;
    const keepalive = d.leaving && d.keepalive + size <= KEEPALIVE_BYTES;
    if (keepalive) d.keepalive += size;
    d.inFlight++;
    for (const k of b.keys) d.busy.add(k);
    if (cfg.debug) log.info('[klaviyo] send', req.body);
    env
      .send(req, { keepalive, timeoutMs: 10_000 })
      .then((res) => settle(b, res, revision, sentAt))
      .catch((e) => cfg.debug && log.info('[klaviyo] settle failed', e))
      .finally(() => {
        if (keepalive) d.keepalive -= size;
        d.inFlight--;
        for (const k of b.keys) d.busy.delete(k);
        poke();
      });
  }

  async function settle(b: Batch, res: SendResult, revision: string, sentAt: number) {
    const now = env.now();
    d.lim = applyHint(d.lim, now, res.rateRemaining, res.rateReset);
    const v = decide({ ...res, revision }, { attempts: b.attempts + 1, createdAt: b.createdAt }, now, env.random);
    if (cfg.debug) log.info('[klaviyo] answer', res.status, v.action, now - sentAt, 'ms');
    if (v.action === 'done') {
      d.fails = 0;
      stats.sent++;
      stats.merged += b.ids.length - 1;
      return forget(b.ids);
    }
    if (v.action === 'drop') return drop(b.ids, { reason: v.reason, status: res.status, message: v.message, count: b.ids.length });
    stats.retried++;
    // 429: everyone waits until Retry-After; being throttled is not the item's fault, so attempts stay.
    // 5xx, timeouts, network errors: the server (or the path to it) fails for everyone, so back off
    // globally by the failure streak as well as per item: that bounds the requests of an outage.
    // The other requests of a burst fail for the same reason: one streak step per round, not one per
    // request (six failures at once would jump to a 32 s backoff and outlast a short outage).
    if (v.action !== 'pause' && sentAt >= d.failedAt) d.fails++, (d.failedAt = now);
    const at = v.action === 'pause' ? (d.throttled = Math.max(d.throttled, v.until)) : Math.max(v.at, now + backoff(d.fails, env.random));
    d.lim = pause(d.lim, at);
    const changed: QueueItem[] = [];
    for (const id of b.ids) {
      const it = d.items.get(id);
      if (it) changed.push({ ...it, attempts: it.attempts + (v.action === 'pause' ? 0 : 1), notBefore: at });
    }
    for (const it of changed) d.items.set(it.id, it);
    await save(changed);
  }

  return {
    stats,
    setCompany(company: string) {
      d.company = company;
      kick();
    },
    /** Durably add items (one transaction), then see them delivered. */
    async add(items: QueueItem[]) {
      await store.add(items);
      env.announce(d.company);
      if (!d.holding || d.stale) return kick();
      for (const it of items) d.items.set(it.id, it);
      d.replan = true;
      poke();
    },
    /** Resolves when the queue is empty or holds only items waiting on a retry. */
    flush: () =>
      new Promise<void>((resolve) => {
        if (!d.company) return resolve();
        d.idle.push(resolve);
        kick();
      }),
    /** The page is hiding: send what we can now, with keepalive, so it survives the unload. */
    leave() {
      d.leaving = d.replan = true;
      poke();
    },
    resume() {
      d.leaving = false;
    },
    kick,
    /** The network is back: what waits on a failure's backoff may go now (a 429's pause still holds). */
    online() {
      d.fails = 0;
      d.lim.pausedUntil = d.throttled;
      for (const it of d.items.values()) if (it.notBefore > d.throttled) d.items.set(it.id, { ...it, notBefore: 0 });
      // Holding the lock, the mirror is the queue (kick would re-read the stored backoffs).
      if (d.holding) (d.replan = true), poke();
      else kick();
    },
    /** Another tab queued items: re-read storage. */
    remote() {
      d.stale = true;
      d.holding ? poke() : kick();
    },
  };
}
