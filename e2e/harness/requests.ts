// What the tracker sent, as the collector recorded it: one definition of which POSTs were accepted, refused or
// left unanswered, and expectRequests (do something, wait for the requests it must cause, refute those it must
// not), whose failure prints everything the collector recorded, so a failing CI log says what was sent.
import type { Collector, RecordedRequest } from '../../dev/collector/index';
import { sleep, until } from './wait';

/** A profile request's body as the tests read it (meta.identifiers is in revision 2023-01-24's shape only). */
export interface ProfileBody {
  data: {
    type: string;
    attributes: Record<string, unknown> & { email?: string; properties?: Record<string, unknown> };
    meta?: { identifiers: Record<string, string> };
  };
}

/** Which requests: those of one company (`company_id`), or, without it, every company's. */
export interface Only {
  company?: string;
}

// Every POST is exactly one of accepted, refused or unanswered. Status 0 (recorded, never answered: still in
// flight, or hung or dropped by a fault) is unanswered: the server said neither yes nor no.
/** Answered 2xx: delivered (the collector's one success answer is 202). */
export const isAccepted = (r: RecordedRequest): boolean => r.status >= 200 && r.status < 300;
/** Answered, but not 2xx: a 4xx or 5xx the collector or a fault gave. */
export const isRefused = (r: RecordedRequest): boolean => r.status !== 0 && !isAccepted(r);
/** Status 0: no answer (yet, or ever: a hang or a drop). */
export const isUnanswered = (r: RecordedRequest): boolean => r.status === 0;

/** Every POST to the API the collector recorded, whatever its status, in arrival order (preflights are not POSTs). */
export const posts = (c: Collector, only: Only = {}): RecordedRequest[] =>
  c.requests().filter((r) => r.method === 'POST' && (only.company === undefined || r.company === only.company));
/** The POSTs answered 2xx (isAccepted). */
export const accepted = (c: Collector, only: Only = {}): RecordedRequest[] => posts(c, only).filter(isAccepted);
/** The POSTs answered 4xx or 5xx (isRefused); unanswered ones are not among them. */
export const refused = (c: Collector, only: Only = {}): RecordedRequest[] => posts(c, only).filter(isRefused);
/** The POSTs with no answer: in flight, hung or dropped (isUnanswered). */
export const unanswered = (c: Collector, only: Only = {}): RecordedRequest[] => posts(c, only).filter(isUnanswered);
/** The bodies of the accepted POSTs, in arrival order. */
export const acceptedBodies = (c: Collector, only: Only = {}): ProfileBody[] => accepted(c, only).map((r) => r.body as ProfileBody);
/** `data.attributes.email` of each accepted POST, in arrival order (one per request: a duplicate shows twice). */
export const acceptedEmails = (c: Collector, only: Only = {}): string[] => acceptedBodies(c, only).map((b) => b.data.attributes.email as string);

const BODY_CHARS = 300;
const HEAD_LINES = 40;
const TAIL_LINES = 20;

const oneLine = (v: unknown, max: number) => {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
};

/** One line a request: `#seq METHOD status company body`, with the first error's detail of a refused one. */
const requestLine = (r: RecordedRequest) =>
  [
    `#${r.seq} ${r.method} ${r.status || 'unanswered'}`,
    r.company ?? '-',
    r.fault ? `[fault ${r.fault}]` : '',
    r.body === undefined ? '(no body)' : oneLine(r.body, BODY_CHARS),
    r.errors?.length ? `-> ${oneLine(r.errors[0]!.detail, 160)}` : '',
  ]
    .filter(Boolean)
    .join(' ');

/**
 * Everything the collector recorded, for a failure message: a count line, then one line a request but the
 * preflights (status, company, body cut at 300 characters); past 60 requests the first 40 and the last 20.
 * `before`: requests to mark as recorded before the action under test.
 */
export function formatRequests(c: Collector, before: ReadonlySet<RecordedRequest> = new Set()): string {
  const all = c.requests();
  const listed = all.filter((r) => r.method !== 'OPTIONS');
  const p = posts(c);
  const count = `the collector recorded ${all.length} requests (${all.length - listed.length} preflights, not listed): ${p.length} POSTs, ${p.filter(isAccepted).length} accepted, ${p.filter(isRefused).length} refused, ${p.filter(isUnanswered).length} unanswered`;
  const line = (r: RecordedRequest) => `  ${requestLine(r)}${before.has(r) ? ' (before the action)' : ''}`;
  const lines =
    listed.length > HEAD_LINES + TAIL_LINES
      ? [...listed.slice(0, HEAD_LINES).map(line), `  … ${listed.length - HEAD_LINES - TAIL_LINES} more …`, ...listed.slice(-TAIL_LINES).map(line)]
      : listed.map(line);
  return [count, ...lines].join('\n');
}

/**
 * A request a test expects or refutes: a partial body (every key it gives must match, deeply; an array item by
 * item, of the same length; vitest's asymmetric matchers such as expect.any(String) work), or a predicate.
 */
