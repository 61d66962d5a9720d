const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// localStorage throws in sandboxed iframes, with cookies blocked, and on setItem when full.
const attempt = <R>(f: () => R): R | undefined => {
  try {
    return f();
  } catch {}
};

/** Run `fn` while holding an exclusive lock named `name` across the tabs of this origin (navigator.locks.request).
 *  Without Web Locks (Safari < 15.4, Firefox < 96): a localStorage lease (`name` key holding {owner, expires}),
 *  renewed every leaseMs/3 (default leaseMs 10 000) while fn runs, taken when absent or expired, waited for by
 *  polling every 250 ms. Where localStorage is unusable too, fn runs unguarded. Returns fn's result. */
export async function withLock<T>(
  name: string,
  fn: () => Promise<T>,
  env: { locks?: LockManager; storage?: Storage; now?: () => number; leaseMs?: number } = {},
): Promise<T> {
  const locks = env.locks ?? globalThis.navigator?.locks;
  if (locks) return locks.request(name, fn);
  const { now = Date.now, leaseMs = 10_000 } = env;
  const s = attempt(() => env.storage ?? localStorage);
  const me = Math.random().toString(36).slice(2);
  const read = (): { owner?: string; expires?: number } => attempt(() => JSON.parse(s!.getItem(name)!)) ?? {};
  const claim = () => attempt(() => (s!.setItem(name, JSON.stringify({ owner: me, expires: now() + leaseMs })), 1));
  // Better one flusher too many than none: without a writable storage, run unguarded.
  if (!s) return fn();
  for (;;) {
    if (!((read().expires ?? 0) > now())) {
      if (!claim()) return fn();
      // localStorage has no compare-and-set: write, let other tabs' writes land, then see who won.
      await sleep(50);
      if (read().owner === me) break;
    }
    await sleep(250);
  }
  const renew = setInterval(claim, leaseMs / 3);
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    if (read().owner === me) attempt(() => s.removeItem(name));
  }
}
