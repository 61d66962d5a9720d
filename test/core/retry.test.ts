import { describe, expect, it } from 'vitest';
import { backoff, decide, expired, parseRetryAfter } from '../../src/core/retry';
import type { Verdict } from '../../src/core/retry';
import type { Answer } from '../../src/core/types';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const fixed = (v: number) => () => v;
const ALMOST_ONE = 1 - 2 ** -53; // the largest value Math.random() can return
const fresh = { attempts: 1, createdAt: NOW - 1000 };

function verdict(answer: Answer, item = fresh, random = fixed(0.5)): Verdict {
  return decide(answer, item, NOW, random);
}

describe('decide: status families', () => {
  it.each([200, 202, 204])('%i is done', (status) => {
    expect(verdict({ status })).toEqual({ action: 'done' });
  });

  it.each([408, 500, 502, 503, 504, 0, -1])('%i retries after a jittered backoff', (status) => {
    // attempt 3 -> ceiling 4000 ms; random 0.25 -> 1000 ms
    expect(verdict({ status }, { attempts: 3, createdAt: NOW }, fixed(0.25))).toEqual({ action: 'retry', at: NOW + 1000 });
  });

  it.each([100, 304, 600])('unexpected status %i retries rather than losing the update', (status) => {
    expect(verdict({ status }).action).toBe('retry');
  });

  it.each([400, 401, 403, 404, 409, 413, 415])('%i drops the item as a client error, quoting detail', (status) => {
    expect(verdict({ status, detail: 'bad field' })).toEqual({
      action: 'drop',
      reason: 'client',
      message: `[klaviyo] dropped an update (${status}): "bad field"`,
    });
  });

  it('410 keeps the update (the revision is retired, not the update bad), naming config.revision and quoting the detail', () => {
    expect(verdict({ status: 410, revision: '2023-01-24', detail: 'This revision is no longer supported.' })).toEqual({
      action: 'retired',
      message: '[klaviyo] config.revision 2023-01-24 is retired (410): updates are kept until a newer revision is configured: "This revision is no longer supported."',
    });
    // Not even on the last attempt: it was never the update's fault.
    expect(verdict({ status: 410, revision: '2023-01-24' }, { ...fresh, attempts: 20 })).toMatchObject({ action: 'retired' });
  });

  it('4xx without a detail has a short message with no quote', () => {
    expect(verdict({ status: 400 })).toMatchObject({ message: '[klaviyo] dropped an update (400)' });
  });

  it('4xx is dropped even on the first attempt and regardless of Retry-After', () => {
    expect(verdict({ status: 403, retryAfter: '5' }).action).toBe('drop');
  });
});

describe('decide: 429', () => {
  it('pauses for Retry-After seconds', () => {
    expect(verdict({ status: 429, retryAfter: '5' })).toEqual({ action: 'pause', until: NOW + 5000 });
  });

  it('pauses until a Retry-After HTTP-date', () => {
    const date = new Date(NOW + 42_000).toUTCString();
    expect(verdict({ status: 429, retryAfter: date })).toEqual({ action: 'pause', until: NOW + 42_000 });
  });

  it.each([undefined, null, '', 'soon', '1.5', '-5'])('falls back to the backoff when Retry-After is %j', (retryAfter) => {
    // attempt 2 -> ceiling 2000 ms; random 0.5 -> 1000 ms
    expect(verdict({ status: 429, retryAfter }, { attempts: 2, createdAt: NOW }, fixed(0.5))).toEqual({
      action: 'pause',
      until: NOW + 1000,
    });
  });

  it('caps a huge Retry-After at 10 minutes by default, or at retryAfterCapMs', () => {
    expect(verdict({ status: 429, retryAfter: '86400' })).toEqual({ action: 'pause', until: NOW + 600_000 });
    expect(decide({ status: 429, retryAfter: '9'.repeat(400) }, fresh, NOW, fixed(0), { retryAfterCapMs: 30_000 })).toEqual({
      action: 'pause',
      until: NOW + 30_000,
    });
  });

  it('does not count toward maxAttempts: being throttled is not the item\'s fault', () => {
    expect(verdict({ status: 429, retryAfter: '1' }, { attempts: 500, createdAt: NOW }).action).toBe('pause');
  });

  it('still drops an item past its TTL', () => {
    expect(verdict({ status: 429, retryAfter: '1' }, { attempts: 1, createdAt: NOW - 7 * DAY })).toMatchObject({
      action: 'drop',
      reason: 'ttl',
    });
  });
});

