// @vitest-environment node
// `npm start`'s options (--http2, --latency, their environment twins) and the demo over HTTP/2.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasOpenssl } from '../../dev/collector/tls';
import { parseLatency, startDemo, startOptions } from '../../dev/start';

describe('npm start options', () => {
  it('plain HTTP/1.1 on 8787 with no latency by default; PORT moves it', () => {
    expect(startOptions([], {})).toEqual({ port: 8787, http2: false, latencyMs: undefined });
    expect(startOptions([], { PORT: '9000' })).toMatchObject({ port: 9000 });
  });

  it('--http2 or HTTP2=1; --latency=MS or MIN-MAX, or LATENCY_MS (the flag wins)', () => {
    expect(startOptions(['--http2', '--latency=50-150'], {})).toMatchObject({ http2: true, latencyMs: [50, 150] });
    expect(startOptions([], { HTTP2: '1', LATENCY_MS: '100' })).toMatchObject({ http2: true, latencyMs: 100 });
    expect(startOptions(['--latency=20'], { LATENCY_MS: '100' })).toMatchObject({ latencyMs: 20 });
    expect(startOptions([], { HTTP2: '0' })).toMatchObject({ http2: false });
  });

  it('refuses an unknown flag or a malformed latency with a one-line reason', () => {
    expect(startOptions(['--h2'], {})).toBeInstanceOf(Error);
    expect(String(startOptions(['--latency=fast'], {}))).toMatch(/expected milliseconds/);
    expect(parseLatency('150-50')).toBeInstanceOf(Error);
    expect(parseLatency('70-70')).toBe(70);
    expect(parseLatency(undefined)).toBeUndefined();
  });
});

describe.skipIf(!hasOpenssl())('the demo over HTTP/2', () => {
  it('serves the demo page and the API on https:// over HTTP/2, with the latency asked for', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'klaviyo-start-test-'));
    writeFileSync(join(dist, 'snippet.html'), '<script>window._klaviyo=[]</script>\n<script async src="SCRIPT_URL?company_id=PUBLIC_API_KEY"></script>\n');
    const demo = await startDemo({ port: 0, distDir: dist, http2: true, latencyMs: 60 });
    const s = connect(demo.collector.url, { rejectUnauthorized: false });
    s.on('error', () => {});
    const get = (path: string, method = 'GET') =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const r = s.request({ ':method': method, ':path': path, 'content-type': 'application/json', revision: '2023-01-24' });
        let status = 0;
        let body = '';
        r.on('response', (h) => (status = Number(h[':status'])));
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status, body }));
        r.on('error', reject);
        r.end(method === 'POST' ? JSON.stringify({ data: { type: 'profile', attributes: { email: 'a@b.co' }, meta: { identifiers: { email: 'a@b.co' } } } }) : undefined);
      });
    try {
      expect(demo.demoUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/demo\/$/);
      const page = await get('/demo/');
      expect(page.status).toBe(200);
      expect(page.body).toContain('/dist/klaviyo.js?company_id=AbC123');
      const t0 = Date.now();
      expect((await get('/client/profiles/?company_id=AbC123', 'POST')).status).toBe(202);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
      expect(demo.collector.requests()[0]).toMatchObject({ httpVersion: '2.0', latencyMs: 60 });
    } finally {
      s.destroy();
      await demo.close();
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
