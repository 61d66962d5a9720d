// The retry policy as pure functions: an answer in, a verdict out. Clock and randomness are
// passed in, so tests are exact; logging and persisting the verdict happen in the caller.
import type { Answer } from './types';

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
  | { action: 'drop'; reason: 'client' | 'attempts' | 'ttl'; message: string }
  /** 410: the API revision is retired. The update is not at fault: keep it for a page that configures a newer one. */
  | { action: 'retired'; message: string };

/** Retry-After as a delay in ms from `now` (delta-seconds or HTTP-date); undefined when absent/invalid; capped (default 10 min). */
export const parseRetryAfter = (value: string | null | undefined, now: number, capMs = 6e5): number | undefined => {
  // Date.parse is lenient ("1.5" and "-5" parse as dates), so only a value with letters may be a date.
  // (test() reads null/undefined as "null"/"undefined": letters, and Date.parse gives NaN for both.)
  const ms = /^\s*\d+\s*$/.test(value!) ? +value! * 1e3 : /[a-z]/i.test(value!) ? Date.parse(value!) - now : NaN;
  // NaN fails both comparisons: undefined.
  return ms >= 0 ? Math.min(ms, capMs) : ms < 0 ? 0 : undefined;
};

/** Full-jitter exponential backoff in ms: random() * min(capMs, baseMs * 2^(attempt-1)); defaults 1 s and 5 min. */
export const backoff = (attempt: number, random: () => number, { baseMs = 1e3, capMs = 3e5 }: RetryOptions = {}): number =>
  random() * Math.min(capMs, baseMs * 2 ** (attempt > 1 ? attempt - 1 : 0));

/** Whether an item has outlived the queue TTL (default 6 days: Safari's ITP deletes script-written storage after 7 days without a visit). */
export const expired = (item: { createdAt: number }, now: number, { ttlMs = 6 * 864e5 }: RetryOptions = {}): boolean =>
  now - item.createdAt > ttlMs;

/** Decide what to do with an item after an answer, given its attempts so far (including this one) and age. */
export const decide = (
  answer: Answer,
  item: { attempts: number; createdAt: number },
  now: number,
  random: () => number,
  opts: RetryOptions = {},
): Verdict => {
  const { status: s, detail } = answer;
  const { attempts } = item;
  const kind = (s / 100) | 0; // 2 for a 2xx, 4 for a 4xx
  // A 429 or a 503 may carry Retry-After; honour it in place of the jittered backoff. (Computed up
  // front for both: one random() draw that a done or drop verdict does not use.)
  const at = now + (parseRetryAfter(answer.retryAfter, now, opts.retryAfterCapMs) ?? backoff(attempts, random, opts));
  // The detail may quote the refused value: messages reach the console outside debug mode, so quoted strings,
  // tokens with an '@' and '+digits' runs become '…', and the length is bounded. (Not an apostrophe inside a word,
  // which opens no quote, nor a quoted JSON pointer, the name of the refused field.)
  const quoted = typeof detail == 'string' && detail ? `: "${detail.replace(/\B'(?!\/)[^']*'|\B"(?!\/)[^"]*"|[^\s'"]*@[^\s'"]*|\+\d[\d ().-]*\d/g, '…').slice(0, 200)}"` : '';
  const drop = (reason: 'client' | 'attempts' | 'ttl', why: unknown): Verdict => ({ action: 'drop', reason, message: `[klaviyo] dropped an update (${why})${quoted}` });
  if (kind == 2) return { action: 'done' };
  if (expired(item, now, opts)) return drop('ttl', 'expired');
  if (s == 429) return { action: 'pause', until: at };
  if (s == 410) return { action: 'retired', message: `[klaviyo] config.revision ${answer.revision ?? '?'} is retired (410): updates are kept until a newer revision is configured${quoted}` };
  if (kind == 4 && s != 408) return drop('client', s);
  // 408, 5xx, network errors, timeouts and anything unexpected (1xx/3xx): the item is not at fault.
  if (attempts < (opts.maxAttempts ?? 20)) return { action: 'retry', at };
  return drop('attempts', `${attempts} attempts, ${s > 0 ? s : s ? 'timeout' : 'network error'}`);
};
