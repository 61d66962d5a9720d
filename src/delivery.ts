// The delivery loop. One tab of an origin runs it per company at a time (a Web Lock), reading the
// shared IndexedDB queue, so every tab's updates go out through one limiter. It keeps a mirror of
// the queue in memory while it holds the lock and re-reads storage only when another tab wrote.
import type { QueueItem } from './core/types';
import type { Config } from './tracker';
import type { Store } from './store/store';
import type { SendResult } from './browser/transport';
import { buildRequest } from './core/body';
import { createLimiter, nextStart, planStarts, recordStart, pause, applyHint, type LimiterState } from './core/limiter';
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

/** What `onError` receives when the tracker gives up on an update. */
export interface Drop {
  reason: 'client' | 'gone' | 'attempts' | 'ttl' | 'cap';
  status?: number;
  message: string;
  count: number;
}

/** Requests in flight at once: Chromium opens at most 6 HTTP/1.1 connections per host, and a request
 *  queued inside the browser would start (and reach the server) later than the limiter thinks. */
const MAX_IN_FLIGHT = 6;
/** Chromium refuses keepalive requests once their bodies in flight pass 64 KiB in total. */
const KEEPALIVE_BYTES = 60_000;
/** Queue caps: beyond these the oldest updates are evicted (with a warning). */
const MAX_ITEMS = 20_000;
const MAX_BYTES = 8 * 1024 * 1024;
/** A reserved start slot is used within this long of its planned time, or planned again. A tab that
 *  takes over assumes each reservation of a vanished flusher was spent as late as this allows. */
const RESERVE_SLACK = 1_000;
const RESERVE_CHUNK = 50;
const TIMEOUT = 10_000;

interface RateRecord { starts: number[]; reserved: number[]; pausedUntil: number }

