import type { Journal } from '../store/journal';
import type { Store } from '../store/store';
import type { Batch } from '../core/merge';
import type { LimiterState } from '../core/limiter';
import type { Answer, Config, Drop, QueueItem } from '../core/types';
import { calm, type Streak } from '../core/streak';
import { createConcurrency, type Concurrency } from '../core/concurrency';

export interface DeliveryEnv {
  now(): number;
  random(): number;
  store: Store;
  /** Where updates whose write is still under way go when the page hides (localStorage); none: keepalive only. */
  journal?: Journal;
  send(req: { url: string; headers: Record<string, string>; body: string }, opts: { keepalive: boolean; timeoutMs: number }): Promise<Answer>;
  /** Exclusive across this origin's tabs (Web Locks; without them only within this tab, see lock.ts). */
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Whether another tab waits for that lock (Web Locks' query); absent: never. */
  waiting?(name: string): Promise<boolean>;
  /** Tell other tabs that this one queued items for a company. */
  announce(company: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  log: Pick<Console, 'error' | 'warn' | 'info'>;
}

/** The counters `_klaviyo.stats()` shows. */
export interface Stats {
  queued: number;
  sent: number;
  retried: number;
  merged: number;
  dropped: { invalid: number } & Record<Drop['reason'], number>;
}

/** A request besides its batch: when it started, the revision its body is built for, its company. */
export interface Flight {
  sentAt: number;
  revision: string;
  company: string;
}

/**
 * Everything the delivery knows, in one object that its parts (one file each) take as `d`. Fields end in `_`: the
 * build renames them as short as locals.
 */
export interface DeliveryState {
  env_: DeliveryEnv;
  cfg_: Config;
  stats_: Stats;

  // The round (see core/round.ts).
  /** The page's account. */
  company_: string;
  /** The company of the running round: its lock, its storage keys. `account` may switch `company_` meanwhile; the
   *  round then sends nothing more, lets its requests settle, and ends. */
  round_: string;
  /** A lock request of this tab is pending or held. */
  active_: boolean;
  /** This tab runs the round, and the mirror is the stored queue. */
  holding_: boolean;
  /** Storage changed behind the mirror (another tab, a new round): read it again. */
  stale_: boolean;
  /** Plan again before sending anything more. */
  replan_: boolean;
  /** The page is hidden (maybe about to unload): keepalive requests, storage writes not awaited. */
  leaving_: boolean;
  plan_: Batch[];
  /** Ends the round's sleep. */
  wake_?: () => void;
  /** flush() callers waiting for nothing to be able to go now. */
  waiting_: Array<() => void>;
  streak_: Streak;

  // The queue mirror (mirror.ts).
  items_: Map<string, QueueItem>;
  /** Measured JSON size of each item seen (an item's profile never changes). */
  sizes_: Map<string, number>;
  /** Revisions the server answered 410 for: their items wait for a page that configures another. */
  retired_: Set<string>;

  // Deletes (removals.ts).
  /** Ids whose delete may not be in storage yet: a read must not bring them back. */
  removing_: Set<string>;
  /** Ids to delete, by company (a request sent while leaving may be for a company with no round here). */
  doomed_: Map<string, string[]>;
  removal_?: Promise<void>;
  /** Ends a delete's wait for more answers (the page is hiding). */
  hurry_?: () => void;

  // The limiter and its reservations (reservations.ts).
  lim_: LimiterState;
  reserved_: number[];
  /** Reservations of this round are in storage and must be settled when the round ends. */
  ahead_: boolean;
  topping_?: Promise<void>;

  // Requests in flight (flights.ts).
  /** Identifiers of the people in flight: a person is never in two requests at once. */
  busy_: Set<string>;
  /** Ids in a request not answered yet (the TTL spares them). */
  flying_: Set<string>;
  /** How many may be in flight: measured from the answers' round-trip times (core/concurrency.ts). Its `inFlight_`
   *  is the count of requests in flight (flights.ts starts and ends each there). */
  concurrency_: Concurrency;
  keepaliveBytes_: number;

  // Writes under way (rescue.ts).
  /** The tracker's batches whose IndexedDB write is under way, by first id; `kept_`: those in the journal. */
  unsaved_: Map<string, QueueItem[]>;
  kept_: Set<string>;
}

export const createState = (env: DeliveryEnv, cfg: Config): DeliveryState => ({
  env_: env,
  cfg_: cfg,
  stats_: { queued: 0, sent: 0, retried: 0, merged: 0, dropped: { invalid: 0, client: 0, attempts: 0, ttl: 0, cap: 0 } },
  company_: '',
  round_: '',
  active_: false,
  holding_: false,
  stale_: true,
  replan_: true,
  leaving_: false,
  plan_: [],
  waiting_: [],
  streak_: calm(),
  items_: new Map(),
  sizes_: new Map(),
  retired_: new Set(),
  removing_: new Set(),
  doomed_: new Map(),
  lim_: { bounds: [], pausedUntil: 0 },
  reserved_: [],
  ahead_: false,
  busy_: new Set(),
  flying_: new Set(),
  concurrency_: createConcurrency(),
  keepaliveBytes_: 0,
  unsaved_: new Map(),
  kept_: new Set(),
});
