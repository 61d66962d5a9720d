// The live view's chart, drawn with SVG elements (no chart library, nothing inline: the page's CSP is
// default-src 'self'). One picture of what the collector's rate windows counted over the last minute: a stacked bar
// per 1 s window (accepted, refused, 429) against the per-second limit, the sliding 60 s count against the
// per-minute limit on its own scale, with both limits drawn at the same height so one dashed line is both, and the
// fault periods along the top. Every mark carries its numbers in a <title> and data- attributes, so a person can
// hover and a test can read what was drawn.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 960;
const H = 300;
const M = { left: 52, right: 64, top: 34, bottom: 30 };

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function titled(node, text) {
  node.append(svgEl('title', {}, text));
  return node;
}

/** Redraw `svg` from the collector's live data (GET /__control/live). */
function drawChart(svg, data) {
  const { seconds, limits, faults, now } = data;
  const from = seconds[0].t;
  const to = seconds[seconds.length - 1].t + 1000;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (t) => M.left + ((t - from) / (to - from)) * plotW;
  // Both series as a fraction of their limit: 1 is the dashed line. The top leaves room above it, and grows when
  // something went over (only a fault or a misbehaving client can make it).
  const peak = Math.max(...seconds.map((s) => Math.max((s.accepted + s.refused + s.throttled) / limits.perSecond, s.sliding60 / limits.perMinute)));
  const top = Math.max(1.25, peak * 1.08);
  const y = (frac) => M.top + plotH * (1 - frac / top);
  const nodes = [];

  // Grid and scales: left per second, right per 60 s.
  for (const f of [0, 0.25, 0.5, 0.75, 1, 1.25].filter((f) => f <= top)) {
    nodes.push(svgEl('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(f), y2: y(f) }));
    nodes.push(svgEl('text', { class: 'tick', x: M.left - 6, y: y(f) + 4, 'text-anchor': 'end' }, String(Math.round(f * limits.perSecond))));
    nodes.push(svgEl('text', { class: 'tick', x: W - M.right + 6, y: y(f) + 4 }, String(Math.round(f * limits.perMinute))));
  }
  nodes.push(svgEl('text', { class: 'tick', x: 4, y: 14 }, 'requests / 1 s'));
  nodes.push(svgEl('text', { class: 'tick', x: W - 4, y: 14, 'text-anchor': 'end' }, 'sliding 60 s'));
  // Time axis: seconds before now, every 10 s.
  for (let s = 0; s <= 60; s += 10) {
    const t = now - s * 1000;
    if (t < from) break;
    nodes.push(svgEl('text', { class: 'tick', x: x(t), y: H - 10, 'text-anchor': 'middle' }, s ? `-${s} s` : 'now'));
  }

  // Fault periods: a light shade over the plot and a labelled band along the top. Labels take turns on two rows, so
  // that two periods in a row (an outage, then a 429) do not write over each other.
  let row = 0;
  for (const f of faults) {
    const start = Math.max(f.start, from);
    if (f.mode === 'healthy') {
      const hx = x(start);
      nodes.push(titled(svgEl('line', { class: 'healthy', x1: hx, x2: hx, y1: M.top - 14, y2: M.top + plotH, 'data-mode': 'healthy', 'data-start': f.start }), `healthy at ${new Date(f.start).toISOString().slice(11, 19)}`));
      nodes.push(svgEl('text', { class: 'healthy-label', x: hx + 3, y: M.top + plotH - 4 }, 'healthy'));
      continue;
    }
    const end = Math.min(f.end === null ? now : f.end, now);
    const x0 = x(start);
    const w = Math.max(2, x(end) - x0);
    const attrs = { 'data-mode': f.mode, 'data-label': f.label, 'data-start': f.start, 'data-end': f.end === null ? '' : f.end };
    nodes.push(svgEl('rect', { ...attrs, class: `fault fault-${f.mode}`, x: x0, y: M.top, width: w, height: plotH }));
    const band = svgEl('rect', { ...attrs, class: `fault-band fault-${f.mode}`, x: x0, y: M.top - 16, width: w, height: 14 });
    nodes.push(titled(band, `${f.label}: ${new Date(f.start).toISOString().slice(11, 19)} to ${f.end === null ? 'now' : new Date(f.end).toISOString().slice(11, 19)}`));
    // The label inside the shaded period, free to run on past a short one.
    nodes.push(svgEl('text', { class: `fault-label fault-${f.mode}`, x: x0 + 3, y: M.top + 13 + 14 * (row++ % 2) }, f.label));
  }

  // The bars: accepted at the bottom, refused, then 429 on top.
  const bw = plotW / seconds.length;
  for (const s of seconds) {
    let base = 0;
    for (const kind of ['accepted', 'refused', 'throttled']) {
      const n = s[kind];
      if (!n) continue;
      const y0 = y((base + n) / limits.perSecond);
      const h = y(base / limits.perSecond) - y0;
      nodes.push(titled(svgEl('rect', { class: `bar-${kind}`, x: x(s.t) + 0.5, y: y0, width: Math.max(1, bw - 1), height: h, 'data-t': s.t, 'data-n': n }), `${new Date(s.t).toISOString().slice(11, 19)}: ${n} ${kind}`));
      base += n;
    }
  }

  // The sliding 60 s count, one point at each window's end, on the right-hand scale.
  const points = seconds.map((s) => `${x(s.t + 1000).toFixed(1)},${y(s.sliding60 / limits.perMinute).toFixed(1)}`).join(' ');
  nodes.push(svgEl('polyline', { class: 'sliding', points }));

  // The limits: one dashed line, both labels.
  nodes.push(svgEl('line', { class: 'limit', x1: M.left, x2: W - M.right, y1: y(1), y2: y(1) }));
  nodes.push(svgEl('text', { class: 'limit-label', x: M.left + 4, y: y(1) - 4 }, `${limits.perSecond}/s`));
  nodes.push(svgEl('text', { class: 'limit-label', x: W - M.right - 4, y: y(1) - 4, 'text-anchor': 'end' }, `${limits.perMinute} per 60 s`));

  svg.replaceChildren(...nodes);
}
