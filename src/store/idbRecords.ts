// idbRecords: the Store methods on the records of one IndexedDB object store.
import type { QueueItem } from '../core/types';
import { byId, key, type Store } from './store';

/** A Store without its `kind`. */
export type StoreMethods = Omit<Store, 'kind'>;

/** Runs `fn` in one readwrite transaction: resolves with the result of the request `fn` returns, or, when it
 *  returns none, once the transaction commits (a quota error may only show there). */
export type Transact = <T = void>(fn: (s: IDBObjectStore) => IDBRequest<T> | void) => Promise<T>;

// Keys are arrays, so one key range holds exactly a company's queue: [c, 0, name] metadata, [c, 1, ...] a tombstone
// (the ids of one `remove`), [c, firstId] the items of one `add` (one record: one put of the array is several times
// cheaper than one put per item), [c, [id]] an item replaced by `put`. They sort in that order (numbers, strings,
// arrays), so a replacement comes after the record it overrides, and the tombstones first. Removal writes tombstones
// rather than rewriting records (draining a long queue a few ids at a time would be quadratic), one per call.
// Reading sweeps, in the same transaction: a record whose items are all removed goes, then each tombstone no record
// holds an id of. (What the last removals leave waits for the next read: bounded by the queue.)

// The ids a tombstone holds. (One written by an earlier version is a 0, its one id in the key.)
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

/** The Store methods on the records `tx` reaches (layout above). */
export function idbRecords(tx: Transact): StoreMethods {
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
          if (k[1] === 1) {
            graves.push([k, (r = buried(r as string[], k))]);
            return r.forEach((id) => dead.add(id as string));
          }
          // (A record written by an earlier version is one item, not an array of them.)
          const items = [r].flat() as QueueItem[];
          if (items.every((i) => dead.has(i.id))) return s.delete(k);
          for (const i of items) {
            held.add(i.id);
            if (!dead.has(i.id)) live.set(i.id, i);
          }
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
      for (const i of items) s.put([i], [i.company, [i.id]]);
      const revived = new Set(items.map((i) => key(i.company, i.id)));
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
  return {
    add,
    put,
    list,
    remove,
    getMeta: (c, name) => tx((s) => s.get([c, 0, name])),
    setMeta: (c, name, value) => write(value, [c, 0, name]),
  };
}
