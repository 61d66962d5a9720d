import { afterEach, describe, expect, it, vi } from 'vitest';
import { send } from '../../src/browser/transport';

const req = {
  url: 'https://a.klaviyo.com/client/profiles/?company_id=AbC123',
  headers: { revision: '2023-01-24', 'Content-Type': 'application/json' },
  body: '{"data":{"type":"profile","attributes":{"email":"a@example.com"}}}',
};
const answering = (body: string | null, init: ResponseInit) => vi.fn(async () => new Response(body, init));
const apiError = (detail: string) => JSON.stringify({ errors: [{ id: 'e1', code: 'invalid', title: 'Invalid input.', detail }, { detail: 'second' }] });

afterEach(() => void vi.useRealTimers());

describe('send', () => {
  it('POSTs the request without cookies nor referrer, cors, not keepalive by default, with an abort signal', async () => {
    const fetch = answering(null, { status: 202 });
    expect(await send(req, { fetch })).toEqual({ status: 202, retryAfter: null });
    const [url, init] = fetch.mock.calls[0]! as unknown as [string, RequestInit];
    expect(url).toBe(req.url);
    expect(init).toMatchObject({ method: 'POST', headers: req.headers, body: req.body, credentials: 'omit', referrerPolicy: 'no-referrer', keepalive: false });
    // CORS is fetch's default mode for a URL; only a different mode would need passing.
    expect(init.mode ?? 'cors').toBe('cors');
    expect(init.signal).toBeInstanceOf(AbortSignal);
  });

  it('sets keepalive when asked (page hiding)', async () => {
    const fetch = answering(null, { status: 202 });
    await send(req, { fetch, keepalive: true });
    expect((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].keepalive).toBe(true);
  });

  it('reads Retry-After, RateLimit-Remaining, RateLimit-Reset and the detail of a 429', async () => {
    const fetch = answering(apiError('Request was throttled. Expected available in 5 seconds.'), {
      status: 429,
      headers: { 'Retry-After': '5', 'RateLimit-Limit': '350', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '5' },
    });
    expect(await send(req, { fetch })).toEqual({
      status: 429,
      retryAfter: '5',
      rateRemaining: 0,
      rateReset: 5,
      detail: 'Request was throttled. Expected available in 5 seconds.',
    });
  });

  it('keeps Retry-After as sent when it is an HTTP date, and ignores rate headers that are not numbers', async () => {
    const date = 'Wed, 21 Oct 2026 07:28:00 GMT';
    const fetch = answering(null, { status: 503, headers: { 'Retry-After': date, 'RateLimit-Remaining': 'lots' } });
    expect(await send(req, { fetch })).toEqual({ status: 503, retryAfter: date });
  });

  it.each([
    [400, apiError('The phone number provided either does not exist or is ineligible to receive SMS'), 'The phone number provided either does not exist or is ineligible to receive SMS'],
    [410, apiError('The revision 2021-01-01 is no longer supported.'), 'The revision 2021-01-01 is no longer supported.'],
    [500, '<html>Internal Server Error</html>', undefined],
    [400, '{"errors":[]}', undefined],
    [502, '', undefined],
  ])('answer %i: status kept, detail %#', async (status, body, detail) => {
    const got = await send(req, { fetch: answering(body, { status }) });
    expect(got.status).toBe(status);
    expect(got.detail).toBe(detail);
  });

  it('reports a network error as status 0, whether fetch rejects or throws', async () => {
    const rejecting = vi.fn(() => Promise.reject(new TypeError('Failed to fetch')));
    const throwing = vi.fn(() => {
      throw new TypeError('Failed to fetch');
    });
    expect(await send(req, { fetch: rejecting })).toEqual({ status: 0, retryAfter: null });
    expect(await send(req, { fetch: throwing as unknown as typeof fetch })).toEqual({ status: 0, retryAfter: null });
  });

  it('times out after 10 s by default, even with a fetch that ignores the abort signal: status -1', async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const hanging = vi.fn((_: unknown, init?: RequestInit) => ((signal = init?.signal ?? undefined), new Promise<Response>(() => {})));
    let got: unknown;
    void send(req, { fetch: hanging }).then((r) => (got = r));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(got).toBeUndefined();
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(got).toEqual({ status: -1, retryAfter: null });
    expect(signal?.aborted).toBe(true);
  });

  it('times out after timeoutMs with a fetch that honours the signal', async () => {
    const aborting = vi.fn(
      (_: unknown, init?: RequestInit) =>
        new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason))),
    );
    expect(await send(req, { fetch: aborting, timeoutMs: 5 })).toEqual({ status: -1, retryAfter: null });
  });

  it('keeps the status of an error answer whose body never arrives', async () => {
    vi.useFakeTimers();
    const stalled = { status: 500, headers: new Headers(), json: () => new Promise(() => {}) } as unknown as Response;
    const pending = send(req, { fetch: async () => stalled, timeoutMs: 1_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await pending).toEqual({ status: 500, retryAfter: null });
  });
});
