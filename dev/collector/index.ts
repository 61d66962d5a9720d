// The local Klaviyo-compatible collector: `POST /client/profiles/?company_id=…` validated strictly
// against the revision's official schema, Klaviyo's fixed rate windows, injectable faults, a record
// of every request and each person's merged state, and a live page. Plain node:http, or with `http2: true` HTTP/2
// over TLS (node:http2's compatibility API, HTTP/1.1 over TLS still answered) with a self-signed certificate.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { constants as h2, createSecureServer, type Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { apiError, codeForStatus } from './errors';
import { addFault, latencyFault, pickLatency, takeFault, type ActiveFault } from './faults';
import { mergeProfile } from './profiles';
import { admit, type WindowConfig, type WindowCounts } from './rateWindows';
import { faultLabel, liveData, type FaultPeriod } from './live/liveData';
import { lacksKx, schemaRevisionFor } from './revision';
import { loadSchemas } from './schemas';
import { serveFile } from './staticFiles';
import { selfSignedCertificate } from './tls';
import type { ApiErrorObj, Collector, CollectorOptions, Fault, ProfileState, RecordedRequest } from './types';
import { validateBody } from './validate';

export type * from './types';

/** Largest accepted body (bytes): Klaviyo's 5 MB payload limit. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Klaviyo's limits for this endpoint (x-klaviyo-ratelimit: burst 350/s, steady 3500/m). */
export const DEFAULT_LIMITS = { perSecond: 350, perMinute: 3500 };
/** The API paths: with the trailing slash up to revision 2024-10-15, without from then on. */
export const API_PATHS = ['/client/profiles/', '/client/profiles'];

const COMPANY_ID = /^[A-Za-z0-9]{6}$/;
const LIVE_DIR = fileURLToPath(new URL('./live/', import.meta.url));

/** Headers every API answer carries, so a browser on any origin can read status and rate headers. */
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset',
};

interface Answer {
  status: number;
  errors?: ApiErrorObj[];
  headers?: Record<string, string>;
}

