import { IDBFactory, IDBKeyRange, forceCloseDatabase } from 'fake-indexeddb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { QueueItem } from '../../src/core/types';
import { idbStore } from '../../src/store/idbStore';
import { memoryStore } from '../../src/store/memoryStore';
import type { Store } from '../../src/store/store';

// happy-dom has no IndexedDB: the store reads the global IDBKeyRange, so give it fake-indexeddb's.
beforeAll(() => void Object.assign(globalThis, { IDBKeyRange }));
afterEach(() => void vi.useRealTimers());

const item = (company: string, n: number, extra: Partial<QueueItem> = {}): QueueItem => ({
  id: n.toString(36).padStart(8, '0'),
  company,
  revision: '2023-01-24',
  profile: { email: `p${n}@example.com`, properties: { n } },
  createdAt: 1_700_000_000_000 + n,
  attempts: 0,
  notBefore: 0,
  ...extra,
});
const ids = (items: QueueItem[]) => items.map((i) => i.id);

const stores: [string, () => Store][] = [
  ['memoryStore', memoryStore],
  ['idbStore on fake-indexeddb', () => idbStore({ indexedDB: new IDBFactory() })],
];

describe.each(stores)('%s: the Store contract', (_, make) => {
  it('lists what was added, oldest id first, whatever the order of adding', async () => {
    const s = make();
    await s.add([item('A', 3), item('A', 1)]);
    await s.add([item('A', 2), item('A', 40)]);
    expect(ids(await s.list('A'))).toEqual(ids([1, 2, 3, 40].map((n) => item('A', n))));
    expect(await s.list('A')).toContainEqual(item('A', 2));
  });

  it('put replaces by id; remove deletes only the given ids', async () => {
    const s = make();
    await s.add([item('A', 1), item('A', 2), item('A', 3)]);
    await s.put([item('A', 2, { attempts: 3, notBefore: 99 })]);
    expect((await s.list('A')).map((i) => [i.attempts, i.notBefore])).toEqual([[0, 0], [3, 99], [0, 0]]);
    await s.remove('A', [item('A', 1).id, item('A', 3).id, 'no-such-id']);
    expect(await s.list('A')).toEqual([item('A', 2, { attempts: 3, notBefore: 99 })]);
  });

  it('hands out copies: changing a listed item without put changes nothing stored', async () => {
    const s = make();
    await s.add([item('A', 1)]);
    const [got] = await s.list('A');
    got!.attempts = 7;
    expect((await s.list('A'))[0]!.attempts).toBe(0);
  });

  it('keeps companies apart, also a company whose key is a prefix of another', async () => {
    const s = make();
    await s.add([item('A', 1), item('A:b', 2), item('AB', 3), item('B', 4)]);
    expect(ids(await s.list('A'))).toEqual([item('A', 1).id]);
    expect(ids(await s.list('A:b'))).toEqual([item('A', 2).id]);
    await s.remove('B', [item('A', 1).id]);
    expect(await s.list('A')).toHaveLength(1);
    expect(await s.list('nobody')).toEqual([]);
  });

  it('keeps metadata per company and name, apart from the queue', async () => {
    const s = make();
    expect(await s.getMeta('A', 'identity')).toBeUndefined();
    await s.setMeta('A', 'identity', { email: 'a@example.com' });
    await s.setMeta('A', 'starts', [1, 2, 3]);
    await s.setMeta('B', 'identity', { email: 'b@example.com' });
    expect(await s.getMeta('A', 'identity')).toEqual({ email: 'a@example.com' });
    expect(await s.getMeta('A', 'starts')).toEqual([1, 2, 3]);
    expect(await s.getMeta('B', 'identity')).toEqual({ email: 'b@example.com' });
    await s.setMeta('A', 'starts', [4]);
    expect(await s.getMeta('A', 'starts')).toEqual([4]);
    expect(await s.list('A')).toEqual([]);
  });

  it('adds and lists 10 000 items in order', async () => {
    const s = make();
    const many = Array.from({ length: 10_000 }, (_, n) => item('A', 10_000 - n));
    const t0 = performance.now();
    await s.add(many);
    const t1 = performance.now();
    const listed = await s.list('A');
    const t2 = performance.now();
    console.info(`${s.kind}: add 10 000 in ${(t1 - t0).toFixed(0)} ms, list in ${(t2 - t1).toFixed(0)} ms`);
    expect(listed).toHaveLength(10_000);
    expect(listed[0]).toEqual(item('A', 1));
    expect(listed[9_999]).toEqual(item('A', 10_000));
    expect(listed.every((it, k) => k === 0 || listed[k - 1]!.id < it.id)).toBe(true);
  });

  it('removes in many small calls, as the delivery loop drains a queue', async () => {
    const s = make();
    const all = Array.from({ length: 1_000 }, (_, n) => item('A', n + 1));
    await s.add(all.slice(0, 600));
    await s.add(all.slice(600));
    const removed = new Set<string>();
    // Every third item, three ids a call, oldest first, with a list now and then (a list sweeps on IndexedDB).
    const doomed = ids(all).filter((_, n) => n % 3 != 1);
    for (let k = 0; k < doomed.length; k += 3) {
      const part = doomed.slice(k, k + 3);
      await s.remove('A', part);
      for (const id of part) removed.add(id);
      if (k % 90 == 0) expect(await s.list('A')).toEqual(all.filter((i) => !removed.has(i.id)));
    }
    expect(await s.list('A')).toEqual(all.filter((_, n) => n % 3 == 1));
    await s.remove('A', ids(all));
    expect(await s.list('A')).toEqual([]);
  });

  it('put of a changed item lists it once, changed; after remove it is gone; put again adds it back', async () => {
    const s = make();
    await s.add([item('A', 1), item('A', 2), item('A', 3)]);
    await s.put([item('A', 2, { attempts: 1, notBefore: 10 })]);
    await s.put([item('A', 2, { attempts: 2, notBefore: 20 })]);
    expect(await s.list('A')).toEqual([item('A', 1), item('A', 2, { attempts: 2, notBefore: 20 }), item('A', 3)]);
    await s.remove('A', [item('A', 2).id]);
    expect(ids(await s.list('A'))).toEqual(ids([item('A', 1), item('A', 3)]));
    await s.put([item('A', 2, { attempts: 3 }), item('A', 9, { attempts: 1 })]);
    expect(await s.list('A')).toEqual([item('A', 1), item('A', 2, { attempts: 3 }), item('A', 3), item('A', 9, { attempts: 1 })]);
  });
});

