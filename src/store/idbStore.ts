import { promisifyRequest as done } from 'idb-keyval';
import type { QueueItem } from '../core/types';
import { memoryStore } from './memoryStore';
import { byId, itemKey, metaKey, type Store } from './store';

const OS = 'queue';

/** IndexedDB store on the tracker's own database (`klaviyo-snippet`, object store `queue`; never idb-keyval's
 *  shared default `keyval-store`). Falls back to memory (calling onFallback once with the reason) when IndexedDB
 *  is missing, blocked, never answers to open (openTimeoutMs, default 1500) or fails a write (quota). Items
 *  written before the fallback are still listed and removed from IndexedDB while it answers; new ones live in
 *  memory. A lost connection is reopened once and the call retried. */
export function idbStore(
  opts: { dbName?: string; openTimeoutMs?: number; onFallback?: (reason: string) => void; indexedDB?: IDBFactory } = {},
): Store {
  const mem = memoryStore();
  let kind: Store['kind'] = 'idb';
  let dbp: Promise<IDBDatabase> | undefined;

  // Our own opener rather than idb-keyval's createStore: it needs a timeout and an injectable factory. A failed
  // open stays cached (rejected), so calls after the fallback fail fast instead of waiting out the timeout again.
  const open = () =>
    (dbp ||= new Promise<IDBDatabase>((resolve, reject) => {
      // Throws (rejecting this promise) where IndexedDB is missing or forbidden (old Firefox private mode).
      const req = (opts.indexedDB ?? indexedDB).open(opts.dbName ?? 'klaviyo-snippet');
      // Safari 14.1 can leave open() unanswered forever (https://bugs.webkit.org/show_bug.cgi?id=226547);
      // blocked means another tab holds a different version. Either would stall every identify.
      const timer = setTimeout(() => reject(new Error('IndexedDB open timed out')), opts.openTimeoutMs ?? 1500);
      req.onupgradeneeded = () => req.result.createObjectStore(OS);
      req.onblocked = () => reject(new Error('IndexedDB open blocked'));
      done(req).then((db) => {
        clearTimeout(timer);
        // Safari and Chrome close the connection on storage pressure or "Clear site data": reopen next time.
        db.onclose = () => (dbp = undefined);
        resolve(db);
      }, reject);
    }));

  const tx = <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => Promise<T>, again = true): Promise<T> =>
    open()
      .then((db) => fn(db.transaction(OS, mode).objectStore(OS)))
      .catch((e: unknown) => {
        // A connection closed without a close event throws InvalidStateError on transaction(): reopen once.
        if (again && (e as Error)?.name === 'InvalidStateError') return (dbp = undefined), tx(mode, fn, false);
        throw e;
      });
  const write = (fn: (s: IDBObjectStore) => void) =>
    tx('readwrite', (s) => (fn(s), done(s.transaction).then(() => {})));

  const idbList = (company: string) =>
    tx('readonly', (s) =>
      done(s.getAll(IDBKeyRange.bound(itemKey(company, ''), itemKey(company, '\uffff')))).then((all: QueueItem[]) =>
        // The prefix of company `a` also matches company `a:b`; public keys have no ':', but stay exact.
        all.filter((i) => i.company === company),
      ),
    );
  const idbRemove = (company: string, ids: string[]) => write((s) => ids.forEach((id) => s.delete(itemKey(company, id))));
  const idbMeta = <T>(company: string, name: string) =>
    tx('readonly', (s) => done(s.get(metaKey(company, name)) as IDBRequest<T | undefined>));
  const idbPut = (items: QueueItem[]) => write((s) => items.forEach((i) => s.put(i, itemKey(i.company, i.id))));
  const quiet = <T>(p: Promise<T>, fallback: T) => p.catch(() => fallback);

  // Run on IndexedDB until it fails once; from then on (and for that call) on memory.
  const use = <T>(idb: () => Promise<T>, inMemory: () => Promise<T>): Promise<T> =>
    kind === 'memory'
      ? inMemory()
      : idb().catch((e: unknown) => {
          if (kind === 'idb') (kind = 'memory'), opts.onFallback?.(String(e));
          return inMemory();
        });

  return {
    get kind() {
      return kind;
    },
    add: (items) => use(() => idbPut(items), () => mem.add(items)),
    put: (items) => use(() => idbPut(items), () => mem.put(items)),
    // After a fallback, items IndexedDB still holds are listed too (memory wins on the same id), so older updates
    // are not held back for a later page where they would overwrite newer ones.
    list: (company) =>
      use(
        () => idbList(company),
        async () => {
          const all = new Map((await quiet(idbList(company), [])).map((i) => [i.id, i]));
          for (const i of await mem.list(company)) all.set(i.id, i);
          return byId([...all.values()]);
        },
      ),
    remove: (company, ids) =>
      use(
        () => idbRemove(company, ids),
        () => Promise.all([mem.remove(company, ids), quiet(idbRemove(company, ids), undefined)]).then(() => {}),
      ),
    getMeta: <T>(company: string, name: string) =>
      use(
        () => idbMeta<T>(company, name),
        async () => (await mem.getMeta<T>(company, name)) ?? quiet(idbMeta<T>(company, name), undefined),
      ),
    setMeta: (company, name, value) =>
      use(() => write((s) => s.put(value, metaKey(company, name))), () => mem.setMeta(company, name, value)),
  };
}
