import { promisifyRequest as done } from 'idb-keyval';
import { memoryStore } from './memoryStore';
import { idbRecords } from './idbRecords';
import { byId, key, type Store } from './store';

const OS = 'queue';

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

  // One transaction per call; always readwrite, as our reads are few and short.
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

  const idb = idbRecords(tx);
  // After a fallback, items IndexedDB still holds are listed (memory wins on the same id) and removed there too
  // (in the background), so nothing is lost or re-ordered; `gone` keeps this tab from listing (and sending) them
  // again where not even a tombstone can be written. Metadata is read from memory only (the delivery keeps its own).
  const gone = new Set<string>();
  const inMemory: Store = {
    ...mem,
    list: async (c) =>
      byId([...new Map([...(await idb.list(c).catch(() => [])).filter((i) => !gone.has(key(c, i.id))), ...(await mem.list(c))].map((i) => [i.id, i])).values()]),
    remove: (c, ids) => {
      for (const id of ids) gone.add(key(c, id));
      idb.remove(c, ids).catch(() => {});
      return mem.remove(c, ids);
    },
  };
  // A page put into the back/forward cache keeps its unfinished transactions, and WebKit then holds every later
  // readwrite transaction of the origin behind them, the next page's included. So the page's own transactions are
  // aborted as it goes in, and run again if it comes back; what they would have added is in the journal meanwhile.
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
  // Each call runs on IndexedDB until one fails. Then the memory methods replace these (and `kind` becomes
  // 'memory', spread from `mem`), and run that call too.
  for (const k in idb)
    store[k] = (...a: unknown[]) => {
      const n = suspensions;
      return (idb as any)[k](...a).catch((e: unknown) => {
        // Aborted by a suspension: again once the page is back.
        if (n != suspensions) return store[k](...a);
        if (store.kind == 'idb') {
          Object.assign(store, inMemory);
          onFallback?.(e + '');
        }
        return store[k](...a);
      });
    };
  return store as never;
}
