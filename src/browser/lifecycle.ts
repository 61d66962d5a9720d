/** Call `onLeave` once per hide (visibilitychange to hidden or pagehide, whichever comes first, then not again
 *  until the page is visible or shown again) and `onOnline` on the 'online' event. Returns an unsubscribe function. */
export function onLifecycle(
  target: { win: Window; doc: Document },
  handlers: { onLeave: () => void; onOnline: () => void },
): () => void {
  let left = false;
  // Chrome fires visibilitychange then pagehide on navigation; Safari sometimes fires only pagehide
  // (https://bugs.webkit.org/show_bug.cgi?id=151234): take whichever comes first, once.
  const leave = () => {
    if (!left) (left = true), handlers.onLeave();
  };
  const visibility = () => (target.doc.visibilityState === 'hidden' ? leave() : (left = false));
  // A page restored from the back/forward cache may be shown without a visibilitychange.
  const show = () => (left = false);
  const subs: [EventTarget, string, () => void][] = [
    [target.doc, 'visibilitychange', visibility],
    [target.win, 'pagehide', leave],
    [target.win, 'pageshow', show],
    [target.win, 'online', handlers.onOnline],
  ];
  subs.forEach(([t, type, fn]) => t.addEventListener(type, fn));
  return () => subs.forEach(([t, type, fn]) => t.removeEventListener(type, fn));
}
