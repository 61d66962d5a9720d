// The collector's live page: told by Server-Sent Events that something changed, it fetches the
// state and redraws. Built with textContent only: recorded bodies are untrusted input.
'use strict';

const $ = (sel) => document.querySelector(sel);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function pre(value) {
  return el('pre', typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.append(c);
    tr.append(td);
  }
  return tr;
}

function fill(tbody, rows, emptyText, columns) {
  if (rows.length === 0) {
    const td = el('td', emptyText, 'empty');
    td.colSpan = columns;
    const tr = document.createElement('tr');
    tr.append(td);
    rows = [tr];
  }
  tbody.replaceChildren(...rows);
}

function answerCell(r) {
  if (r.fault === 'drop') return el('span', 'dropped (fault)', 'refused');
  if (r.fault === 'hang') return el('span', 'hanging (fault)', 'pending');
  if (r.status === 0) return el('span', 'pending', 'pending');
  const cls = r.status === 202 || r.status === 204 ? 'ok' : r.status === 429 ? 'throttled' : 'refused';
  return el('span', String(r.status) + (r.fault ? ' (fault)' : ''), cls);
}

function bodyCell(r) {
  const box = document.createElement('div');
  for (const e of r.errors || []) {
    const where = e.source ? e.source.pointer || e.source.parameter || '' : '';
    box.append(el('div', `${e.code}: ${e.detail}${where ? ` (${where})` : ''}`, 'reason'));
  }
  if (r.body !== undefined) box.append(pre(r.body));
  return box;
}

function render(state) {
  $('#summary').textContent =
    `${state.profiles.length} profile(s), ${state.accepted} of ${state.total} request(s) accepted. ` +
    'This page updates as requests arrive.';
  fill(
    $('#profiles tbody'),
    state.profiles.map((p) => row([el('span', p.key), pre(p.identifiers), pre(p.attributes), el('span', String(p.updates))])),
    'No profile yet.',
    4,
  );
  fill(
    $('#requests tbody'),
    state.requests.map((r) =>
      row([
        el('span', String(r.seq)),
        el('span', new Date(r.time).toISOString().slice(11, 23)),
        el('span', `${r.method} ${r.path}${r.company ? `?company_id=${r.company}` : ''}${r.revision ? ` [revision ${r.revision}]` : ''}`),
        answerCell(r),
        bodyCell(r),
      ]),
    ),
    'No request yet.',
    5,
  );
}

/** The totals row above the chart (busiest windows against their limits) and the chart (chart.js). */
function renderRate(live) {
  const { summary, limits, seconds } = live;
  const cell = (k, text) => {
    $(`#totals td[data-k="${k}"]`).textContent = text;
  };
  cell('accepted', String(summary.accepted));
  cell('refused', String(summary.refused));
  cell('throttled', String(summary.throttled));
  cell('profiles', String(summary.profiles));
  cell('busiest1s', `${summary.busiest1s.count} / ${limits.perSecond}`);
  cell('busiest60s', `${summary.busiest60s.count} / ${limits.perMinute}`);
  cell('sliding60', `${seconds[seconds.length - 1].sliding60} / ${limits.perMinute}`);
  drawChart($('#chart'), live);
}

// One fetch at a time; a change that arrives meanwhile triggers one more.
let busy = false;
let again = false;
async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const [state, live] = await Promise.all(
      ['/__control/state?limit=50', '/__control/live?seconds=60'].map((u) => fetch(u, { cache: 'no-store' }).then((r) => r.json())),
    );
    render(state);
    renderRate(live);
  } catch {
    // The collector restarted or stopped; EventSource reconnects and we try again then.
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}

new EventSource('/__control/events').onmessage = refresh;
// The time axis moves on even when nothing arrives.
setInterval(refresh, 1000);
refresh();
