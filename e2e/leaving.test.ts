// Leaving the page in the same task as identifying, in every engine installed here: ten identifies, then the page
// goes (a click that sets location.href, a form submit, a navigation typed right after, a closed tab, a reload, or
// leaving before the bundle has even loaded). Nobody waits for identify() to resolve, as a real sign-up handler
// does not. Every round must deliver its ten updates, on the way out or from the next page of the site. Prints a
// table (engine, way, rounds, delivered, duplicates, lost) and writes it to test-output/leaving.json.
// LEAVING_ROUNDS raises the rounds per way for a soak run (default 10).
import { afterAll, expect, it } from 'vitest';
import { world } from './harness/world';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Fault } from '../dev/collector/index';
import { eachEngine, type Context, type Page } from './harness/engines';
import { acceptedEmails } from './harness/requests';
import { bundleLoaded } from './harness/tracker';
import { sleep, until } from './harness/wait';


const ROUNDS = Math.max(1, Number(process.env.LEAVING_ROUNDS) || 10);
/** Rounds per way under a slow (150 ms) or hanging collector. */
const FAULT_ROUNDS = Math.max(1, Math.ceil(ROUNDS / 5));
const N = 10;
const WAYS = ['href', 'submit', 'goto', 'close', 'reload', 'stub'] as const;
type Way = (typeof WAYS)[number];

interface Row { engine: string; way: string; rounds: number; delivered: number; duplicates: number; lost: number }
const rows: Row[] = [];

const w = world();

afterAll(async () => {
  const table = ['engine    way                      rounds  delivered  duplicates  lost']
    .concat(rows.map((r) => `${r.engine.padEnd(10)}${r.way.padEnd(25)}${String(r.rounds).padStart(6)}${String(r.delivered).padStart(11)}${String(r.duplicates).padStart(12)}${String(r.lost).padStart(6)}`))
    .join('\n');
  console.log(`[leaving] ${N} identifies per round, made in the same task as the leaving:\n${table}`);
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/leaving.json', JSON.stringify(rows, null, 2));
});

/** A page of the site with the stub and the bundle (held back `delayMs` by the site), and `body`. */
const page = (company: string, body = '', delayMs = 0) => `<!doctype html><html><head><meta charset="utf-8"><title>p</title>
<script>${w.stub}
window._klaviyo.push(['config', ${JSON.stringify({ apiHost: w.collector.url })}]);
function ten(tag) { for (var i = 0; i < ${N}; i++) window._klaviyo.push(['identify', { email: tag + '-' + i + '@example.com', first_name: 'P' + i }]); }
</script>
<script async src="/dist/klaviyo.js?company_id=${company}${delayMs ? '&delay=' + delayMs : ''}"></script></head><body>${body}</body></html>`;

/** The emails the collector accepted for `company`, with how often each came. */
function arrivals(company: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const email of acceptedEmails(w.collector, { company })) seen.set(email, (seen.get(email) ?? 0) + 1);
  return seen;
}

/** A company id per engine, way, variant and round: every round starts from an empty queue and its own windows. */
const companyOf = (engine: string, way: Way, variant: number, round: number) =>
  engine[0]!.toUpperCase() + 'LWVX'[variant]! + String(WAYS.indexOf(way)) + round.toString(36).padStart(3, '0');

/**
 * One round: open the way's page, identify ten people and leave in one go; then (where the way does not land on
 * a page of the site by itself) the visitor comes back to the site. Returns the page the visitor is on.
 * `landing`: where a navigating way goes (a tracker page, or a plain one when the collector is faulty, so that
 * the next visit is the test's to time).
 */
