// The demo's "many at once" buttons: 10, 1000 or 5000 identifies pushed in one task, each for a different person
// (so none are merged and each is a request of its own: what the rate limits are about), and one identify made in
// the same task as leaving the page, the case the tracker's journal and keepalive are for.
'use strict';

const burstStatus = document.getElementById('burst-status');
// A run id per click, so that a second click sends new people rather than updates of the first ones.
const runId = () => Date.now().toString(36);

/** Push `n` identifies, each for a new person. */
function burst(n) {
  const run = runId();
  for (let i = 1; i <= n; i++) {
    window._klaviyo.push(['identify', { email: `burst-${run}-${i}@example.com`, first_name: `Person ${i}`, properties: { burst: run } }]);
  }
  burstStatus.textContent = `Pushed ${n} identifies (run ${run}): watch the live view's chart and the stats below.`;
}

document.getElementById('bursts').addEventListener('click', (event) => {
  const n = Number(event.target instanceof HTMLButtonElement ? event.target.dataset.burst : NaN);
  if (n) burst(n);
});

// `/demo/?send=1000` presses the button on load: a link to share, and a page a browser started with no automation
// attached can be sent to (a DevTools client slows every fetch: e2e/harness/browser.ts, arrivalsUninstrumented).
const send = Number(new URLSearchParams(location.search).get('send'));
if (send > 0 && send <= 10_000) burst(Math.floor(send));

document.getElementById('leave').addEventListener('click', () => {
  const email = `leaving-${runId()}@example.com`;
  window._klaviyo.push(['identify', { email, properties: { left: true } }]);
  // In the same task: the page is gone before IndexedDB could have confirmed the write.
  location.href = `/demo/?left=${encodeURIComponent(email)}`;
});

// Back after leaving: say what to look for.
const left = new URLSearchParams(location.search).get('left');
if (left) burstStatus.textContent = `The last page identified ${left} and left at once: it reaches the live view all the same.`;
