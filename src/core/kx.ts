// The `_kx` exchange id (DESIGN §5): parsing, validation, Klaviyo's `__kla_id` cookie, our cookie string.
// Pure string functions: the cookie adapter reads and writes `document.cookie` with them.

// URL-safe base64 token, `=` padding, `.`, company id (Klaviyo public keys are 6 characters; allow 5-8).
const KX = /^[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9]{5,8}$/;

/** The canonical exchange id (percent-encoding decoded once, `%3D` -> `=`), or undefined when not plausible. */
export function kxOf(v: unknown): string | undefined {
  // Length checks before and after decoding: a hostile 5 KB value costs nothing more than a comparison.
  if (typeof v !== 'string' || v.length > 768) return;
  let s = v;
  try {
    if (s.includes('%')) s = decodeURIComponent(s);
  } catch {
    return; // malformed escape like `%E0%A4%A`
  }
  return s.length >= 10 && s.length <= 256 && KX.test(s) ? s : undefined;
}

/** True for a plausible exchange id: URL-safe base64 token, '=' padding, '.', company id; 10-256 characters. */
export function isValidKx(v: unknown): v is string {
  return kxOf(v) !== undefined;
}

/** `_kx` from a URL query string (location.search, with or without `?`), canonical; undefined when absent or invalid. */
export function kxFromSearch(search: string): string | undefined {
  // URLSearchParams decodes once (`%3D` -> `=`); kxOf decodes a second layer only if a `%` is left.
  return kxOf(new URLSearchParams(search).get('_kx'));
}

/** `$exchange_id` from Klaviyo's own `__kla_id` cookie value (base64 JSON, maybe URL-encoded); undefined if absent/invalid. */
export function kxFromKlaId(cookieValue: string | undefined): string | undefined {
  if (!cookieValue || cookieValue.length > 8192) return;
  try {
    // atob wants the standard alphabet; padding is optional for it (forgiving-base64 decode).
    const json: unknown = JSON.parse(atob(decodeURIComponent(cookieValue).replace(/-/g, '+').replace(/_/g, '/')));
    return json && typeof json === 'object' ? kxOf((json as Record<string, unknown>).$exchange_id) : undefined;
  } catch {
    return; // not base64, not JSON, malformed escape: Klaviyo's cookie from another version, or tampered
  }
}

/** The value of one cookie from a `document.cookie` string (percent-decoded when possible); undefined if not set. */
export function readCookie(cookies: string, name: string): string | undefined {
  for (const part of cookies.split(';')) {
    const i = part.indexOf('=');
    // The first match wins: browsers list the cookie with the most specific path first.
    if (i > 0 && part.slice(0, i).trim() === name) {
      const v = part.slice(i + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
}

/** A `document.cookie` assignment: value percent-encoded, path=/, max-age (default 365 days), domain when a
 *  plain hostname, SameSite=Lax, Secure when `secure` (https). */
export function cookieString(name: string, value: string, opts: { secure: boolean; domain?: string; maxAgeDays?: number }): string {
  const { secure, domain, maxAgeDays = 365 } = opts;
  // A configured domain is only used when it is a bare hostname: a `;` in it would inject cookie attributes.
  const dom = domain && /^\.?[a-z0-9.-]+$/i.test(domain) ? `; domain=${domain}` : '';
  return `${name}=${encodeURIComponent(value)}; path=/; max-age=${Math.round(maxAgeDays * 86400)}${dom}; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** Registrable domain guess for a hostname: the last two labels, or three when the second-to-last is a 2-3
 *  letter SLD under a 2-letter ccTLD (`shop.example.co.uk` -> `example.co.uk`); undefined for IPs and single labels.
 *  No public suffix list: a guess that is too narrow only scopes the cookie to fewer subdomains. */
export function registrableDomain(hostname: string): string | undefined {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  // IPv4 (last label numeric) and IPv6 (`[::1]` or bare): cookies cannot take a domain attribute there.
  if (/[:[\]]|\.\d+$|^\d+$/.test(h)) return;
  const labels = h.split('.');
  const n = labels.length;
  if (n < 2 || labels.some((l) => !l)) return;
  const short = /^[a-z]{2}$/.test(labels[n - 1]!) && /^[a-z]{2,3}$/.test(labels[n - 2]!);
  if (short && n < 3) return; // `co.uk` itself is a public suffix
  return labels.slice(short ? -3 : -2).join('.');
}
