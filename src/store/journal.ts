import type { QueueItem } from '../core/types';

/**
 * Synchronous storage that outlives an unload: the updates whose IndexedDB write is still under way when the page
 * hides. A navigation aborts an IndexedDB transaction that has not committed, so without this an update made in
 * the same task as the leaving would be neither durable nor (where keepalive fails) on its way.
 */
export interface Journal {
  /** Keep `items` under `key` (an empty list removes it). False when it could not be kept (no storage, too large). */
  save(key: string, items: QueueItem[]): boolean;
  /** What pages that never saw their write confirmed left behind: [key, items] (corrupt entries are removed). */
  entries(): Array<[string, QueueItem[]]>;
}

const PREFIX = 'klaviyo-snippet:j:';
/** Characters one entry may take: localStorage holds about 5 MB per origin, shared with the site's own use. */
const JOURNAL_MAX_CHARS = 1e6;

const isItem = (i: any): i is QueueItem =>
  !!i && typeof i.id == 'string' && typeof i.company == 'string' && typeof i.revision == 'string' && !!i.profile && typeof i.profile == 'object';

/** A journal in `storage()` (localStorage: written synchronously, read by the next page of the origin). Never
 *  throws: where storage is missing or full (Safari private mode, quota), entries are simply not kept. */
export function journal(storage: () => Storage): Journal {
  return {
    save(key, items) {
      try {
        const s = storage();
        if (!items.length) {
          s.removeItem(PREFIX + key);
          return true;
        }
        const json = JSON.stringify(items);
        if (json.length > JOURNAL_MAX_CHARS) return false;
        s.setItem(PREFIX + key, json);
        return true;
      } catch {
        return false;
      }
    },
    entries() {
      const out: Array<[string, QueueItem[]]> = [];
      try {
        const s = storage();
        for (let n = s.length; n--; ) {
          const k = s.key(n);
          if (!k?.startsWith(PREFIX)) continue;
          let list: unknown;
          try {
            list = JSON.parse(s.getItem(k)!);
          } catch {}
          if (Array.isArray(list) && list.length && list.every(isItem)) out.push([k.slice(PREFIX.length), list]);
          else s.removeItem(k);
        }
      } catch {
        // no storage: nothing was kept
      }
      return out;
    },
  };
}
