import { promisifyRequest as done } from 'idb-keyval';
import type { QueueItem } from '../core/types';
import { memoryStore } from './memoryStore';
import { byId, key, type Store } from './store';

const OS = 'queue';
type Methods = Omit<Store, 'kind'>;

/** IndexedDB store on the tracker's own database (`klaviyo-snippet`, object store `queue`; never idb-keyval's
 *  shared default `keyval-store`). Falls back to memory (calling onFallback once with the reason) when IndexedDB
 *  is missing, never answers to open (openTimeoutMs, default 1500) or fails a call (quota). Items written before
 *  the fallback are still listed and removed from IndexedDB while it answers; new ones live in memory. A lost
 *  connection is reopened once and the call retried. */
export function idbStore(
  { openTimeoutMs = 1500, onFallback, indexedDB: factory }: { openTimeoutMs?: number; onFallback?: (reason: string) => void; indexedDB?: IDBFactory } = {},
): Store & { suspend(): void; resume(): void } {
  const mem = memoryStore();
  let dbp: Promise<IDBDatabase> | 0 | undefined;
  /** Transactions not yet finished, and how many times the page was put away (suspend): a call that fails after
   *  that waits for `resume` and runs again. */
  const running = new Set<IDBTransaction>();
  let suspensions = 0;
  let away: Promise<void> | undefined;
  let back = () => {};

  // Our own opener rather than idb-keyval's createStore: it needs a timeout and an injectable factory. A failed
  // open stays cached (rejected), so calls after the fallback fail fast instead of waiting out the timeout again.
  const open = () =>
    (dbp ||= new Promise<IDBDatabase>((resolve, reject) => {
      // Safari 14.1 can leave open() unanswered forever (https://bugs.webkit.org/show_bug.cgi?id=226547). The
      // timer is not cleared: rejecting a settled promise does nothing. No version is asked for, so an existing
      // database is never upgraded and `blocked` cannot fire (were it to, the timeout covers it).
      setTimeout(reject, openTimeoutMs, 'timed out');
      // Throws (rejecting this promise) where IndexedDB is missing or forbidden (old Firefox private mode).
      const req = (factory || indexedDB).open('klaviyo-snippet');
      req.onupgradeneeded = () => req.result.createObjectStore(OS);
      done(req).then(resolve, reject); // (resolving with it would lock out the timeout's reject)
    }));

  // One transaction per call; always readwrite, as our reads are few and short. `fn` returns a request to read its
  // result, or nothing to wait for the commit (a quota error may only show there).
  const tx = <T = void>(fn: (s: IDBObjectStore) => IDBRequest<T> | void, again?: 1): Promise<T> =>
    open().then((db): Promise<T> => {
      // Put away meanwhile: nothing new starts until the page is back.
      if (away) return away.then(() => tx(fn, again));
      let s;
      try {
        s = db.transaction(OS, 'readwrite').objectStore(OS);
        const t = s.transaction;
        running.add(t);
        t.addEventListener('complete', () => running.delete(t));
        t.addEventListener('abort', () => running.delete(t));
      } catch (e) {
        // A connection the browser closed (storage pressure, "Clear site data") throws InvalidStateError, with or
        // without a close event: reopen once.
        if (again) throw e;
        dbp = 0;
        return tx(fn, 1);
      }
      return done<T>(fn(s) || (s.transaction as never));
    });

  // Keys are arrays, so one key range holds exactly a company's queue: [c, 0, name] metadata, [c, 1, ...] a
  // tombstone (the ids of one `remove`), [c, firstId] the items of one `add` (one record: one put of the array costs
  // Chromium ~5 ms for 1000 items, one put per item 35-47 ms), [c, [id]] an item replaced by `put`. They sort in
  // that order (numbers, strings, arrays), so a replacement comes after the record it overrides, and the tombstones
  // first. Removal writes tombstones rather than rewriting records (draining 10 000 items a few ids at a time would
  // be quadratic), one per call: a put per id cost a 1500-request burst ~0.2 s of the page's main thread and ~0.4 s
  // of the browser's. Reading sweeps, in the same transaction: a record whose items are all removed goes, then
  // each tombstone no record holds an id of. (What the last removals leave waits for the next read: bounded by
  // the queue.)
  // The ids a tombstone holds. (One of an earlier build is a 0, its one id in the key.)
  const buried = (value: string[] | 0, k: IDBValidKey) => value || [(k as string[])[2]!];
  // Calls `fn` with each record in `range` and the record's key, in key order (getAll gives no keys: its getAllKeys
  // twin in the same transaction does), then `after`.
  const each = (s: IDBObjectStore, range: IDBKeyRange, fn: (value: any, k: any) => unknown, after?: () => void) => {
    const keys = s.getAllKeys(range);
    const recs = s.getAll(range);
    recs.onsuccess = () => {
      recs.result.forEach((r, n) => fn(r, keys.result[n]));
      after?.();
    };
  };
  const list = (c: string) => {
    let out: QueueItem[];
    const dead = new Set<string>();
    const live = new Map<string, QueueItem>();
    const held = new Set<string>();
    const graves: [IDBValidKey, string[]][] = [];
    return tx((s) =>
      each(
        s,
        // All of c's records but its metadata: tombstones, then items (arrays sort after numbers and strings).
        IDBKeyRange.bound([c, 1], [c, [[]]]),
        (r: (QueueItem | string)[], k: [string, IDBValidKey, string]) => {
          if (k[1] === 1) return graves.push([k, (r = buried(r as string[], k))]), r.forEach((id) => dead.add(id as string));
          // (A record of an earlier build is one item, not an array of them.)
          const items = [r].flat() as QueueItem[];
          if (items.every((i) => dead.has(i.id))) return s.delete(k);
          for (const i of items) held.add(i.id), dead.has(i.id) || live.set(i.id, i);
        },
        () => {
          for (const [k, ids] of graves) ids.some((id) => held.has(id)) || s.delete(k);
          out = byId([...live.values()]);
        },
      ),
    ).then(() => out);
  };
  // One record written, awaited until its transaction commits (a put's own success comes before that).
  const write = (value: unknown, k: IDBValidKey) =>
    tx((s) => {
      s.put(value, k);
    });
  // Unique among this origin's tabs without coordination: the time and a random part. (An empty one is swept.)
  const remove = (c: string, ids: string[]) => write(ids, [c, 1, Date.now(), Math.random()]);
  // A replacement revives a removed id (an absent id is added), overriding any older copy of it: the tombstones
  // that name it are rewritten without it. (Replacements are the retry path, and tombstones are few: each read
  // sweeps them.)
  const put = (items: QueueItem[]) =>
    tx((s) => {
      const revived = new Set(items.map((i) => (s.put([i], [i.company, [i.id]]), key(i.company, i.id))));
      new Set(items.map((i) => i.company)).forEach((c) => {
        const back = (id: string) => revived.has(key(c, id));
        // The tombstones of c.
        each(s, IDBKeyRange.bound([c, 1], [c, 1, []]), (g: string[] | 0, k: IDBValidKey) => (g = buried(g, k)).some(back) && s.put(g.filter((id) => !back(id)), k));
      });
    });
  // One record per company in the call (a call mixing companies is rare, but must keep them apart).
  const add = (items: QueueItem[]) =>
    tx((s) => {
      const by = new Map<string, QueueItem[]>();
      for (const i of items) by.get(i.company)?.push(i) || by.set(i.company, [i]);
      by.forEach((r, c) => s.put(r, [c, r[0]!.id]));
    });
  const idb: Methods = {
    add,
    put,
    list,
    remove,
    getMeta: (c, name) => tx((s) => s.get([c, 0, name])),
    setMeta: (c, name, value) => write(value, [c, 0, name]),
  };
  // After a fallback, items IndexedDB still holds are listed (memory wins on the same id) and removed there too
  // (in the background: this connection runs transactions in order), so nothing is lost or re-ordered. Where the
  // origin is so full that even a tombstone cannot be written, `gone` keeps this tab from listing (and sending)
  // them again. Metadata (the limiter history) is read from memory only: this tab's delivery keeps its own anyway.
  const gone = new Set<string>();
  const inMemory: Methods = {
    ...mem,
    list: async (c) =>
      byId([...new Map([...(await list(c).catch(() => [])).filter((i) => !gone.has(key(c, i.id))), ...(await mem.list(c))].map((i) => [i.id, i])).values()]),
    remove: (c, ids) => (ids.map((i) => gone.add(key(c, i))), remove(c, ids).catch(() => {}), mem.remove(c, ids)),
  };
  // Each call runs on IndexedDB until one fails. Then the memory methods replace these (and `kind` becomes
  // 'memory', spread from `mem`), and run that call too.
  // A page put into the back/forward cache keeps its unfinished transactions, and WebKit then holds every later
  // readwrite transaction of the origin behind them, the next page's included (measured: every write of the next
  // page waited as long as the cached page lived). So the page's own transactions are aborted as it goes in, and
  // run again if it comes back; what they would have added is in the journal meanwhile.
  const store = {
    kind: 'idb',
    suspend() {
      suspensions++;
      away ??= new Promise<void>((r) => (back = r));
      for (const t of running)
        try {
          t.abort();
        } catch {
          // finished meanwhile
        }
      if (dbp) dbp.then((db) => db.close(), () => {});
      dbp = 0;
    },
    resume() {
      back();
      away = undefined;
    },
  } as Record<string, any>;
  for (const k in idb)
    store[k] = (...a: unknown[]) => {
      const n = suspensions;
      return (idb as any)[k](...a).catch((e: unknown) => {
        // Aborted by a suspension: again once the page is back.
        if (n != suspensions) return store[k](...a);
        if (store.kind == 'idb') Object.assign(store, inMemory), onFallback?.(e + '');
        return store[k](...a);
      });
    };
  return store as never;
}
