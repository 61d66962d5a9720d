// The IIFE entry (dist/klaviyo.js): takes over `window._klaviyo` from the stub (or from a plain
// `window._klaviyo = window._klaviyo || []`), replays what was queued, and acts on every later push.
import { browserTracker } from './browser/browserTracker';
import type { Command } from './tracker';

type Queue = Command[] & { loaded?: boolean; [method: string]: unknown };

/** The commands that change settings: replayed first, and each a method of `_klaviyo` too. */
const SETTINGS = ['account', 'config'];

(function boot(w: Window & typeof globalThis & { _klaviyo?: Queue }, doc: Document) {
  const q: Queue = (w._klaviyo = w._klaviyo || ([] as unknown as Queue));
  // A second copy of the bundle (two tags, an SPA re-render) finds the first one in charge.
  if (q.loaded) return;
  q.loaded = true;
  try {
    const t = browserTracker(w, doc);
    const script = doc.currentScript as HTMLScriptElement | null;
    const company = script && new URL(script.src, w.location.href).searchParams.get('company_id');
    const queued = q.splice(0);
    // A hostile entry (a Proxy that throws on read) counts as a call: run() reports it without throwing.
    const setting = (c: unknown) => {
      try {
        return Array.isArray(c) && SETTINGS.includes(c[0]);
      } catch {
        return false;
      }
    };
    // Settings first, so identifies queued before a later config/account still use them; then the
    // calls in the order they were made.
    if (company) t.run(['account', company]);
    for (const c of queued) if (setting(c)) t.run(c);
    // A `_kx` in the URL goes into the cookie now, before the visitor navigates on; otherwise the cookies
    // are read on the first identify (the first document.cookie read costs ~3 ms in Chromium).
    if (/[?&]_kx=/.test(w.location.search)) t.readKx();
    for (const c of queued) if (!setting(c)) t.run(c);
    // From now on a push acts at once; the method stubs become the real thing.
    q.push = (...cmds: unknown[]) => {
      for (const c of cmds) t.run(c);
      return 0;
    };
    q.identify = t.identify;
    for (const m of SETTINGS) q[m] = (arg: unknown) => t.run([m, arg]);
    q.flush = t.flush;
    q.stats = t.stats;
  } catch (e) {
    // Never let the tracker break the host page.
    w.console.error('[klaviyo] failed to start', e);
  }
})(window, document);
