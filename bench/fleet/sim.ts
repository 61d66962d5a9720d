// One run of the fleet: N visitors of one store, each a tracker (tracker.ts) with its own clock, randomness and
// network, against one account's server in simulated time. Event-driven: a heap of timers, arrivals at the server
// and answers, keyed by simulated ms; the identifies of the traffic model are merged in from a sorted list.
//
// The server is the local collector's own rule, dev/collector/rateWindows.ts admit(): Klaviyo's per-account fixed
// windows (350 per 1 s, 3500 per 60 s) at a random phase, counted on arrival, a refused request not counted; a 429
// carries Retry-After (whole seconds to the end of the window that refused, at least 1), a 202 carries
// RateLimit-Remaining/-Reset of the window closest to its limit (a 429 carries no RateLimit-*, as the issue has it).
// Every request's way there and back is a uniform integer in [20, 300] ms, drawn apart.
import { admit, type WindowCounts } from '../../dev/collector/rateWindows';
import { mulberry32 } from '../serverModel';
import type { Batch } from '../../src/core/merge';
import { EventHeap } from './heap';
import { add, answer, createVisitor, leave, local, open, poke, type AfterFailure, type Reply, type Visitor, type World } from './tracker';
import { arrivals, type TrafficModel } from './traffic';

export const COMPANY = 'AbC123';
/** Clocks: each visitor's Date.now() is simulated time + EPOCH + an offset within ±5 min. */
const EPOCH = 1_750_000_000_000;
const SKEW = 300_000;
/** Latency each way, ms. */
const LATENCY = [20, 300] as const;
/** Nothing is left to happen after this (the 6-day TTL has passed for everything by then). */
const HORIZON = 7 * 864e5;
/** Per-second series for the charts cover this much. */
export const CHART_MS = 30 * 60_000;

export interface Policy {
  name: string;
  about: string;
  /** The policy's afterFailure for one run; `backlog()` is the simulation's true count of visitors with an update not
   *  yet accepted (the requests the account still has to take), which no tracker can know (only the oracle reads it). */
  make(ctx: { backlog(): number }): AfterFailure;
}

interface Request {
  v: Visitor;
  b: Batch;
  sentAt: number;
  page: number;
  blind: boolean;
  down: number;
  res?: Reply;
}

const WAKE = 0;
const ARRIVE = 1;
const ANSWER = 2;
const LEAVE = 3;
const RETURN = 4;
interface Ev {
  at: number;
  seq: number;
  kind: number;
  v: Visitor;
  token: number;
  req?: Request;
}

/** What a run measured, raw: the figures are computed from it (metrics.ts). */
export interface RunData {
  phase: number;
  identifies: number;
  requests: number;
  refused: number;
  /** 429s for requests of trackers that had no answer from the server yet (they could know nothing of the load). */
  blindRefused: number;
  /** Answers lost with a closed page. */
  lostAnswers: number;
  /** Updates first accepted from a later page view than the one that identified them (the leaving model). */
  nextVisit: number;
  dropped: number;
  /** Per update: identify time, visitor, and first acceptance (simulated ms; NaN: never). */
  identifiedAt: Float64Array;
  who: Int32Array;
  acceptedAt: Float64Array;
  /** Accepted and refused per simulated second, for the first CHART_MS. */
  acceptedPerSec: Int32Array;
  refusedPerSec: Int32Array;
  /** Accepted per server minute window: index k of [phase + k * 60 s, phase + (k + 1) * 60 s). */
  perMinuteWindow: Map<number, number>;
  /** Every acceptance's time, in order. */
  acceptedTimes: number[];
  firstRefusal: number;
  /** The server's counts in the windows open at the first refusal. */
  atFirstRefusal: WindowCounts;
  end: number;
  wallMs: number;
}

