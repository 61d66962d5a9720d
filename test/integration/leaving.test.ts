// Leaving the page in the same task as identifying: the IndexedDB write is still under way when the page hides,
// and a navigation aborts it. Every update must then be on its way (keepalive) and kept for the next page.
import { describe, expect, it } from 'vitest';
import { fakeEnv, memoryStorage, tracking } from '../support/fakeEnv';

/** Make f's store run its calls one after another, each add taking `addMs` of simulated time, as IndexedDB runs the
 *  transactions of one connection in order. */
function slowOrderedStore(f: ReturnType<typeof fakeEnv>, addMs: number) {
  let last: Promise<unknown> = Promise.resolve();
  const s = f.store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const k of ['add', 'put', 'remove', 'list', 'getMeta', 'setMeta'] as const) {
    const orig = s[k]!.bind(f.store);
    s[k] = (...a) =>
      (last = last.then(() => (k == 'add' ? new Promise((r) => f.env.setTimeout(() => r(orig(...a)), addMs)) : orig(...a))));
  }
}

/** Identify ten people in one task, then hide the page in the next one (pagehide), before the write commits. */
async function identifyAndLeave(f: ReturnType<typeof fakeEnv>) {
  const t = tracking(f.env);
  await f.advance(100); // the tracker is idle: its first round has ended
  for (let i = 0; i < 10; i++) t.run(['identify', { email: `p${i}@example.com`, first_name: 'P' + i }]);
  await Promise.resolve(); // the task's microtasks: the batch's write begins
  t.leave();
  return t;
}

const emails = (f: { sent: { body: any }[] }) => f.sent.map((s) => s.body.data.attributes.email).sort();
const ten = Array.from({ length: 10 }, (_, i) => `p${i}@example.com`).sort();

