import { describe, expect, it } from 'vitest';
import { createTracker } from '../../src/tracker';
import { answerAfter, fakeEnv, sentTo, slowStore, tracking } from '../support/fakeEnv';

const COMPANY = 'AbC123';

function setup(answer?: Parameters<typeof fakeEnv>[0]) {
  const f = fakeEnv(answer);
  return { ...f, t: tracking(f.env, COMPANY) };
}

describe('tracker', () => {
  it('writes all calls of one task in one store write, and resolves once durable', async () => {
    const f = fakeEnv(() => ({ status: 500 }));
    // The store's write completes when the test opens the gate.
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    const add = f.store.add;
    f.store.add = async (items) => (await gate, add(items));
    const t = tracking(f.env, COMPANY);
    let durable = false;
    const done = Promise.all([1, 2, 3].map((n) => t.identify({ email: `p${n}@example.com` }))).then(() => (durable = true));
    await f.advance(10);
    expect(durable).toBe(false);
    open();
    await done;
    expect(f.adds).toEqual([3]);
    expect(await f.store.list(COMPANY)).toHaveLength(3); // each answered 500: all still queued
  });

  it('sends the DESIGN §4 body and removes an item only after its 202', async () => {
    let status = 503;
    const { t, sent, store, advance } = setup(() => ({ status }));
    await t.identify({ $email: 'a@example.com', $first_name: 'Ann', plan: 'pro' });
    await advance(10);
    expect(sent.length).toBe(1);
    expect(sent[0]!.url).toBe('https://a.klaviyo.com/client/profiles/?company_id=AbC123');
    expect(sent[0]!.headers).toEqual({ revision: '2023-01-24', 'Content-Type': 'application/json' });
    expect(sent[0]!.body).toEqual({
      data: { type: 'profile', attributes: { email: 'a@example.com', first_name: 'Ann', properties: { plan: 'pro' } }, meta: { identifiers: { email: 'a@example.com' } } },
    });
    expect((await store.list(COMPANY)).length).toBe(1); // 503: still queued
    status = 202;
    await advance(60_000);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(await store.list(COMPANY)).toEqual([]);
    expect(t.stats().sent).toBe(1);
  });

  it('rejects bad input with one console error naming the field, and loses nothing queued', async () => {
    const { t, logs, sent, advance } = setup();
    await t.identify({ email: 'ok1@example.com' });
    await expect(t.identify({ email: 'not-an-email' })).rejects.toThrow(/email/);
    t.run(['identify', { phone_number: '12345' }]);
    t.run('identify');
    t.run(['nope', {}]);
    await t.identify({ email: 'ok2@example.com' });
    await advance(10);
    const errors = logs.filter(([l]) => l === 'error').map(([, m]) => m);
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/^\[klaviyo\] identify: email /);
    expect(errors[1]).toMatch(/^\[klaviyo\] identify: phone_number /);
    expect(errors[2]).toMatch(/expected an array/);
    expect(errors[3]).toMatch(/unknown command "nope"/);
    expect(sent.map((s) => s.body.data.attributes.email).sort()).toEqual(['ok1@example.com', 'ok2@example.com']);
    expect(t.stats().dropped.invalid).toBe(4);
  });

  it('needs an identifier, and remembers the last one for later calls', async () => {
    const { t, sent, advance, env } = setup();
    await expect(t.identify({ first_name: 'Nobody' })).rejects.toThrow(/identifier/);
    await t.identify({ email: 'known@example.com', first_name: 'Kim', phone_number: '+15005550006', _kx: 'dG9rZW4tMTIz.AbC123' });
    // Stored: the identifiers, nothing else (not the name, nor the browser's _kx).
    expect(env.identity.load(COMPANY)).toEqual({ email: 'known@example.com', phone_number: '+15005550006' });
    await t.identify({ plan: 'pro' });
    await advance(10);
    // One or two requests (the two updates may be merged): every one names the remembered person.
    expect(sent.length).toBeGreaterThan(0);
    for (const s of sent) expect(s.body.data.meta.identifiers).toMatchObject({ email: 'known@example.com', phone_number: '+15005550006' });
    expect(sent.at(-1)!.body.data.attributes.properties).toEqual({ plan: 'pro' });
  });

  it('starts over when a different person identifies (log-out, log-in)', async () => {
    const { t, sent, advance } = setup();
    await t.identify({ email: 'one@example.com', phone_number: '+15005550006' });
    await advance(10);
    await t.identify({ email: 'two@example.com' });
    await t.identify({ plan: 'x' });
    await advance(10);
    const ids = sent.map((s) => s.body.data.meta.identifiers);
    expect(ids[0]).toEqual({ email: 'one@example.com', phone_number: '+15005550006' });
    // The old phone number must not follow the new person.
    expect(ids.slice(1).length).toBeGreaterThan(0);
    for (const i of ids.slice(1)) expect(i).toEqual({ email: 'two@example.com' });
    expect(sent.at(-1)!.body.data.attributes.properties).toEqual({ plan: 'x' });
  });

  it('merges queued updates for one person into one request, the later value winning', async () => {
    const { t, sent, advance } = setup();
    for (let n = 1; n <= 5; n++) t.identify({ email: 'same@example.com', properties: { n, [`k${n}`]: true } });
    await advance(10);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body.data.attributes.properties).toEqual({ n: 5, k1: true, k2: true, k3: true, k4: true, k5: true });
    expect(t.stats().merged).toBe(4);
  });

  it('holds identifies made before any company id, then queues them under it', async () => {
    const f = fakeEnv();
    const t = createTracker(f.env);
    const p = t.identify({ email: 'early@example.com' });
    await f.advance(10);
    expect(f.sent).toHaveLength(0);
    t.run(['account', COMPANY]);
    await p;
    await f.advance(10);
    expect(f.sent.map((s) => s.url)).toEqual(['https://a.klaviyo.com/client/profiles/?company_id=AbC123']);
  });

  it("queues what was validated before the company id, not what the caller's object holds later", async () => {
    const f = fakeEnv();
    const t = createTracker(f.env);
    const props = { email: 'first@example.com' };
    const first = t.identify(props);
    props.email = 'second@example.com';
    const second = t.identify(props);
    props.email = 'not an email';
    t.run(['account', COMPANY]);
    await Promise.all([first, second]);
    await f.advance(10);
    expect(f.sent.map((s) => s.body.data.attributes.email).sort()).toEqual(['first@example.com', 'second@example.com']);
  });

  it('never sends an update under the account the page switched to, however late its write completes', async () => {
    const f = fakeEnv();
    answerAfter(f, 300);
    // Writes take 50 ms: BBBBBB's round is still running (a request in flight) when AAAAAA's item is stored.
    slowStore(f, 'add', () => 50);
    const t = tracking(f.env, 'BBBBBB');
    void t.identify({ email: 'b@example.com' });
    await f.advance(100); // b in flight
    // One task: back to AAAAAA for one identify, then BBBBBB again.
    t.run(['account', 'AAAAAA']);
    void t.identify({ email: 'a@example.com' });
    t.run(['account', 'BBBBBB']);
    await f.advance(2_000);
    expect(sentTo(f)).toEqual([['BBBBBB', 'b@example.com']]);
    expect((await f.store.list('AAAAAA')).map((i) => i.profile.email)).toEqual(['a@example.com']);
  });

  it("an account's 429 pause and history do not hold back the account the page switches to", async () => {
    const { t, sent, advance, store } = setup((req) => (req.url.endsWith('AbC123') ? { status: 429, retryAfter: '600' } : { status: 202 }));
    await t.identify({ email: 'a@example.com' });
    await advance(100); // AbC123: paused for 10 minutes
    t.run(['account', 'XyZ789']);
    await t.identify({ email: 'x@example.com' });
    await advance(100);
    expect(sentTo({ sent })).toEqual([
      ['AbC123', 'a@example.com'],
      ['XyZ789', 'x@example.com'],
    ]);
    // XyZ789's stored history holds its own request only, and no pause.
    expect(await store.getMeta('XyZ789', 'rate')).toMatchObject({ bounds: [expect.any(Number)], pausedUntil: 0 });
  });

  it("remembers each company's identity under its own key when the account changes within a task", async () => {
    const f = fakeEnv();
    const t = tracking(f.env, 'AAAAAA');
    const a = t.identify({ email: 'a@example.com' });
    t.run(['account', 'BBBBBB']);
    const b = t.identify({ email: 'b@example.com' });
    await Promise.all([a, b]);
    expect(f.env.identity.load('AAAAAA')).toEqual({ email: 'a@example.com' });
    expect(f.env.identity.load('BBBBBB')).toEqual({ email: 'b@example.com' });
    await f.advance(100);
    // The page now works for BBBBBB; AAAAAA's update waits, stored under its company, for a page of that account.
    expect(sentTo(f)).toEqual([['BBBBBB', 'b@example.com']]);
    expect((await f.store.list('AAAAAA')).map((i) => i.profile.email)).toEqual(['a@example.com']);
  });

  it('drops a 4xx item with the server detail, and keeps the rest flowing', async () => {
    const drops: unknown[] = [];
    const { t, sent, logs, store, advance } = setup((req) => (req.body.data.attributes.email === 'bad@example.com' ? { status: 400, detail: 'nope, invalid' } : { status: 202 }));
    t.run(['config', { onError: (d: unknown) => drops.push(d) }]);
    t.identify({ email: 'bad@example.com' });
    t.identify({ email: 'good@example.com' });
    await advance(10);
    expect(sent).toHaveLength(2);
    await advance(200); // deletes wait a little for the answers still in flight
    expect(await store.list(COMPANY)).toEqual([]);
    expect(logs.filter(([l]) => l === 'error').map(([, m]) => m).join()).toContain('nope, invalid');
    expect(drops).toMatchObject([{ reason: 'client', status: 400, count: 1 }]);
  });

  it('pauses everything on 429 until Retry-After and its jitter have passed', async () => {
    const { t, sent, advance, clock } = setup((_r, n) => (n === 1 ? { status: 429, retryAfter: '5' } : { status: 202 }));
    await t.identify({ email: 'a@example.com' });
    await advance(10);
    const t429 = clock.get();
    t.identify({ email: 'b@example.com' });
    // A first 429 waits Retry-After plus random() x half of it: 5 s + 0.5 x 2.5 s with fakeEnv's random().
    await advance(6_150);
    expect(sent).toHaveLength(1);
    await advance(200);
    expect(sent.length).toBe(3);
    expect(sent[1]!.at - t429).toBeGreaterThanOrEqual(6_240);
  });

  it('validates config and never lets a __proto__ key reach its settings', async () => {
    const { t, logs } = setup();
    await expect(t.run(['config', { apiHost: 'javascript:alert(1)' }])).rejects.toThrow(/apiHost/);
    await expect(t.run(['config', JSON.parse('{"__proto__": {"polluted": 1}}')])).rejects.toThrow(/__proto__/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await t.run(['config', { apiHost: 'http://127.0.0.1:8787/', revision: '2023-09-15', debug: false }]);
    expect(t.config.apiHost).toBe('http://127.0.0.1:8787');
    expect(logs.filter(([l]) => l === 'error')).toHaveLength(2);
  });

  it('retries at once when the network comes back, not after the backoff of the outage', async () => {
    const { t, sent, advance } = setup((_, n) => ({ status: n <= 5 ? 0 : 202 }));
    await t.identify({ email: 'o@example.com' });
    for (let i = 0; i < 120 && sent.length < 5; i++) await advance(1_000);
    expect(sent).toHaveLength(5); // five network errors: the next try is seconds away
    await advance(50);
    expect(sent).toHaveLength(5);
    t.online();
    await advance(50);
    expect(sent).toHaveLength(6);
    expect(t.stats().sent).toBe(1);
  });

  it('flush() resolves when the queue is empty', async () => {
    const { t, store, sent, advance } = setup();
    t.identify({ email: 'f@example.com' });
    let sentAtFlush = -1;
    const flushed = t.flush().then(() => (sentAtFlush = sent.length));
    await advance(50);
    await flushed;
    expect(sentAtFlush).toBe(1);
    expect(await store.list(COMPANY)).toEqual([]);
  });
});
