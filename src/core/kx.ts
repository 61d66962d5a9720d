// The `_kx` exchange id (DESIGN §5): parsing, validation, Klaviyo's `__kla_id` cookie, our cookie string.
// Pure string functions: the cookie adapter reads and writes `document.cookie` with them.

// 10-256 characters: a URL-safe base64 token (`\w` is [A-Za-z0-9_]), up to two `=`, `.`, the company id
// (Klaviyo public keys are 6 letters or digits, `[^\W_]`; allow 5-8).
const KX = /^(?=.{10,256}$)[\w-]+={0,2}\.[^\W_]{5,8}$/;

/** The canonical exchange id (percent-encoding decoded once, `%3D` -> `=`), or undefined when not plausible. */
export const kxOf = (v: unknown): string | undefined => {
  try {
    // Decoding a string without `%` changes nothing; a malformed escape like `%E0%A4%A` throws.
    if (typeof v == 'string' && KX.test((v = decodeURIComponent(v)) as string)) return v as string;
  } catch {}
};

/** True when a URL query string names a `_kx`, valid or not (cheap: no parsing). */
export const hasKxParam = (search: string) => /[?&]_kx=/.test(search);

/** `_kx` from a URL query string (location.search, with or without `?`), canonical; undefined when absent or invalid. */
// URLSearchParams decodes once (`%3D` -> `=`); kxOf decodes a second layer if a `%` is left.
export const kxFromSearch = (search: string) => kxOf(new URLSearchParams(search).get('_kx'));

/** `$exchange_id` from Klaviyo's own `__kla_id` cookie value (base64 JSON, maybe URL-encoded); undefined if absent/invalid. */
export const kxFromKlaId = (cookieValue: string | undefined): string | undefined => {
  try {
    // Anything wrong (absent, over 8 KB, not base64 or JSON, JSON null) throws or gives no string id. atob wants
    // the standard alphabet; padding is optional for it.
    return kxOf(cookieValue!.length < 8193 && JSON.parse(atob(decodeURIComponent(cookieValue!).replace(/-/g, '+').replace(/_/g, '/'))).$exchange_id);
  } catch {}
};

/** The value of one cookie from a `document.cookie` string (percent-decoded when possible); undefined if not set. */
export const readCookie = (cookies: string, name: string): string | undefined => {
  for (const part of cookies.split(';')) {
    // `a=b=c` splits into `a`, `b=c`; without `=` the value is undefined.
    let [k, v] = part.split(/=(.*)/);
    // The first match wins: browsers list the cookie with the most specific path first.
    if (k!.trim() == name && v != null) {
      try {
        return decodeURIComponent((v = v.trim()));
      } catch {
        return v;
      }
    }
  }
};

/** A `document.cookie` assignment: value percent-encoded, path=/, max-age (default 365 days), domain when a
 *  plain hostname, SameSite=Lax, Secure when `secure` (https). */
export const cookieString = (name: string, value: string, { secure, domain, maxAgeDays = 365 }: { secure: boolean; domain?: string; maxAgeDays?: number }) =>
  // A configured domain is only used when it is a bare hostname: a `;` in it would inject cookie attributes.
  `${name}=${encodeURIComponent(value)}; path=/; max-age=${(maxAgeDays * 86400) | 0}${domain && /^\.?[\w.-]+$/.test(domain) ? '; domain=' + domain : ''}; SameSite=Lax${secure ? '; Secure' : ''}`;

/** Registrable domain guess for a hostname: the last two labels, or three when the second-to-last is a 2-3
 *  letter SLD under a 2-letter ccTLD (`shop.example.co.uk` -> `example.co.uk`); undefined for IPs and single labels.
 *  No public suffix list: a guess that is too narrow only scopes the cookie to fewer subdomains. */
export const registrableDomain = (hostname: string): string | undefined =>
  // From a label start: a label, `.`, then a `co.uk`-like pair or one label not ending in a digit (IPv4 ends in
  // one, no top-level domain does), then an optional final dot. The lookahead refuses `co.uk` itself. IPv6
  // (`[::1]`) and `localhost` have no dot and never match.
  hostname.toLowerCase().match(/(?:^|\.)((?![a-z]{2,3}\.[a-z]{2}\.?$)[^.]+\.(?:[a-z]{2,3}\.[a-z]{2}|[^.]*[^\d.]))\.?$/)?.[1];
