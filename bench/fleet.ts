// `npm run bench:fleet [seed]`: a store's whole audience against one Klaviyo account, in simulated time (issue 16).
// N visitors (1000, 10 000, 100 000), each running the tracker's own policy code (bench/fleet/tracker.ts: the
// delivery round over nextStep, planBatches, the limiter, decide and afterFailure), against the account's fixed
// windows (the collector's admit()), for every traffic model (bench/fleet/traffic.ts) and every 429 policy
// (bench/fleet/policies.ts). Deterministic for a seed (default 1). Prints one table, checks the targets for
// the adopted policy, writes a chart per model and N to test-output/fleet-<model>-<N>.svg and every figure to
// test-output/fleet.json. Runs are spread over child processes (FLEET_WORKERS, default 2: the machine's cores);
// FLEET_N, FLEET_MODELS and FLEET_POLICIES (comma lists) pick a subset.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MODELS, type TrafficModel } from './fleet/traffic';
import { POLICIES } from './fleet/policies';
import { runFleet, type RunData } from './fleet/sim';
import { figures, type Figures } from './fleet/metrics';
import { chart } from './fleet/svg';

interface Job {
  model: TrafficModel['name'];
  n: number;
  policy: string;
  seed: number;
}
interface Done extends Job {
  figures: Figures;
  data: RunData;
}

const ADOPTED = 'spread';
const pick = <T>(env: string | undefined, all: T[], key: (t: T) => string): T[] => (env ? all.filter((t) => env.split(',').includes(key(t))) : all);

async function main() {
  const seed = Number(process.argv[2] ?? process.env.SEED ?? 1);
  const ns = pick(process.env.FLEET_N, [1000, 10_000, 100_000], String);
  const models = pick(process.env.FLEET_MODELS, MODELS, (m) => m.name);
  const policies = pick(process.env.FLEET_POLICIES, POLICIES, (p) => p.name);
  const workers = Math.max(1, Number(process.env.FLEET_WORKERS ?? Math.min(2, availableParallelism())));
  const started = performance.now();
  console.log(`bench:fleet  seed ${seed}  ${workers} worker(s)  server: 350 per 1 s and 3500 per 60 s, fixed windows at a random phase; latency 20-300 ms each way`);
  for (const m of models) console.log(`  ${m.about}`);
  for (const p of policies) console.log(`  ${p.name}: ${p.about}`);
  console.log();

  // Largest first, so the two workers finish together.
  const jobs: Job[] = [];
  for (const m of models) for (const n of ns) for (const p of policies) jobs.push({ model: m.name, n, policy: p.name, seed });
  const order = [...jobs].sort((a, b) => b.n - a.n || cost(b.policy) - cost(a.policy));
  const results = new Map<string, Done>();
  const key = (j: Job) => `${j.model}/${j.n}/${j.policy}`;
  await new Promise<void>((resolve, reject) => {
    let running = 0;
    const children: ChildProcess[] = [];
    const next = (c: ChildProcess) => {
      const job = order.shift();
      if (job) return running++, c.send(job);
      c.disconnect();
      if (!running && children.every((k) => !k.connected)) resolve();
    };
    for (let w = 0; w < Math.min(workers, jobs.length); w++) {
      const c = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx', '--max-semi-space-size=32'], serialization: 'advanced' });
      children.push(c);
      c.on('message', (r: Done) => {
        running--;
        results.set(key(r), r);
        console.error(`  ${key(r)} in ${(r.data.wallMs / 1000).toFixed(1)} s`);
        next(c);
      });
      c.on('error', reject);
      c.on('exit', (code) => code && reject(new Error(`a worker exited with ${code}`)));
      next(c);
    }
  });

  printTable(jobs.map((j) => results.get(key(j))!));
  const adopted = results.get(`flash/100000/${ADOPTED}`);
  if (adopted) printTargets(adopted, results.get('flash/100000/oracle'));
  mkdirSync('test-output', { recursive: true });
  for (const m of models)
    for (const n of ns) {
      const runs = policies.map((p) => results.get(`${m.name}/${n}/${p.name}`)!);
      const svg = chart(
        `${m.name}, N = ${n.toLocaleString('en')}: accepted per second and per minute against the limits`,
        m.about,
        runs.map((r) => ({ policy: r.policy, note: note(r.figures), data: r.data })),
        m.name === 'steady' ? 12 * 60_000 : 20 * 60_000,
      );
      writeFileSync(`test-output/fleet-${m.name}-${n}.svg`, svg);
    }
  const json = [...results.values()].map(({ data, ...r }) => ({ ...r, phase: data.phase, wallMs: Math.round(data.wallMs) }));
  writeFileSync('test-output/fleet.json', JSON.stringify({ seed, results: json }, null, 1));
  console.log(`\ncharts: test-output/fleet-<model>-<N>.svg; figures: test-output/fleet.json`);
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s wall`);
}

/** Rough cost of a policy's runs (today's makes the most requests), for the order of the queue. */
const cost = (policy: string) => (policy === 'exact' ? 3 : policy === 'jitter' ? 2 : 1);

const pct = (x: number) => (Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)}%`);
const s = (ms: number) => (Number.isNaN(ms) ? '-' : ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : ms < 3_600_000 ? `${Math.round(ms / 1000)}s` : `${(ms / 3_600_000).toFixed(1)}h`);

