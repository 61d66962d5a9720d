// The IIFE entry (dist/klaviyo.js): takes over `window._klaviyo` from the stub (or from a plain
// `window._klaviyo = window._klaviyo || []`), replays what was queued, and acts on every later push.
import { browserTracker } from './browser/browserTracker';
import { hasKxParam } from './core/kx';
import type { Command } from './core/dispatch';
import type { Tracker } from './tracker';

/** `s`: what this page's stub saved in localStorage under STUB_KEY (snippet/snippet.js), if it did. */
type Queue = Command[] & { loaded?: boolean; s?: string; [method: string]: unknown };

/** The localStorage key under which the stub saves its queue when the page leaves before the bundle arrives. */
const STUB_KEY = '_klaviyo:q';

/** The calls an earlier page's stub saved when it left before the bundle arrived. Read and removed at once, so that
 *  no other page replays them; none when the saved queue is this page's own (`own`: this page left, then came back
 *  or stayed hidden, and the bundle loaded after all: its calls are in the queue already), corrupt or unreadable. */
function earlierCalls(w: Window, own: string | undefined): unknown[] {
  let earlier: unknown = [];
  try {
    const ls = w.localStorage;
    const saved = ls.getItem(STUB_KEY);
    if (saved) {
      ls.removeItem(STUB_KEY);
      if (saved !== own) earlier = JSON.parse(saved);
    }
  } catch {}
  return Array.isArray(earlier) ? earlier : [];
}

/** A `config` call. A hostile entry (a Proxy that throws on read) is not: it counts as a call, which run() reports
 *  without throwing. */
const isConfig = (c: unknown) => {
  try {
    return Array.isArray(c) && c[0] == 'config';
  } catch {}
};

/** Run `calls` in their order, but the `config` calls first, so that the identifies among them use it (the revision
 *  they are built for); `between` runs after the configs. */
function replay(t: Tracker, calls: unknown[], between?: () => void) {
  const configs = calls.filter(isConfig);
  for (const c of configs) t.run(c);
  between?.();
  for (const c of calls) if (!configs.includes(c)) t.run(c);
}

(function boot(w: Window & typeof globalThis & { _klaviyo?: Queue }, doc: Document) {
  try {
    // Inside the try: a `_klaviyo` that is not ours (a primitive, a frozen array, a throwing getter) must not throw
    // into the page.
    const q: Queue = (w._klaviyo ||= [] as unknown as Queue);
    // A second copy of the bundle (two tags, an SPA re-render) finds the first one in charge.
    if (q.loaded) return;
    q.loaded = true;
    const t = browserTracker(w, doc);
    // An inline copy of the bundle has no src (the page's own URL would stand in for it): no company from there.
    const src = (doc.currentScript as HTMLScriptElement | null)?.src;
    const company = src && new URL(src).searchParams.get('company_id');
    const queued = q.splice(0);
    // From now on a push acts at once and the method stubs become the real thing: before the replay, so that a
    // call made during it (a getter of replayed props) is not pushed onto a queue nobody reads again.
    q.push = (...cmds: unknown[]) => {
      for (const c of cmds) t.run(c);
      return 0;
    };
    for (const m of ['identify', 'flush', 'stats'] as const) q[m] = t[m];
    for (const m of ['account', 'config']) q[m] = (arg: unknown) => t.run([m, arg]);
    // Then the rest in the order of the calls, `account` included: an identify goes to the account named before it
    // (one made before any account waits for the first; the script URL's company, if any, comes before them all).
    // The earlier page's calls come first (they were made first). An earlier page that named its company only in
    // its script URL left no `account`: its identifies go to this page's company (the first account known here),
    // the same one for a site that pastes one snippet everywhere. Then this page's own company again, so that an
    // `account` of the earlier page does not take this page's calls.
    if (company) t.run(['account', company]);
    replay(t, earlierCalls(w, q.s));
    if (company) t.run(['account', company]);
    // A `_kx` in the URL goes into the cookie now, before the visitor navigates on; otherwise the cookies are read
    // on the first identify (a page view that identifies nobody never pays for the first document.cookie read).
    replay(t, queued, () => hasKxParam(w.location.search) && t.readKx());
  } catch (e) {
    // Never let the tracker break the host page.
    w.console.error('[klaviyo] failed to start', e);
  }
})(window, document);
