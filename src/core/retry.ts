// The retry policy as pure functions: an answer in, a verdict out. Clock and randomness are
// passed in, so tests are exact; logging and persisting the verdict happen in the caller.

/** Caps and timings of the retry policy; every field has a default. */
export interface RetryOptions {
  /** First backoff ceiling, ms. Default 1000. */
  baseMs?: number;
  /** Largest backoff ceiling, ms. Default 5 minutes. */
  capMs?: number;
  /** Attempts before an item is dropped with reason 'attempts'. Default 20. */
  maxAttempts?: number;
  /** Age (from createdAt) after which an item is dropped with reason 'ttl', ms. Default 6 days. */
  ttlMs?: number;
  /** Largest Retry-After honoured, ms; a larger one is capped to this. Default 10 minutes. */
  retryAfterCapMs?: number;
}

/**
 * What one answer means for the item(s) of one request. Times are ms since epoch.
 * On 'pause' the caller keeps the item's stored attempts unchanged: a 429 is the server throttling
 * everyone, not a fault of the item, so it never counts toward maxAttempts.
 */
export type Verdict =
  | { action: 'done' }
  | { action: 'retry'; at: number }
  | { action: 'pause'; until: number }
  | { action: 'drop'; reason: 'gone' | 'client' | 'attempts' | 'ttl'; message: string };

/** One answer: `status` 0 = network error, -1 = timeout; `detail` = the first JSON:API error's detail. */
export interface Answer {
  status: number;
  retryAfter?: string | null;
  detail?: string;
  /** The revision the request was sent with, named in the 410 message. */
  revision?: string;
}

/** Queue TTL: Safari's ITP deletes script-written storage after 7 days without a visit, so stop before. */
const TTL = 6 * 864e5;

/** Retry-After as a delay in ms from `now` (delta-seconds or HTTP-date); undefined when absent/invalid; capped (default 10 min). */
export function parseRetryAfter(value: string | null | undefined, now: number, capMs = 6e5): number | undefined {
  const v = (value ?? '').trim();
  // Date.parse is lenient ("1.5" and "-5" parse as dates), so only a value with letters may be a date.
  const ms = /^\d+$/.test(v) ? +v * 1e3 : /[a-z]/i.test(v) ? Date.parse(v) - now : NaN;
  return ms === ms ? Math.min(capMs, Math.max(0, ms)) : undefined;
}

/** Full-jitter exponential backoff in ms: random() * min(capMs, baseMs * 2^(attempt-1)); defaults 1 s and 5 min. */
export function backoff(attempt: number, random: () => number, opts: RetryOptions = {}): number {
  const { baseMs = 1e3, capMs = 3e5 } = opts;
  return random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Whether an item has outlived the queue TTL (default 6 days). */
export function expired(item: { createdAt: number }, now: number, opts: RetryOptions = {}): boolean {
  return now - item.createdAt > (opts.ttlMs ?? TTL);
}

/** Decide what to do with an item after an answer, given its attempts so far (including this one) and age. */
export function decide(
  answer: Answer,
  item: { attempts: number; createdAt: number },
  now: number,
  random: () => number,
  opts: RetryOptions = {},
): Verdict {
  const { status, detail } = answer;
  if (status >= 200 && status < 300) return { action: 'done' };
  const drop = (reason: 'gone' | 'client' | 'attempts' | 'ttl', text: string): Verdict => ({
    action: 'drop',
    reason,
    message: '[klaviyo] ' + text + (detail ? ': "' + redact(detail) + '"' : ''),
  });
  if (expired(item, now, opts)) return drop('ttl', 'dropped an expired update');
  const wait = parseRetryAfter(answer.retryAfter, now, opts.retryAfterCapMs);
  if (status === 429) return { action: 'pause', until: now + (wait ?? backoff(item.attempts, random, opts)) };
  if (status === 410) return drop('gone', `revision ${answer.revision ?? '?'} is gone (410)`);
  if (status >= 400 && status < 500 && status !== 408) return drop('client', `dropped an update (${status})`);
  // 408, 5xx, network errors, timeouts and anything unexpected (1xx/3xx): the item is not at fault.
  if (item.attempts >= (opts.maxAttempts ?? 20)) {
    return drop('attempts', `dropped an update after ${item.attempts} attempts (${status > 0 ? status : status ? 'timeout' : 'network error'})`);
  }
  // A 503 may carry Retry-After too; honour it in place of the jittered backoff.
  return { action: 'retry', at: now + (wait ?? backoff(item.attempts, random, opts)) };
}

/**
 * The server's detail may quote the value it refused (an email, a phone number). Messages reach the
 * console outside debug mode, so tokens with an '@' and '+digits' runs become '…', and length is bounded.
 */
function redact(detail: string): string {
  return detail
    .replace(/[^\s'"]*@[^\s'"]*/g, '…')
    .replace(/\+\d(?:[\d ().-]*\d)?/g, '…')
    .slice(0, 200);
}
