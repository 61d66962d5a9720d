// The IIFE entry (dist/klaviyo.js): takes over `window._klaviyo` from the stub (or from a plain
// `window._klaviyo = window._klaviyo || []`), replays what was queued, and acts on every later push.
import { browserTracker } from './browser/browserTracker';
import { hasKxParam } from './core/kx';
import type { Command } from './tracker';

type Queue = Command[] & { loaded?: boolean; [method: string]: unknown };

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
    // `config` first, so that identifies queued before it still use it (the revision they are built for); then
    // the rest in the order of the calls, `account` included: an identify goes to the account named before it
    // (one made before any account waits for the first; the script URL's company, if any, comes before them all).
    // A hostile entry (a Proxy that throws on read) counts as a call, which run() reports without throwing.
    const configs = queued.filter((c) => {
      try {
        return Array.isArray(c) && c[0] == 'config';
      } catch {}
    });
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
