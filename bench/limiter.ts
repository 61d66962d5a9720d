// `npm run bench:limiter [seed]`: the limiter in simulated time against a strict fixed-window server model.
// 20 runs at random server phases, 10 000 items queued at t=0, integer network delays in [d, d + SPREAD] each way.
// "Ideal" is the best a sender blind to the server's phase can do: 350 in any 1 s and 3500 in any 60 s of
// starts with instant answers, which is what a zero-latency network would allow.
import { KLAVIYO_WINDOWS, createLimiter, planStarts } from '../src/core/limiter';
import { createConcurrency, limit as concurrencyLimit, onAnswer, onStart } from '../src/core/concurrency';
import { fixedInFlight, fixedWindowServer, idealSpanMs, maxInSliding, mulberry32, simulate, simulateNetwork, spanOf } from './serverModel';
import type { InFlightPolicy, NetworkModel } from './serverModel';

const seed = Number(process.argv[2] ?? process.env.SEED ?? Date.now() % 2 ** 32);
const random = mulberry32(seed);
const ITEMS = 10_000;
const SPREAD = 200;
const RUNS = 20;

const ideal = planStarts(createLimiter(), 0, ITEMS);
const allowance = (ms: number): number => ideal.filter((t) => t < ms).length;

/** One sender run: items queued at t=0, delays there and back base + [0, spread] ms (uniform integers, or only the
 *  two ends when `twoPoint`: the hardest case for any rule that assumes a spread); arrivals sorted. */
function run(items: number, base: number, spread: number, twoPoint = false) {
  const rnd = mulberry32(Math.floor(random() * 2 ** 32));
  const leg = () => base + (twoPoint ? (rnd() < 0.5 ? 0 : spread) : Math.floor(rnd() * (spread + 1)));
  const { arrivals } = simulate({ events: [{ at: 0, kind: 'demand', count: items }], delay: leg });
  return arrivals.sort((a, b) => a - b);
}

