// @vitest-environment node
// The collector's HTTP/2 mode: TLS with a certificate made at start, HTTP/2 streams on one connection, HTTP/1.1 over
// TLS still answered, the latency option per stream, faults that end one stream and not the connection, close().
import { readdirSync } from 'node:fs';
import { connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector, type CollectorOptions } from '../../dev/collector/index';
import { hasOpenssl } from '../../dev/collector/tls';
import { body2023 } from './client';

let c: Collector | undefined;
const sessions: ClientHttp2Session[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await c?.close();
  c = undefined;
});
async function start(opts: CollectorOptions = {}): Promise<Collector> {
  c = await startCollector({ http2: true, ...opts });
  return c;
}
function session(col: Collector, ca?: string): ClientHttp2Session {
  const s = connect(col.url, ca ? { ca } : { rejectUnauthorized: false });
  s.on('error', () => {});
  sessions.push(s);
  return s;
}

interface H2Answer { status: number; headers: Record<string, unknown>; body: string; ms: number }
/** One request on the session; rejects when the stream is reset (code in the message). */
function h2(s: ClientHttp2Session, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<H2Answer> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const r = s.request({ ':method': method, ':path': path, ...headers });
    let status = 0;
    let got: Record<string, unknown> = {};
    let text = '';
    r.on('response', (h) => {
      status = Number(h[':status']);
      got = h;
    });
    r.setEncoding('utf8');
    r.on('data', (d: string) => (text += d));
    r.on('end', () => resolve({ status, headers: got, body: text, ms: Date.now() - t0 }));
    r.on('error', reject);
    r.on('close', () => r.rstCode && reject(new Error(`stream reset ${r.rstCode}`)));
    r.end(body);
  });
}
const post = (s: ClientHttp2Session, email: string) =>
  h2(s, 'POST', '/client/profiles/?company_id=AbC123', { 'content-type': 'application/json', revision: '2023-01-24' }, JSON.stringify(body2023(email)));

describe.skipIf(!hasOpenssl())('HTTP/2 over TLS', () => {
  it('serves https:// with HTTP/2: 202 and RateLimit headers, recorded as 2.0 without pseudo-headers', async () => {
    const col = await start();
    expect(col.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(col.protocol).toBe('h2');
    const a = await post(session(col), 'sarah@example.com');
    expect(a.status).toBe(202);
    expect(a.headers['ratelimit-remaining']).toBe('349');
    expect(a.headers['access-control-allow-origin']).toBe('*');
    const [rec] = col.requests();
    expect(rec).toMatchObject({ method: 'POST', path: '/client/profiles/', status: 202, httpVersion: '2.0', company: 'AbC123' });
    expect(Object.keys(rec!.headers).filter((k) => k.startsWith(':'))).toEqual([]);
    expect(col.profiles()[0]?.identifiers).toEqual({ email: 'sarah@example.com' });
  });

  it('answers a CORS preflight over HTTP/2', async () => {
    const col = await start();
    const a = await h2(session(col), 'OPTIONS', '/client/profiles/?company_id=AbC123', {
      origin: 'https://shop.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'revision, content-type',
    });
    expect(a.status).toBe(204);
    expect(a.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
  });

  it('the certificate is for 127.0.0.1, a client may trust it instead of skipping checks, and no key is left on disk', async () => {
    const before = readdirSync(tmpdir()).filter((d) => d.startsWith('klaviyo-collector-tls-'));
    const col = await start();
    expect(col.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect((await post(session(col, col.certificate), 'a@b.co')).status).toBe(202);
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith('klaviyo-collector-tls-'))).toEqual(before);
  });

  it('still answers HTTP/1.1 over TLS (a client that offers no h2)', async () => {
    const col = await start();
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${col.url}/client/profiles/?company_id=AbC123`, {
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', revision: '2023-01-24' },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body2023('h1@example.com')));
    });
    expect(status).toBe(202);
    expect(col.requests()[0]?.httpVersion).toBe('1.1');
  });

  it('latency delays each stream on its own: 40 requests on one connection take about one latency, not 40', async () => {
    const col = await start({ latencyMs: [100, 150] });
    const s = session(col);
    await post(s, 'warm@example.com'); // the handshake out of the timing
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(s, `p${i}@example.com`)));
    const took = Date.now() - t0;
    expect(answers.every((a) => a.status === 202 && a.ms >= 100)).toBe(true);
    expect(took).toBeLessThan(1000);
    expect(col.requests().every((r) => r.latencyMs! >= 100 && r.latencyMs! <= 150)).toBe(true);
  });

  it('announces maxConcurrentStreams (default 100)', async () => {
    const col = await start({ maxConcurrentStreams: 7 });
    const s = session(col);
    await post(s, 'a@b.co');
    expect(s.remoteSettings.maxConcurrentStreams).toBe(7);
    await c!.close();
    const dflt = await start();
    const s2 = session(dflt);
    await post(s2, 'a@b.co');
    expect(s2.remoteSettings.maxConcurrentStreams).toBe(100);
  });

  it('drop resets the one stream: the client sees an error, the other requests on the connection go on', async () => {
    const col = await start();
    const s = session(col);
    await post(s, 'first@example.com');
    col.fault({ mode: 'drop', count: 1 });
    await expect(post(s, 'dropped@example.com')).rejects.toThrow();
    expect((await post(s, 'after@example.com')).status).toBe(202);
    expect(s.closed || s.destroyed).toBe(false);
  });

  it('hang holds a stream until the faults are cleared, then resets it', async () => {
    const col = await start();
    const s = session(col);
    col.fault({ mode: 'hang' });
    const hung = post(s, 'hung@example.com');
    let settled = false;
    hung.catch(() => {}).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    col.clearFaults();
    await expect(hung).rejects.toThrow();
    expect((await post(s, 'after@example.com')).status).toBe(202);
  });

  it('close() ends open HTTP/2 connections', async () => {
    const col = await start();
    const s = session(col);
    await post(s, 'a@b.co');
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    await col.close();
    c = undefined;
    await closed;
    expect(s.destroyed).toBe(true);
  });
});
