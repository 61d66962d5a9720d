// What most browser test files start with: the build, a strict collector, the site and the stub, for the whole file.
import { afterAll, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startCollector, type Collector } from '../../dev/collector/index';
import { snippet, startSite, type Site } from './site';

export interface World {
  collector: Collector;
  site: Site;
  /** The paste-able stub, as the build wrote it. */
  stub: string;
}

/** Build dist/ if it is missing, then, around the file's tests, a strict collector and the site (both stopped after)
 *  and the stub. Read the fields inside tests (they are set by the file's beforeAll). */
export function world(): World {
  if (!existsSync('dist/klaviyo.js')) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });
  const w = {} as World;
  beforeAll(async () => {
    [w.collector, w.site, w.stub] = await Promise.all([startCollector({ strict: true }), startSite(), snippet()]);
  });
  afterAll(() => Promise.all([w.collector?.close(), w.site?.close()]));
  return w;
}
