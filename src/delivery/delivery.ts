// The delivery: one tab of an origin runs a round per company at a time (a Web Lock), reading the shared IndexedDB
// queue, so every tab's updates go out through one limiter. The round is the state machine of core/round.ts; this
// file runs its steps and answers the tracker and the page. The state is one object (state.ts); its parts, one file
// each: the queue mirror, deletes, the limiter's reservations, requests in flight, settling answers, drops, the
// rescue of unsaved updates when the page hides, and flush() callers.
import type { Config, QueueItem } from '../core/types';
import { nextStep, type RoundView } from '../core/round';
import { calm } from '../core/streak';
import { planBatches } from '../core/merge';
import { expired } from '../core/retry';
import { nextStart } from '../core/limiter';
import { createState, type DeliveryEnv, type DeliveryState } from './state';
import { dropOld } from './drops';
import { limit } from '../core/concurrency';
import { KEEPALIVE_BYTES, send } from './flights';
import { flush, settled } from './idle';
import { queue, queued, read, revisionOf } from './mirror';
import { rescue, restore, write } from './rescue';
import { loadRate, RESERVE, settleRate, slots, take, topUp } from './reservations';

export type { DeliveryEnv } from './state';

/** The Web Lock of a company's round: one tab of the origin runs it at a time. */
const LOCK = 'klaviyo-snippet:';

/** Requests planned at a time (about 3 s of sending at full rate): a long queue is never one long task. */
const PLAN = 1000;

/** The delivery side of a tracker: add items, flush, react to the page's lifecycle. */
export function createDelivery(env: DeliveryEnv, cfg: Config) {
  const d = createState(env, cfg);
  const poke = () => d.wake_?.();
  /** Something changed that the round must plan with: wake it, or start one. */
  const nudge = () => {
    if (!d.holding_) return kick();
    d.replan_ = true;
    poke();
  };

  /** Make sure a round runs: this tab takes the lock (waiting its turn behind other tabs). */
  function kick() {
    if (!d.company_) return;
    d.stale_ = d.replan_ = true;
    if (d.active_) return poke();
    d.active_ = true;
    env.lock(LOCK + d.company_, () => round(d, d.company_)).then(
      (handed) => {
        d.active_ = d.holding_ = false;
        // Handed over: the other tab sends the shared queue; ask again a second on, in case it goes away.
        if (handed) env.setTimeout(kick, 1_000);
        // Items added between the round's last look and the lock's release start a new round.
        else if (d.stale_) kick();
      },
      () => {
        // No lock (a document being torn down) or a failing round: again later, never at once (that would spin
        // the page in microtasks). flush() callers are not kept waiting.
        d.active_ = d.holding_ = false;
        settled(d);
        env.setTimeout(kick, 5_000);
      },
    );
  }

  // Put back, durably, what earlier pages kept in the journal (they never saw their write confirmed), and deliver it.
  void restore(d, (c) => {
    if (c != d.company_) return;
    d.stale_ = true;
    nudge();
  });

  return {
    stats: d.stats_,
    setCompany(c: string) {
      d.company_ = c;
      kick();
    },
    /** Durably add items (one transaction, one company), then see them delivered. */
    async add(list: QueueItem[]) {
      const c = list[0]!.company;
      list = await write(d, list);
      env.announce(c);
      // Items of an account the page has left since wait in storage for a page of that account.
      if (c != d.company_) return;
      if (!d.holding_ || d.stale_ || d.round_ != c) return kick();
      for (const it of list) d.items_.set(it.id, it);
      nudge();
    },
    /** Resolves when the queue is empty or holds only items waiting on a retry. */
    flush: () => flush(d, kick),
    /** The page is hiding: send what we can now, with keepalive, so it survives the unload. */
    leave() {
      d.leaving_ = d.replan_ = true;
      d.hurry_?.();
      rescue(d);
      poke();
    },
    resume() {
      d.leaving_ = false;
    },
    /** The page configured another revision: updates held for a retired one may go in it. */
    revised() {
      if (d.retired_.size) nudge();
    },
    /** The network is back: what waits on a failure's backoff may go now (a 429's pause still holds). */
    online() {
      const { throttled } = d.streak_;
      d.streak_.fails = 0;
      d.lim_.pausedUntil = throttled;
      for (const it of d.items_.values()) if (it.notBefore > throttled) d.items_.set(it.id, { ...it, notBefore: 0 });
      nudge();
    },
    /** Another tab queued items: read storage again. */
    remote() {
      d.stale_ = true;
      nudge();
    },
  };
}

