// Without Web Locks (Safari < 15.4, Firefox < 96, both from early 2022) calls are only serialised within this tab.
// The risk, on those browsers only and only with two tabs of a site open at once: both flush the shared queue, so an
// update may be sent twice (an older duplicate may land after a newer one), and the two share the rate limit only
// through the persisted limiter history each reads when its loop starts (429s are still retried).
const tails: Record<string, Promise<unknown>> = {};

/** Run `fn` while holding an exclusive lock named `name` across the tabs of this origin (navigator.locks.request),
 *  or, without Web Locks, across the calls of this tab. Returns (or rejects with) fn's result. A lock request
 *  refused before fn ran (an opaque origin, a sandboxed frame: SecurityError) falls back to this tab alone too:
 *  retrying it would never succeed, and nothing would ever be sent. */
export function withLock<T>(
  name: string,
  fn: () => Promise<T>,
  { locks = navigator.locks }: { locks?: LockManager } = {},
): Promise<T> {
  let ran = false;
  if (locks) {
    const held = () => {
      ran = true;
      return fn();
    };
    return (locks.request(name, held) as Promise<T>) // (its typing does not flatten the promise)
      .catch((e) => (ran ? Promise.reject(e) : withLock(name, fn, { locks: null as never })));
  }
  const run = (tails[name] || Promise.resolve()).then(fn);
  tails[name] = run.catch(() => {});
  return run;
}

/** Whether another tab waits for the lock `name` (Web Locks' query); false without Web Locks or when the query fails. */
export const waiting = (name: string, { locks = navigator.locks }: { locks?: LockManager } = {}): Promise<boolean> =>
  locks ? locks.query().then((s) => !!s.pending?.some((l) => l.name == name), () => false) : Promise.resolve(false);
