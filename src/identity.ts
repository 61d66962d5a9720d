// createIdentity: who the tracker's updates are about, as far as this browser knows.
import type { Config, Identifiers, Profile } from './core/types';
import { PERSON_FIELDS, identifiersOf } from './core/payload';

/** Where the identity comes from: the visitor's exchange id (URL or cookie), and the identity remembered per
 *  company (localStorage: never a cookie). */
export interface IdentityEnv {
  exchangeId(cfg: Config): string | undefined;
  identity: { load(company: string): Identifiers | undefined; save(company: string, ids: Identifiers): void };
}

/** The identity of the current company and the visitor's `_kx`, folded into each identify. */
export function createIdentity(env: IdentityEnv, cfg: Config) {
  /** Who this browser last identified for the company: read on its first identify (`loaded`), so that a page view
   *  that identifies nobody never touches localStorage. */
  let identity: Identifiers | undefined;
  let loaded = false;
  /** The visitor's exchange id, read once (`kxRead`) the page's config is known. */
  let kx: string | undefined;
  let kxRead = false;

  const readKx = () => {
    if (kxRead) return;
    kxRead = true;
    kx = env.exchangeId(cfg);
  };

  return {
    /** Read (and, from the URL, keep in its cookie) the exchange id, once. */
    readKx,
    /** Fill in, in place, `company`'s remembered identifiers that `profile` lacks and the visitor's `_kx`; false when
     *  the profile then has no identifier at all. */
    fill_(profile: Profile, company: string): boolean {
      readKx();
      if (!loaded) {
        loaded = true;
        identity = env.identity.load(company);
      }
      const known = identity;
      // Another value for a kind of identifier we remember is another person (log-out, log-in): start over from
      // the new identifiers instead of mixing two people.
      const base = known && !PERSON_FIELDS.some((k) => profile[k] && known[k] && profile[k] !== known[k]) ? known : undefined;
      let any = false;
      for (const k of PERSON_FIELDS) {
        // Filled in, in place: the profile is normalizeProfile's own new object.
        const v = profile[k] || base?.[k];
        if (v) {
          profile[k] = v;
          any = true;
        }
        // Remembered as the profile itself (only its identifier fields are ever read): in memory now, in
        // localStorage by save_(), once per task.
        if (v !== known?.[k]) identity = profile;
      }
      const x = profile._kx ?? kx;
      if (x) profile._kx = x;
      return any || !!x;
    },
    /** Keep the identity in localStorage under `company`: its identifier fields only. */
    save_(company: string) {
      if (identity) env.identity.save(company, identifiersOf(identity, PERSON_FIELDS));
    },
    /** Another company: its identity is read on its first identify. */
    reset_() {
      identity = undefined;
      loaded = false;
    },
  };
}