export function runFleet(model: TrafficModel, n: number, policy: Policy, seed: number): RunData {
  const wall = performance.now();
  const traffic = mulberry32(seed);
  const phase = Math.floor(traffic() * 60_000);
  const { times, who } = arrivals(model, n, traffic);
  const visitors: Array<Visitor | undefined> = new Array(n);
  /** Per visitor: the network's randomness (latencies, page stays and returns), apart from the tracker's own. */
  const nets: Array<() => number> = new Array(n);
  /** Per update, the page view that identified it. */
  const pageOf = new Int32Array(times.length);
  const leaveToken = new Int32Array(n);
  const returnToken = new Int32Array(n);
  const heap = new EventHeap<Ev>();
  /** Handled events, reused: a large run schedules millions. */
  const free: Ev[] = [];
  const schedule = (at: number, kind: number, v: Visitor, token: number, req?: Request) => {
    const e = free.pop() ?? ({} as Ev);
    e.at = at;
    e.kind = kind;
    e.v = v;
    e.token = token;
    e.req = req;
    heap.push(e);
  };
  const windowCfg = { phaseMs: phase, perSecond: 350, perMinute: 3500 };
  let counts: WindowCounts | undefined;
  let T = 0;
  /** Per visitor, updates not accepted yet; `pending`: visitors with any. */
  const unaccepted = new Int32Array(n);
  let pending = 0;

  const d: RunData = {
    phase, identifies: times.length, requests: 0, refused: 0, blindRefused: 0, lostAnswers: 0, nextVisit: 0, dropped: 0,
    identifiedAt: times, who, acceptedAt: new Float64Array(times.length).fill(NaN),
    acceptedPerSec: new Int32Array(CHART_MS / 1000), refusedPerSec: new Int32Array(CHART_MS / 1000),
    perMinuteWindow: new Map(), acceptedTimes: [], firstRefusal: NaN,
    atFirstRefusal: { second: 0, secondCount: 0, minute: 0, minuteCount: 0 }, end: 0, wallMs: 0,
  };

  const world: World = {
    afterFailure: policy.make({ backlog: () => pending }),
    timer(v, until) {
      schedule(Math.max(T + 1, Math.ceil(until - v.off)), WAKE, v, v.timer);
    },
    request(v, b, sentAt) {
      const net = nets[v.id]!;
      const leg = () => LATENCY[0] + Math.floor(net() * (LATENCY[1] - LATENCY[0] + 1));
      d.requests++;
      const req: Request = { v, b, sentAt, page: v.page, blind: !v.heard, down: 0 };
      schedule(T + leg(), ARRIVE, v, 0, req);
      req.down = leg();
    },
    dropped(ids) {
      d.dropped += ids.length;
    },
  };

  const visitor = (i: number): Visitor => {
    let v = visitors[i];
    if (!v) {
      const r = mulberry32((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
      nets[i] = mulberry32((seed ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
      v = visitors[i] = createVisitor(i, EPOCH + Math.floor((r() * 2 - 1) * SKEW), r);
    }
    return v;
  };

  /** The page stays open until `stay` after its latest identify (the leaving model). */
  const stay = (v: Visitor) => {
    if (!model.pages) return;
    schedule(T + Math.ceil(model.pages.stay(nets[v.id]!)), LEAVE, v, ++leaveToken[v.id]!);
  };

  const identify = (i: number) => {
    const v = visitor(who[i]!);
    v.open = true;
    stay(v);
    const now = local(v, T);
    pageOf[i] = v.page;
    add(world, v, { id: String(i), company: COMPANY, revision: '2025-01-15', profile: { email: `v${v.id}@example.com`, properties: { n: i } }, createdAt: now, attempts: 0, notBefore: 0 }, T);
  };

  const arrive = (req: Request) => {
    const { counts: c, decision } = admit(counts, T, windowCfg);
    counts = c;
    const sec = Math.floor(T / 1000);
    if (decision.ok) {
      for (const id of req.b.ids) {
        if (!Number.isNaN(d.acceptedAt[+id])) continue;
        d.acceptedAt[+id] = T;
        if (req.page !== pageOf[+id]) d.nextVisit++;
        if (!--unaccepted[who[+id]!]!) pending--;
      }
      d.acceptedTimes.push(T);
      if (sec < d.acceptedPerSec.length) d.acceptedPerSec[sec]!++;
      const km = Math.floor((T - phase) / 60_000);
      d.perMinuteWindow.set(km, (d.perMinuteWindow.get(km) ?? 0) + 1);
      req.res = { status: 202, retryAfter: null, rateRemaining: decision.remaining, rateReset: decision.resetSec };
    } else {
      d.refused++;
      if (req.blind) d.blindRefused++;
      if (Number.isNaN(d.firstRefusal)) (d.firstRefusal = T), (d.atFirstRefusal = { ...c });
      if (sec < d.refusedPerSec.length) d.refusedPerSec[sec]!++;
      req.res = { status: 429, retryAfter: String(decision.retryAfter) };
    }
    schedule(T + req.down, ANSWER, req.v, 0, req);
  };

  let i = 0;
  for (;;) {
    const e = heap.peek();
    const next = i < times.length ? times[i]! : Infinity;
    if (!e && next === Infinity) break;
    if (next <= (e?.at ?? Infinity)) {
      T = next;
      if (!unaccepted[who[i]!]!++) pending++;
      identify(i++);
      continue;
    }
    heap.pop();
    // The event goes back to the pool: its fields are read first, as handling it schedules others.
    const { at, kind, v, token, req } = e!;
    free.push(e!);
    T = at;
    if (T > HORIZON) break;
    if (kind === WAKE) {
      if (token === v.timer) poke(world, v, T);
    } else if (kind === ARRIVE) arrive(req!);
    else if (kind === ANSWER) {
      if (req!.page !== v.page) d.lostAnswers++;
      else answer(world, v, req!.b, req!.sentAt, req!.res!, T);
    } else if (kind === LEAVE) {
      if (token !== leaveToken[v.id] || !v.open) continue;
      leave(v);
      if (v.items.size) schedule(T + Math.ceil(model.pages!.comeBack(nets[v.id]!)), RETURN, v, ++returnToken[v.id]!);
    } else if (kind === RETURN && token === returnToken[v.id] && !v.open) {
      open(world, v, T);
      stay(v);
    }
  }
  d.end = T;
  d.wallMs = performance.now() - wall;
  return d;
}
