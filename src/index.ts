// The IIFE entry (dist/klaviyo.js): takes over `window._klaviyo` from the stub (or from a plain
// `window._klaviyo = window._klaviyo || []`), replays what was queued, and acts on every later push.
import { browserTracker } from './browser/browserTracker';
import { hasKxParam } from './core/kx';
import type { Command } from './core/dispatch';

/** `s`: what this page's stub saved in localStorage under STUB_KEY (snippet/snippet.js), if it did. */
type Queue = Command[] & { loaded?: boolean; s?: string; [method: string]: unknown };

/** The localStorage key under which the stub saves its queue when the page leaves before the bundle arrives. */
const STUB_KEY = '_klaviyo:q';

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
    // Calls queued in the stub of an earlier page of this origin that left before the bundle arrived. Read and
    // removed at once, so that no other page replays them again; a page's own saved queue (`q.s`: this page left,
    // then came back or stayed hidden, and the bundle loaded after all) is already in `queued`. A corrupt value or
    // unreadable storage means nothing saved.
    let earlier: unknown[] = [];
    try {
      const ls = w.localStorage;
      const saved = ls.getItem(STUB_KEY);
      if (saved) {
        ls.removeItem(STUB_KEY);
        if (saved !== q.s) earlier = JSON.parse(saved);
      }
    } catch {}
    if (!Array.isArray(earlier)) earlier = [];
    // `config` first, so that identifies queued before it still use it (the revision they are built for); then
    // the rest in the order of the calls, `account` included: an identify goes to the account named before it
    // (one made before any account waits for the first; the script URL's company, if any, comes before them all).
    // A hostile entry (a Proxy that throws on read) counts as a call, which run() reports without throwing.
    const isConfig = (c: unknown) => {
      try {
        return Array.isArray(c) && c[0] == 'config';
      } catch {}
    };
    const configs = queued.filter(isConfig);
    if (company) t.run(['account', company]);
    // The earlier page's calls come first (they were made first), in the same order, config first among them. An
    // earlier page that named its company only in its script URL left no `account`: its identifies go to this
    // page's company (the first account known here), the same one for a site that pastes one snippet everywhere.
    // Then this page's own company again, so that an `account` of the earlier page does not take this page's calls.
    for (const c of earlier.filter(isConfig)) t.run(c);
    for (const c of earlier) if (!isConfig(c)) t.run(c);
    if (company) t.run(['account', company]);
    for (const c of configs) t.run(c);
    // A `_kx` in the URL goes into the cookie now, before the visitor navigates on; otherwise the cookies
    // are read on the first identify (the first document.cookie read costs ~3 ms in Chromium).
    if (hasKxParam(w.location.search)) t.readKx();
    for (const c of queued) if (!configs.includes(c)) t.run(c);
  } catch (e) {
    // Never let the tracker break the host page.
    w.console.error('[klaviyo] failed to start', e);
  }
})(window, document);