describe('idbStore on IndexedDB', () => {
  /** A new connection to the tracker's database, straight through IndexedDB (the database must exist). */
  const openDb = (factory: IDBFactory) => {
    const open = factory.open('klaviyo-snippet');
    return new Promise<IDBDatabase>((resolve) => (open.onsuccess = () => resolve(open.result)));
  };
  /** Every key of the database's object store, read straight from IndexedDB. A tombstone's key is unique but
   *  arbitrary: it shows as [company, 1, the ids it holds]. */
  const rawKeys = async (factory: IDBFactory) => {
    const db = await openDb(factory);
    const os = db.transaction('queue').objectStore('queue');
    const [keys, values] = await Promise.all(
      [os.getAllKeys(), os.getAll()].map((req) => new Promise<any[]>((resolve) => (req.onsuccess = () => resolve(req.result)))),
    );
    db.close();
    return keys!.map((k, n) => (k[1] === 1 ? [k[0], 1, values![n]] : k));
  };

  it('stores one add call as one record per company (one put, however many items)', async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.add(Array.from({ length: 10_000 }, (_, n) => item('A', n + 1)));
    expect(await rawKeys(factory)).toEqual([['A', item('A', 1).id]]);
    await s.add([item('B', 1), item('A', 10_001), item('B', 2)]);
    expect(await rawKeys(factory)).toHaveLength(3);
    expect(ids(await s.list('B'))).toEqual(ids([item('B', 1), item('B', 2)]));
    expect(await s.list('A')).toHaveLength(10_001);
  });

  it('a record whose items are all removed leaves no keys behind once listed; others stay whole', async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.setMeta('A', 'rate', [1]);
    await s.add([item('A', 1), item('A', 2), item('A', 3)]);
    await s.add([item('A', 4), item('A', 5)]);
    await s.put([item('A', 2, { attempts: 1 })]);
    for (const n of [1, 2, 3]) await s.remove('A', [item('A', n).id, 'no-such-id']);
    await s.remove('A', [item('A', 4).id]);
    expect(ids(await s.list('A'))).toEqual([item('A', 5).id]);
    // The first record, the replacement of item 2 and their tombstones are gone; item 4's tombstone stays with
    // its record (item 5 is live). One tombstone per remove call, however many ids.
    expect(await rawKeys(factory)).toEqual([['A', 0, 'rate'], ['A', 1, [item('A', 4).id]], ['A', item('A', 4).id]]);
    await s.remove('A', [item('A', 6).id, item('A', 7).id, item('A', 8).id]);
    expect(await rawKeys(factory)).toHaveLength(4);
    await s.remove('A', [item('A', 5).id]);
    expect(await s.list('A')).toEqual([]);
    expect(await rawKeys(factory)).toEqual([['A', 0, 'rate']]);
  });

  it('a replacement revives its id out of a tombstone shared with other ids, which stay removed', async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.add([1, 2, 3, 4].map((n) => item('A', n)));
    await s.remove('A', [1, 2, 3].map((n) => item('A', n).id));
    await s.put([item('A', 2, { attempts: 1 })]);
    expect(await idbStore({ indexedDB: factory }).list('A')).toEqual([item('A', 2, { attempts: 1 }), item('A', 4)]);
    expect((await rawKeys(factory)).filter((k) => k[1] === 1)).toEqual([['A', 1, [item('A', 1).id, item('A', 3).id]]]);
  });

  /** Write one record straight into the tracker's database, as an earlier build did. */
  const writeRaw = async (factory: IDBFactory, value: unknown, key: IDBValidKey) => {
    const db = await openDb(factory);
    const tx = db.transaction('queue', 'readwrite');
    tx.objectStore('queue').put(value, key);
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
  };
  /** A store holding items A1 and A2, with A1 removed by a tombstone of an earlier build (the value 0, its one id
   *  in the key). */
  const withOldTombstone = async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.add([item('A', 1), item('A', 2)]);
    await writeRaw(factory, 0, ['A', 1, item('A', 1).id]);
    return { factory, s };
  };

  it('reads an item stored by an earlier build (one item per record, at [company, id]), and sweeps it once removed', async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.add([item('A', 2)]);
    await writeRaw(factory, item('A', 1), ['A', item('A', 1).id]);
    expect(await s.list('A')).toEqual([item('A', 1), item('A', 2)]);
    expect(s.kind).toBe('idb');
    await s.remove('A', [item('A', 1).id, item('A', 2).id]);
    expect(await s.list('A')).toEqual([]);
    await s.list('A');
    expect(await rawKeys(factory)).toEqual([]);
  });

  it("honours a tombstone of an earlier build (one id, in the key) and sweeps it", async () => {
    const { factory, s } = await withOldTombstone();
    expect(ids(await s.list('A'))).toEqual([item('A', 2).id]);
    await s.remove('A', [item('A', 2).id]);
    await s.list('A');
    expect(await rawKeys(factory)).toEqual([]);
  });

  it('a replacement revives an id out of a tombstone of an earlier build, without falling back to memory', async () => {
    const { factory, s } = await withOldTombstone();
    await s.put([item('A', 1, { attempts: 1 })]);
    expect(s.kind).toBe('idb');
    expect(await idbStore({ indexedDB: factory }).list('A')).toEqual([item('A', 1, { attempts: 1 }), item('A', 2)]);
  });

  it('a later page works from storage alone: removals and replacements persist', async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.add([item('A', 1), item('A', 2), item('A', 3)]);
    await s.remove('A', [item('A', 1).id]);
    await s.put([item('A', 3, { attempts: 4, notBefore: 7 })]);
    expect(await idbStore({ indexedDB: factory }).list('A')).toEqual([item('A', 2), item('A', 3, { attempts: 4, notBefore: 7 })]);
  });

  it("uses its own database, never idb-keyval's shared keyval-store, and keeps items for a later page", async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory });
    await s.add([item('A', 1)]);
    await s.setMeta('A', 'identity', { email: 'a@example.com' });
    expect((await factory.databases()).map((d) => d.name)).toEqual(['klaviyo-snippet']);
    const later = idbStore({ indexedDB: factory });
    expect(await later.list('A')).toEqual([item('A', 1)]);
    expect(await later.getMeta('A', 'identity')).toEqual({ email: 'a@example.com' });
    expect(later.kind).toBe('idb');
  });

  /** A fake-indexeddb factory that counts opens and lets the test reach the open connections. */
  const spied = () => {
    const real = new IDBFactory();
    const dbs: IDBDatabase[] = [];
    const factory = {
      open: (name: string) => {
        const req = real.open(name);
        req.addEventListener('success', () => dbs.push(req.result));
        return req;
      },
    } as unknown as IDBFactory;
    return { factory, dbs };
  };

  it('reopens a connection closed without an event (InvalidStateError) and retries the call', async () => {
    const { factory, dbs } = spied();
    const onFallback = vi.fn();
    const s = idbStore({ indexedDB: factory, onFallback });
    await s.add([item('A', 1)]);
    dbs[0]!.close();
    await s.add([item('A', 2)]);
    expect(ids(await s.list('A'))).toEqual(ids([item('A', 1), item('A', 2)]));
    expect(dbs).toHaveLength(2);
    expect(onFallback).not.toHaveBeenCalled();
    expect(s.kind).toBe('idb');
  });

  it('reopens after the browser closes the database (close event)', async () => {
    const { factory, dbs } = spied();
    const s = idbStore({ indexedDB: factory });
    await s.add([item('A', 1)]);
    forceCloseDatabase(dbs[0] as never);
    expect(ids(await s.list('A'))).toEqual([item('A', 1).id]);
    expect(dbs).toHaveLength(2);
    expect(s.kind).toBe('idb');
  });
});

