// One visitor's tracker in simulated time: the delivery round of src/delivery/delivery.ts, run over the same pure
// functions (nextStep, planBatches, nextStart/recordStart/recordAnswer/applyHint/pause, decide, afterFailure), with
// the browser's effects replaced by the simulation's: storage is instant, a request is an event to the server model,
// a sleep is a timer event. Each function below names the one it mirrors; what differs is said where it differs.
//
// Modelled, not run: IndexedDB (writes and reads are instant and never fail, so `read` only marks the mirror fresh
// and the reservations of delivery/reservations.ts are always in storage: `slots` is 1 and `reserve` never comes),
// Web Locks and other tabs (one tab per visitor), body building and keepalive budgets (no page hides with requests
// in flight except in the leaving model, where its answers are simply lost with the page).
import { nextStep, type RoundView } from '../../src/core/round';
import { calm, type Streak } from '../../src/core/streak';
import { planBatches, type Batch } from '../../src/core/merge';
import { decide, expired } from '../../src/core/retry';
import { applyHint, nextStart, pause, recordAnswer, recordStart, type LimiterState } from '../../src/core/limiter';
import { createConcurrency, limit, onAnswer, onStart, type Concurrency } from '../../src/core/concurrency';
import type { QueueItem } from '../../src/core/types';

/** delivery.ts's PLAN (not exported there): requests planned at a time. */
const PLAN = 1000;
const REVISION = '2025-01-15';

/** The one policy function the compared policies replace: what a failed answer does to the streak and the pause.
 *  The adopted one is src/core/streak.ts's afterFailure itself. */
export type AfterFailure = (s: Streak, v: { action: 'retry'; at: number } | { action: 'pause'; until: number }, sentAt: number, now: number, random: () => number) => number;

/** One visitor: the parts of DeliveryState (src/delivery/state.ts) the round reads, plus the page's clock. */
export interface Visitor {
  id: number;
  /** Local clock = simulated time + off (ms): the visitor's own Date.now(). */
  off: number;
  random: () => number;
  items: Map<string, QueueItem>;
  plan: Batch[];
  /** Kept in storage across page views (the stored limiter record: history and pause). */
  lim: LimiterState;
  streak: Streak;
  inFlight: number;
  /** The in-flight window (core/concurrency.ts), as flights.ts keeps it. */
  concurrency: Concurrency;
  busy: Set<string>;
  flying: Set<string>;
  stale: boolean;
  replan: boolean;
  /** A round runs (DeliveryState.holding_). */
  holding: boolean;
  /** The round sleeps (DeliveryState.wake_ is set); `timer` invalidates an older sleep's timer. */
  sleeping: boolean;
  timer: number;
  /** The page is open; `page` counts page views (answers to a closed page are lost). */
  open: boolean;
  page: number;
  /** The tracker has had an answer from the server (before that it knows nothing of the account's load). */
  heard: boolean;
  /** The round of this page view has begun once (delivery.ts's `fresh`: a new page starts from a calm streak). */
  begun: boolean;
}

/** An answer as the transport reports it (src/browser/transport.ts SendResult): status, Retry-After as sent,
 *  RateLimit-Remaining / -Reset. */
export interface Reply {
  status: number;
  retryAfter: string | null;
  rateRemaining?: number;
  rateReset?: number;
}

/** What the tracker needs from the simulated world. */
export interface World {
  afterFailure: AfterFailure;
  /** Wake the visitor's round at local time `until` (token: v.timer). */
  timer(v: Visitor, until: number): void;
  /** Start a request now (local time sentAt). */
  request(v: Visitor, b: Batch, sentAt: number): void;
  /** Updates the tracker gave up on (TTL, attempts, client errors). */
  dropped(ids: string[]): void;
}

export const local = (v: Visitor, t: number) => t + v.off;

export function createVisitor(id: number, off: number, random: () => number): Visitor {
  return {
    id, off, random, items: new Map(), plan: [], lim: { bounds: [], pausedUntil: 0 }, streak: calm(),
    inFlight: 0, concurrency: createConcurrency(), busy: new Set(), flying: new Set(), stale: true, replan: true, holding: false, sleeping: false,
    timer: 0, open: false, page: 0, heard: false, begun: false,
  };
}

/** delivery.add: the item is durable at once (instant storage); a round running with a fresh mirror takes it in. */
export function add(w: World, v: Visitor, it: QueueItem, t: number) {
  v.items.set(it.id, it);
  if (!v.holding) return kick(w, v, t);
  v.replan = true;
  poke(w, v, t);
}

/** delivery.kick: make sure a round runs. (The lock is free at once: one tab.) */
export function kick(w: World, v: Visitor, t: number) {
  if (!v.open) return;
  v.stale = v.replan = true;
  if (v.holding) return poke(w, v, t);
  // delivery.round's preamble: a page's first round starts from a calm streak (d.round_ was ''); the stored
  // history and pause (loadRate) are the visitor's `lim`, kept across page views.
  if (!v.begun) v.streak = calm();
  v.begun = true;
  v.holding = true;
  v.streak.throttled = Math.max(v.streak.throttled, v.lim.pausedUntil);
  drive(w, v, t);
}

/** The round's sleep ends (d.wake_): the timer, an answer, new items. */
export function poke(w: World, v: Visitor, t: number) {
  if (!v.sleeping) return;
  v.sleeping = false;
  v.timer++;
  // delivery.round after sleep: plan again once the plan is used up.
  if (!v.plan.length) v.replan = true;
  drive(w, v, t);
}

