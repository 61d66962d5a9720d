// The delivery loop. One tab of an origin runs it per company at a time (a Web Lock), reading the
// shared IndexedDB queue, so every tab's updates go out through one limiter. It keeps a mirror of
// the queue in memory while it holds the lock and re-reads storage only when another tab wrote.
import type { Answer as SendResult, Config, QueueItem } from './core/types';
import type { Store } from './store/store';
import type { Journal } from './store/journal';
import { buildRequest } from './core/body';
import { createLimiter, nextStart, planStarts, recordStart, recordAnswer, pause, applyHint, mergeStates, MARGIN_MS } from './core/limiter';
import { backoff, decide, expired } from './core/retry';
import { planBatches, type Batch } from './core/merge';

export interface DeliveryEnv {
  now(): number;
  random(): number;
  store: Store;
  /** Where updates whose write is still under way go when the page hides (localStorage); none: keepalive only. */
  journal?: Journal;
  send(req: { url: string; headers: Record<string, string>; body: string }, opts: { keepalive: boolean; timeoutMs: number }): Promise<SendResult>;
  /** Exclusive across this origin's tabs (Web Locks; without them only within this tab, see lock.ts). */
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Tell other tabs that this one queued items for a company. */
  announce(company: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  log: Pick<Console, 'error' | 'warn' | 'info'>;
}

/** What `onError` receives when the tracker gives up on updates. */
export interface Drop {
  reason: 'client' | 'attempts' | 'ttl' | 'cap';
  status?: number;
  message: string;
  count: number;
}

/** Requests in flight at once. Over HTTP/1.1 Chromium opens at most 6 connections per host; a few
 *  more requests waiting in its socket pool keep those connections busy while JavaScript turns each
 *  answer around (measured here: 237 requests/s at 6, 468 at 12, 354 at 24). A request waiting in the pool
 *  arrives later, which the limiter allows for: it counts every request until its answer. */
export const MAX_IN_FLIGHT = 12;
/** Chromium refuses keepalive requests once their bodies in flight pass 64 KiB in total: the UTF-8 bytes
 *  of keepalive bodies in flight, and of one merged batch planned while hidden, stay under this. */
const KEEPALIVE_BYTES = 60_000;
/** Queue caps: beyond these the oldest updates are evicted, with a warning. */
const MAX_ITEMS = 20_000;
const MAX_BYTES = 8e6;
/** A reserved start slot is used within this long of its planned time, or planned again. A tab that
 *  takes over assumes each reservation of a vanished flusher was spent as late as this allows, and reached
 *  the server within the limiter's margin after that (its answer, the usual bound, died with the tab). */
const SLACK = 1_000;
/** Start times reserved per storage write: one write per 50 requests at most. */
const RESERVE = 50;
/** While answers keep coming, a delete waits this long for the next ones to join it: a 1500-request burst took
 *  427 transactions of 3-4 ids each, which cost the page ~0.35 ms of main thread apiece and the browser more. */
const REMOVE_EVERY = 100;
/** Requests planned at a time (about 3 s of sending at full rate): planning a 10 000-item queue at once was one
 *  main-thread task of ~120 ms. */
const PLAN = 1000;

/** Persisted limiter history: the requests' arrival bounds, plus start times reserved and maybe not used yet. */
interface RateRecord { bounds: number[]; reserved: number[]; pausedUntil: number }

/** The delivery side of a tracker: add items, flush, react to the page's lifecycle. */
export function createDelivery(env: DeliveryEnv, cfg: Config) {
  const stats = { queued: 0, sent: 0, retried: 0, merged: 0, dropped: { invalid: 0, client: 0, attempts: 0, ttl: 0, cap: 0 } };
  const { store, log } = env;
  // The loop's state, all here. Plain locals rather than one object's fields: the minifier renames
  // locals, not properties, and this file is the largest part of the bundle.
  let company = '';
  /** The company of the running round: its lock, its storage keys. `account` may switch `company`
   *  meanwhile; the round then sends nothing more, lets its requests settle, and ends. */
  let round = '';
  /** A lock request of this tab is pending or held. */
  let active = false;
  /** This tab runs the loop, and `items` mirrors the stored queue. */
  let holding = false;
  /** Storage changed behind the mirror (another tab, a new round): read it again. */
  let stale = true;
  let replan = true;
  /** The page is hidden (maybe about to unload): keepalive requests, storage writes not awaited. */
  let leaving = false;
  let items = new Map<string, QueueItem>();
  let plan: Batch[] = [];
  const busy = new Set<string>();
  /** Ids in a request that has not been answered yet (the TTL spares them). */
  const flying = new Set<string>();
  let inFlight = 0;
  let keepaliveBytes = 0;
  /** Failure streak, and when it last grew: requests sent before then fail for the same reason. */
  let fails = 0;
  let failedAt = 0;
  /** End of the server's 429 pause: coming online keeps it, and drops only a failure's backoff. */
  let throttled = 0;
  /** Delivered or dropped ids whose delete may not be in storage yet: a read must not bring them back. */
  const removing = new Set<string>();
  /** Batches of the tracker whose IndexedDB write is under way, by their first id: neither durable nor in the
   *  mirror yet. A page hiding meanwhile keeps them in the journal (`kept`) and sends them at once (rescue). */
  const unsaved = new Map<string, QueueItem[]>();
  const kept = new Set<string>();
  /** Revisions the server answered 410 for: their items wait for a page configuring another (`revised`). */
  const retired = new Set<string>();
  /** The revision an item goes out in: its own, or the page's where its own is retired. */
  const revisionOf = (it?: QueueItem) => (it && !retired.has(it.revision) ? it.revision : cfg.revision);
  const sendable = (it: QueueItem) => !retired.has(revisionOf(it));
  /** The mirror's items that may go in some revision now. */
  const queue = () => (retired.size ? [...items.values()].filter(sendable) : [...items.values()]);
  /** Measured JSON size of each item seen (items never change their profile). */
  const sizes = new Map<string, number>();
  /** Ids to delete, by company (a request sent while leaving may be for a company with no round here). */
  const doomed = new Map<string, string[]>();
  let removal: Promise<void> | undefined;
  /** Ends a delete's wait for company (the page is hiding). */
  let hurry: undefined | (() => void);
  let lim = createLimiter();
  let reserved: number[] = [];
  /** Reservations of this round are in storage and must be settled when the round ends. */
  let ahead = false;
  let wake: undefined | (() => void);
  const idle: Array<() => void> = [];

  const poke = () => wake?.();
  const settled = () => idle.splice(0).forEach((f) => f());
  /** Store the history with these start times reserved. */
  const writeRate = (r: number[]) => store.setMeta(round, 'rate', { bounds: lim.bounds, reserved: r, pausedUntil: lim.pausedUntil });
  /** Store and use these reservations at once (a write not awaited while hiding; the history at the end). Always a
   *  new array: a top-up under way then adds its slots to the one it began with, which nothing reads any more. */
  const saveRate = (r: number[]) => writeRate((reserved = r));
  let topping: Promise<void> | undefined;
  /** Store the next n start times behind the ones held, and add them once stored. Run in the background while
   *  slots remain, a burst never waits on a write (awaiting each one cost about 5-15 ms of idle sending per 50
   *  requests); with none left the loop awaits it. */
  function topUp(now: number, n: number) {
    const held = reserved;
    const more = planStarts({ ...lim, bounds: lim.bounds.concat(held).sort((a, b) => a - b) }, now, n);
    return (topping = writeRate(held.concat(more))
      .then(() => void held.push(...more))
      .finally(() => (topping = undefined)));
  }

  /** Make sure a flusher runs: this tab takes the lock (waiting its turn behind other tabs). */
  function kick() {
    if (!company) return;
    stale = replan = true;
    if (active) return poke();
    active = true;
    const c = company;
    env.lock('klaviyo-snippet:' + c, () => loop(c)).then(
      () => {
        active = holding = false;
        // Items added between the loop's last look and the lock's release start a new round.
        if (stale) kick();
      },
      () => {
        // No lock (a document being torn down; an opaque origin falls back in withLock) or a failing round: try
        // again later, never at once (that would spin the page in microtasks). flush() callers are not kept waiting.
        active = holding = false;
        settled();
        env.setTimeout(kick, 5_000);
      },
    );
  }

  /** Take ids out of the mirror and storage. Deletes coalesce: while one transaction runs or waits for the answers
   *  in flight, the ids of later answers join the next, so a burst costs a few transactions, not one per request.
   *  (A page closed meanwhile sends those again on the next visit: an identify is an upsert, so late is harmless.)
   *  `removing` keeps a read that races a delete (flush, another tab) from bringing a delivered
   *  item back into the mirror and sending it twice. */
  function forget(ids: string[], c = round): Promise<void> {
    for (const id of ids) items.delete(id), sizes.delete(id), removing.add(id);
    doomed.set(c, (doomed.get(c) ?? []).concat(ids));
    // Sent while leaving before their write was confirmed: out of the journal too, or the next page sends them again.
    for (const [k, list] of unsaved) {
      const rest = list.filter((i) => !removing.has(i.id));
      if (rest.length < list.length) unsaved.set(k, rest), kept.has(k) && env.journal?.save(k, rest);
    }
    return (removal ??= (async () => {
      try {
        while (doomed.size) {
          if (inFlight && !leaving) await new Promise<void>((r) => env.setTimeout((hurry = r), REMOVE_EVERY));
          const [co, list] = doomed.entries().next().value!;
          doomed.delete(co);
          try {
            await store.remove(co, list);
          } finally {
            for (const id of list) removing.delete(id);
          }
        }
      } finally {
        removal = undefined; // in the same step as the empty check: no id can slip between
      }
    })());
  }

  /** Drop these updates, and tell the host how many. */
  async function drop(ids: string[], e: Omit<Drop, 'count'>, c?: string) {
    await forget(ids, c);
    stats.dropped[e.reason] += ids.length;
    log[e.reason == 'cap' ? 'warn' : 'error'](e.message);
    try {
      cfg.onError?.({ ...e, count: ids.length });
    } catch {
      // The host's hook must not stop delivery.
    }
  }

  const dropOld = (ids: string[], reason: 'ttl' | 'cap') =>
    ids.length && drop(ids, { reason, message: `[klaviyo] dropped ${ids.length} updates (${reason == 'ttl' ? 'older than 6 days' : 'queue full'})` });

  async function read() {
    stale = false;
    replan = true;
    const list = (await store.list(round)).filter((i) => !removing.has(i.id));
    items = new Map(list.map((i) => [i.id, i]));
    // Caps: keep the newest MAX_ITEMS and MAX_BYTES (list is oldest first), evict the rest. Each item's
    // size is measured once per page (another tab's writes make the holder read the whole queue again).
    let bytes = 0;
    let keep = list.length;
    const size = (it: QueueItem) => sizes.get(it.id) ?? sizes.set(it.id, JSON.stringify(it.profile).length).get(it.id)!;
    while (keep && list.length - keep < MAX_ITEMS && (bytes += size(list[keep - 1]!)) <= MAX_BYTES) keep--;
    // (As with the TTL in loop(): never one in flight.)
    await dropOld(list.slice(0, keep).map((i) => i.id).filter((id) => !flying.has(id)), 'cap');
  }

  /** Take a start slot for a request now (false: none is reserved, and the caller must wait for a write).
   *  Start times are in storage before they are used, so a tab that takes over after this one closes mid-burst
   *  stays inside every window. Reservations too old to use go. While the page is hidden a new reservation is
   *  written without waiting: an unload would not wait for it, and keepalive requests must leave inside the
   *  pagehide task. */
  function slot(now: number, planned: number): boolean {
    while (now > reserved[0]! + SLACK) reserved.shift();
    ahead = true;
    if (!reserved.length) {
      if (!leaving) return false;
      saveRate(planStarts(lim, now, Math.min(RESERVE, planned)));
    }
    reserved.shift();
    lim = recordStart(lim, now);
    return true;
  }

  /** The page is hiding: the updates whose write is still under way go into the journal (the next page of the site
   *  replays it) and out now, with keepalive, as far as the limiter and the keepalive budget allow. The page may
   *  be gone before the write commits, or before any later step of the loop. */
  function rescue() {
    if (!unsaved.size) return;
    // What is sent here may be in the loop's plan: it plans again before sending anything more.
    replan = true;
    for (const [k, list] of unsaved) if (!kept.has(k) && env.journal?.save(k, list)) kept.add(k);
    const late = [...unsaved.values()].flat().filter((i) => i.company == company && !flying.has(i.id));
    // Holding this company's round, the mirror is its queue: a person's queued updates and late ones go as one
    // request (the last identify wins). Otherwise this tab has no queue to merge with (another tab's round, or
    // none running): its late updates go on their own, counted in this tab's own limiter.
    const mine = holding && round == company;
    const all = (mine ? [...items.values(), ...late].sort((a, b) => (a.id < b.id ? -1 : 1)) : late).filter(sendable);
    const by = new Map(all.map((i) => [i.id, i]));
    const now = env.now();
    for (const b of planBatches(all, now, busy, KEEPALIVE_BYTES)) {
      if (inFlight >= MAX_IN_FLIGHT || nextStart(lim, now) > now) break;
      // Only with keepalive: a plain request would die with the page (what does not fit waits in the journal).
      if (!send(b, now, revisionOf(by.get(b.ids[b.ids.length - 1]!)), company, true)) continue;
      if (mine) slot(now, 1);
      else lim = recordStart(lim, now);
    }
  }

  async function loop(c: string) {
    // Another account's history, pause and failure streak are not this one's (its own record was written when its
    // round ended): a 429 for one account must not hold another back, nor its requests fill the other's windows.
    if (c != round) (lim = createLimiter()), (throttled = fails = failedAt = 0);
    round = c;
    holding = true;
    const now0 = env.now();
    // The stored record is the latest history: every flusher writes it before each chunk of starts and
    // when it stops. A vanished flusher's reservations count as spent SLACK after their planned time
    // (never later than now), arriving within the margin; its requests in flight count as such.
    // Merged with this tab's own history (mergeStates counts a bound once when both hold it), so
    // requests this tab made without writing them (while hidden) are never forgotten.
    const rec = await store.getMeta<RateRecord>(round, 'rate');
    if (rec?.bounds)
      lim = mergeStates(lim, {
        bounds: rec.bounds.concat((rec.reserved ?? []).map((t) => Math.min(t + SLACK, now0) + MARGIN_MS)).sort((a, b) => a - b),
        pausedUntil: +rec.pausedUntil || 0,
      });
    throttled = Math.max(throttled, lim.pausedUntil);
    stale = true;
    for (;;) {
      // `account` switched companies: send nothing more, let the requests in flight settle, end the round.
      const over = company != round;
      if (stale && !over) await read();
      const now = env.now();
      if (over) plan = [];
      else if (replan) {
        replan = false;
        // (Not one in flight: its answer decides, and it must not count as both dropped and sent.)
        await dropOld([...items.values()].filter((it) => expired(it, now) && !flying.has(it.id)).map((i) => i.id), 'ttl');
        plan = planBatches(queue(), now, busy, leaving ? KEEPALIVE_BYTES : undefined, PLAN);
      }
      let wait = Infinity;
      // While the server or the network is failing, one request at a time probes it.
      while (plan.length && inFlight < (fails ? 1 : MAX_IN_FLIGHT)) {
        const t = nextStart(lim, now);
        if (t > now) {
          wait = t;
          break;
        }
        if (!slot(now, plan.length)) {
          // Raced with a wake: a page hiding meanwhile (leave) sends at once, without waiting for the write.
          await Promise.race([topping || topUp(now, Math.min(RESERVE, plan.length)), new Promise((r) => (wake = r as () => void))]);
          wake = undefined;
          wait = now; // time moved on during the write: look again
          break;
        }
        const b = plan.shift()!;
        send(b, now, revisionOf(items.get(b.ids[b.ids.length - 1]!)));
        if (!topping && !leaving && reserved.length < RESERVE && plan.length > reserved.length) topUp(now, RESERVE).catch(() => {}); // a failed write adds nothing
      }
      // (Items held for a retired revision do not keep the round going: a new revision starts the next one.)
      if (over ? !inFlight : !(retired.size ? queue().length : items.size) && !inFlight && !stale) break;
      if (!inFlight) {
        // The earliest time an item may go: its retry is due and the pause is over.
        let next = Infinity;
        for (const it of queue()) next = Math.min(next, it.notBefore);
        next = Math.max(next, lim.pausedUntil);
        // Nothing can go now, only items waiting on a retry or a pause: `flush()` callers are done. (An
        // empty plan is not enough: items held back this round, say two values for one identifier, go in the next.)
        if (next > now) settled();
        if (!plan.length) wait = Math.max(Math.min(wait, next), now + 20); // never spin
      }
      if (stale && !over) continue;
      if (wait > now) {
        await new Promise<void>((resolve) => {
          const h = wait < Infinity && env.setTimeout(() => wake?.(), wait - now);
          wake = () => {
            env.clearTimeout(h);
            wake = undefined;
            resolve();
          };
        });
      }
      // Plan again once the plan is used up: people skipped as busy, retries now due, new items.
      if (!plan.length) replan = true;
    }
    // From here new local items start a new round (kick) instead of joining the mirror.
    holding = false;
    await removal;
    // Turn this round's reservations into the starts they became (a page view that sent nothing writes nothing).
    if (ahead) (ahead = false), await saveRate([]);
    // Items that arrived while the round wound down start the next one: flush() waits for it.
    if (!stale) settled();
  }

  /** Send a batch of company `c` built for `revision`; with `onlyKeepalive`, not at all (false) unless it fits the
   *  keepalive budget. */
  function send(b: Batch, sentAt: number, revision: string, c = round, onlyKeepalive?: boolean): boolean {
    const req = buildRequest(b.profile, { apiHost: cfg.apiHost, company: c, revision });
    // Chromium's keepalive cap counts bytes: UTF-8, measured only when it matters (the page is hiding).
    const size = leaving ? new TextEncoder().encode(req.body).length : 0;
    const keepalive = leaving && keepaliveBytes + size <= KEEPALIVE_BYTES;
    if (onlyKeepalive && !keepalive) return false;
    if (keepalive) keepaliveBytes += size;
    inFlight++;
    for (const k of b.keys) busy.add(k);
    for (const id of b.ids) flying.add(id);
    if (cfg.debug) log.info('[klaviyo] send', req.body);
    env
      .send(req, { keepalive, timeoutMs: 10_000 })
      .then(async (res) => {
        // The slot and the person are free as soon as the answer is in: the verdict below updates the mirror
        // before its first await, and storage catches up on its own (deletes coalesce).
        const now = env.now();
        if (keepalive) keepaliveBytes -= size;
        // It reached the server by now, if at all (without an answer, within the margin).
        lim = recordAnswer(lim, sentAt, now, res.status > 0);
        inFlight--;
        for (const k of b.keys) busy.delete(k);
        for (const id of b.ids) flying.delete(id);
        poke();
        // Settle the batch by the answer's verdict.
        lim = applyHint(lim, now, res.rateRemaining, res.rateReset);
        const v = decide({ ...res, revision }, { ...b, attempts: b.attempts + 1 }, now, env.random);
        if (cfg.debug) log.info('[klaviyo] answer', res.status);
        if (v.action == 'done') {
          fails = 0;
          stats.sent++;
          stats.merged += b.ids.length - 1;
          return forget(b.ids, c);
        }
        if (v.action == 'retired') {
          // Kept as they are (their fields are the same in every revision's shape); sent again once the page
          // configures a revision that is not retired. One console error per revision.
          if (!retired.has(revision)) retired.add(revision), log.error(v.message);
          return;
        }
        if (v.action == 'drop') {
          if (v.reason != 'client' || !b.ids[1]) return drop(b.ids, { reason: v.reason, status: res.status, message: v.message }, c);
          // A 4xx for a merged request: which update the server refused is unknown, so each goes again on its own
          // and only one refused alone is dropped (DESIGN §6: "drop that item").
          replan = true;
          return update(b.ids, (it) => ({ ...it, solo: true }));
        }
        stats.retried++;
        // 429: everyone waits until Retry-After; being throttled is not the item's fault, so attempts stay.
        // 5xx, timeouts, network errors: the server (or the path to it) fails for everyone, so back off
        // globally by the failure streak as well as per item: that bounds the requests of an outage.
        // The other requests of a burst fail for the same reason: one streak step per round, not one per
        // request (the 12 failures of a full pipeline would jump the backoff 12 steps and outlast a short outage).
        const paused = v.action == 'pause';
        if (!paused && sentAt >= failedAt) fails++, (failedAt = now);
        const at = paused ? (throttled = Math.max(throttled, v.until)) : Math.max(v.at, now + backoff(fails, env.random));
        const longer = at > lim.pausedUntil;
        lim = pause(lim, at);
        // Issued first: the mirror already lets these items go again, and a delete after a quick resend must follow
        // this write, not be undone by it.
        const put = update(b.ids, (it) => ({ ...it, attempts: it.attempts + (paused ? 0 : 1), notBefore: at }));
        // A tab that takes over must see the server's pause too, not only the starts: written once per pause (the
        // other 429s of a burst carry the same one), and without dropping a top-up under way.
        if (paused && longer) await writeRate(reserved);
        await put;
      })
      // `send` never rejects; settling can (storage failing): the items stay queued, and everyone waits a
      // backoff (never an immediate resend loop).
      .catch(() => (lim = pause(lim, env.now() + backoff(++fails, env.random))));
    return true;
  }

  /** Change the items of these ids still in the mirror, there at once and in storage (the write is returned). */
  function update(ids: string[], change: (it: QueueItem) => QueueItem) {
    const changed: QueueItem[] = [];
    for (const id of ids) {
      const it = items.get(id);
      if (it) items.set(id, changed[changed.push(change(it)) - 1]!);
    }
    return store.put(changed);
  }

  // Put back, durably, what earlier pages kept in the journal (they never saw their write confirmed), and deliver it.
  (async () => {
    for (const [k, list] of env.journal?.entries() ?? []) {
      await store.add(list);
      env.journal!.save(k, []);
      const c = list[0]!.company;
      env.announce(c);
      if (c == company) (stale = true), holding ? poke() : kick();
    }
  })().catch(() => {}); // (a store that fails falls back to memory: no rejection is expected)

  return {
    stats,
    setCompany(c: string) {
      company = c;
      kick();
    },
    /** Durably add items (one transaction), then see them delivered. */
    async add(list: QueueItem[]) {
      // (One company per call: the tracker closes its batch when the account changes.)
      const c = list[0]!.company;
      const k = list[0]!.id;
      unsaved.set(k, list);
      // Hidden already (a pagehide handler identifying, say): saved and sent at once, as if it had come earlier.
      if (leaving) rescue();
      try {
        await store.add(list);
      } finally {
        // (Less what was delivered meanwhile, sent while the page was hidden: forget() took those out.)
        list = unsaved.get(k)!;
        unsaved.delete(k);
      }
      if (kept.delete(k)) env.journal?.save(k, []);
      env.announce(c);
      // Items of an account the page has left since (a switch while the write was under way) wait in storage for
      // a page of that account; in the round of the new one they would go out under its company id.
      if (c != company) return;
      if (!holding || stale || round != c) return kick();
      for (const it of list) items.set(it.id, it);
      replan = true;
      poke();
    },

    /** Resolves when the queue is empty or holds only items waiting on a retry. */
    flush: () =>
      new Promise<void>((resolve) => {
        if (!company) return resolve();
        idle.push(resolve);
        kick();
        // Another tab may hold the lock for long (its items on a retry): meanwhile look at storage every
        // half second, and stop waiting once nothing stored could go now (each item waits on a retry,
        // or the stored 429 pause holds).
        const look = async () => {
          if (!idle.includes(resolve)) return;
          if (!holding) {
            const now = env.now();
            const paused = ((await store.getMeta<RateRecord>(company, 'rate'))?.pausedUntil ?? 0) > now;
            if (paused || !(await store.list(company)).some((i) => i.notBefore <= now)) {
              idle.splice(idle.indexOf(resolve), 1);
              return resolve();
            }
          }
          env.setTimeout(look, 500);
        };
        env.setTimeout(look, 500);
      }),
    /** The page is hiding: send what we can now, with keepalive, so it survives the unload. */
    leave() {
      leaving = replan = true;
      hurry?.();
      rescue();
      poke();
    },
    resume() {
      leaving = false;
    },
    /** The page configured another revision: updates held for a retired one may go in it. */
    revised() {
      if (retired.size) holding ? ((replan = true), poke()) : kick();
    },
    /** The network is back: what waits on a failure's backoff may go now (a 429's pause still holds). */
    online() {
      fails = 0;
      lim.pausedUntil = throttled;
      for (const it of items.values()) if (it.notBefore > throttled) items.set(it.id, { ...it, notBefore: 0 });
      // Holding the lock, the mirror is the queue (kick would re-read the stored backoffs).
      if (holding) (replan = true), poke();
      else kick();
    },
    /** Another tab queued items: re-read storage. */
    remote() {
      stale = true;
      holding ? poke() : kick();
    },
  };
}
