// A tracker environment for unit tests: memory store, a scripted fetch, simulated time.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createTracker, type TrackerEnv } from '../../src/tracker';
import type { Answer as SendResult, Identifiers, Profile, QueueItem } from '../../src/core/types';
import type { Store } from '../../src/store/store';
import { memoryStore } from '../../src/store/memoryStore';
import { journal } from '../../src/store/journal';

/** A Storage in memory (localStorage's methods), for the journal: share one between two envs to model the next
 *  page of the same site. */
export function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    key: (n) => [...m.keys()][n] ?? null,
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
  };
}

export interface Sent { url: string; headers: Record<string, string>; body: any; at: number }

/** Build an env whose clock only moves when the test says, and whose server answers `answer(req)`. */
export function fakeEnv(answer: (req: Sent, n: number) => Partial<SendResult> = () => ({ status: 202 }), storage = memoryStorage()) {
  let now = 1_700_000_000_000;
  const timers = new Set<{ at: number; fn: () => void }>();
  const sent: Sent[] = [];
  const logs: Array<[string, string]> = [];
  const ids = new Map<string, Identifiers>();
  const store = memoryStore();
  const adds: number[] = [];
  const add = store.add.bind(store);
  store.add = (items) => {
    adds.push(items.length);
    return add(items);
  };
  const env: TrackerEnv = {
    now: () => now,
    random: () => 0.5,
    store,
    journal: journal(() => storage),
    async send(req) {
      const s: Sent = { url: req.url, headers: req.headers, body: JSON.parse(req.body), at: now };
      sent.push(s);
      return { status: 202, retryAfter: null, ...answer(s, sent.length) };
    },
    lock: (_name, fn) => fn(),
    announce: () => {},
    setTimeout(fn, ms) {
      const t = { at: now + ms, fn };
      timers.add(t);
      return t;
    },
    clearTimeout: (h) => void timers.delete(h as { at: number; fn: () => void }),
    log: {
      error: (...a: unknown[]) => void logs.push(['error', a.join(' ')]),
      warn: (...a: unknown[]) => void logs.push(['warn', a.join(' ')]),
      info: (...a: unknown[]) => void logs.push(['info', a.join(' ')]),
    },
    exchangeId: () => undefined,
    identity: { load: (c) => ids.get(c), save: (c, v) => void ids.set(c, v) },
  };
  /** Let promises settle until none is left, then run the first due timer, and again, advancing the clock by `ms`. */
  async function advance(ms: number) {
    const end = now + ms;
    for (;;) {
      // Node runs every microtask, however chained, before a macrotask; node:timers stays real under vi.useFakeTimers.
      await nextTurn();
      const due = [...timers].filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      timers.delete(due);
      now = Math.max(now, due.at);
      due.fn();
    }
    now = end;
  }
  return { env, sent, logs, adds, store, storage, advance, clock: { set: (t: number) => (now = t), get: () => now } };
}

/** A tracker on `env` with its company account set, as a page's stub would. */
export function tracking(env: TrackerEnv, company = 'AbC123') {
  const t = createTracker(env);
  t.run(['account', company]);
  return t;
}

/** Make `f`'s server answer `ms` of simulated time after each request. */
export function answerAfter(f: ReturnType<typeof fakeEnv>, ms: number) {
  const send = f.env.send;
  f.env.send = (req, o) => new Promise((resolve) => f.env.setTimeout(() => resolve(send(req, o)), ms));
}

/** Make `f`'s store method `k` take `ms(...args)` of simulated time (0: at once), e.g. a slow IndexedDB write. */
export function slowStore<K extends 'add' | 'setMeta'>(f: ReturnType<typeof fakeEnv>, k: K, ms: (...a: Parameters<Store[K]>) => number) {
  const orig = f.store[k] as (...a: Parameters<Store[K]>) => Promise<void>;
  (f.store[k] as unknown) = (...a: Parameters<Store[K]>) => {
    const d = ms(...a);
    return d ? new Promise<void>((r) => f.env.setTimeout(() => r(orig(...a)), d)) : orig(...a);
  };
}

/** A queue item of company AbC123 as the tracker writes it, created `at` (ms): its id sorts by that time. */
export const queuedItem = (at: number, profile: Profile, tag = ''): QueueItem => ({
  id: at.toString(36).padStart(9, '0') + '000000' + tag,
  company: 'AbC123',
  revision: '2023-01-24',
  profile,
  createdAt: at,
  attempts: 0,
  notBefore: 0,
});

/** What `f`'s server received, as [company id, email] pairs in arrival order. */
export const sentTo = (f: { sent: Sent[] }) => f.sent.map((s) => [s.url.slice(-6), s.body.data.attributes.email]);
