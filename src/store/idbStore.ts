import { promisifyRequest as done } from 'idb-keyval';
import type { QueueItem } from '../core/types';
import { memoryStore } from './memoryStore';
import { byId, type Store } from './store';

const OS = 'queue';
type Methods = Omit<Store, 'kind'>;

/** IndexedDB store on the tracker's own database (`klaviyo-snippet`, object store `queue`; never idb-keyval's
 *  shared default `keyval-store`). Falls back to memory (calling onFallback once with the reason) when IndexedDB
 *  is missing, never answers to open (openTimeoutMs, default 1500) or fails a call (quota). Items written before
 *  the fallback are still listed and removed from IndexedDB while it answers; new ones live in memory. A lost
 *  connection is reopened once and the call retried. */
export function idbStore(
  { openTimeoutMs = 1500, onFallback, indexedDB: factory }: { openTimeoutMs?: number; onFallback?: (reason: string) => void; indexedDB?: IDBFactory } = {},
): Store {
  const mem = memoryStore();
  let dbp: Promise<IDBDatabase> | 0 | undefined;

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
    open().then((db) => {
      let s;
      try {
        s = db.transaction(OS, 'readwrite').objectStore(OS);
      } catch (e) {
        // A connection the browser closed (storage pressure, "Clear site data") throws InvalidStateError, with or
        // without a close event: reopen once.
        if (again) throw e;
        dbp = 0;
        return tx(fn, 1);
      }
      return done<T>(fn(s) || (s.transaction as never));
    });

  // Keys are arrays: [company, id] for items, so one key range holds exactly a company's queue in id order;
  // [company, 0, name] for metadata sorts before [company, ''] (numbers before strings), outside that range.
  const list = (c: string) => tx<QueueItem[]>((s) => s.getAll(IDBKeyRange.bound([c, ''], [c, []])));
  const remove = (c: string, ids: string[]) =>
    tx((s) => {
      for (const id of ids) s.delete([c, id]);
    });
  const put = (items: QueueItem[]) =>
    tx((s) => {
      for (const i of items) s.put(i, [i.company, i.id]);
    });
  const idb: Methods = {
    add: put,
    put,
    list,
    remove,
    getMeta: (c, name) => tx((s) => s.get([c, 0, name])),
    setMeta: (c, name, value) =>
      tx((s) => {
        s.put(value, [c, 0, name]);
      }),
  };
  // After a fallback, items IndexedDB still holds are listed (memory wins on the same id) and removed there too
  // (in the background: this connection runs transactions in order), so nothing is lost or re-ordered. Metadata
  // (the limiter history) is read from memory only: this tab's delivery keeps its own history anyway.
  const inMemory: Methods = {
    ...mem,
    list: async (c) => byId([...new Map([...(await list(c).catch(() => [])), ...(await mem.list(c))].map((i) => [i.id, i])).values()]),
    remove: (c, ids) => (remove(c, ids).catch(() => {}), mem.remove(c, ids)),
  };
  // Each call runs on IndexedDB until one fails. Then the memory methods replace these (and `kind` becomes
  // 'memory', spread from `mem`), and run that call too.
  const store = { kind: 'idb' } as Record<string, any>;
  for (const k in idb)
    store[k] = (...a: unknown[]) =>
      (idb as any)[k](...a).catch((e: unknown) => {
        if (store.kind == 'idb') Object.assign(store, inMemory), onFallback?.(e + '');
        return store[k](...a);
      });
  return store as Store;
}
