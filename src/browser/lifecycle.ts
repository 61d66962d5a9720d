/** Call `onLeave` once per hide (visibilitychange to hidden or pagehide, whichever comes first, then not again
 *  until the page is visible or shown again), `onShow` each time it is (visibilitychange to visible, pageshow), and
 *  `onOnline` on the 'online' event. Returns an unsubscribe function. */
export function onLifecycle(
  { win, doc }: { win: Window; doc: Document },
  handlers: { onLeave: () => void; onOnline: () => void; onShow?: () => void; onFreeze?: () => void; onThaw?: () => void },
): () => void {
  let left = false;
  // Chrome fires visibilitychange then pagehide on navigation; Safari sometimes fires only pagehide
  // (https://bugs.webkit.org/show_bug.cgi?id=151234): take whichever comes first, once.
  const leave = () => {
    if (left) return;
    left = true;
    handlers.onLeave();
  };
  const show = () => {
    left = false;
    handlers.onShow?.();
  };
  // The controller is the listener options: its `signal` removes all four listeners at once on abort(). (Safari
  // < 15 ignores `signal` and keeps them; only tests unsubscribe.)
  const off = new AbortController();
  const on = (t: EventTarget, type: string, fn: (e: Event) => unknown) => t.addEventListener(type, fn, off);
  // document.hidden is visibilityState == 'hidden', in fewer bytes.
  on(doc, 'visibilitychange', () => (doc.hidden ? leave() : show()));
  // `persisted`: the page goes into the back/forward cache (onFreeze after onLeave) or comes back from it (onThaw
  // before onShow).
  on(win, 'pagehide', (e) => {
    leave();
    if ((e as PageTransitionEvent).persisted) handlers.onFreeze?.();
  });
  // A page restored from the back/forward cache may be shown without a visibilitychange.
  on(win, 'pageshow', (e) => {
    if ((e as PageTransitionEvent).persisted) handlers.onThaw?.();
    show();
  });
  on(win, 'online', handlers.onOnline);
  // A page that loads hidden (a background tab, a prerender) gets no visibilitychange until it is shown: it is
  // hidden now. (WebKit may hold a hidden page's timers, and the loop then sends without waiting on one.)
  if (doc.hidden) leave();
  return () => off.abort();
}