describe('leaving in the same task as identifying', () => {
  it('sends every update at once with keepalive, and the next page delivers what got no answer', async () => {
    const storage = memoryStorage();
    const f = fakeEnv(undefined, storage);
    slowOrderedStore(f, 50);
    const keepalive: boolean[] = [];
    // The page dies right after the pagehide task: no answer ever reaches it, and its write never commits.
    f.env.send = (req, o) => (keepalive.push(o.keepalive), f.sent.push({ url: req.url, headers: req.headers, body: JSON.parse(req.body), at: 0 }), new Promise(() => {}));
    await identifyAndLeave(f);
    // In the pagehide task itself, not after the write: the page may be gone by then.
    expect(emails(f)).toEqual(ten);
    expect(keepalive).toEqual(ten.map(() => true));

    // The next page of the site: a fresh store (the aborted write left nothing), the same localStorage.
    const g = fakeEnv(undefined, storage);
    tracking(g.env);
    await g.advance(1_000);
    expect(emails(g)).toEqual(ten);
    expect(await g.store.list('AbC123')).toEqual([]);
    // Nothing is left to replay a third time.
    const h = fakeEnv(undefined, storage);
    tracking(h.env);
    await h.advance(1_000);
    expect(h.sent).toEqual([]);
  });

  it('a page destroyed with no pagehide while its write is under way: the next page delivers every update', async () => {
    // Firefox may close a tab (over WebDriver BiDi) without pagehide or visibilitychange reaching it.
    const storage = memoryStorage();
    const f = fakeEnv(undefined, storage);
    slowOrderedStore(f, 50);
    const t = tracking(f.env);
    await f.advance(100);
    for (let i = 0; i < 10; i++) t.run(['identify', { email: `p${i}@example.com`, first_name: 'P' + i }]);
    await Promise.resolve(); // the task's microtasks, and the page is gone: no leave(), no write committed, nothing sent
    expect(f.sent).toEqual([]);

    const g = fakeEnv(undefined, storage);
    tracking(g.env);
    await g.advance(1_000);
    expect(emails(g)).toEqual(ten);
  });

  it('an answer seen before the page goes clears the journal: nothing is sent twice', async () => {
    const storage = memoryStorage();
    const f = fakeEnv(undefined, storage);
    slowOrderedStore(f, 50);
    await identifyAndLeave(f);
    expect(emails(f)).toEqual(ten);
    await f.advance(200); // the answers arrive, then the write commits
    expect(f.sent.length).toBe(10);
    expect(await f.store.list('AbC123')).toEqual([]);
    const g = fakeEnv(undefined, storage);
    g.env.store = f.store;
    tracking(g.env);
    await g.advance(1_000);
    expect(g.sent).toEqual([]);
  });

  it('a page that stays (hidden, then visible) delivers each update once', async () => {
    const f = fakeEnv();
    slowOrderedStore(f, 50);
    f.env.send = (req, o) => (f.sent.push({ url: req.url, headers: req.headers, body: JSON.parse(req.body), at: 0 }), new Promise((r) => f.env.setTimeout(() => r({ status: 202, retryAfter: null }), 500)));
    const t = await identifyAndLeave(f);
    await f.advance(100); // the write commits while the requests are still in flight
    t.resume();
    await f.advance(2_000);
    expect(emails(f)).toEqual(ten);
    expect(await f.store.list('AbC123')).toEqual([]);
    expect(f.storage.length).toBe(0);
  });

  it("merges a late update with the same person's queued one, so the last identify wins", async () => {
    const f = fakeEnv(undefined, memoryStorage());
    // The server answers after 2 s: plan 'a' is in flight when the page identifies plan 'b' and hides.
    f.env.send = (req) => (f.sent.push({ url: req.url, headers: req.headers, body: JSON.parse(req.body), at: 0 }), new Promise(() => {}));
    const t = tracking(f.env);
    t.run(['identify', { email: 'same@example.com', plan: 'a' }]);
    await f.advance(50);
    expect(f.sent.length).toBe(1);
    t.run(['identify', { email: 'same@example.com', plan: 'b' }]);
    await Promise.resolve();
    t.leave();
    // Not sent beside the request in flight for the same person (the server could apply them in either order):
    // kept for the next page, which sends 'b'.
    expect(f.sent.length).toBe(1);
    const g = fakeEnv(undefined, f.storage);
    tracking(g.env);
    await g.advance(1_000);
    expect(g.sent.map((s) => s.body.data.attributes.properties)).toEqual([{ plan: 'b' }]);
  });

  it('stays within the keepalive budget: what does not fit waits in the journal', async () => {
    const f = fakeEnv(undefined, memoryStorage());
    slowOrderedStore(f, 50);
    const t = tracking(f.env);
    await f.advance(100);
    f.env.send = (req) => (f.sent.push({ url: req.url, headers: req.headers, body: JSON.parse(req.body), at: 0 }), new Promise(() => {}));
    const big = 'x'.repeat(9_000);
    for (let i = 0; i < 10; i++) t.run(['identify', { email: `p${i}@example.com`, note: big }]);
    await Promise.resolve();
    t.leave();
    const bytes = f.sent.reduce((n, s) => n + JSON.stringify(s.body).length, 0);
    expect(f.sent.length).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    expect(f.sent.length).toBeLessThan(10);
    const g = fakeEnv(undefined, f.storage);
    tracking(g.env);
    await g.advance(1_000);
    expect(emails(g)).toEqual(ten);
  });

  it('a page with no usable localStorage still sends with keepalive and never throws', async () => {
    const broken = memoryStorage();
    broken.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError');
    };
    const f = fakeEnv(undefined, broken);
    slowOrderedStore(f, 50);
    await identifyAndLeave(f);
    expect(emails(f)).toEqual(ten);
  });

  it('ignores a corrupt journal entry and removes it', async () => {
    const storage = memoryStorage();
    storage.setItem('klaviyo-snippet:j:x', '{not json');
    storage.setItem('klaviyo-snippet:j:y', JSON.stringify([{ id: 1 }]));
    const g = fakeEnv(undefined, storage);
    tracking(g.env);
    await g.advance(1_000);
    expect(g.sent).toEqual([]);
    expect(storage.length).toBe(0);
  });
});

