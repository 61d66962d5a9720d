// The demo's stats panel: `_klaviyo.stats()` four times a second. Before the bundle has loaded the stub has no
// stats (it only queues), so the panel shows dashes until then.
'use strict';

function showStats() {
  const k = window._klaviyo;
  if (!k || typeof k.stats !== 'function') return;
  const s = k.stats();
  const dropped = Object.values(s.dropped || {}).reduce((a, b) => a + b, 0);
  const values = { queued: s.queued, sent: s.sent, retried: s.retried, merged: s.merged, dropped };
  for (const [key, value] of Object.entries(values)) document.querySelector(`#stats td[data-k="${key}"]`).textContent = String(value);
}

setInterval(showStats, 250);
showStats();
