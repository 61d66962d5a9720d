// The harness's request helpers (e2e/harness/requests.ts) against a real collector, without a browser: every POST
// is exactly one of accepted, refused and unanswered (status 0: a hang), and expectRequests waits for the expected,
// ignores what came before the action, refutes, and on failure prints every request with its status and body.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollector, type Collector } from '../dev/collector/index';
import { buildRequest } from '../src/core/body';
import { accepted, acceptedEmails, expectRequests, posts, refused, unanswered } from './harness/requests';
import { until } from './harness/wait';

let c: Collector;
beforeAll(async () => {
  c = await startCollector({ strict: true });
});
afterAll(() => c?.close());

/** One POST as the tracker makes it; resolves with the answer's status (0: the connection ended unanswered). */
const send = (email: string, company = 'AbC123', signal?: AbortSignal) => {
  const { url, headers, body } = buildRequest({ email }, { apiHost: c.url, company });
  return fetch(url, { method: 'POST', headers, body, signal }).then((r) => r.status, () => 0);
};
const withEmail = (email: string) => ({ data: { attributes: { email } } });

it('counts every POST once: accepted (2xx), refused (4xx/5xx) or unanswered (status 0), per company or all', async () => {
  c.reset();
  expect(await send('ok@example.com')).toBe(202);
  expect(await send('not-an-email')).toBe(400);
  expect(await send('other@example.com', 'XyZ789')).toBe(202);
  c.fault({ mode: 'hang' });
  const hung = new AbortController();
  void send('hung@example.com', 'AbC123', hung.signal);
  await until(() => posts(c).length === 4);
  hung.abort();
  c.clearFaults();
  expect(posts(c).map((r) => r.status)).toEqual([202, 400, 202, 0]);
  expect(acceptedEmails(c)).toEqual(['ok@example.com', 'other@example.com']);
  expect(acceptedEmails(c, { company: 'XyZ789' })).toEqual(['other@example.com']);
  expect(refused(c).map((r) => r.seq)).toEqual([2]);
  expect(unanswered(c).map((r) => r.seq)).toEqual([4]);
  expect(accepted(c).length + refused(c).length + unanswered(c).length).toBe(posts(c).length);
});

it('expectRequests: each expected gets an accepted request of its own, made once the action began, returned in order', async () => {
  c.reset();
  await send('before@example.com');
  const got = await expectRequests(c, () => void Promise.all([send('b@example.com'), send('a@example.com'), send('a@example.com')]), {
    expected: [withEmail('a@example.com'), withEmail('a@example.com'), withEmail('b@example.com')],
    refuted: [withEmail('before@example.com'), (r) => r.status !== 202],
  });
  expect(got.map((r) => (r.body as { data: { attributes: { email: string } } }).data.attributes.email)).toEqual(['a@example.com', 'a@example.com', 'b@example.com']);
  expect(new Set(got).size).toBe(3);
});

it('expectRequests fails naming what is missing or refuted, and lists every request with its status and body', async () => {
  c.reset();
  await send('seen@example.com');
  const missing = await expectRequests(c, () => send('other@example.com'), { expected: [withEmail('seen@example.com')], timeoutMs: 300 }).then(() => '', (e: Error) => e.message);
  expect(missing).toMatch(/1 of 1 expected requests not accepted after 300 ms:\n {2}- \{"data":\{"attributes":\{"email":"seen@example.com"\}\}\}/);
  expect(missing).toContain('#1 POST 202 AbC123 {"data":{"type":"profile","attributes":{"email":"seen@example.com"}');
  expect(missing).toMatch(/#1 .*\(before the action\)/);
  expect(missing).toMatch(/#2 POST 202 AbC123 .*other@example\.com/);
  const sent = await expectRequests(c, () => send('bad'), { refuted: [(r) => r.status === 400] }).then(() => '', (e: Error) => e.message);
  expect(sent).toMatch(/1 refuted requests were sent:\n {2}- \(r\) => r\.status === 400 matched #3/);
  expect(sent).toMatch(/#3 POST 400 AbC123 .*"bad".* -> /);
});
