// One chart per traffic model and N, hand-written SVG: a panel per policy, time across. In each panel, on one scale
// where 350 per second and 3500 per minute are the same height (the dashed limit line): accepted per second (thin
// blue), 429s per second (thin red, clipped at the top), accepted per server minute window (thick dark steps, the
// count / 10), and the audience's identifies per minute (grey dashed steps, / 10, clipped).
import type { RunData } from './sim';

export interface Panel {
  policy: string;
  note: string;
  data: RunData;
}

const W = 960;
const PANEL = 150;
const TOP = 44;
const LEFT = 44;
const RIGHT = 48;
const GAP = 30;
/** Top of the scale, per second (and / 10 per minute). */
const YMAX = 420;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f1 = (x: number) => x.toFixed(1);

export function chart(title: string, subtitle: string, panels: Panel[], spanMs: number): string {
  const plotW = W - LEFT - RIGHT;
  const H = TOP + panels.length * (PANEL + GAP) + 30;
  const x = (ms: number) => LEFT + (Math.min(ms, spanMs) / spanMs) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${LEFT}" y="34" fill="#444">${esc(subtitle)}</text>`,
  ];
  panels.forEach((p, i) => {
    const top = TOP + i * (PANEL + GAP) + 14;
    const y = (v: number) => top + PANEL - (Math.min(v, YMAX) / YMAX) * PANEL;
    const d = p.data;
    out.push(`<text x="${LEFT}" y="${top - 4}" font-weight="bold">${esc(p.policy)}<tspan font-weight="normal" fill="#444">  ${esc(p.note)}</tspan></text>`);
    out.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL}" fill="none" stroke="#bbb"/>`);
    // Per second on the left, per minute on the right: the same heights.
    for (const v of [0, 175, 350]) {
      out.push(`<text x="${LEFT - 5}" y="${f1(y(v) + 4)}" text-anchor="end" fill="#37c">${v}</text>`);
      out.push(`<text x="${LEFT + plotW + 5}" y="${f1(y(v) + 4)}" fill="#123">${v * 10}</text>`);
    }
    out.push(`<text x="${LEFT - 5}" y="${top + 12}" text-anchor="end" fill="#37c">/s</text>`);
    out.push(`<text x="${LEFT + plotW + 5}" y="${top + 12}" fill="#123">/min</text>`);
    // Minutes across.
    for (let m = 0; m * 60_000 <= spanMs; m += 2) {
      out.push(`<line x1="${f1(x(m * 60_000))}" x2="${f1(x(m * 60_000))}" y1="${top}" y2="${top + PANEL}" stroke="#eee"/>`);
      if (i == panels.length - 1) out.push(`<text x="${f1(x(m * 60_000))}" y="${top + PANEL + 14}" text-anchor="middle" fill="#555">${m} min</text>`);
    }
    // Demand: identifies per simulated minute, / 10.
    const demand = new Map<number, number>();
    for (let k = 0; k < d.identifies; k++) {
      const m = Math.floor(d.identifiedAt[k]! / 60_000);
      demand.set(m, (demand.get(m) ?? 0) + 1);
    }
    out.push(steps([...demand.entries()].map(([m, c]) => [m * 60_000, (m + 1) * 60_000, c / 10]), x, y, spanMs, 'stroke="#999" stroke-width="1.2" stroke-dasharray="5 3"'));
    const secs = Math.min(d.acceptedPerSec.length, Math.ceil(spanMs / 1000));
    out.push(line(d.refusedPerSec, secs, x, y, 'stroke="#d33" stroke-width="0.7" opacity="0.8"'));
    out.push(line(d.acceptedPerSec, secs, x, y, 'stroke="#37c" stroke-width="0.7"'));
    // Accepted per server minute window, / 10.
    const wins: Array<[number, number, number]> = [];
    for (let k = -1; d.phase + k * 60_000 < spanMs; k++) wins.push([d.phase + k * 60_000, d.phase + (k + 1) * 60_000, (d.perMinuteWindow.get(k) ?? 0) / 10]);
    out.push(steps(wins, x, y, spanMs, 'stroke="#123" stroke-width="2.2"'));
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${f1(y(350))}" y2="${f1(y(350))}" stroke="#e80" stroke-width="1.2" stroke-dasharray="6 4"/>`);
  });
  const ly = H - 10;
  const legend: Array<[string, string]> = [
    ['#37c', 'accepted /s'],
    ['#d33', '429 /s (clipped)'],
    ['#123', 'accepted per server minute'],
    ['#999', 'identifies per minute (clipped)'],
    ['#e80', 'limit 350/s = 3500/min'],
  ];
  let lx = LEFT;
  for (const [c, t] of legend) {
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/><text x="${lx + 22}" y="${ly}">${esc(t)}</text>`);
    lx += 30 + t.length * 5.9;
  }
  out.push('</svg>');
  return out.join('\n');
}

/** A polyline of a per-second series (a point between two of the same value is left out: same line, fewer bytes). */
function line(series: Int32Array, n: number, x: (ms: number) => number, y: (v: number) => number, style: string): string {
  const pts: string[] = [];
  const v = (s: number) => Math.min(series[s]!, YMAX);
  for (let s = 0; s < n; s++) if (!s || s == n - 1 || v(s) !== v(s - 1) || v(s) !== v(s + 1)) pts.push(`${f1(x(s * 1000 + 500))},${f1(y(v(s)))}`);
  return `<polyline fill="none" ${style} points="${pts.join(' ')}"/>`;
}

/** Horizontal segments [from, to) at a value, joined where they touch. */
function steps(segs: Array<[number, number, number]>, x: (ms: number) => number, y: (v: number) => number, spanMs: number, style: string): string {
  const pts: string[] = [];
  let last = NaN;
  for (const [a, b, v] of segs.sort((p, q) => p[0] - q[0])) {
    if (a >= spanMs) break;
    const from = Math.max(0, a);
    if (from !== last && pts.length) pts.push('M');
    pts.push(`${f1(x(from))},${f1(y(v))}`, `${f1(x(Math.min(b, spanMs)))},${f1(y(v))}`);
    last = b;
  }
  const d = pts.join(' ').split(' M ').map((run) => 'M' + run.split(' ').join(' L')).join(' ');
  return pts.length ? `<path fill="none" ${style} d="${d}"/>` : '';
}
