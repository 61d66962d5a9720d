// `npm start` (after the build): the collector on 127.0.0.1:8787 (PORT overrides) plus a demo page
// at /demo/ made from dist/snippet.html, with the collector as apiHost. `--http2` (or HTTP2=1) serves HTTP/2 over
// TLS with a self-signed certificate; `--latency=50-150` (or LATENCY_MS) delays every API answer, as a real API's
// distance does: `npm start -- --http2 --latency=50-150`.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startCollector, type Collector } from './collector/index';

/** Options of startDemo; defaults in the comments. */
export interface DemoOptions {
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Where the build put snippet.html and klaviyo.js; default the project's dist/. */
  distDir?: string;
  /** The public key the demo page uses; default 'AbC123'. */
  companyId?: string;
  /** Serve HTTP/2 over TLS (the collector's `http2`); default false. */
  http2?: boolean;
  /** Latency added to every API answer (the collector's `latencyMs`); default none. */
  latencyMs?: number | [number, number];
  /** The phase of the collector's fixed rate windows (ms, 0..59999); default random, as in the tests: the tracker
   *  cannot know where Klaviyo's windows begin, so the demo does not let it line up by luck. */
  phaseMs?: number;
}

/** A running demo: the collector and the two pages to open. */
export interface Demo {
  collector: Collector;
  demoUrl: string;
  liveUrl: string;
  close(): Promise<void>;
}

const DEMO_DIR = fileURLToPath(new URL('./demo/', import.meta.url));
const DEFAULT_DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/** The demo page: dev/demo/index.html with the snippet pasted in, placeholders filled. */
export function demoPage(snippetHtml: string, companyId: string): string {
  const snippet = snippetHtml
    // The script URL may carry the key placeholder itself or leave it to us.
    .replace(/SCRIPT_URL(\?company_id=PUBLIC_API_KEY)?/g, '/dist/klaviyo.js?company_id=PUBLIC_API_KEY')
    .replaceAll('PUBLIC_API_KEY', companyId);
  return readFileSync(`${DEMO_DIR}index.html`, 'utf8').replace(/<!-- SNIPPET:.*?-->/, () => snippet.trim());
}

/**
 * A Content-Security-Policy that allows only this origin plus the snippet's inline script (by hash):
 * what a careful site would send, so the demo proves the tracker works under it.
 */
export function demoCsp(html: string): string {
  const hashes = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`,
  );
  return `default-src 'self'; script-src 'self' ${hashes.join(' ')}; object-src 'none'; base-uri 'none'`;
}

/** Start the collector with the demo page at /demo/ and the built bundle at /dist/. */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const distDir = opts.distDir ?? DEFAULT_DIST;
  const companyId = opts.companyId ?? 'AbC123';
  const snippetFile = `${distDir.replace(/\/?$/, '/')}snippet.html`;
  if (!existsSync(snippetFile)) throw new Error(`${snippetFile} not found: run \`npm run build\` first.`);
  const collector = await startCollector({
    port: opts.port ?? 8787,
    host: opts.host ?? '127.0.0.1',
    http2: opts.http2,
    latencyMs: opts.latencyMs,
    phaseMs: opts.phaseMs ?? Math.floor(Math.random() * 60_000),
    static: { '/dist/': distDir, '/demo/': DEMO_DIR },
    handle(req, res) {
      const path = new URL(req.url ?? '/', 'http://demo').pathname;
      if (path === '/demo') {
        res.writeHead(301, { Location: '/demo/' });
        res.end();
        return true;
      }
      if (path !== '/demo/' && path !== '/demo/index.html') return false;
      // Read on every request, so a rebuild shows on reload.
      const html = demoPage(readFileSync(snippetFile, 'utf8'), companyId);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': demoCsp(html) });
      res.end(html);
      return true;
    },
  });
  return { collector, demoUrl: `${collector.url}/demo/`, liveUrl: `${collector.url}/`, close: () => collector.close() };
}

/** A latency setting: '100' (ms) or '50-150' (uniform in [50, 150]); undefined when empty, an Error when malformed. */
export function parseLatency(text: string | undefined): number | [number, number] | undefined | Error {
  if (!text) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) return new Error(`latency '${text}': expected milliseconds, 100, or a range, 50-150`);
  const [lo, hi] = [Number(m[1]), Number(m[2] ?? m[1])];
  if (hi < lo) return new Error(`latency '${text}': the range's end is below its start`);
  return lo === hi ? lo : [lo, hi];
}

/** The options of `npm start` from its flags (--http2, --latency=MS|MIN-MAX) and environment (HTTP2=1, LATENCY_MS, PORT). */
export function startOptions(argv: string[], env: NodeJS.ProcessEnv): DemoOptions | Error {
  const flag = (name: string) => argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const value = (name: string) => flag(name)?.split('=')[1];
  const unknown = argv.filter((a) => !/^--(http2|latency=.*)$/.test(a));
  if (unknown.length) return new Error(`unknown option ${unknown.join(' ')} (known: --http2, --latency=MS or MIN-MAX)`);
  const latencyMs = parseLatency(value('latency') ?? env.LATENCY_MS);
  if (latencyMs instanceof Error) return latencyMs;
  return { port: env.PORT ? Number(env.PORT) : 8787, http2: !!flag('http2') || /^(1|true|yes)$/i.test(env.HTTP2 ?? ''), latencyMs };
}

async function main(): Promise<void> {
  const opts = startOptions(process.argv.slice(2), process.env);
  if (opts instanceof Error) {
    console.error(opts.message);
    process.exit(2);
  }
  let demo: Demo;
  try {
    demo = await startDemo(opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    console.error(code === 'EADDRINUSE' ? `Port ${opts.port} is in use: set PORT to another one (PORT=8788 npm start).` : (err as Error).message);
    process.exit(1);
  }
  const lat = opts.latencyMs === undefined ? 'none' : `${[opts.latencyMs].flat().join('-')} ms`;
  console.log(`klaviyo-snippet local collector (${opts.http2 ? 'HTTP/2 over TLS, self-signed certificate: accept it in the browser' : 'HTTP/1.1'}; answer latency ${lat})
  Demo page  ${demo.demoUrl}
  Live view  ${demo.liveUrl}
  API        POST ${demo.collector.url}/client/profiles/?company_id=AbC123
Ctrl-C stops it.`);
  const stop = () => {
    demo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Run only as a script (tsx dev/start.ts), never when a test imports startDemo.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