describe('decide: caps', () => {
  it('drops after maxAttempts (default 20) retryable failures, naming the last status', () => {
    expect(verdict({ status: 503 }, { attempts: 19, createdAt: NOW }).action).toBe('retry');
    expect(verdict({ status: 503 }, { attempts: 20, createdAt: NOW })).toEqual({
      action: 'drop',
      reason: 'attempts',
      message: '[klaviyo] dropped an update (20 attempts, 503)',
    });
    expect(verdict({ status: 0 }, { attempts: 20, createdAt: NOW })).toMatchObject({
      message: '[klaviyo] dropped an update (20 attempts, network error)',
    });
    expect(verdict({ status: -1 }, { attempts: 20, createdAt: NOW })).toMatchObject({
      message: '[klaviyo] dropped an update (20 attempts, timeout)',
    });
  });

  it('honours a custom maxAttempts', () => {
    const opts = { maxAttempts: 3 };
    expect(decide({ status: 500 }, { attempts: 2, createdAt: NOW }, NOW, fixed(0), opts).action).toBe('retry');
    expect(decide({ status: 500 }, { attempts: 3, createdAt: NOW }, NOW, fixed(0), opts).action).toBe('drop');
  });

  it('drops on any failure once older than the TTL (default 6 days)', () => {
    const old = { attempts: 1, createdAt: NOW - 6 * DAY - 1 };
    const young = { attempts: 1, createdAt: NOW - 6 * DAY };
    expect(verdict({ status: 503 }, old)).toEqual({
      action: 'drop',
      reason: 'ttl',
      message: '[klaviyo] dropped an update (expired)',
    });
    expect(verdict({ status: 503 }, young).action).toBe('retry');
    // A success is a success, however old.
    expect(verdict({ status: 202 }, old)).toEqual({ action: 'done' });
  });

  it('expired() uses ttlMs', () => {
    expect(expired({ createdAt: NOW - 6 * DAY - 1 }, NOW)).toBe(true);
    expect(expired({ createdAt: NOW - 6 * DAY }, NOW)).toBe(false);
    expect(expired({ createdAt: NOW - HOUR - 1 }, NOW, { ttlMs: HOUR })).toBe(true);
    expect(expired({ createdAt: NOW - HOUR }, NOW, { ttlMs: HOUR })).toBe(false);
  });

  it('a 503 with Retry-After waits that long instead of the backoff', () => {
    expect(verdict({ status: 503, retryAfter: '30' }, fresh, fixed(0))).toEqual({ action: 'retry', at: NOW + 30_000 });
  });
});

