import type { Identifiers } from '../core/types';

/**
 * Remembered identity per company, in localStorage (never a cookie: cookies ride along on every
 * request to the site). Falls back to memory where storage throws (Safari private mode, sandboxed frames).
 */
export function identityStore(storage: () => Storage) {
  const mem = new Map<string, Identifiers>();
  const key = (company: string) => '_klaviyo:' + company + ':id';
  return {
    load(company: string): Identifiers | undefined {
      try {
        const raw = storage().getItem(key(company));
        const v: unknown = raw && JSON.parse(raw);
        if (v && typeof v === 'object') {
          // Only string identifiers of the known kinds come back out of storage.
          const ids: Identifiers = {};
          for (const k of ['email', 'phone_number', 'external_id', 'anonymous_id'] as const) {
            const x = (v as Record<string, unknown>)[k];
            if (typeof x === 'string') ids[k] = x;
          }
          return ids;
        }
      } catch {
        // unreadable storage: fall through to memory
      }
      return mem.get(company);
    },
    save(company: string, ids: Identifiers) {
      mem.set(company, ids);
      try {
        storage().setItem(key(company), JSON.stringify(ids));
      } catch {
        // memory only
      }
    },
  };
}
