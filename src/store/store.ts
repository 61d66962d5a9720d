import type { QueueItem } from '../core/types';

/** Where the queue and small metadata live. Every method is one transaction. Keys are namespaced by company. */
export interface Store {
  /** Add items (one transaction for the whole array). */
  add(items: QueueItem[]): Promise<void>;
  /** All queued items of a company, oldest first (by id). */
  list(company: string): Promise<QueueItem[]>;
  /** Replace stored items by id (attempts/notBefore changed); an absent id is added. */
  put(items: QueueItem[]): Promise<void>;
  /** Remove items by id (one transaction); unknown ids are ignored. */
  remove(company: string, ids: string[]): Promise<void>;
  /** Small metadata per company: remembered identity, limiter history. */
  getMeta<T>(company: string, name: string): Promise<T | undefined>;
  setMeta(company: string, name: string, value: unknown): Promise<void>;
  /** 'idb' or 'memory' (the fallback), for stats and tests. */
  readonly kind: 'idb' | 'memory';
}

/** Key of a queued item: `q:<company>:<id>`; ids are time-sortable, so key order is queue order. */
export const itemKey = (company: string, id: string): string => `q:${company}:${id}`;

/** Key of a metadata entry: `m:<company>:<name>`. */
export const metaKey = (company: string, name: string): string => `m:${company}:${name}`;

/** Items sorted by id (queue order; ids are unique within a company), in place. */
export const byId = (items: QueueItem[]): QueueItem[] => items.sort((a, b) => (a.id < b.id ? -1 : 1));
