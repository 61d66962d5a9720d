// Temporary profile directories. Removal retries for a few seconds: a browser's last writers (Firefox's
// helpers, puppeteer restoring a profile's prefs after the process exits) can still be at work when the
// browser's main process is gone; once seen here as ENOTEMPTY. A directory that still cannot go is reported,
// not thrown: it must not fail the test that used it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      return;
    } catch (e) {
      if (attempt >= 10) return console.warn(`[engines] could not remove ${dir}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
