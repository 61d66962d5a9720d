// Figures of the browser bench: many runs of one measurement folded into median, min and max, a target
// with its verdict, and the printed table.

/** One figure over all runs: median, min, max (NaN when no run produced a value) and the raw values. */
export interface Figure {
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  values: number[];
  /** The target as printed, e.g. `< 3 ms`, and whether the median meets it (undefined: no target). */
  target?: string;
  pass?: boolean;
}

/** Median (mean of the two middle values for an even count), min and max; NaN for an empty list. */
export function spread(values: number[]): { median: number; min: number; max: number } {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { median: NaN, min: NaN, max: NaN };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]! };
}

/** A figure from its runs; `target` is `[label, test on the median]`. */
export function figure(name: string, unit: string, values: number[], target?: [string, (median: number) => boolean]): Figure {
  const s = spread(values);
  const f: Figure = { name, unit, ...s, values };
  if (target) {
    f.target = target[0];
    f.pass = Number.isFinite(s.median) && target[1](s.median);
  }
  return f;
}

const num = (x: number, unit: string): string =>
  !Number.isFinite(x) ? '-' : unit === 'ms' || unit === 'ratio' ? x.toFixed(x < 10 ? 2 : 1) : unit === 'req/identify' ? x.toFixed(4) : String(Math.round(x));

/** The table: one line per figure, median then [min, max], the target and PASS/FAIL. */
export function table(figures: Figure[]): string {
  const w = Math.max(...figures.map((f) => f.name.length)) + 2;
  const head = `${'figure'.padEnd(w)}${'median'.padStart(10)}${'min'.padStart(10)}${'max'.padStart(10)}  ${'unit'.padEnd(13)}target`;
  const lines = figures.map((f) => {
    const verdict = f.target ? `${f.target.padEnd(12)} ${f.pass ? 'PASS' : 'FAIL'}` : '';
    return `${f.name.padEnd(w)}${num(f.median, f.unit).padStart(10)}${num(f.min, f.unit).padStart(10)}${num(f.max, f.unit).padStart(10)}  ${f.unit.padEnd(13)}${verdict}`;
  });
  return [head, '-'.repeat(head.length + 10), ...lines].join('\n');
}
