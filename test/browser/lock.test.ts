import { describe, expect, it, vi } from 'vitest';
import { waiting, withLock } from '../../src/browser/lock';

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
  it('falls back to this tab alone when the lock request is refused (opaque origin), and runs fn once', async () => {
    const refusing = { request: vi.fn(() => Promise.reject(new DOMException('denied', 'SecurityError'))) } as unknown as LockManager;
    const fn = vi.fn(async () => 'ran');
    expect(await withLock('klaviyo-flush', fn, { locks: refusing })).toBe('ran');
    expect(fn).toHaveBeenCalledTimes(1);
    // fn's own rejection is passed on, not retried without the lock.
    const failing = vi.fn(() => Promise.reject(new Error('boom')));
    await expect(withLock('klaviyo-flush', failing, { locks: fakeLocks() })).rejects.toThrow('boom');
    expect(failing).toHaveBeenCalledTimes(1);
  });

  it('runs one holder at a time per name and returns fn’s result', async () => {
    const locks = fakeLocks();
    const log: string[] = [];
    const env = { locks };
    const a = contender(log, 'a', (n, fn) => withLock(n, fn, env));
    const b = contender(log, 'b', (n, fn) => withLock(n, fn, env));
    await new Promise((r) => setTimeout(r, 0));
    expect(log).toEqual(['a in']);
    a.release();
    b.release();
    expect(await Promise.all([a.result, b.result])).toEqual(['a', 'b']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(locks.request).toHaveBeenCalledWith('klaviyo-flush', expect.any(Function));
  });

  it('passes fn’s rejection on and frees the lock', async () => {
    const locks = fakeLocks();
    await expect(withLock('x', () => Promise.reject(new Error('boom')), { locks })).rejects.toThrow('boom');
    expect(await withLock('x', async () => 2, { locks })).toBe(2);
  });
});

describe('withLock without Web Locks: serialised within the tab', () => {
  it('lets two contenders for one name in one after the other, never together, in call order', async () => {
    expect(navigator.locks).toBeFalsy(); // happy-dom has none, so the default is absent too
    const log: string[] = [];
    const a = contender(log, 'a', (n, fn) => withLock(n, fn));
    const b = contender(log, 'b', (n, fn) => withLock(n, fn));
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['a in']);
    b.release(); // b's own work is done, but it must still wait for a
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['a in']);
    a.release();
    expect(await Promise.all([a.result, b.result])).toEqual(['a', 'b']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out']);
  });

  it('does not hold up a different name', async () => {
    const log: string[] = [];
    const a = contender(log, 'a', (_, fn) => withLock('company-1', fn));
    const b = contender(log, 'b', (_, fn) => withLock('company-2', fn));
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['a in', 'b in']);
    a.release();
    b.release();
    expect(await Promise.all([a.result, b.result])).toEqual(['a', 'b']);
  });

  it('passes fn’s rejection on and frees the lock for the next caller', async () => {
    await expect(withLock('y', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await withLock('y', async () => 2)).toBe(2);
  });
});

describe('waiting: another tab waits for the lock', () => {
  const manager = (query: () => Promise<LockManagerSnapshot>) => ({ query, request: vi.fn() }) as unknown as LockManager;
  const snapshot = (pending: string[]): Promise<LockManagerSnapshot> =>
    Promise.resolve({ held: [{ name: 'klaviyo-snippet:AbC123', mode: 'exclusive' }], pending: pending.map((name) => ({ name, mode: 'exclusive' })) });

  it('true only when a request for that name is pending', async () => {
    expect(await waiting('klaviyo-snippet:AbC123', { locks: manager(() => snapshot(['klaviyo-snippet:AbC123'])) })).toBe(true);
    expect(await waiting('klaviyo-snippet:AbC123', { locks: manager(() => snapshot(['klaviyo-snippet:Other1'])) })).toBe(false);
    expect(await waiting('klaviyo-snippet:AbC123', { locks: manager(() => snapshot([])) })).toBe(false);
  });

  it('false without Web Locks, and when the query fails', async () => {
    expect(await waiting('x', { locks: null as never })).toBe(false);
    expect(await waiting('x', { locks: manager(() => Promise.reject(new DOMException('denied', 'SecurityError'))) })).toBe(false);
  });
});
