// Waiting in the tests' own process: polling a condition with a bounded time, and a plain pause.

/** Poll until `check` returns a truthy value (every 25 ms) or the time runs out (default 15 s; then throw with `describe()`). */
export async function until<T>(check: () => T | Promise<T>, opts: { timeoutMs?: number; describe?: () => string } = {}): Promise<T> {
  const end = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting' + (opts.describe ? ': ' + opts.describe() : ''));
    await sleep(25);
  }
}

/** Resolve after `ms` milliseconds: for letting what is in flight land, never for waiting on a condition (until). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
