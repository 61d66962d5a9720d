// The inline stub a site pastes before the async bundle. Until the bundle loads it only queues:
// `_klaviyo` is an array (an existing one is kept, so the legacy `window._klaviyo = window._klaviyo || []`
// habit and earlier pushes survive), and identify/account/config return promises whose settle
// functions ride along on the queued command (`c.p`) for the bundle to call on replay.
// The bundle replaces push and these methods when it loads; `k.identify` marks "already stubbed".
// `s` and `v` are save()'s locals, declared as parameters: the stub is counted in bytes (build.mjs).
(function (w, key, s, v) {
  var k = (w._klaviyo = w._klaviyo || []);
  if (k.identify) return;
  ['identify', 'account', 'config'].forEach(function (m) {
    k[m] = function () {
      var c = [m];
      c.push.apply(c, arguments);
      return new Promise(function (resolve, reject) {
        c.p = [resolve, reject];
        k.push(c);
      });
    };
  });
  // A page that leaves before the bundle arrives saves its queue, synchronously, for the next page's bundle
  // (src/index.ts). JSON leaves out the settlers on `c.p` (not indices). `k.s` is what this page wrote: a bundle
  // that loads on this page after all (tab shown again, back/forward cache) finds its own queue there and skips
  // it. An earlier page's queue that no bundle has replayed yet is not overwritten. No storage (Safari private
  // mode) or a value JSON cannot write (a cycle, a BigInt) must never throw into the page. Once the bundle has
  // loaded the queue stays empty: nothing to save.
  function save() {
    try {
      if (k.length) {
        s = localStorage;
        v = s.getItem(key);
        if (!v || v == k.s) s.setItem(key, (k.s = JSON.stringify(k)));
      }
    } catch (e) {}
  }
  // beforeunload: a document that leaves before its load event (the bundle, async, still loading) gets no pagehide
  // in WebKit (as the HTML standard says: it was never shown), but every navigation and tab close prompts to unload
  // first (and a listener for it, unlike one for unload, keeps the page eligible for the back/forward cache).
  // visibilitychange (fired at document, bubbling to window): a mobile tab hidden, then killed, gets neither.
  // Saving again when it is shown is harmless.
  for (var t in { beforeunload: 0, visibilitychange: 0 }) w.addEventListener(t, save);
})(window, '_klaviyo:q');
