// The fault table of the delivery tests: one row per engine and scenario (items, delivered, duplicates, lost),
// printed at the end of the run and written to test-output/fault-table.json for the notes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One scenario's figures. `lost` = items expected to arrive that never did. */
export interface FaultRow {
  /** The browser engine the scenario ran in (chromium, firefox, webkit). */
  engine?: string;
  scenario: string;
  items: number;
  delivered: number;
  duplicates: number;
  lost: number;
  /** Extra figures worth printing (requests during an outage, time to recover…). */
  note?: string;
  /** Why the scenario did not run in this engine (its figures are then meaningless and printed as '-'). */
  skipped?: string;
}

/**
 * Delivery figures from the tags seen in accepted requests: each identify carries one unique tag,
 * so a tag seen twice is a duplicate and a tag never seen is lost. `dropped` tags are expected to
 * be refused (a 410, a 400) and count neither as delivered nor lost.
 */
export function tally(sent: string[], seen: string[], dropped: string[] = []): Omit<FaultRow, 'scenario' | 'note'> {
  const counts = new Map<string, number>();
  for (const t of seen) counts.set(t, (counts.get(t) ?? 0) + 1);
  const expected = sent.filter((t) => !dropped.includes(t));
  const delivered = expected.filter((t) => counts.has(t)).length;
  const duplicates = expected.reduce((n, t) => n + Math.max(0, (counts.get(t) ?? 0) - 1), 0);
  return { items: sent.length, delivered, duplicates, lost: expected.length - delivered };
}

/** The rows as an aligned text table (with an engine column when any row names its engine). */
export function formatTable(rows: FaultRow[]): string {
  const withEngine = rows.some((r) => r.engine);
  const head = ['scenario', 'items', 'delivered', 'duplicates', 'lost', 'note'];
  const num = (r: FaultRow, n: number) => (r.skipped ? '-' : String(n));
  const cells = rows.map((r) => [
    r.scenario,
    num(r, r.items),
    num(r, r.delivered),
    num(r, r.duplicates),
    num(r, r.lost),
    r.skipped ? `skipped: ${r.skipped}` : (r.note ?? ''),
  ]);
  if (withEngine) {
    head.unshift('engine');
    rows.forEach((r, i) => cells[i]!.unshift(r.engine ?? ''));
  }
  const first = withEngine ? 2 : 1; // the numeric columns, right-aligned
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => (i >= first && i < first + 4 ? s.padStart(width[i]!) : s.padEnd(width[i]!))).join(' | ').trimEnd();
  return [line(head), width.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

/** A table that collects rows during a run; `finish()` prints it and writes the JSON file (default test-output/fault-table.json). */
export function faultTable(file = 'test-output/fault-table.json') {
  const rows: FaultRow[] = [];
  return {
    rows,
    add(row: FaultRow) {
      rows.push(row);
      const who = row.engine ? `${row.engine}, ` : '';
      if (row.skipped) return console.log(`[fault] ${who}${row.scenario}: skipped (${row.skipped})`);
      console.log(`[fault] ${who}${row.scenario}: ${row.delivered} of ${row.items} delivered, ${row.duplicates} duplicates, ${row.lost} lost${row.note ? ' (' + row.note + ')' : ''}`);
    },
    finish() {
      if (!rows.length) return;
      // Scenarios run concurrently: print them in a stable order (engines in the order they ran, then by scenario).
      const engineOrder = [...new Set(rows.map((r) => r.engine ?? ''))];
      rows.sort(
        (a, b) =>
          engineOrder.indexOf(a.engine ?? '') - engineOrder.indexOf(b.engine ?? '') ||
          a.scenario.localeCompare(b.scenario, undefined, { numeric: true }),
      );
      console.log('\nFault table\n' + formatTable(rows) + '\n');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(rows, null, 2) + '\n');
    },
  };
}