describe('decide: no PII in messages', () => {
  it('redacts emails and +digits phone numbers quoted by the server', () => {
    const v = verdict({
      status: 400,
      detail: "Invalid email address 'jane.doe+test@example.com'; phone +1 (415) 555-0100 and +447700900123 not allowed",
    });
    expect(v).toMatchObject({
      message: '[klaviyo] dropped an update (400): "Invalid email address …; phone … and … not allowed"',
    });
    const message = v.action === 'drop' ? v.message : '';
    expect(message).not.toMatch(/@|example|\d{4}/);
  });

  it('redacts any quoted value, such as a name the server echoes', () => {
    expect(verdict({ status: 400, detail: `first_name 'Jane Doe' and city "Old Town" are too long` })).toMatchObject({
      message: '[klaviyo] dropped an update (400): "first_name … and city … are too long"',
    });
    // An apostrophe inside a word opens no quote: the value after it is still masked.
    expect(verdict({ status: 400, detail: `Profile's first_name 'Jane' is too long` })).toMatchObject({
      message: `[klaviyo] dropped an update (400): "Profile's first_name … is too long"`,
    });
  });

  it('keeps a quoted JSON pointer: the name of the refused field, not a value', () => {
    expect(verdict({ status: 400, detail: `'/data/attributes/image' is not a valid field for this request.` })).toMatchObject({
      message: `[klaviyo] dropped an update (400): "'/data/attributes/image' is not a valid field for this request."`,
    });
  });

  it('keeps non-PII numbers such as the revision date', () => {
    expect(verdict({ status: 410, revision: '2023-01-24', detail: 'Revision 2023-01-24 retired' })).toMatchObject({
      message: '[klaviyo] config.revision 2023-01-24 is retired (410): updates are kept until a newer revision is configured: "Revision 2023-01-24 retired"',
    });
  });

  it('bounds a long detail', () => {
    const v = verdict({ status: 400, detail: 'x'.repeat(5000) });
    expect(v.action === 'drop' && v.message.length).toBeLessThan(260);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds, with surrounding whitespace', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 5 ', NOW)).toBe(5000);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
  });

  it('reads an HTTP-date relative to now; a past date means no wait', () => {
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
  });

  it.each([undefined, null, '', '   ', 'soon', '1.5', '-5', '5s', 'NaN'])('%j is undefined', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('caps large values (default 10 minutes)', () => {
    expect(parseRetryAfter('601', NOW)).toBe(600_000);
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(600_000);
    expect(parseRetryAfter(new Date(NOW + 7 * DAY).toUTCString(), NOW)).toBe(600_000);
    expect(parseRetryAfter('60', NOW, 10_000)).toBe(10_000);
  });
});

describe('backoff: full jitter', () => {
  it('random() = 0 gives 0 on every attempt', () => {
    for (let a = 1; a <= 30; a++) expect(backoff(a, fixed(0))).toBe(0);
  });

  it('random() near 1 reaches the doubling ceiling: base * 2^(attempt-1)', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((a) => backoff(a, fixed(ALMOST_ONE)));
    [1000, 2000, 4000, 8000, 16_000, 32_000].forEach((c, i) => {
      expect(ceilings[i]).toBeLessThanOrEqual(c);
      expect(ceilings[i]).toBeGreaterThan(c - 1e-6);
    });
  });

  it('is capped at capMs (default 5 minutes), even for absurd attempt counts', () => {
    expect(backoff(9, fixed(0.5))).toBe(128_000); // ceiling 256 s, not capped yet
    expect(backoff(10, fixed(0.5))).toBe(150_000); // ceiling 512 s, capped to 300 s
    expect(backoff(5000, fixed(0.5))).toBe(150_000); // 2^4999 is Infinity; the cap still holds
  });

  it('scales linearly with random() within the ceiling', () => {
    expect(backoff(3, fixed(0.1))).toBeCloseTo(400);
    expect(backoff(3, fixed(0.75))).toBe(3000);
  });

  it('honours baseMs and capMs', () => {
    const opts = { baseMs: 100, capMs: 1000 };
    expect(backoff(1, fixed(0.5), opts)).toBe(50);
    expect(backoff(4, fixed(0.5), opts)).toBe(400);
    expect(backoff(5, fixed(0.5), opts)).toBe(500);
  });

  it('treats attempt 0 or below like the first attempt', () => {
    expect(backoff(0, fixed(0.5))).toBe(500);
    expect(backoff(-3, fixed(0.5))).toBe(500);
  });

  it('stays within [0, ceiling] for any random() in [0, 1)', () => {
    for (let a = 1; a <= 12; a++) {
      const ceiling = Math.min(300_000, 1000 * 2 ** (a - 1));
      for (const r of [0, 0.001, 0.3, 0.5, 0.9, ALMOST_ONE]) {
        const ms = backoff(a, fixed(r));
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});
