import type { Answer } from '../core/types';
import type { RequestSpec } from '../core/body';

/** POST one request with fetch; timeout by AbortController (default 10 000 ms); keepalive when asked (the caller
 *  keeps those bodies under 64 KB). Never throws. Reads Retry-After, RateLimit-Remaining, RateLimit-Reset and the
 *  first JSON:API error's detail. */
export async function send(
  req: RequestSpec,
  { fetch: f = fetch, timeoutMs = 10_000, keepalive = false }: { fetch?: typeof fetch; timeoutMs?: number; keepalive?: boolean } = {},
): Promise<Answer> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let out: Answer | undefined;
  try {
    // The timeout is raced, and then aborts the request, so a fetch that ignores the signal (a host page's
    // wrapper) cannot hang the delivery loop, neither before the answer nor while its body is read.
    await Promise.race([
      new Promise((_, reject) => (timer = setTimeout(reject, timeoutMs))),
      // `url` rides along in the init too, where fetch ignores it. Klaviyo needs no cookies nor the page's URL:
      // sending neither keeps them private (a site's Referrer-Policy may allow the full URL, `_kx` and all).
      f(req.url, { ...req, method: 'POST', keepalive, credentials: 'omit', referrerPolicy: 'no-referrer', signal: abort.signal }).then(async (res) => {
        const header = (name: string) => res.headers.get(name);
        // The header as a number, or undefined when absent or not a number ([x].find: x if finite).
        const num = (name: string) => [parseFloat(header(name)!)].find(isFinite);
        out = {
          status: res.status,
          retryAfter: header('Retry-After'),
          rateRemaining: num('RateLimit-Remaining'),
          rateReset: num('RateLimit-Reset'),
        };
        // Only errors carry a body (a 202 has none: parsing it would throw, and the catch would abort, on
        // every success). Throws, leaving detail unset, where it is not JSON:API or never arrives.
        if (res.status > 299) {
          const detail = (await res.json()).errors[0].detail;
          // A proxy may answer anything: only a string is a JSON:API detail.
          if (typeof detail == 'string') out.detail = detail;
        }
      }),
    ]);
  } catch (e) {
    // Only the timeout rejects without a reason.
    out ||= { status: e ? 0 : -1, retryAfter: null };
    abort.abort();
  }
  clearTimeout(timer);
  return out!;
}