/** Start a collector on opts.host:opts.port (127.0.0.1, a free port by default). */
export async function startCollector(opts: CollectorOptions = {}): Promise<Collector> {
  const strict = opts.strict ?? true;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const windowCfg: WindowConfig = {
    phaseMs: opts.phaseMs ?? 0,
    perSecond: opts.limits?.perSecond ?? DEFAULT_LIMITS.perSecond,
    perMinute: opts.limits?.perMinute ?? DEFAULT_LIMITS.perMinute,
  };
  const schemas = loadSchemas(strict);
  // One state object: everything reset() forgets, plus the faults.
  const st = {
    seq: 0,
    records: [] as RecordedRequest[],
    profiles: [] as ProfileState[],
    windows: new Map<string, WindowCounts>(),
    faults: [] as ActiveFault[],
    /** Every fault change, for the live view's time axis (faults themselves live in `faults`). */
    faultLog: [] as FaultPeriod[],
  };
  /** Requests hung by a fault: each one's way to end it (see cut). */
  const hanging = new Set<() => void>();
  const liveClients = new Set<ServerResponse>();
  let notifyTimer: NodeJS.Timeout | undefined;

  // Live pages are told "something changed" at most every 50 ms; they fetch the state themselves.
  const notify = () => {
    notifyTimer ??= setTimeout(() => {
      notifyTimer = undefined;
      for (const c of liveClients) c.write(`data: ${st.seq}\n\n`);
    }, 50);
  };

  /** Mark a fault change on the live view's time axis: a new fault ends the one of its mode still on (it replaces
   *  it), 'healthy' ends them all. */
  const logFault = (mode: string, label: string, start: number, end: number | null, count?: number) => {
    for (const p of st.faultLog) if ((mode === 'healthy' || p.mode === mode) && (p.end === null || p.end > start)) p.end = start;
    st.faultLog.push(count === undefined ? { mode, label, start, end } : { mode, label, start, end, count });
    notify();
  };

  const endHanging = () => {
    for (const end of hanging) end();
    hanging.clear();
  };

  function record(req: IncomingMessage, url: URL): RecordedRequest {
    const headers: Record<string, string> = {};
    // (HTTP/2's pseudo-headers, :method, :path…, are not headers of the request: the record is the same in both.)
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k[0] !== ':') headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const query = Object.fromEntries(url.searchParams);
    const rec: RecordedRequest = {
      seq: ++st.seq, time: now(), method: req.method ?? '', path: url.pathname, query, headers, body: undefined, status: 0, httpVersion: req.httpVersion,
    };
    if (query.company_id !== undefined) rec.company = query.company_id;
    st.records.push(rec);
    notify();
    return rec;
  }

  async function answer(res: ServerResponse, rec: RecordedRequest, a: Answer): Promise<void> {
    rec.status = a.status;
    if (a.errors?.length) rec.errors = a.errors;
    notify();
    if (rec.latencyMs) await new Promise((r) => setTimeout(r, rec.latencyMs));
    const body = a.errors?.length ? JSON.stringify({ errors: a.errors }) : '';
    const type = body ? { 'Content-Type': 'application/vnd.api+json' } : {};
    res.writeHead(a.status, { ...CORS, ...type, 'Content-Length': String(Buffer.byteLength(body)), ...a.headers });
    res.end(body);
  }

  async function handlePreflight(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    // Faults never touch preflights: a failed preflight is a CORS error in the browser, which would
    // turn an injected 503 into an opaque network error.
    const rec = record(req, url);
    rec.latencyMs = pickLatency(opts.latencyMs, random);
    await answer(res, rec, {
      status: 204,
      headers: {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'revision, content-type',
        'Access-Control-Max-Age': '600',
      },
    });
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const rec = record(req, url);
    const t = rec.time;
    if (req.method !== 'POST') {
      await readBody(req);
      const detail = `Method ${req.method} is not allowed.`;
      return answer(res, rec, { status: 405, errors: [apiError(405, 'method_not_allowed', detail)], headers: { Allow: 'POST, OPTIONS' } });
    }
    rec.latencyMs = pickLatency(opts.latencyMs, random) + pickLatency(latencyFault(st.faults, t), random);
    const fault = takeFault(st.faults, t);
    if (fault) rec.fault = fault.mode;
    if (fault?.mode === 'drop') {
      cut(req);
      notify();
      return;
    }
    if (fault?.mode === 'hang') {
      const end = () => cut(req);
      hanging.add(end);
      // (Over HTTP/2 the socket's stand-in forwards `once` to the stream. Not the request's own 'close': it comes as
      // soon as the body has been read.)
      req.socket.once('close', () => hanging.delete(end));
      const until = st.faults.find((f) => f.fault.mode === 'hang')?.until ?? Infinity;
      if (Number.isFinite(until)) setTimeout(end, Math.max(0, until - t)).unref();
      rec.body = parseBody((await readBody(req)).text);
      notify();
      return;
    }
    // Decided on arrival, before the body is read and before any latency: Klaviyo counts arrivals.
    // A faulted request or a bad company_id is not counted.
    let refusal: Answer | undefined;
    let rateHeaders: Record<string, string> = {};
    if (fault?.mode === 'status') refusal = faultAnswer(fault);
    else if (!COMPANY_ID.test(rec.company ?? '')) {
      refusal = { status: 400, errors: [apiError(400, 'invalid', 'company_id must be a public API key of 6 letters or digits.', 'company_id')] };
    } else {
      const { counts, decision } = admit(st.windows.get(rec.company!), t, windowCfg);
      st.windows.set(rec.company!, counts);
      rateHeaders = {
        'RateLimit-Limit': String(decision.limit),
        'RateLimit-Remaining': String(decision.remaining),
        'RateLimit-Reset': String(decision.resetSec),
      };
      if (!decision.ok) {
        const detail = `Request was throttled. Expected available in ${decision.retryAfter} seconds.`;
        refusal = { status: 429, headers: { 'Retry-After': String(decision.retryAfter) }, errors: [apiError(429, 'throttled', detail)] };
      }
    }
    const { text, bytes } = await readBody(req);
    rec.body = parseBody(text);
    const a = refusal ?? checkRequest(req, url, text, bytes);
    if (a.status === 202) mergeProfile(st.profiles, rec.company!, rec.body, rec.seq);
    await answer(res, rec, { ...a, headers: { ...rateHeaders, ...a.headers } });
  }

  /** The answer to a counted, non-faulted POST: 202 or the first class of problems found. */
  function checkRequest(req: IncomingMessage, url: URL, text: string | undefined, bytes: number): Answer {
    const bad = (status: number, code: string, detail: string, where?: string): Answer => ({ status, errors: [apiError(status, code, detail, where)] });
    if (bytes > MAX_BODY_BYTES) return bad(413, 'request_too_large', `The request body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES}.`);
    const header = req.headers.revision;
    const rev = schemaRevisionFor(typeof header === 'string' ? header : undefined);
    if (!rev) {
      const detail = header === undefined ? 'The revision header is required.' : `Invalid revision '${String(header)}': expected YYYY-MM-DD[.suffix], 2023-01-24 or later.`;
      return bad(400, 'invalid', detail, 'revision');
    }
    if (opts.retired?.includes(header as string)) return bad(410, 'gone', `Revision ${String(header)} is retired; use a newer revision.`, 'revision');
    const schema = schemas.find((s) => s.revision === rev)!;
    if (strict && url.pathname !== schema.path) return bad(404, 'not_found', `Revision ${rev} serves ${schema.path}, not ${url.pathname}.`);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // Lenient mode takes either JSON type for every revision; strict mode only the revision's own.
    const types = strict ? schema.contentTypes : ['application/json', 'application/vnd.api+json'];
    if (!types.includes(type)) return bad(415, 'unsupported_media_type', `Content-Type '${type}' is not supported; use ${types.join(' or ')}.`);
    let body: unknown;
    try {
      body = JSON.parse(text ?? '');
    } catch {
      return bad(400, 'parse_error', 'The request body is not valid JSON.', '/');
    }
    const errors = validateBody(schema, body, strict);
    if (errors.length) return { status: 400, errors };
    // The schema passed: `attributes`, if there, is an object.
    const attributes = (body as { data?: { attributes?: object } }).data?.attributes;
    if (lacksKx((header as string).slice(0, 10)) && attributes && Object.hasOwn(attributes, '_kx'))
      return bad(400, 'invalid', `'_kx' is not a valid field for this request.`, '/data/attributes/_kx');
    return { status: 202 };
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(value));
    };
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /__control/requests') return json(200, st.records);
    if (route === 'GET /__control/profiles') return json(200, collector.profiles(url.searchParams.get('company') ?? undefined));
    if (route === 'GET /__control/state') return json(200, liveState(Number(url.searchParams.get('limit') ?? 100)));
    // The live view's chart and summary, computed from the record (live/liveData.ts): what tests assert on too.
    if (route === 'GET /__control/live') {
      const seconds = Number(url.searchParams.get('seconds') ?? 60) || 60;
      return json(200, liveData({ records: st.records, faults: st.faultLog, profiles: st.profiles.length, now: now(), phaseMs: windowCfg.phaseMs, limits: { perSecond: windowCfg.perSecond, perMinute: windowCfg.perMinute }, seconds }));
    }
    if (route === 'GET /__control/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      res.write(`retry: 1000\ndata: ${st.seq}\n\n`);
      liveClients.add(res);
      req.on('close', () => liveClients.delete(res));
      return;
    }
    if (route === 'POST /__control/clear') return void (collector.clearFaults(), json(200, { ok: true }));
    if (route === 'POST /__control/reset') return void (collector.reset(), json(200, { ok: true }));
    if (route === 'POST /__control/fault') {
      const f = parseBody((await readBody(req)).text) as Fault;
      if (!isFault(f)) return json(400, { error: 'Expected a fault: {mode: "status"|"hang"|"drop"|"latency", …}' });
      collector.fault(f);
      return json(200, { ok: true });
    }
    json(404, { error: `No control route ${route}` });
  }

  /** What the live page shows: profiles and the latest POSTs, bodies cut short. */
  function liveState(limit: number) {
    const posts = st.records.filter((r) => r.method !== 'OPTIONS');
    const requests = posts.slice(-Math.max(1, Math.min(limit, 1000))).reverse().map((r) => {
      const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      return { ...r, headers: undefined, revision: r.headers.revision, body: text && text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} chars)` : r.body };
    });
    return { total: posts.length, accepted: posts.filter((r) => r.status === 202).length, profiles: st.profiles, requests };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://collector');
    const path = url.pathname;
    if (API_PATHS.includes(path)) return req.method === 'OPTIONS' ? handlePreflight(req, res, url) : handleApi(req, res, url);
    if (path.startsWith('/__control/')) return handleControl(req, res, url);
    const page = { '/': 'index.html', '/__live': 'index.html', '/__live.js': 'live.js', '/__live.css': 'live.css', '/__chart.js': 'chart.js', '/__faults.js': 'faults.js' }[path];
    // The live page loads only its own files: no inline script or style, no external assets.
    if (page && req.method === 'GET' && (await serveFile(res, LIVE_DIR, page, { 'Content-Security-Policy': "default-src 'self'" }))) return;
    if (opts.handle?.(req, res)) return;
    if (path === '/favicon.ico') return void res.writeHead(204).end(); // spare the pages' consoles a 404
    for (const [prefix, dir] of Object.entries(opts.static ?? {})) {
      if (path.startsWith(prefix) && (await serveFile(res, dir, path.slice(prefix.length)))) return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Not found');
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { ...CORS, 'Content-Type': 'text/plain' });
      res.end(String(err));
    });
  };
  const host = opts.host ?? '127.0.0.1';
  // HTTP/2: node's compatibility API hands the same request/response shapes to the same routes (its request's
  // `socket` is a stand-in for the stream); `allowHTTP1` answers a client that offers only HTTP/1.1 over TLS.
  const tls = opts.http2 ? selfSignedCertificate(host) : undefined;
  const server = tls
    ? createSecureServer({ ...tls, allowHTTP1: true, settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 100 } }, onRequest as never)
    : createServer(onRequest);
  // Every TCP connection, to end them at close (the HTTP/2 server has no closeAllConnections).
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // A client that resets its connection or fails the handshake is its own business, never the collector's crash.
  server.on('sessionError', () => {});
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const collector: Collector = {
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    protocol: tls ? 'h2' : 'http/1.1',
    certificate: tls?.cert,
    requests: () => [...st.records],
    accepted: () => st.records.filter((r) => r.status === 202),
    profiles: (company) => st.profiles.filter((p) => company === undefined || p.company === company),
    fault(f) {
      const t = now();
      st.faults = addFault(st.faults, f, t);
      logFault(f.mode, faultLabel(f), t, 'forMs' in f && f.forMs !== undefined ? t + f.forMs : null, 'count' in f ? f.count : undefined);
    },
    clearFaults() {
      st.faults = [];
      endHanging();
      logFault('healthy', 'healthy', now(), now());
    },
    reset() {
      st.seq = 0;
      st.records = [];
      st.profiles = [];
      st.windows.clear();
      // Fault marks go with the requests they explain; a fault still on stays marked.
      st.faultLog = st.faultLog.filter((p) => p.end === null || p.end > now());
      notify();
    },
    async close() {
      clearTimeout(notifyTimer);
      endHanging();
      for (const c of liveClients) c.end();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return collector;
}

/** End a request without an answer, as a failing network does: HTTP/1.1 destroys its connection; HTTP/2 resets only
 *  its stream (RST_STREAM, INTERNAL_ERROR), since the connection carries the other requests too. Either way the
 *  client sees a network error. */
function cut(req: IncomingMessage): void {
  const stream = (req as unknown as Partial<Http2ServerRequest>).stream;
  if (stream) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  else req.socket.destroy();
}

/** The answer an active status fault dictates (429 carries Retry-After). */
function faultAnswer(f: Extract<Fault, { mode: 'status' }>): Answer {
  const headers: Record<string, string> = f.status === 429 ? { 'Retry-After': String(f.retryAfter ?? 1) } : {};
  return { status: f.status, headers, errors: [apiError(f.status, codeForStatus(f.status), `Injected fault: status ${f.status}.`)] };
}

/** Read the whole body; keep at most MAX_BODY_BYTES of it but drain the rest, so the client can read our 413. */
function readBody(req: IncomingMessage): Promise<{ text: string | undefined; bytes: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve({ text: bytes > MAX_BODY_BYTES ? undefined : bytes ? Buffer.concat(chunks).toString('utf8') : undefined, bytes }));
    req.on('error', reject);
    req.on('close', () => resolve({ text: undefined, bytes }));
  });
}

function parseBody(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isFault(f: unknown): f is Fault {
  const m = (f as { mode?: unknown } | null)?.mode;
  if (m === 'status') return typeof (f as { status?: unknown }).status === 'number';
  if (m === 'latency') {
    const ms = (f as { ms?: unknown }).ms;
    return typeof ms === 'number' || (Array.isArray(ms) && ms.length === 2 && ms.every((x) => typeof x === 'number'));
  }
  return m === 'hang' || m === 'drop';
}
