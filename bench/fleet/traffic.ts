// The traffic models: when the audience identifies, and who. The aggregate rate is the model's (stated against
// Klaviyo's 3500/min), the same whatever N; each identify goes to one of the N visitors drawn uniformly, so N sets
// how concentrated the load is: at N = 1000 a visitor identifies every few seconds in a flash sale (and its tracker
// merges what waits), at N = 100 000 nearly every identify is another browser, one that has never heard from the
// server. Arrivals are Poisson with a piecewise-constant rate.

export const PER_MINUTE = 3500;

/** One stretch of constant rate: identifies per minute until `until` (ms of simulated time). */
interface Stretch {
  until: number;
  perMinute: number;
}

export interface TrafficModel {
  name: 'steady' | 'flash' | 'leaving';
  /** One line for the note. */
  about: string;
  stretches: Stretch[];
  /** The overload's end: the backlog is measured for the updates identified up to here. */
  peakEnd: number;
  /** Pages close (the leaving model): how long a page stays open after its latest identify, and how long until a
   *  visitor who left with updates queued comes back. */
  pages?: { stay: (random: () => number) => number; comeBack: (random: () => number) => number };
}

const MIN = 60_000;
/** Exponential with the given mean (ms). */
const exponential = (mean: number) => (random: () => number) => -mean * Math.log(1 - random());
/** Log-uniform between lo and hi (ms): as likely within the hour as within the next day. */
const logUniform = (lo: number, hi: number) => (random: () => number) => lo * (hi / lo) ** random();

const flash: Stretch[] = [
  { until: 1 * MIN, perMinute: 0.2 * PER_MINUTE },
  { until: 3 * MIN, perMinute: 5 * PER_MINUTE },
  { until: 20 * MIN, perMinute: 0.2 * PER_MINUTE },
];

export const MODELS: TrafficModel[] = [
  {
    name: 'steady',
    about: 'steady: 80% of the limit (2800/min) for 10 min',
    stretches: [{ until: 10 * MIN, perMinute: 0.8 * PER_MINUTE }],
    peakEnd: 10 * MIN,
  },
  {
    name: 'flash',
    about: 'flash sale: 20% (700/min) for 1 min, 5x (17 500/min) from 1:00 to 3:00, then 20% until 20:00',
    stretches: flash,
    peakEnd: 3 * MIN,
  },
  {
    name: 'leaving',
    about:
      'leaving: the flash sale, but a page closes Exp(mean 60 s) after its latest identify, mid-retry or not; a visitor ' +
      'who left with updates queued comes back after a delay log-uniform in [10 min, 3 days] (median 5.4 h), and a ' +
      'new identify of theirs before that opens a page at once',
    stretches: flash,
    peakEnd: 3 * MIN,
    pages: { stay: exponential(MIN), comeBack: logUniform(10 * MIN, 3 * 1440 * MIN) },
  },
];

/** The identifies of one run: times (ms, ascending, integers) and the visitor of each. */
export interface Arrivals {
  times: Float64Array;
  who: Int32Array;
}

export function arrivals(model: TrafficModel, n: number, random: () => number): Arrivals {
  const times: number[] = [];
  let t = 0;
  let from = 0;
  for (const s of model.stretches) {
    t = Math.max(t, from);
    const mean = MIN / s.perMinute;
    for (;;) {
      t += -mean * Math.log(1 - random());
      if (t >= s.until) break;
      times.push(Math.floor(t));
    }
    t = s.until;
    from = s.until;
  }
  const who = new Int32Array(times.length);
  for (let i = 0; i < who.length; i++) who[i] = Math.floor(random() * n);
  return { times: Float64Array.from(times), who };
}
