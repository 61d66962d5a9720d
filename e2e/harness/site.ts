// A tiny web site for browser tests, on its own origin (a port of its own), so every request the
// tracker makes to the collector is cross-origin, as in production. Serves /dist/* from the build
// and HTML pages registered by the test.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface Site {
  url: string;
  /** Register (or replace) a page; `headers` lets a test add a Content-Security-Policy. */
  page(path: string, html: string, headers?: Record<string, string>): string;
  /** Every path requested from the site, in order. */
  hits: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };

/** Start the site on 127.0.0.1 and a free port. */
export async function startSite(): Promise<Site> {
  const pages = new Map<string, { html: string; headers: Record<string, string> }>();
  const hits: string[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.push(req.url ?? '');
    const page = pages.get(path);
    if (page) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...page.headers });
      return res.end(page.html);
    }
    if (path.startsWith('/dist/')) {
      // `?delay=ms` holds the file back: a page that leaves before the bundle has loaded (only the stub ran).
      const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay'));
      if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 30_000)));
      const file = normalize(join('dist', path.slice('/dist/'.length)));
      if (file.startsWith('dist')) {
        try {
          const body = await readFile(file);
          // CORS: a page on another origin may load the bundle with `integrity` + `crossorigin="anonymous"`
          // (Subresource Integrity needs a CORS-readable response), as from a CDN.
          res.writeHead(200, {
            'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream',
            'cache-control': 'no-store',
            'access-control-allow-origin': '*',
          });
          return res.end(body);
        } catch {
          // fall through to 404
        }
      }
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits,
    page(path, html, headers = {}) {
      pages.set(path, { html, headers });
      return url + path;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The paste-able stub, exactly as the build wrote it. */
export async function snippet(): Promise<string> {
  return readFile('dist/snippet.min.js', 'utf8');
}

/** A page with the stub, a config pointing at the collector, some inline calls, then the async bundle. */
export async function trackerPage(opts: { apiHost: string; company?: string; calls?: string; stub?: boolean; config?: Record<string, unknown>; body?: string }): Promise<string> {
  const company = opts.company ?? 'AbC123';
  const stub = opts.stub === false ? 'window._klaviyo = window._klaviyo || [];' : await snippet();
  const cfg = JSON.stringify({ apiHost: opts.apiHost, ...opts.config });
  return `<!doctype html><html><head><meta charset="utf-8"><title>t</title>
<script>${stub}
window._klaviyo.push(['config', ${cfg}]);
${opts.calls ?? ''}</script>
<script async src="/dist/klaviyo.js?company_id=${company}"></script></head><body>${opts.body ?? ''}</body></html>`;
}

// bench/ imports `until` from here; its home is ./wait (what the tests wait with, apart from the site).
export { until } from './wait';