/** delivery.view: the round's state for nextStep, the costly fields computed only when read. (One object per visitor,
 *  its `now` set before each step: a view per step is most of a large run's garbage.) */
class View implements RoundView {
  now = 0;
  over = false;
  leaving = false;
  slots = 1;
  constructor(private v: Visitor) {}
  get cap() {
    return limit(this.v.concurrency);
  }
  get stale() {
    return this.v.stale;
  }
  get replan() {
    return this.v.replan;
  }
  get planned() {
    return this.v.plan.length;
  }
  get inFlight() {
    return this.v.inFlight;
  }
  get fails() {
    return this.v.streak.fails;
  }
  get queued() {
    return this.v.items.size;
  }
  get start() {
    return nextStart(this.v.lim, this.now);
  }
  get due() {
    let next = Infinity;
    for (const it of this.v.items.values()) next = Math.min(next, it.notBefore);
    return Math.max(next, this.v.lim.pausedUntil);
  }
}

const views = new WeakMap<Visitor, View>();
const view = (v: Visitor, now: number): RoundView => {
  let w = views.get(v);
  if (!w) views.set(v, (w = new View(v)));
  w.now = now;
  return w;
};

/** delivery.round's loop: step = nextStep(view), perform it, until a sleep (the event loop wakes it) or the end. */
function drive(w: World, v: Visitor, t: number) {
  const now = local(v, t);
  for (;;) {
    const step = nextStep(view(v, now));
    if (step.do == 'read') {
      // readQueue: the mirror is storage (instant, under the caps).
      v.stale = false;
      v.replan = true;
    } else if (step.do == 'plan') plan(w, v, now);
    else if (step.do == 'send') sendNext(w, v, now);
    else if (step.do == 'sleep') {
      v.sleeping = true;
      if (step.until < Infinity) w.timer(v, step.until);
      return;
    } else if (step.do == 'end') {
      v.holding = false;
      return;
    } else throw new Error(`unexpected step ${step.do}`);
  }
}

/** delivery.plan: drop expired items not in flight, plan one merged request per person. */
function plan(w: World, v: Visitor, now: number) {
  v.replan = false;
  const old: string[] = [];
  for (const it of v.items.values()) if (expired(it, now) && !v.flying.has(it.id)) old.push(it.id);
  if (old.length) forget(w, v, old, true);
  v.plan = planBatches([...v.items.values()], now, v.busy, undefined, PLAN);
}

/** delivery.sendNext + flights.send: take a start slot (recordStart), the person is busy until the answer. */
function sendNext(w: World, v: Visitor, now: number) {
  recordStart(v.lim, now);
  const b = v.plan.shift()!;
  v.inFlight++;
  onStart(v.concurrency, now);
  for (const k of b.keys) v.busy.add(k);
  for (const id of b.ids) v.flying.add(id);
  w.request(v, b, now);
}

/** flights.send's answer handler, then settle.verdict / settle.failed (synchronous parts), then the wake. */
export function answer(w: World, v: Visitor, b: Batch, sentAt: number, res: Reply, t: number) {
  const now = local(v, t);
  v.inFlight--;
  onAnswer(v.concurrency, sentAt, now, res.status > 0);
  v.heard = true;
  for (const k of b.keys) v.busy.delete(k);
  for (const id of b.ids) v.flying.delete(id);
  recordAnswer(v.lim, sentAt, now, res.status > 0);
  applyHint(v.lim, now, res.rateRemaining, res.rateReset);
  const verdict = decide({ ...res, revision: REVISION }, { ...b, attempts: b.attempts + 1 }, now, v.random);
  if (verdict.action == 'done') {
    v.streak.fails = 0;
    forget(w, v, b.ids, false);
  } else if (verdict.action == 'pause' || verdict.action == 'retry') {
    const paused = verdict.action == 'pause';
    const at = w.afterFailure(v.streak, verdict, sentAt, now, v.random);
    pause(v.lim, at);
    // (settle.failed puts a changed copy in the mirror and storage; here the mirror is storage: changed in place.)
    for (const id of b.ids) {
      const it = v.items.get(id);
      if (it) (it.attempts += paused ? 0 : 1), (it.notBefore = at);
    }
  } else forget(w, v, b.ids, true); // drop or retired: the server model answers neither
  poke(w, v, t);
}

/** removals.forget (the mirror's part) and drops.drop. */
function forget(w: World, v: Visitor, ids: string[], dropped: boolean) {
  for (const id of ids) v.items.delete(id);
  if (dropped) w.dropped(ids);
}

/** The page closes (the leaving model): the round stops where it is; queued items stay in storage with their
 *  notBefore, the limiter's history and pause stay stored; answers still on their way are lost with the page. */
export function leave(v: Visitor) {
  v.open = v.holding = v.sleeping = v.begun = false;
  v.timer++;
  v.page++;
  v.plan = [];
  v.inFlight = 0;
  // A new page starts its controller afresh.
  v.concurrency = createConcurrency();
  v.busy.clear();
  v.flying.clear();
}

/** A page view begins: the delivery restores its queue from storage and runs a round if anything is queued. */
export function open(w: World, v: Visitor, t: number) {
  if (v.open) return;
  v.open = true;
  if (v.items.size) kick(w, v, t);
}
