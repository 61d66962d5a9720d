// Serves files from a directory under a URL prefix (the built bundle, the demo's script files).
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** The content type for a file name (by extension; octet-stream when unknown). */
export const contentTypeOf = (file: string) => TYPES[extname(file)] ?? 'application/octet-stream';

/**
 * Answer with the file `rel` (URL-decoded path below the prefix) from `root`; false when there is
 * no such file or the path escapes `root` ('..'), so the caller can answer 404.
 */
export async function serveFile(res: ServerResponse, root: string, rel: string, headers: Record<string, string> = {}): Promise<boolean> {
  const base = resolve(root);
  let file: string;
  try {
    file = resolve(base, decodeURIComponent(rel || 'index.html'));
  } catch {
    return false; // malformed %-encoding
  }
  if (file !== base && !file.startsWith(base + sep)) return false;
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': contentTypeOf(file), 'Cache-Control': 'no-store', ...headers });
    res.end(body);
    return true;
  } catch {
    return false;
  }
}
