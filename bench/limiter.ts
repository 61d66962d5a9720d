// `npm run bench:limiter [seed]`: the limiter in simulated time against a strict fixed-window server model.
// 20 runs at random server phases, 10 000 items queued at t=0, integer network delays in [d, d + SPREAD] each way.
// "Ideal" is the best a sender blind to the server's phase can do: 350 in any 1 s and 3500 in any 60 s of
// starts with instant answers, which is what a zero-latency network would allow.
import { KLAVIYO_WINDOWS, createLimiter, planStarts } from '../src/core/limiter';
import { fixedWindowServer, maxInSliding, mulberry32, simulate, spanOf } from './serverModel';

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
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s wall`);
