// The per-file engine loop of the browser tests: one describe per engine of this run, its browser launched once
// for the file, and one skipped test per engine that cannot run here, saying why.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeEngines, engines, launch } from './index';
import type { Browser, EngineName } from './types';

/**
 * Print which engines run and which are skipped (and why), then register `describe('<title> in <engine>')` for each
 * engine that runs, calling `body` with the engine and its browser (launched in beforeAll, before any hook `body`
 * adds; closed in afterAll). The browser handed over forwards to the launched one, so tests use it directly.
 */
export async function eachEngine(title: string, body: (engine: EngineName, browser: Browser) => void): Promise<void> {
  const avail = await engines();
  console.log(`[${title}] engines:\n${describeEngines(avail)}`);
  for (const s of avail.skipped) describe(`${title} in ${s.engine}`, () => it.skip(`skipped: ${s.reason}`, () => {}));
  describe.each(avail.available)(`${title} in %s`, (engine) => {
    let real: Browser | undefined;
    beforeAll(async () => {
      real = await launch(engine);
    });
    afterAll(() => real?.close());
    const launched = () => real ?? Promise.reject(new Error(`${engine} did not launch`));
    body(engine, {
      engine,
      get features() {
        return real!.features;
      },
      get launchMs() {
        return real!.launchMs;
      },
      newContext: async () => (await launched()).newContext(),
      close: async () => (await launched()).close(),
      kill: async () => (await launched()).kill(),
    });
  });
}
