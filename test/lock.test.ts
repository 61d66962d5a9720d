import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withLock } from '../src/browser/lock';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/** A LockManager that grants each name to one callback at a time, in request order, like the Web Locks API. */
const fakeLocks = () => {
  const tails = new Map<string, Promise<unknown>>();
  const request = (name: string, cb: (lock: Lock) => unknown) => {
    const run = (tails.get(name) ?? Promise.resolve()).then(() => cb({ name, mode: 'exclusive' } as Lock));
    tails.set(name, run.catch(() => {}));
    return run;
  };
  return { request: vi.fn(request) } as unknown as LockManager & { request: ReturnType<typeof vi.fn> };
};

/** A localStorage of our own, shared by the contenders like the tabs of one origin share theirs. */
const memStorage = (): Storage => {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: (i) => [...m.keys()][i] ?? null,
    get length() {
      return m.size;
    },
  };
};

/** Runs withLock with a body that records when it starts and waits for the test to let it finish. */
const contender = (log: string[], who: string, run: typeof withLock) => {
  const release = deferred();
  const result = run('klaviyo-flush', async () => {
    log.push(`${who} in`);
    await release.promise;
    log.push(`${who} out`);
    return who;
  });
  return { release: release.resolve, result };
};

describe('withLock with Web Locks', () => {
  it('runs one holder at a time per name, returns fn’s result, and leaves localStorage alone', async () => {
    const locks = fakeLocks();
    const storage = memStorage();
    const setItem = vi.spyOn(storage, 'setItem');
    const log: string[] = [];
    const env = { locks, storage };
    const a = contender(log, 'a', (n, fn) => withLock(n, fn, env));
    const b = contender(log, 'b', (n, fn) => withLock(n, fn, env));
    await new Promise((r) => setTimeout(r, 0));
    expect(log).toEqual(['a in']);
    a.release();
    b.release();
    expect(await Promise.all([a.result, b.result])).toEqual(['a', 'b']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(locks.request).toHaveBeenCalledWith('klaviyo-flush', expect.any(Function));
    expect(setItem).not.toHaveBeenCalled();
  });

  it('passes fn’s rejection on and frees the lock', async () => {
    const locks = fakeLocks();
    await expect(withLock('x', () => Promise.reject(new Error('boom')), { locks })).rejects.toThrow('boom');
    expect(await withLock('x', async () => 2, { locks })).toBe(2);
  });
});

describe('withLock with the localStorage lease (no Web Locks)', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => void vi.useRealTimers());
  const leaseMs = 3_000;

  it('lets two contenders in one after the other, never together, and renews the lease while fn runs', async () => {
    const storage = memStorage();
    const env = { storage, leaseMs, now: () => Date.now() };
    const log: string[] = [];
    const a = contender(log, 'a', (n, fn) => withLock(n, fn, env));
    const b = contender(log, 'b', (n, fn) => withLock(n, fn, env));
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(['a in']);
    // a runs for ten lease lengths: renewal keeps the lease alive and b out.
    for (let k = 0; k < 10; k++) {
      await vi.advanceTimersByTimeAsync(leaseMs);
      expect(JSON.parse(storage.getItem('klaviyo-flush')!).expires).toBeGreaterThan(Date.now());
    }
    expect(log).toEqual(['a in']);
    a.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(storage.getItem('klaviyo-flush')).toBeNull(); // released at once, not left to expire
    await vi.advanceTimersByTimeAsync(300); // b's next poll (250 ms) and settle (50 ms)
    expect(log).toEqual(['a in', 'a out', 'b in']);
    b.release();
    expect(await Promise.all([a.result, b.result])).toEqual(['a', 'b']);
    expect(storage.length).toBe(0);
  });

  it('takes over from a dead owner once its lease has expired, not before', async () => {
    const storage = memStorage();
    storage.setItem('klaviyo-flush', JSON.stringify({ owner: 'closed-tab', expires: Date.now() + leaseMs }));
    const log: string[] = [];
    const c = contender(log, 'c', (n, fn) => withLock(n, fn, { storage, leaseMs, now: () => Date.now() }));
    await vi.advanceTimersByTimeAsync(leaseMs - 1);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(300);
    expect(log).toEqual(['c in']);
    expect(JSON.parse(storage.getItem('klaviyo-flush')!).owner).not.toBe('closed-tab');
    c.release();
    expect(await c.result).toBe('c');
  });

  it('backs off when another tab’s claim lands during the settle time', async () => {
    const storage = memStorage();
    const setItem = storage.setItem.bind(storage);
    let raced = false;
    // The other tab writes its claim right after ours, as two tabs reading "free" at once would.
    storage.setItem = (k, v) => {
      setItem(k, v);
      if (!raced) (raced = true), setItem(k, JSON.stringify({ owner: 'other-tab', expires: Date.now() + leaseMs }));
    };
    const log: string[] = [];
    const d = contender(log, 'd', (n, fn) => withLock(n, fn, { storage, leaseMs, now: () => Date.now() }));
    await vi.advanceTimersByTimeAsync(leaseMs - 1);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(300);
    expect(log).toEqual(['d in']);
    d.release();
    await d.result;
  });

  it('runs fn unguarded when localStorage cannot be written (Safari private mode before 11)', async () => {
    const storage = memStorage();
    storage.setItem = () => {
      throw new DOMException('full', 'QuotaExceededError');
    };
    expect(await withLock('x', async () => 'ran', { storage })).toBe('ran');
  });
});