async function leaveOnce(ctx: Context, tab: Page, way: Way, company: string, tag: string, hanging: boolean): Promise<Page> {
  const plainLanding = hanging;
  // The collector answers again before the visitor comes back.
  const comeBack = () => hanging && w.collector.clearFaults();
  const next = w.site.page(`/next/${company}`, page(company, '<p>next</p>'));
  const bye = w.site.page(`/bye/${company}`, '<!doctype html><title>bye</title><p>bye</p>');
  const landing = plainLanding ? bye : next;
  const buttons = `<button id="go" onclick="ten('${tag}'); location.href = '${landing}'">go</button>
<form action="${landing}" method="get" onsubmit="ten('${tag}')"><input name="q" value="1"><button id="submit" type="submit">submit</button></form>
<button id="reload" onclick="ten('${tag}'); location.reload()">reload</button>`;
  // Leaving before the bundle has loaded: the page identifies and redirects as soon as it is parsed, while the
  // site holds the bundle back (no driver can click a page whose load event is pending: WebDriver waits for it).
  const early = `<script>addEventListener('DOMContentLoaded', function () { ten('${tag}'); location.href = '${landing}'; });</script>`;
  const url = w.site.page(`/leave/${company}`, way == 'stub' ? page(company, early, 15_000) : page(company, buttons));
  if (way == 'stub') {
    await tab.gotoNoWait(url);
  } else {
    await tab.goto(url);
    await bundleLoaded(tab);
  }
  switch (way) {
    case 'href':
      await tab.click('#go');
      await tab.waitForURL(landing);
      break;
    case 'stub':
      await tab.waitForURL(landing);
      break;
    case 'submit':
      await tab.click('#submit');
      await tab.waitForURL(landing + '?q=1');
      break;
    case 'goto':
      // The pushes, then at once a navigation the test starts (a typed address): no wait for identify().
      await tab.evaluate(`ten('${tag}')`);
      await tab.gotoNoWait('about:blank');
      await tab.waitForURL('about:blank');
      break;
    case 'close': {
      await tab.evaluate(`ten('${tag}')`);
      await tab.close();
      // Later, a new tab on the site.
      comeBack();
      tab = await ctx.newPage();
      await tab.goto(next);
      return tab;
    }
    case 'reload': {
      const before = await tab.evaluate(() => performance.timeOrigin);
      await tab.click('#reload');
      // The reloaded page (a new document: another time origin) is a page of the site with the tracker: it
      // delivers what is left.
      const reloaded = () => (window as any)._klaviyo?.loaded === true && performance.timeOrigin;
      await until(() => tab.evaluate(reloaded).then((t) => t && t !== before).catch(() => false), { describe: () => 'reloaded page not loaded' });
      return tab;
    }
  }
  comeBack();
  if (way == 'goto' || plainLanding) await tab.goto(next);
  return tab;
}

await eachEngine('leaving the page', (engine, browser) => {

  /** `rounds` rounds of `way` in one context, with `fault` on the collector during each first visit. */
  async function run(way: Way, rounds: number, variant: number, label: string, fault?: Fault) {
    const ctx = await browser.newContext();
    let tab = await ctx.newPage();
    const row: Row = { engine, way: label, rounds, delivered: 0, duplicates: 0, lost: 0 };
    const lostRounds: string[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        const company = companyOf(engine, way, variant, round);
        const tag = `${way}${variant}r${round}`;
        if (fault) w.collector.fault(fault);
        try {
          tab = await leaveOnce(ctx, tab, way, company, tag, fault?.mode == 'hang');
          // Every update arrives: at once (keepalive) or from the page the visitor is on now.
          await until(() => arrivals(company).size >= N, { timeoutMs: 20_000 }).catch(() => {});
        } finally {
          if (fault) w.collector.clearFaults();
        }
        // Late duplicates (a keepalive answered after the next page resent it) have a moment to show.
        await sleep(100);
        const seen = arrivals(company);
        const delivered = [...Array(N).keys()].filter((i) => seen.has(`${tag}-${i}@example.com`)).length;
        row.delivered += delivered;
        row.lost += N - delivered;
        row.duplicates += [...seen.values()].reduce((n, c) => n + c - 1, 0);
        if (delivered < N) lostRounds.push(`round ${round}: ${delivered} of ${N}`);
      }
    } finally {
      rows.push(row);
      await ctx.close();
    }
    expect(lostRounds, `${engine}, ${label}`).toEqual([]);
    expect(row.delivered).toBe(rounds * N);
  }

  for (const way of WAYS) it(`${way}: ${ROUNDS} rounds of ${N} identifies and leaving in the same task, none lost`, () => run(way, ROUNDS, 0, way));
  for (const way of ['href', 'close', 'stub'] as const)
    it(`${way} with the w.collector 150 ms away: none lost`, () => run(way, FAULT_ROUNDS, 1, `${way}, 150 ms latency`, { mode: 'latency', ms: 150 }));
  for (const way of ['href', 'goto', 'close'] as const)
    it(`${way} with the w.collector hanging during the first visit: the next visit delivers`, () =>
      run(way, FAULT_ROUNDS, 2, `${way}, w.collector hanging`, { mode: 'hang' }));
});
