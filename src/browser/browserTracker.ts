// Wires the pure tracker to a real page: IndexedDB, fetch, Web Locks, BroadcastChannel, lifecycle.
import { idbStore } from '../store/idbStore';
import { journal } from '../store/journal';
import { send } from './transport';
import { waiting, withLock } from './lock';
import { onLifecycle } from './lifecycle';
import { exchangeId } from './exchangeId';
import { identityStore } from './identityStore';
// Last: import order is the bundle's module order (nothing here runs on import), and the tracker's modules
// after the adapters pack smaller.
import { createTracker, type Tracker } from '../tracker';

/** A tracker running in this window, with its browser adapters attached. */
export function browserTracker(win: Window & typeof globalThis, doc: Document): Tracker {
  const c = win.console;
  let channel: BroadcastChannel | undefined;
  try {
    // Tells the tab that holds the lock that another tab queued items (it then re-reads the queue).
    channel = new win.BroadcastChannel('klaviyo-snippet');
  } catch {
    // No BroadcastChannel (old Safari): the flusher still sees other tabs' items on its next round.
  }
  const store = idbStore({ onFallback: (why) => c.warn('[klaviyo] IndexedDB unavailable (' + why + '): queueing in memory for this page') });
  const t = createTracker({
    now: () => Date.now(),
    random: Math.random,
    store,
    // Updates whose write is under way when the page hides: localStorage, written synchronously in that task.
    journal: journal(() => win.localStorage),
    // These two (like idbStore's IndexedDB) take the page's globals by default, fetch and navigator.locks, read at
    // each call: `win` is always the page's own window.
    send,
    lock: withLock,
    waiting,
    announce: (company) => channel?.postMessage(company),
    setTimeout: (fn, ms) => win.setTimeout(fn, ms),
    clearTimeout: (h) => win.clearTimeout(h as number),
    log: c,
    exchangeId: (cfg) => exchangeId(win.location, doc, cfg, c),
    identity: identityStore(() => win.localStorage),
  });
  if (channel) channel.onmessage = (e) => e.data === t.company() && t.remote();
  // Visible again, or restored from the back/forward cache (maybe without a visibilitychange): resume.
  onLifecycle({ win, doc }, { onLeave: t.leave, onOnline: t.online, onShow: t.resume, onFreeze: store.suspend, onThaw: store.resume });
  return t;
}
