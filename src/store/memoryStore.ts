import type { QueueItem } from '../core/types';
import { byId, key, type Store } from './store';

// Values are copied in and out, as IndexedDB's structured clone does, so a caller that changes a listed item
// without `put` sees the same (unchanged) store here as in IndexedDB. Stored values are plain JSON by design;
// falsy ones (undefined, 0, '', null) need no copy.
const copy = <T>(v: T): T => v && JSON.parse(JSON.stringify(v));

/** The in-memory store: the fallback when IndexedDB is unusable, and the fake the queue is tested on. */
export function memoryStore(): Store {
  const items = new Map<string, QueueItem>();
  const meta = new Map<string, unknown>();
  const save = async (list: QueueItem[]) => {
    for (const i of list) items.set(key(i.company, i.id), copy(i));
  };
  return {
    kind: 'memory',
    add: save,
    put: save,
    list: async (company) => byId([...items.values()].filter((i) => i.company == company).map(copy)),
    remove: async (company, ids) => {
      for (const id of ids) items.delete(key(company, id));
    },
    getMeta: async (company, name) => copy(meta.get(key(company, name))) as never,
    setMeta: async (company, name, value) => {
      meta.set(key(company, name), copy(value));
    },
  };
}
