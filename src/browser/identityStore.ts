import type { Identifiers } from '../core/types';
import { PERSON_FIELDS, identifiersOf } from '../core/payload';

/**
 * Remembered identity per company, in localStorage (never a cookie: cookies ride along on every
 * request to the site). Falls back to memory where storage throws (Safari private mode, sandboxed
 * frames). What comes back is re-picked field by field: only identifier fields, never `_kx`.
 */
export function identityStore(storage: () => Storage) {
  const mem: Record<string, Identifiers> = {};
  const key = (company: string) => '_klaviyo:' + company + ':id';
  return {
    load(company: string): Identifiers | undefined {
      try {
        const v = JSON.parse(storage().getItem(key(company))!);
        if (v && typeof v === 'object') return identifiersOf(v, PERSON_FIELDS);
      } catch {
        // unreadable storage: memory below
      }
      return mem[company];
    },
    save(company: string, ids: Identifiers) {
      mem[company] = ids;
      try {
        storage().setItem(key(company), JSON.stringify(ids));
      } catch {
        // memory only
      }
    },
  };
}