describe('idbStore falls back to memory', () => {
  /** Runs the whole contract briefly on a store that has fallen back: every method keeps working. */
  const worksInMemory = async (s: Store) => {
    await s.add([item('A', 2), item('A', 1)]);
    await s.put([item('A', 2, { attempts: 1 })]);
    await s.setMeta('A', 'identity', { email: 'a@example.com' });
    expect(await s.list('A')).toEqual([item('A', 1), item('A', 2, { attempts: 1 })]);
    await s.remove('A', [item('A', 1).id]);
    expect(ids(await s.list('A'))).toEqual([item('A', 2).id]);
    expect(await s.getMeta('A', 'identity')).toEqual({ email: 'a@example.com' });
    expect(s.kind).toBe('memory');
  };

  it('when open never answers (Safari 14): after openTimeoutMs, default 1500 ms, with one onFallback', async () => {
    vi.useFakeTimers();
    const silent = { open: () => ({}) } as unknown as IDBFactory;
    const onFallback = vi.fn();
    const s = idbStore({ indexedDB: silent, onFallback });
    let added = false;
    const calls = [s.add([item('A', 1)]).then(() => (added = true)), s.setMeta('A', 'x', 1), s.list('A')];
    await vi.advanceTimersByTimeAsync(1499);
    expect(added).toBe(false);
    expect(s.kind).toBe('idb');
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(calls);
    expect(added).toBe(true);
    expect(onFallback).toHaveBeenCalledTimes(1);
    expect(onFallback.mock.calls[0]![0]).toMatch(/timed out/);
    expect(ids(await s.list('A'))).toEqual([item('A', 1).id]);
    await worksInMemory(s);
    expect(onFallback).toHaveBeenCalledTimes(1);
  });

  it('when open throws (private mode, sandbox)', async () => {
    const throwing = {
      open: () => {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    } as unknown as IDBFactory;
    const onFallback = vi.fn();
    const s = idbStore({ indexedDB: throwing, onFallback });
    await worksInMemory(s);
    expect(onFallback).toHaveBeenCalledTimes(1);
    expect(onFallback.mock.calls[0]![0]).toMatch(/SecurityError/);
  });

  // Our open asks for no version, so a real IndexedDB never blocks it (only an upgrade waits on other tabs; the
  // second store of the 'later page' test above opens while the first is still connected). Were it blocked, the
  // open timeout covers it like any open that does not answer.
  it('when open is blocked: after the open timeout', async () => {
    const blocking = {
      open: () => {
        const req: { onblocked?: () => void } = {};
        setTimeout(() => req.onblocked?.(), 0);
        return req;
      },
    } as unknown as IDBFactory;
    const onFallback = vi.fn();
    const s = idbStore({ indexedDB: blocking, onFallback, openTimeoutMs: 20 });
    await worksInMemory(s);
    expect(onFallback).toHaveBeenCalledTimes(1);
    expect(onFallback).toHaveBeenCalledWith(expect.stringMatching(/timed out/));
  });

  it('when there is no IndexedDB at all', async () => {
    vi.stubGlobal('indexedDB', undefined);
    try {
      const onFallback = vi.fn();
      const s = idbStore({ onFallback });
      await worksInMemory(s);
      expect(onFallback).toHaveBeenCalledTimes(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  /** A fake-indexeddb factory over `real` whose puts fail the way a full origin makes them fail: a put larger
   *  than the bytes `left()` throws QuotaExceededError. Chromium checks a transaction's written bytes against the
   *  quota left and always allows delete-only transactions, so while a little is left, small writes (tombstones,
   *  1 byte here) still fit when an add does not. */
  const fullOrigin = (real: IDBFactory, left: () => number) =>
    ({
      open: (name: string) => {
        const req = real.open(name);
        req.addEventListener('success', () => {
          const db = req.result;
          const transaction = db.transaction.bind(db);
          db.transaction = ((names: string, mode?: IDBTransactionMode) => {
            const tx = transaction(names, mode);
            const objectStore = tx.objectStore.bind(tx);
            tx.objectStore = (n: string) => {
              const os = objectStore(n);
              const put = os.put.bind(os);
              os.put = (...a: Parameters<IDBObjectStore['put']>) => {
                if (JSON.stringify(a[0]).length > left()) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
                return put(...a);
              };
              return os;
            };
            return tx;
          }) as IDBDatabase['transaction'];
        });
        return req;
      },
    }) as unknown as IDBFactory;

  it('on a quota error: new items live in memory, older ones are still read and removed from IndexedDB', async () => {
    const real = new IDBFactory();
    let full = false;
    const quota = fullOrigin(real, () => (full ? 64 : Infinity));
    const onFallback = vi.fn();
    const s = idbStore({ indexedDB: quota, onFallback });
    await s.add([item('A', 1), item('A', 2), item('A', 3)]);
    full = true;
    await s.add([item('A', 4)]);
    expect(onFallback).toHaveBeenCalledTimes(1);
    expect(onFallback.mock.calls[0]![0]).toMatch(/QuotaExceededError/);
    expect(s.kind).toBe('memory');
    // One queue, in order: IndexedDB's older items and memory's new one.
    expect(ids(await s.list('A'))).toEqual(ids([1, 2, 3, 4].map((n) => item('A', n))));
    await s.put([item('A', 3, { attempts: 2 })]);
    expect((await s.list('A'))[2]).toEqual(item('A', 3, { attempts: 2 }));
    await s.remove('A', [item('A', 1).id, item('A', 3).id, item('A', 4).id]);
    expect(ids(await s.list('A'))).toEqual([item('A', 2).id]);
    // A later page finds only what was not delivered: delivered items do not come back.
    expect(ids(await idbStore({ indexedDB: real }).list('A'))).toEqual([item('A', 2).id]);
    await worksInMemory(s);
    expect(onFallback).toHaveBeenCalledTimes(1);
  });

  it('on an origin too full for any write: removed IndexedDB items are not listed again in this tab', async () => {
    const real = new IDBFactory();
    let full = false;
    const onFallback = vi.fn();
    const s = idbStore({ indexedDB: fullOrigin(real, () => (full ? 0 : Infinity)), onFallback });
    await s.add([item('A', 1), item('A', 2), item('A', 3)]);
    full = true;
    await s.add([item('A', 4)]);
    expect(onFallback).toHaveBeenCalledTimes(1);
    await s.remove('A', [item('A', 1).id, item('A', 3).id]);
    // No tombstone could be written, yet this tab's delivery must not send items 1 and 3 again.
    expect(ids(await s.list('A'))).toEqual(ids([item('A', 2), item('A', 4)]));
    await s.put([item('A', 1, { attempts: 1 })]); // an absent id is added, in memory
    expect(ids(await s.list('A'))).toEqual(ids([1, 2, 4].map((n) => item('A', n))));
    // A later page still finds item 2: nothing undelivered is lost. (It finds 1 and 3 too: their removal could not
    // be stored, so they go out once more, a duplicate update rather than a lost one.)
    expect(ids(await idbStore({ indexedDB: real }).list('A'))).toContain(item('A', 2).id);
  });
});

describe('idbStore in the back/forward cache', () => {
  it('aborts its unfinished transactions when the page is put away, and runs them again when it comes back', async () => {
    const factory = new IDBFactory();
    const s = idbStore({ indexedDB: factory, onFallback: () => expect.fail('no fallback') });
    await s.add([item('AbC123', 1)]);
    // A write under way as the page goes into the cache (pagehide with persisted), and one asked for while it is away.
    const under = s.add([item('AbC123', 2)]);
    s.suspend();
    const meanwhile = s.add([item('AbC123', 3)]);
    // Another page of the origin (its own connection) can write at once: nothing of the cached page holds it up.
    const other = idbStore({ indexedDB: factory });
    await other.add([item('AbC123', 4)]);
    expect(ids(await other.list('AbC123'))).toEqual(ids([item('AbC123', 1), item('AbC123', 4)]));
    let settled = false;
    void Promise.all([under, meanwhile]).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    // Back from the cache: both writes go through, on a new connection, and the store is still IndexedDB.
    s.resume();
    await Promise.all([under, meanwhile]);
    expect(ids(await s.list('AbC123'))).toEqual(ids([1, 2, 3, 4].map((n) => item('AbC123', n))));
    expect(s.kind).toBe('idb');
  });
});