/** The delivery side of a tracker: add items, flush, react to the page's lifecycle. */
export function createDelivery(env: DeliveryEnv, cfg: Config) {
  const stats = { queued: 0, sent: 0, retried: 0, merged: 0, dropped: { invalid: 0, client: 0, gone: 0, attempts: 0, ttl: 0, cap: 0 } };
  const d = {
    company: '',
    /** A lock request is pending or held by this tab. */
    active: false,
    /** The loop holds the lock and has a mirror of the queue. */
    holding: false,
    /** Another tab wrote: re-read storage before planning. */
    stale: true,
    leaving: false,
    items: new Map<string, QueueItem>(),
    plan: [] as Batch[],
    replan: true,
    busy: new Set<string>(),
    inFlight: 0,
    keepaliveBytes: 0,
    fails: 0,
    lim: createLimiter() as LimiterState,
    reserved: [] as number[],
    wake: undefined as undefined | (() => void),
    idle: [] as Array<() => void>,
  };
  const debug = (...a: unknown[]) => cfg.debug && env.log.info('[klaviyo]', ...a);

  function poke() {
    d.wake?.();
  }

  /** Make sure a flusher runs: this tab takes the lock (waiting its turn behind other tabs). */
  function kick() {
    if (!d.company) return;
    d.stale = d.replan = true;
    if (d.active) return poke();
    d.active = true;
    env
      .lock('klaviyo-snippet:' + d.company, loop)
      .catch((e) => debug('delivery stopped', e))
      .finally(() => {
        d.active = d.holding = false;
        // Items added between the loop's last look and the lock's release start a new round.
        if (d.stale) kick();
      });
  }

  async function loadRate(now: number) {
    // The stored record is the latest history: every flusher writes it before each chunk of starts
    // and when it stops. Reservations of a flusher that vanished may have been spent up to
    // RESERVE_SLACK after their planned time: count them then (never later than now), which keeps
    // every window conservative.
    const rec = await env.store.getMeta<RateRecord>(d.company, 'rate');
    if (!rec) return;
    const starts = rec.starts.concat(rec.reserved.map((t) => Math.min(t + RESERVE_SLACK, now))).sort((a, b) => a - b);
    d.lim = { starts, pausedUntil: Math.max(d.lim.pausedUntil, rec.pausedUntil) };
  }

  function saveRate(reserved: number[]) {
    return env.store.setMeta(d.company, 'rate', { starts: d.lim.starts, reserved, pausedUntil: d.lim.pausedUntil });
  }

  async function read() {
    d.stale = false;
    const list = await env.store.list(d.company);
    d.items = new Map(list.map((i) => [i.id, i]));
    d.replan = true;
    // Queue caps: evict the oldest first (the list is oldest first).
    let bytes = 0;
    const over: QueueItem[] = [];
    for (let i = list.length - 1; i >= 0; i--) {
      const it = list[i]!;
      bytes += JSON.stringify(it.profile).length;
      if (list.length - i > MAX_ITEMS || bytes > MAX_BYTES) over.push(it);
    }
    if (over.length) await drop(over.map((i) => i.id), { reason: 'cap', message: `queue full: evicted the ${over.length} oldest updates`, count: over.length }, 'warn');
  }

  async function drop(ids: string[], e: Drop, level: 'error' | 'warn' = 'error') {
    for (const id of ids) d.items.delete(id);
    await env.store.remove(d.company, ids);
    stats.dropped[e.reason] += e.count;
    env.log[level](e.message.startsWith('[klaviyo]') ? e.message : '[klaviyo] ' + e.message);
    try {
      cfg.onError?.(e);
    } catch {
      // The host's hook must not stop delivery.
    }
  }

  async function loop() {
    d.holding = true;
    await loadRate(env.now());
    d.stale = true;
    for (;;) {
      if (d.stale) await read();
      const now = env.now();
      if (d.replan) {
        d.replan = false;
        const old: QueueItem[] = [];
        for (const it of d.items.values()) if (expired(it, now)) old.push(it);
        if (old.length) await drop(old.map((i) => i.id), { reason: 'ttl', message: `dropped ${old.length} updates older than the queue TTL`, count: old.length });
        d.plan = planBatches([...d.items.values()], now, d.busy);
      }
      let wait = Infinity;
      while (d.plan.length && d.inFlight < MAX_IN_FLIGHT) {
        const b = d.plan[0]!;
        const t = nextStart(d.lim, now);
        if (t > now) {
          wait = t;
          break;
        }
        if (!d.leaving && (!d.reserved.length || now > d.reserved[0]! + RESERVE_SLACK)) {
          // Write ahead: the next few start times are in storage before any of them is used, so a
          // tab that takes over after this one closes mid-burst stays inside every window.
          // (Not while the page is hiding: the unload will not wait for storage.)
          d.reserved = planStarts(d.lim, now, Math.min(RESERVE_CHUNK, d.plan.length));
          await saveRate(d.reserved);
          wait = now; // time moved on during the write: look again
          break;
        }
        d.plan.shift();
        d.reserved.shift();
        d.lim = recordStart(d.lim, now);
        start(b, now);
      }
      if (!d.items.size && !d.inFlight && !d.stale) break;
      if (!d.plan.length && !d.inFlight) {
        // Nothing can go now: only items waiting on a retry or a pause. `flush()` callers are done.
        for (const f of d.idle.splice(0)) f();
        let next = Infinity;
        for (const it of d.items.values()) next = Math.min(next, it.notBefore);
        // (At least a short pause: never spin if nothing was ready after all.)
        wait = Math.max(Math.min(wait, Math.max(next, d.lim.pausedUntil)), now + 20);
      }
      if (d.stale) continue;
      if (wait > now) await sleep(wait - now);
      // Plan again once the plan is used up: people skipped as busy, retries now due, new items.
      if (!d.plan.length) d.replan = true;
    }
    // From here new local items must start a new round (kick) instead of joining the mirror.
    d.holding = false;
    d.reserved = [];
    await saveRate([]);
    for (const f of d.idle.splice(0)) f();
  }

  function sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const h = ms < Infinity ? env.setTimeout(() => done(), Math.max(0, ms)) : undefined;
      const done = () => {
        if (h !== undefined) env.clearTimeout(h);
        d.wake = undefined;
        resolve();
      };
      d.wake = done;
    });
  }

  function start(b: Batch, now: number) {
    const newest = d.items.get(b.ids[b.ids.length - 1]!);
    const req = buildRequest(b.profile, { apiHost: cfg.apiHost, company: d.company, revision: newest?.revision ?? cfg.revision });
    const keepalive = d.leaving && d.keepaliveBytes + req.body.length <= KEEPALIVE_BYTES;
    if (keepalive) d.keepaliveBytes += req.body.length;
    d.inFlight++;
    d.busy.add(b.key);
    debug('send', b.ids.length, 'update(s)', req.body);
    env
      .send(req, { keepalive, timeoutMs: TIMEOUT })
      .then((res) => settle(b, res, now))
      .catch((e) => debug('settle failed', e))
      .finally(() => {
        if (keepalive) d.keepaliveBytes -= req.body.length;
        d.inFlight--;
        d.busy.delete(b.key);
        poke();
      });
  }

  async function settle(b: Batch, res: SendResult, sentAt: number) {
    const now = env.now();
    const first = d.items.get(b.ids[0]!);
    d.lim = applyHint(d.lim, now, res.rateRemaining, res.rateReset);
    const v = decide(
      { status: res.status, retryAfter: res.retryAfter, detail: res.detail, revision: first?.revision ?? cfg.revision },
      { attempts: b.attempts + 1, createdAt: b.createdAt },
      now,
      env.random,
    );
    debug('answer', res.status, v.action, now - sentAt, 'ms');
    if (v.action === 'done') {
      d.fails = 0;
      stats.sent++;
      stats.merged += b.ids.length - 1;
      for (const id of b.ids) d.items.delete(id);
      await env.store.remove(d.company, b.ids);
      return;
    }
    if (v.action === 'drop') return drop(b.ids, { reason: v.reason, status: res.status, message: v.message, count: b.ids.length });
    let at: number;
    if (v.action === 'pause') {
      // 429: everyone waits; being throttled is not the item's fault, so attempts stay.
      at = v.until;
      stats.retried++;
      d.lim = pause(d.lim, at);
    } else {
      // 5xx, timeouts, network errors: the server (or the path to it) is failing for everyone,
      // so back off globally by the failure streak, not per item; that bounds requests in an outage.
      stats.retried++;
      d.fails++;
      at = Math.max(v.at, now + backoff(d.fails, env.random));
      d.lim = pause(d.lim, at);
    }
    const changed: QueueItem[] = [];
    for (const id of b.ids) {
      const it = d.items.get(id);
      if (!it) continue;
      const next = { ...it, attempts: v.action === 'pause' ? it.attempts : it.attempts + 1, notBefore: at };
      d.items.set(id, next);
      changed.push(next);
    }
    await env.store.put(changed);
  }

  return {
    stats,
    setCompany(company: string) {
      d.company = company;
      kick();
    },
    /** Durably add items (one transaction), then see them delivered. */
    async add(items: QueueItem[]) {
      await env.store.add(items);
      if (items[0]?.company !== d.company) return;
      env.announce(d.company);
      if (d.holding && !d.stale) {
        for (const it of items) d.items.set(it.id, it);
        d.replan = true;
        poke();
      } else kick();
    },
    /** Resolves when the queue is empty or holds only items waiting on a retry. */
    flush(): Promise<void> {
      if (!d.company) return Promise.resolve();
      return new Promise<void>((resolve) => {
        d.idle.push(resolve);
        kick();
      });
    },
    /** The page is hiding: send what we can now, with keepalive, so it survives the unload. */
    leave() {
      d.leaving = true;
      d.replan = true;
      poke();
    },
    resume() {
      d.leaving = false;
    },
    kick,
    remote() {
      d.stale = true;
      if (d.holding) poke();
      else kick();
    },
  };
}
