// @vitest-environment node
// The collector over HTTP: request checks, CORS, faults, the record and merged profiles, the
// control endpoint, static files and the live page.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BODY_BYTES, startCollector, type Collector, type CollectorOptions } from '../../dev/collector/index';
import { body2023, bodyModern, errorsOf, post } from './client';
import { mergeProfile } from '../../dev/collector/profiles';
import type { ProfileState } from '../../dev/collector/types';

let c: Collector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});
async function start(opts: CollectorOptions = {}): Promise<Collector> {
  c = await startCollector(opts);
  return c;
}

describe('requests', () => {
  it('answers 202 with an empty body and RateLimit headers', async () => {
    const col = await start();
    const res = await post(col, body2023('sarah@example.com'));
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    expect(res.headers.get('ratelimit-limit')).toBe('350');
    expect(res.headers.get('ratelimit-remaining')).toBe('349');
    expect(res.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
  });

  it('answers 400 with JSON:API errors whose pointer names the field', async () => {
    const col = await start();
    const res = await post(col, body2023('sarah@example.com', { favorite_color: 'teal' }));
    expect(res.status).toBe(400);
    const [err] = await errorsOf(res);
    expect(err).toMatchObject({ code: 'invalid', source: { pointer: '/data/attributes/favorite_color' } });
    expect(err).toHaveProperty('id');
    expect(err).toHaveProperty('title');
  });

  it.each([
    ['missing revision', { revision: '' }, 400, 'revision'],
    ['revision older than 2023-01-24', { revision: '2022-10-17' }, 400, 'revision'],
    ['malformed revision', { revision: '2023-1-24' }, 400, 'revision'],
    ['company_id of 5 characters', { company: 'AbC12' }, 400, 'company_id'],
    ['company_id with a symbol', { company: 'AbC12!' }, 400, 'company_id'],
  ])('%s is refused, naming the parameter', async (_name, o, status, parameter) => {
    const col = await start();
    const res = await post(col, body2023('a@b.co'), o);
    expect(res.status).toBe(status);
    expect((await errorsOf(res))[0]?.source?.parameter).toBe(parameter);
  });

  it('refuses attributes._kx before 2023-09-15, as the revisions with no schema file of their own', async () => {
    const col = await start();
    const kx = bodyModern({ email: 'a@b.co', _kx: 'dG9rZW4tMTIz.AbC123' });
    for (const revision of ['2023-07-15', '2023-09-14']) {
      const res = await post(col, kx, { revision });
      expect(res.status).toBe(400);
      expect((await errorsOf(res))[0]?.source?.pointer).toBe('/data/attributes/_kx');
    }
    expect((await post(col, kx, { revision: '2023-09-15' })).status).toBe(202);
    expect((await post(col, bodyModern({ email: 'a@b.co' }), { revision: '2023-07-15' })).status).toBe(202);
  });

  it('strict: each revision has its path and content type', async () => {
    const col = await start();
    expect((await post(col, bodyModern({ email: 'a@b.co' }), { revision: '2024-10-15' })).status).toBe(202);
    expect((await post(col, bodyModern({ email: 'a@b.co' }), { revision: '2024-10-15', path: '/client/profiles/' })).status).toBe(404);
    expect((await post(col, body2023('a@b.co'), { path: '/client/profiles' })).status).toBe(404);
    expect((await post(col, bodyModern({ email: 'a@b.co' }), { revision: '2024-10-15', contentType: 'application/json' })).status).toBe(415);
    expect((await post(col, body2023('a@b.co'), { contentType: 'text/plain' })).status).toBe(415);
    expect((await post(col, body2023('a@b.co'), { contentType: 'application/json; charset=utf-8' })).status).toBe(202);
  });

  it('lenient: either path and either JSON type for any revision', async () => {
    const col = await start({ strict: false });
    expect((await post(col, bodyModern({ email: 'a@b.co' }), { revision: '2024-10-15', path: '/client/profiles/', contentType: 'application/json' })).status).toBe(202);
    expect((await post(col, body2023('x', { favorite_color: 1 }), { path: '/client/profiles' })).status).toBe(202);
  });

  it('refuses a body that is not JSON with parse_error', async () => {
    const col = await start();
    const res = await post(col, null, { raw: '{"data":' });
    expect(res.status).toBe(400);
    expect((await errorsOf(res))[0]?.code).toBe('parse_error');
    expect(col.requests()[0]?.body).toBe('{"data":');
  });

  it('answers 413 over 5 MB and 202 just under it', async () => {
    const col = await start();
    const base = JSON.stringify(body2023('a@b.co', { properties: { pad: '' } }));
    const under = JSON.stringify(body2023('a@b.co', { properties: { pad: 'x'.repeat(MAX_BODY_BYTES - base.length) } }));
    expect(under.length).toBe(MAX_BODY_BYTES);
    expect((await post(col, null, { raw: under })).status).toBe(202);
    const over = await post(col, null, { raw: `${under} ` });
    expect(over.status).toBe(413);
    expect((await errorsOf(over))[0]?.code).toBe('request_too_large');
  });

  it('405 for other methods on the API path', async () => {
    const col = await start();
    const res = await fetch(`${col.url}/client/profiles/?company_id=AbC123`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('POST');
  });
});

describe('CORS', () => {
  it('answers a preflight from any origin for POST with revision and content-type', async () => {
    const col = await start({ limits: { perSecond: 1 } });
    const res = await fetch(`${col.url}/client/profiles/?company_id=AbC123`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,revision' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.split(/,\s*/).sort()).toEqual(['content-type', 'revision']);
    // The preflight is recorded but not counted: the one request this second is still allowed.
    expect(col.requests().map((r) => r.method)).toEqual(['OPTIONS']);
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
    expect((await post(col, body2023('a@b.co'))).status).toBe(429);
  });

  it('every API answer, errors included, carries the allow-origin and expose headers', async () => {
    const col = await start({ limits: { perSecond: 1 } });
    for (const res of [await post(col, body2023('a@b.co')), await post(col, body2023('a@b.co')), await post(col, {}, { company: 'x' })]) {
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-expose-headers')?.split(/,\s*/).sort()).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After']);
    }
  });
});

describe('faults', () => {
  it('status 503 for a while (collector clock), then normal answers', async () => {
    let t = 50_000;
    const col = await start({ now: () => t });
    col.fault({ mode: 'status', status: 503, forMs: 2000 });
    const res = await post(col, body2023('a@b.co'));
    expect(res.status).toBe(503);
    expect((await errorsOf(res))[0]?.code).toBe('service_unavailable');
    t = 51_999;
    expect((await post(col, body2023('a@b.co'))).status).toBe(503);
    t = 52_000;
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
    expect(col.requests().map((r) => r.fault)).toEqual(['status', 'status', undefined]);
    expect(col.profiles()[0]?.updates).toBe(1); // faulted requests change nothing
  });

  it('status 500 for a count of requests; faulted requests do not use the rate window', async () => {
    const col = await start({ limits: { perSecond: 1 } });
    col.fault({ mode: 'status', status: 500, count: 2 });
    expect((await post(col, body2023('a@b.co'))).status).toBe(500);
    expect((await post(col, body2023('a@b.co'))).status).toBe(500);
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
  });

  it('410 gone', async () => {
    const col = await start();
    col.fault({ mode: 'status', status: 410, count: 1 });
    const res = await post(col, body2023('a@b.co'));
    expect(res.status).toBe(410);
    expect((await errorsOf(res))[0]).toMatchObject({ code: 'gone', detail: expect.stringContaining('410') });
  });

  it('429 fault carries its Retry-After', async () => {
    const col = await start();
    col.fault({ mode: 'status', status: 429, retryAfter: 7, count: 1 });
    const res = await post(col, body2023('a@b.co'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('drop destroys the socket: the client sees a network error', async () => {
    const col = await start();
    col.fault({ mode: 'drop', count: 1 });
    await expect(post(col, body2023('a@b.co'))).rejects.toThrow();
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
    expect(col.requests()[0]).toMatchObject({ fault: 'drop', status: 0 });
  });

  it('hang accepts the request and never answers until the faults are cleared', async () => {
    const col = await start();
    col.fault({ mode: 'hang' });
    let settled = false;
    const pending = post(col, body2023('a@b.co')).finally(() => (settled = true));
    await vi.waitFor(() => expect(col.requests()[0]?.body).toEqual(body2023('a@b.co')));
    expect(settled).toBe(false);
    col.clearFaults();
    await expect(pending).rejects.toThrow();
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
  });

  it('hang with forMs ends the hanging request when the time has passed', async () => {
    const col = await start();
    col.fault({ mode: 'hang', forMs: 100 });
    await expect(post(col, body2023('a@b.co'))).rejects.toThrow();
    await vi.waitFor(async () => expect((await post(col, body2023('a@b.co'))).status).toBe(202));
  });

  it('close() ends hanging requests', async () => {
    const col = await start();
    col.fault({ mode: 'hang' });
    const pending = post(col, body2023('a@b.co'));
    await vi.waitFor(() => expect(col.requests()).toHaveLength(1));
    await col.close();
    c = undefined;
    await expect(pending).rejects.toThrow();
  });

  it('fixed latency delays the answer', async () => {
    const col = await start({ latencyMs: 120 });
    const t0 = performance.now();
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115); // timers may fire a ms early; no upper bound on a busy machine
    expect(col.requests()[0]?.latencyMs).toBe(120);
  });

  it('random latency is drawn from [min, max] with the injected randomness, and a latency fault adds to it', async () => {
    const draws = [0, 0.5, 0.999];
    const col = await start({ latencyMs: [10, 110], random: () => draws.shift() ?? 0 });
    await post(col, body2023('a@b.co'));
    col.fault({ mode: 'latency', ms: 40 });
    const t0 = performance.now();
    await post(col, body2023('a@b.co'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    col.clearFaults();
    await post(col, body2023('a@b.co'));
    expect(col.requests().map((r) => r.latencyMs)).toEqual([10, 100, 110]);
  });

  it('a new fault replaces the active one of its mode', async () => {
    const col = await start();
    col.fault({ mode: 'status', status: 500 });
    col.fault({ mode: 'status', status: 503, count: 1 });
    expect((await post(col, body2023('a@b.co'))).status).toBe(503);
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
  });
});

describe('record and merged profiles', () => {
  it('records every request in arrival order and merges each person', async () => {
    const col = await start();
    await post(col, body2023('sarah@example.com', { first_name: 'Sarah', location: { city: 'Boston' }, properties: { plan: 'free', a: 1 } }));
    await post(col, body2023('tom@example.com'), { company: 'XyZ789' });
    await post(col, body2023('bad', {}));
    await post(col, { data: { type: 'profile', attributes: { phone_number: '+15005550006', properties: { plan: 'pro' }, location: { zip: '02101' } }, meta: { identifiers: { email: 'sarah@example.com', phone_number: '+15005550006' } } } });

    const reqs = col.requests();
    expect(reqs.map((r) => [r.seq, r.status, r.company])).toEqual([[1, 202, 'AbC123'], [2, 202, 'XyZ789'], [3, 400, 'AbC123'], [4, 202, 'AbC123']]);
    expect(reqs[2]?.errors?.[0]?.source?.pointer).toBe('/data/attributes/email');
    expect(reqs[0]).toMatchObject({ method: 'POST', path: '/client/profiles/', query: { company_id: 'AbC123' }, headers: { revision: '2023-01-24' } });
    expect(col.accepted().map((r) => r.seq)).toEqual([1, 2, 4]);

    expect(col.profiles('AbC123')).toEqual([
      {
        key: 'AbC123:email:sarah@example.com',
        company: 'AbC123',
        identifiers: { email: 'sarah@example.com', phone_number: '+15005550006' },
        attributes: { email: 'sarah@example.com', first_name: 'Sarah', phone_number: '+15005550006', location: { city: 'Boston', zip: '02101' }, properties: { plan: 'pro', a: 1 } },
        updates: 2,
        lastSeq: 4,
      },
    ]);
    expect(col.profiles().map((p) => p.key)).toEqual(['AbC123:email:sarah@example.com', 'XyZ789:email:tom@example.com']);
  });

  it('null clears a field (2024-10-15) and patch_properties edits properties', async () => {
    const col = await start();
    await post(col, bodyModern({ external_id: 'e1', first_name: 'Ann', properties: { skus: ['1'], old: true } }), { revision: '2024-10-15' });
    await post(col, { data: { type: 'profile', attributes: { external_id: 'e1', first_name: null }, meta: { patch_properties: { append: { skus: '2' }, unset: 'old' } } } }, { revision: '2024-10-15' });
    expect(col.profiles()[0]?.attributes).toEqual({ external_id: 'e1', properties: { skus: ['1', '2'] } });
  });

  it('reset forgets requests, profiles and window counts', async () => {
    // A clock that stands still: both posts fall in one window (a real second boundary between them was a flake).
    const col = await start({ limits: { perSecond: 1 }, now: () => 5_000 });
    await post(col, body2023('a@b.co'));
    expect((await post(col, body2023('a@b.co'))).status).toBe(429);
    col.reset();
    expect(col.requests()).toEqual([]);
    expect(col.profiles()).toEqual([]);
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
    expect(col.requests()[0]?.seq).toBe(1);
  });
});

describe('control endpoint', () => {
  const control = (col: Collector, path: string, body?: unknown) =>
    fetch(`${col.url}/__control/${path}`, body === undefined ? { method: 'POST' } : { method: 'POST', body: JSON.stringify(body) });

  it('sets and clears faults, resets, and lists requests and profiles as JSON', async () => {
    const col = await start();
    expect((await control(col, 'fault', { mode: 'status', status: 503 })).status).toBe(200);
    expect((await post(col, body2023('a@b.co'))).status).toBe(503);
    await control(col, 'clear');
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);

    const reqs = (await (await fetch(`${col.url}/__control/requests`)).json()) as { status: number }[];
    expect(reqs.map((r) => r.status)).toEqual([503, 202]);
    const profiles = (await (await fetch(`${col.url}/__control/profiles?company=AbC123`)).json()) as { key: string }[];
    expect(profiles.map((p) => p.key)).toEqual(['AbC123:email:a@b.co']);
    expect(await (await fetch(`${col.url}/__control/profiles?company=Other1`)).json()).toEqual([]);

    await control(col, 'reset');
    expect(col.requests()).toEqual([]);
  });

  it('refuses a malformed fault', async () => {
    const col = await start();
    expect((await control(col, 'fault', { mode: 'explode' })).status).toBe(400);
    expect((await control(col, 'fault', { mode: 'latency', ms: 'slow' })).status).toBe(400);
    expect((await post(col, body2023('a@b.co'))).status).toBe(202);
  });
});

describe('pages', () => {
  it('serves the live page, its script and style, under a same-origin CSP', async () => {
    const col = await start();
    for (const path of ['/', '/__live']) {
      const res = await fetch(`${col.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe("default-src 'self'");
      const html = await res.text();
      expect(html).toContain('<script src="/__live.js"');
      expect(html).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/); // nothing inline
    }
    const js = await fetch(`${col.url}/__live.js`);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(await js.text()).toContain("new EventSource('/__control/events')");
    expect((await fetch(`${col.url}/__live.css`)).headers.get('content-type')).toContain('text/css');
  });

  it('the state the live page draws holds profiles and recent requests with their reasons', async () => {
    const col = await start();
    await post(col, body2023('a@b.co'));
    await post(col, body2023('a@b.co', { nope: 1 }));
    const state = (await (await fetch(`${col.url}/__control/state?limit=10`)).json()) as {
      total: number;
      accepted: number;
      profiles: { key: string }[];
      requests: { seq: number; errors?: { detail: string }[] }[];
    };
    expect(state).toMatchObject({ total: 2, accepted: 1 });
    expect(state.profiles.map((p) => p.key)).toEqual(['AbC123:email:a@b.co']);
    expect(state.requests.map((r) => r.seq)).toEqual([2, 1]);
    expect(state.requests[0]?.errors?.[0]?.detail).toContain("'nope'");
  });

  it('pushes a Server-Sent Event when a request arrives', async () => {
    const col = await start();
    const res = await fetch(`${col.url}/__control/events`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: string) => {
      while (!text.includes(until)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await read('data: 0');
    await post(col, body2023('a@b.co'));
    await read('data: 1');
    await reader.cancel();
  });

  it('serves static files under a prefix and nothing outside the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'collector-static-'));
    writeFileSync(join(dir, 'klaviyo.js'), 'console.log(1)');
    const col = await start({ static: { '/dist/': dir } });
    const res = await fetch(`${col.url}/dist/klaviyo.js?company_id=AbC123`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('javascript');
    expect(await res.text()).toBe('console.log(1)');
    // A raw request: fetch would normalise the '..' away before sending.
    const status = await new Promise<number>((resolve, reject) => {
      request(`${col.url}/dist/..%2f..%2fetc%2fpasswd`, (r) => resolve(r.statusCode ?? 0)).on('error', reject).end();
    });
    expect(status).toBe(404);
    expect((await fetch(`${col.url}/dist/missing.js`)).status).toBe(404);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('mergeProfile', () => {
  const body = (attributes: Record<string, string>) => ({ data: { type: 'profile', attributes } });
  const phone = '+15005550006';

  it('finds the first state holding a value now: values it joined count, values it replaced no longer do', () => {
    const states: ProfileState[] = [];
    const a = mergeProfile(states, 'C', body({ email: 'a@x.co' }), 1);
    const b = mergeProfile(states, 'C', body({ phone_number: phone }), 2);
    expect(mergeProfile(states, 'C', body({ email: 'a@x.co', phone_number: phone }), 3)).toBe(a);
    // A holds the phone number too now, and comes first.
    expect(mergeProfile(states, 'C', body({ phone_number: phone }), 4)).toBe(a);
    // A's email is replaced: the old one names nobody any more.
    expect(mergeProfile(states, 'C', body({ phone_number: phone, email: 'new@x.co' }), 5)).toBe(a);
    const c = mergeProfile(states, 'C', body({ email: 'a@x.co' }), 6);
    expect([a, b]).not.toContain(c);
    expect(states).toEqual([a, b, c]);
    expect(b.updates).toBe(1);
  });
});
