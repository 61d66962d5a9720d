// The live view's fault controls: each button posts one fault to the collector (POST /__control/fault), or clears
// them all ("Healthy": POST /__control/clear). The collector marks every change on the chart's time axis itself, so
// a fault set from a test or a script shows the same way.
'use strict';

const faultForm = document.getElementById('faults');

function faultFor(kind) {
  const num = (name) => Number(faultForm.elements[name].value) || 1;
  const forMs = num('seconds') * 1000;
  if (kind === 'outage') return { mode: 'status', status: 500, forMs };
  if (kind === 'hang') return { mode: 'hang', forMs };
  if (kind === '429') return { mode: 'status', status: 429, retryAfter: num('retryAfter'), forMs };
  // Latency lasts until "Healthy": it only delays, and a delay that ends by itself is easy to miss.
  if (kind === 'latency') return { mode: 'latency', ms: num('latency') };
  return null;
}

faultForm.addEventListener('click', async (event) => {
  const kind = event.target instanceof HTMLButtonElement ? event.target.dataset.fault : undefined;
  if (!kind) return;
  const fault = faultFor(kind);
  const out = document.getElementById('fault-status');
  try {
    const res = await fetch(fault ? '/__control/fault' : '/__control/clear', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: fault ? JSON.stringify(fault) : '',
    });
    out.textContent = res.ok ? (fault ? `${event.target.textContent} on` : 'Healthy: every fault removed') : `The collector said ${res.status}`;
  } catch {
    out.textContent = 'The collector did not answer';
  }
});