/** One round of company `c`, step by step, while this tab holds the lock. True if it handed the round over. */
async function round(d: DeliveryState, c: string): Promise<boolean> {
  // Another account's history, pause and failure streak are not this one's: a 429 for one account must not hold
  // another back, nor its requests fill the other's windows.
  const fresh = c != d.round_;
  if (fresh) d.streak_ = calm();
  d.round_ = c;
  d.holding_ = true;
  await loadRate(d, fresh);
  d.streak_.throttled = Math.max(d.streak_.throttled, d.lim_.pausedUntil);
  d.stale_ = true;
  let handed = false;
  for (let v = view(d), step = nextStep(v); step.do != 'end'; step = nextStep((v = view(d)))) {
    if (step.do == 'read') await readQueue(d);
    else if (step.do == 'plan') await plan(d, v.now);
    else if (step.do == 'reserve') await Promise.race([topUp(d, v.now, Math.min(RESERVE, d.plan_.length)), sleep(d, Infinity)]);
    else if (step.do == 'send') sendNext(d, v.now);
    else {
      if (step.quiet) settled(d);
      // A hidden page's timers fire once a second (Chromium, Firefox): with nothing of ours in flight (every answer
      // is in the history the next holder loads), a tab waiting for the round takes it over.
      if (d.leaving_ && !d.concurrency_.inFlight_ && (handed = !!(await d.env_.waiting?.(LOCK + c)))) break;
      await sleep(d, step.until);
      // Plan again once the plan is used up: people skipped as busy, retries now due, new items.
      if (!d.plan_.length) d.replan_ = true;
    }
  }
  // From here new local items start a new round (kick) instead of joining the mirror.
  d.holding_ = false;
  await d.removal_;
  await settleRate(d);
  // Items that arrived while the round wound down start the next one: flush() waits for it.
  if (!d.stale_) settled(d);
  return handed;
}

/** The round's state for nextStep; the costly fields are computed only when it reads them. */
function view(d: DeliveryState): RoundView {
  const now = d.env_.now();
  return {
    now,
    over: d.company_ != d.round_,
    stale: d.stale_,
    replan: d.replan_,
    planned: d.plan_.length,
    inFlight: d.concurrency_.inFlight_,
    cap: limit(d.concurrency_),
    fails: d.streak_.fails,
    leaving: d.leaving_,
    get queued() {
      return queued(d);
    },
    get start() {
      return nextStart(d.lim_, now);
    },
    get slots() {
      return slots(d, now);
    },
    get due() {
      let next = Infinity;
      for (const it of queue(d)) next = Math.min(next, it.notBefore);
      return Math.max(next, d.lim_.pausedUntil);
    },
  };
}

async function readQueue(d: DeliveryState) {
  d.stale_ = false;
  d.replan_ = true;
  const over = await read(d);
  // (As with the TTL: never one in flight; its answer decides, and it must not count as both dropped and sent.)
  await dropOld(d, over.filter((id) => !d.flying_.has(id)), 'cap');
}

async function plan(d: DeliveryState, now: number) {
  d.replan_ = false;
  const old = [...d.items_.values()].filter((it) => expired(it, now) && !d.flying_.has(it.id));
  await dropOld(d, old.map((i) => i.id), 'ttl');
  d.plan_ = planBatches(queue(d), now, d.busy_, d.leaving_ ? KEEPALIVE_BYTES : undefined, PLAN);
}

function sendNext(d: DeliveryState, now: number) {
  take(d, now, d.plan_.length);
  const b = d.plan_.shift()!;
  const revision = revisionOf(d, d.items_.get(b.ids[b.ids.length - 1]!));
  send(d, b, { sentAt: now, revision, company: d.round_ });
  // Reserve ahead in the background while slots remain (a failed write adds nothing).
  const held = d.reserved_.length;
  if (!d.topping_ && !d.leaving_ && held < RESERVE && d.plan_.length > held) topUp(d, now, RESERVE).catch(() => {});
}

/** Until `until`, or until poked (an answer, new items, the page hiding). */
function sleep(d: DeliveryState, until: number) {
  return new Promise<void>((resolve) => {
    const timer = until < Infinity && d.env_.setTimeout(() => d.wake_?.(), until - d.env_.now());
    d.wake_ = () => {
      d.env_.clearTimeout(timer);
      d.wake_ = undefined;
      resolve();
    };
  });
}
