// The inline stub a site pastes before the async bundle. Until the bundle loads it only queues:
// `_klaviyo` is an array (an existing one is kept, so the legacy `window._klaviyo = window._klaviyo || []`
// habit and earlier pushes survive), and identify/account/config return promises whose settle
// functions ride along on the queued command (`c.p`) for the bundle to call on replay.
// The bundle replaces push and these methods when it loads; `k.identify` marks "already stubbed".
(function (w) {
  var k = (w._klaviyo = w._klaviyo || []);
  if (k.identify) return;
  ['identify', 'account', 'config'].forEach(function (m) {
    k[m] = function () {
      var c = [m].concat([].slice.call(arguments));
      return new Promise(function (resolve, reject) {
        c.p = [resolve, reject];
        k.push(c);
      });
    };
  });
})(window);
