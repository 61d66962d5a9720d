import type { Config } from '../core/types';
import { cookieString, hasKxParam, kxFromKlaId, kxFromSearch, kxOf, readCookie, registrableDomain } from '../core/kx';

/** Cookie that keeps the exchange id across pages (first-party, never read by the server). */
export const KX_COOKIE = '_kx';

/**
 * The visitor's `_kx`: from the URL (validated, then kept in our cookie for later pages), else our
 * cookie, else Klaviyo's own `__kla_id` cookie so a site moving over keeps its visitors.
 * A value that fails validation is ignored (a debug message, never the value): never written to the
 * cookie, never reflected.
 */
export function exchangeId(
  loc: Pick<Location, 'search' | 'hostname' | 'protocol'>,
  doc: { cookie: string },
  cfg: Config,
  log: Pick<Console, 'info'>,
): string | undefined {
  try {
    const fromUrl = kxFromSearch(loc.search);
    if (fromUrl) {
      // For a year (cookieString's default max-age).
      const write = (domain?: string) => (doc.cookie = cookieString(KX_COOKIE, fromUrl, { secure: loc.protocol === 'https:', domain }));
      write(cfg.cookieDomain ?? registrableDomain(loc.hostname));
      // A browser refuses a cookie for a public suffix it knows better than our guess (github.io, …):
      // keep it on this host then.
      if (readCookie(doc.cookie, KX_COOKIE) !== fromUrl) write();
      return fromUrl;
    }
    if (cfg.debug && hasKxParam(loc.search)) log.info('[klaviyo] ignored a _kx in the URL that is not an exchange id');
    const ours = readCookie(doc.cookie, KX_COOKIE);
    // Our cookie as we would have written it (a cookie written by other code may carry one more encoding layer).
    return kxOf(ours) ?? kxFromKlaId(readCookie(doc.cookie, '__kla_id'));
  } catch {
    // document.cookie throws in a sandboxed frame without allow-same-origin: no exchange id there.
    return undefined;
  }
}
