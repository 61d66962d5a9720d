// The delivery round as a state machine: what the tab holding the lock does next, from a view of its state.
// Pure: the effect runner (delivery/delivery.ts) builds the view, performs the step, and asks again.
//
//   read     storage changed behind the mirror (a new round, another tab wrote): load the queue again
//   plan     the plan is stale or used up: drop expired items, plan one merged request per person
//   reserve  a request may start but no start time is stored ahead: write some first (a tab taking over
//            must see them), unless the page is hiding (then nothing waits for storage)
//   send     start the next planned request
//   sleep    until the limiter allows a start, an item's retry is due, an answer arrives, or something is queued
//   end      nothing queued and nothing in flight (or the page switched account and its requests settled)

/** What the round knows now. Fields may be getters: costly ones (`queued`, `due`) are read only when needed. */
export interface RoundView {
  now: number;
  /** The page switched account: send nothing more, let the requests in flight settle. */
  over: boolean;
  /** Storage changed behind the mirror. */
  stale: boolean;
  /** The plan must be made again (new items, answers, a hiding page). */
  replan: boolean;
  /** Requests left in the plan. */
  planned: number;
  /** Items in the mirror that may go in some revision. */
  queued: number;
  inFlight: number;
  /** Requests that may be in flight at once. */
  cap: number;
  /** Failure streak: while it lasts, one request at a time probes the server. */
  fails: number;
  /** The limiter's earliest start time. */
  start: number;
  /** Start times reserved in storage and still usable. */
  slots: number;
  /** The page is hiding: reservations are written without waiting. */
  leaving: boolean;
  /** The earliest time a queued item may go: its retry is due and the pause is over. */
  due: number;
}

export type Step =
  | { do: 'read' }
  | { do: 'plan' }
  | { do: 'reserve' }
  | { do: 'send' }
  | { do: 'end' }
  /** `quiet`: nothing can go before `until` but retries and the pause: `flush()` callers are done. */
  | { do: 'sleep'; until: number; quiet: boolean };

/** Never sleep less than this between plans of items that are not due: a round must not spin. */
export const MIN_SLEEP_MS = 20;

/** The round's next step. */
export function nextStep(v: RoundView): Step {
  if (v.over) return v.inFlight ? { do: 'sleep', until: Infinity, quiet: false } : { do: 'end' };
  if (v.stale) return { do: 'read' };
  if (v.replan) return { do: 'plan' };
  const free = v.inFlight < (v.fails ? 1 : v.cap);
  if (v.planned && free && v.start <= v.now) return v.slots || v.leaving ? { do: 'send' } : { do: 'reserve' };
  // Items held back this round (two values for one identifier, say) keep the round going: they go in the next plan.
  if (!v.inFlight && !v.queued) return { do: 'end' };
  // A full pipeline waits for an answer (which wakes the round); a free one for the limiter.
  let until = v.planned && free ? v.start : Infinity;
  let quiet = false;
  if (!v.inFlight) {
    quiet = v.due > v.now;
    if (!v.planned) until = Math.max(Math.min(until, v.due), v.now + MIN_SLEEP_MS);
  }
  return { do: 'sleep', until, quiet };
}