const note = (f: Figures) =>
  `429s ${pct(f.refusedShare)} of ${f.requests.toLocaleString('en')} requests, ${f.requestsPerUpdate.toFixed(2)} per update; p50 ${s(f.p50)} p99 ${s(f.p99)}; lost ${f.lost}` +
  (f.backlog ? `; drain ${s(f.backlog.t1 - f.backlog.t0)} vs ${s(f.backlog.minDrain)} least` : '');

function printTable(rows: Done[]) {
  const head = ['model', 'N', 'policy', 'updates', 'requests', 'req/upd', '429s', 'floor', 'p50', 'p95', 'p99', 'max', 'lost', 'later', 'drain', 'least', 'x', 'min/3500', 'worst'];
  const widths = [7, 6, 6, 7, 8, 7, 6, 6, 5, 5, 5, 5, 4, 6, 5, 5, 4, 8, 6];
  const row = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(widths[i]!)).join(' ');
  console.log(row(head));
  let last = '';
  for (const r of rows) {
    const f = r.figures;
    const b = f.backlog;
    if (last && last !== `${r.model}/${r.n}`) console.log();
    last = `${r.model}/${r.n}`;
    console.log(
      row([
        r.model, r.n, r.policy, f.identifies, f.requests, f.requestsPerUpdate.toFixed(2), pct(f.refusedShare), pct(f.blindShare),
        s(f.p50), s(f.p95), s(f.p99), s(f.max), f.lost, f.nextVisit ? pct(f.nextVisit) : '-',
        b ? s(b.t1 - b.t0) : '-', b ? s(b.minDrain) : '-', b ? ((b.t1 - b.t0) / b.minDrain).toFixed(2) : '-',
        b ? pct(b.meanMinute) : '-', b ? pct(b.leastMinute) : '-',
      ]),
    );
  }
  console.log(
    [
      '',
      'updates: identifies; req/upd: requests per update (merging makes it < 1); 429s: share of all requests; floor: the',
      "share that were a tracker's requests before it had any answer (it cannot know the account is over: no policy",
      'avoids them); p50..max: identify to accepted; lost: never accepted; later: accepted only from a later page view',
      '(leaving); drain: first 429 to the acceptance of the last update identified by the end of the overload (not',
      'measured where pages close: the returns, days later, set it); least: the least time the windows take to accept',
      'as many requests from the first 429; x: drain / least; min/3500, worst: per server minute from the first 429 to',
      'the drain, accepted as a share of what it could have taken (3500, or fewer when fewer visitors were waiting).',
    ].join('\n'),
  );
}

function printTargets(r: Done, oracle?: Done) {
  const f = r.figures;
  const b = f.backlog!;
  const ratio = (b.t1 - b.t0) / b.minDrain;
  const check = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(`\nissue 16 targets, flash sale at N = 100 000 with the adopted policy (${r.policy}):`);
  console.log(`  updates lost: ${f.lost} (target 0): ${check(f.lost === 0)}`);
  console.log(`  429s: ${pct(f.refusedShare)} of requests (target < 5%): ${check(f.refusedShare < 0.05)}`);
  console.log(`    of which ${pct(f.blindShare)} of all requests were first requests of trackers that had no answer yet (no client can avoid those)`);
  if (oracle) console.log(`    an oracle that knows the backlog exactly (not implementable) gets ${pct(oracle.figures.refusedShare)}`);
  console.log(`  accepted per minute while a backlog exists: mean ${pct(b.meanMinute)}, worst ${pct(b.leastMinute)} of 3500 (target >= 95%): ${check(b.leastMinute >= 0.95)}`);
  console.log(`  drain: ${s(b.t1 - b.t0)} vs ${s(b.minDrain)} at the least, x${ratio.toFixed(2)} (target within 20%): ${check(ratio <= 1.2)}`);
}

if (process.argv[2] === '--child') {
  // A child: run the jobs it is sent, one at a time, and send each result back.
  process.on('message', (job: Job) => {
    const model = MODELS.find((m) => m.name === job.model)!;
    const data = runFleet(model, job.n, POLICIES.find((p) => p.name === job.policy)!, job.seed);
    process.send!({ ...job, figures: figures(data, model), data } satisfies Done);
  });
} else await main();
