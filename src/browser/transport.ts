/** What came back from one request. */
export interface SendResult {
  /** HTTP status; 0 = network error, -1 = timeout. */
  status: number;
  /** The Retry-After header as sent (seconds or an HTTP date), or null. */
  retryAfter: string | null;
  /** RateLimit-Remaining: requests left in the server's current window. */
  rateRemaining?: number;
  /** RateLimit-Reset: seconds until the server's window resets. */
  rateReset?: number;
  /** The first JSON:API error's `detail` of a 4xx/5xx answer. */
  detail?: string;
}

/** POST one request with fetch; timeout by AbortController (default 10 000 ms); keepalive when asked (the caller
 *  keeps those bodies under 64 KB). Never throws. Reads Retry-After, RateLimit-Remaining, RateLimit-Reset and, for
 *  4xx/5xx, the first JSON:API error's detail. */
export async function send(
  req: { url: string; headers: Record<string, string>; body: string },
  opts: { fetch?: typeof fetch; timeoutMs?: number; keepalive?: boolean } = {},
): Promise<SendResult> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Raced as well as passed as the signal, so a fetch that ignores the signal cannot hang the delivery loop.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => (abort.abort(), reject(abort.signal.reason)), opts.timeoutMs ?? 10_000);
  });
  try {
    const res = await Promise.race([
      (opts.fetch ?? fetch)(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        keepalive: !!opts.keepalive,
        // Klaviyo needs no cookies: sending none keeps the visitor's cookies private.
        credentials: 'omit',
        mode: 'cors',
        signal: abort.signal,
      }),
      timeout,
    ]);
    const num = (h: string) => {
      const v = parseFloat(res.headers.get(h) ?? '');
      return Number.isFinite(v) ? v : undefined;
    };
    const out: SendResult = {
      status: res.status,
      retryAfter: res.headers.get('Retry-After'),
      rateRemaining: num('RateLimit-Remaining'),
      rateReset: num('RateLimit-Reset'),
    };
    if (res.status >= 400) {
      try {
        out.detail = (await Promise.race([res.json(), timeout])).errors[0].detail;
      } catch {} // not JSON:API, or the body timed out: the status is what matters
    }
    return out;
  } catch {
    return { status: abort.signal.aborted ? -1 : 0, retryAfter: null };
  } finally {
    clearTimeout(timer);
  }
}