const pad = (v: string | number, n: number): string => String(v).padStart(n);
const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(1)}%`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

console.log(`bench:limiter  seed ${seed}  items ${ITEMS}  delay spread ${SPREAD} ms each way  windows ${KLAVIYO_WINDOWS.map((w) => `${w.limit}/${w.ms} ms`).join(', ')}`);
console.log(`ideal allowance: ${allowance(1000)} by 1 s, ${allowance(60_000)} by 60 s, ${allowance(120_000)} by 120 s; all ${ITEMS} by ${secs(ideal[ITEMS - 1]!)}\n`);
const head = ['run', 'phase ms', 'delay ms', 'slide 1s', 'slide 60s', 'srv 1s', 'srv 60s', '429s', '@1s', '@60s', '@120s', 'all 10k', 'vs ideal'];
const widths = [3, 9, 10, 8, 9, 6, 7, 4, 9, 10, 10, 9, 8];
const row = (cells: (string | number)[]): string => cells.map((c, i) => pad(c, widths[i]!)).join('  ');
console.log(row(head));

const started = performance.now();
let worst1 = 0;
let worst60 = 0;
let total429 = 0;
for (let r = 1; r <= RUNS; r++) {
  const phase = Math.floor(random() * 60_000);
  const base = 20 + Math.floor(random() * 400);
  const arrivals = run(ITEMS, base, SPREAD);
  const server = fixedWindowServer(arrivals, phase);
  // Delivered by X: arrivals within X of the earliest possible arrival (t=0 + base delay).
  const by = (ms: number): number => arrivals.filter((a) => a < base + ms).length;
  const all = arrivals[arrivals.length - 1]! - base;
  const s1 = maxInSliding(arrivals, 1000);
  const s60 = maxInSliding(arrivals, 60_000);
  worst1 = Math.max(worst1, s1, server.maxSeen[0]!);
  worst60 = Math.max(worst60, s60, server.maxSeen[1]!);
  total429 += server.rejected;
  console.log(
    row([
      r, phase, `${base}-${base + SPREAD}`, s1, s60, server.maxSeen[0]!, server.maxSeen[1]!, server.rejected,
      `${by(1000)}/${allowance(1000)}`, `${by(60_000)}/${allowance(60_000)}`, `${by(120_000)}/${allowance(120_000)}`,
      secs(all), `+${pct(all - ideal[ITEMS - 1]!, ideal[ITEMS - 1]!)}`,
    ]),
  );
}
console.log(`\nworst over ${RUNS} phases: ${worst1} in a 1 s window (limit 350), ${worst60} in a 60 s window (limit 3500), ${total429} 429s\n`);

console.log('cost of the round trip: each burst cycle waits for the answer of the request 350 places back, so it');
console.log('stretches by one round trip (delays d..d+spread each way; 429s summed over 20 random phases; worst 1 s =');
console.log('the most arrivals in any 1 s, i.e. at the worst phase). Last column: delays of exactly d or d + spread,');
console.log('the hardest case for a rule that assumes a spread.');
const rtHead = ['delay', '1500 items', 'vs ideal', '10k items', 'vs ideal', '429s', 'worst 1 s', 'worst 1 s, two-point'];
const rtWidths = [10, 10, 8, 10, 8, 5, 9, 20];
const rtRow = (cells: (string | number)[]): string => cells.map((c, i) => pad(c, rtWidths[i]!)).join('  ');
console.log(rtRow(rtHead));
for (const [base, spread] of [[0, 0], [10, 20], [20, 50], [50, 100], [100, 200], [20, 1000]] as const) {
  const small = run(1500, base, spread);
  const big = run(ITEMS, base, spread);
  const loose = run(ITEMS, base, spread, true);
  const t1500 = spanOf(small);
  const t10k = spanOf(big);
  let rejected = 0;
  for (let k = 0; k < RUNS; k++) rejected += fixedWindowServer(big, random() * 60_000).rejected;
  console.log(
    rtRow([
      `${base}-${base + spread}`, secs(t1500), `+${pct(t1500 - ideal[1499]!, ideal[1499]!)}`,
      secs(t10k), `+${pct(t10k - ideal[ITEMS - 1]!, ideal[ITEMS - 1]!)}`, rejected,
      maxInSliding(big, 1000), maxInSliding(loose, 1000),
    ]),
  );
}
console.log(`\n(ideal: 1500 by ${secs(ideal[1499]!)}, 10k by ${secs(ideal[ITEMS - 1]!)}; times are first to last arrival)`);

// The requests in flight, over the network the browser test uses (e2e/network.test.ts): the same 1500 items, the
// limiter, and a browser between the script and the server. HTTP/1.1: 6 connections per host, a request waits in
// the pool for one; HTTP/2: the collector's 100 streams. The collector answers after 0 or 50-150 ms (uniform). The
// browser hands one request to the network per SEND_GAP ms and takes HOP ms each way between script and network:
// fitted to Chromium here (HTTP/2 at 50-150 ms with 12 in flight: 13.7 s and 121/s measured, 13.6 s and 109/s
// modelled; loopback: 350/s and more either way). Senders: today's fixed 12 (MAX_IN_FLIGHT), the controller
// (src/core/concurrency.ts), and the bare floor: starts as fast as the windows allow, no bound in flight.
const HOP = 5;
const SEND_GAP = 2.5;
const NET_RUNS = 20;
const N = 1500;
const controller = (): InFlightPolicy => {
  const s = createConcurrency();
  return { limit: () => concurrencyLimit(s), onStart: (t) => void onStart(s, t), onAnswer: (a, t, ok) => void onAnswer(s, a, t, ok) };
};
const senders: Array<[string, (() => InFlightPolicy) | undefined]> = [['fixed 12', () => fixedInFlight(12)], ['controller', controller], ['bare floor', undefined]];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`\nin flight x network: ${N} items, ${NET_RUNS} runs each (random phase and latencies), a browser sending one request per ${SEND_GAP} ms`);
console.log(`and ${HOP} ms each way between script and network; span median [min-max], its ratio to the ideal (${secs(idealSpanMs(N))}) and to`);
console.log(`the bare floor's median; peak = most arrivals in any 1 s; 429s summed over the runs; in flight = the most at once;`);
console.log(`limit = the controller's limit over the last half of the run, median [min-max] over runs.`);
const netHead = ['network', 'sender', 'span median', '[min-max]', 'x ideal', 'x floor', 'peak', '429s', 'in flight', 'limit'];
const netWidths = [17, 10, 11, 15, 7, 7, 4, 4, 9, 13];
const netRow = (cells: (string | number)[]): string => cells.map((c, i) => (i < 2 ? String(c).padEnd(netWidths[i]!) : pad(c, netWidths[i]!))).join('  ');
console.log(netRow(netHead));
for (const [protocol, connections] of [['HTTP/1.1', 6], ['HTTP/2', 100]] as const) {
  for (const [lo, hi] of [[0, 0], [50, 150]] as const) {
    const name = `${protocol} ${hi ? `${lo}-${hi} ms` : '0 ms'}`;
    const results = senders.map(([sender, policy]) => {
      const spans: number[] = [];
      const peaks: number[] = [];
      const flights: number[] = [];
      const limits: number[] = [];
      let rejected = 0;
      for (let k = 0; k < NET_RUNS; k++) {
        const rnd = mulberry32(Math.floor(random() * 2 ** 32));
        const network: NetworkModel = { connections, latency: () => lo + (hi - lo) * rnd(), hopMs: HOP, sendGapMs: SEND_GAP };
        const p = policy?.();
        const r = p ? simulateNetwork({ items: N, network, policy: p }) : simulateNetwork({ items: N, network, paced: 'starts' });
        const arrivals = [...r.arrivals].sort((a, b) => a - b);
        spans.push(spanOf(arrivals));
        peaks.push(maxInSliding(arrivals, 1000));
        flights.push(r.peakInFlight);
        // A bare sender is not held to the windows by answers: its 429s are not the question (its server has no limits).
        if (p) rejected += fixedWindowServer(arrivals, random() * 60_000).rejected;
        const half = r.limits.slice(r.limits.length >> 1).map(([, l]) => l);
        if (sender === 'controller') limits.push(median(half));
      }
      return { sender, spans, peaks, flights, limits, rejected };
    });
    const floor = median(results[2]!.spans);
    for (const r of results) {
      const m = median(r.spans);
      console.log(
        netRow([
          r === results[0] ? name : '', r.sender, secs(m), `[${secs(Math.min(...r.spans))}-${(Math.max(...r.spans) / 1000).toFixed(2)}]`,
          (m / idealSpanMs(N)).toFixed(2), (m / floor).toFixed(2), Math.max(...r.peaks), r.sender === 'bare floor' ? '-' : r.rejected, Math.max(...r.flights),
          r.limits.length ? `${median(r.limits)} [${Math.min(...r.limits)}-${Math.max(...r.limits)}]` : '',
        ]),
      );
    }
  }
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s wall`);