export type RequestMatcher = Record<string, unknown> | ((r: RecordedRequest) => boolean);

export interface RequestExpectation extends Only {
  /** Each must be matched by an accepted POST of its own (no two share one) that arrived once the action began. */
  expected?: RequestMatcher[];
  /** None may match any POST, whatever its status, that arrived once the action began; checked once the expected
   *  have all arrived, settleMs later. */
  refuted?: RequestMatcher[];
  /** How long to wait for the expected, counted from the action's end (ms); default 15 000. */
  timeoutMs?: number;
  /** How long to wait after the expected have arrived before looking for the refuted (ms); default 0. */
  settleMs?: number;
}

function partialMatch(actual: unknown, want: unknown): boolean {
  if (want !== null && typeof want === 'object' && typeof (want as { asymmetricMatch?: unknown }).asymmetricMatch === 'function')
    return (want as { asymmetricMatch(v: unknown): boolean }).asymmetricMatch(actual);
  if (Array.isArray(want)) return Array.isArray(actual) && actual.length === want.length && want.every((w, i) => partialMatch(actual[i], w));
  if (want !== null && typeof want === 'object')
    return actual !== null && typeof actual === 'object' && !Array.isArray(actual) && Object.entries(want).every(([k, w]) => partialMatch((actual as Record<string, unknown>)[k], w));
  return Object.is(actual, want);
}

const fits = (m: RequestMatcher, r: RecordedRequest) => (typeof m === 'function' ? m(r) : partialMatch(r.body, m));

/** An asymmetric matcher as text: its name and what it was given (`Any Number`, `StringMatching /^a/`). */
const asymmetric = (v: { sample?: unknown }) => `${String(v)}${v.sample === undefined ? '' : ` ${typeof v.sample === 'function' ? v.sample.name : String(v.sample)}`}`;

const describeMatcher = (m: RequestMatcher) =>
  typeof m === 'function'
    ? oneLine(m.toString().replace(/\s+/g, ' '), 160)
    : oneLine(JSON.stringify(m, (_k, v) => (v && typeof v.asymmetricMatch === 'function' ? asymmetric(v) : v)), BODY_CHARS);

/** Each matcher's own request (undefined: none left for it), the most matchers served (augmenting paths). */
function assign(matchers: RequestMatcher[], pool: RecordedRequest[]): Array<RecordedRequest | undefined> {
  const candidates = matchers.map((m) => pool.filter((r) => fits(m, r)));
  const owner = new Map<RecordedRequest, number>();
  const claim = (i: number, tried: Set<RecordedRequest>): boolean =>
    candidates[i]!.some((r) => {
      if (tried.has(r)) return false;
      tried.add(r);
      const held = owner.get(r);
      if (held !== undefined && !claim(held, tried)) return false;
      owner.set(r, i);
      return true;
    });
  matchers.forEach((_, i) => claim(i, new Set()));
  const got: Array<RecordedRequest | undefined> = matchers.map(() => undefined);
  for (const [r, i] of owner) got[i] = r;
  return got;
}

/**
 * Run `action`, then wait (polling the collector, at most timeoutMs) until every expected matcher has an accepted
 * POST of its own among those that arrived once the action began, then check that no refuted matcher matches any
 * of them. Returns the expected's requests, in the order of `expected`. On failure the error names what is missing
 * or refuted and lists every request the collector recorded (formatRequests).
 */
export async function expectRequests(c: Collector, action: () => unknown, opts: RequestExpectation): Promise<RecordedRequest[]> {
  const expected = opts.expected ?? [];
  const refutedMatchers = opts.refuted ?? [];
  const before = new Set(c.requests());
  await action();
  const fresh = () => posts(c, opts).filter((r) => !before.has(r));
  const missing = (got: Array<RecordedRequest | undefined>) => expected.filter((_, i) => !got[i]);
  const report = (head: string, items: string[]) => [head, ...items.map((s) => `  - ${s}`), formatRequests(c, before)].join('\n');

  let got: Array<RecordedRequest | undefined> = [];
  await until(() => ((got = assign(expected, fresh().filter(isAccepted))), missing(got).length === 0), {
    timeoutMs: opts.timeoutMs,
    describe: () => {
      const lost = missing(assign(expected, fresh().filter(isAccepted)));
      return report(`expectRequests: ${lost.length} of ${expected.length} expected requests not accepted after ${opts.timeoutMs ?? 15_000} ms${opts.company ? ` (company ${opts.company})` : ''}:`, lost.map(describeMatcher));
    },
  });
  if (refutedMatchers.length) {
    if (opts.settleMs) await sleep(opts.settleMs);
    const sent = fresh();
    const hits = refutedMatchers.flatMap((m) => sent.filter((r) => fits(m, r)).map((r) => `${describeMatcher(m)} matched #${r.seq}`));
    if (hits.length) throw new Error(report(`expectRequests: ${hits.length} refuted requests were sent:`, hits));
  }
  return got as RecordedRequest[];
}
