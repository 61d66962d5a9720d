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
  /** Small metadata per company: the limiter history (the remembered identity is in localStorage). */
  getMeta<T>(company: string, name: string): Promise<T | undefined>;
  setMeta(company: string, name: string, value: unknown): Promise<void>;
  /** 'idb' or 'memory' (the fallback), for stats and tests. */
  readonly kind: 'idb' | 'memory';
}

/** Memory store key of an item or a metadata entry: `<company>:<id or name>` (ids and names have no ':'). */
export const key = (company: string, idOrName: string): string => company + ':' + idOrName;

/** Items sorted by id (queue order; ids are unique within a company), in place. */
export const byId = (items: QueueItem[]): QueueItem[] => items.sort((a, b) => (a.id < b.id ? -1 : 1));
