// The in-flight controller against fake networks in simulated time, plain numbers only: a sender that always has
// work, a network of `slots` requests at once (HTTP/1.1's 6 connections; Infinity for HTTP/2), answers after rtt(i).
import { describe, expect, it } from 'vitest';
import { FLOOR, OPEN, createConcurrency, limit, onAnswer, onStart, type Concurrency } from '../../src/core/concurrency';

/** Seeded uniform [0, 1) (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Net {
  /** Requests served at once; the rest wait in order (a browser's connection pool). */
  slots: number;
  /** Service time of request i (ms), from when it gets a slot. */
  rtt: (i: number, startedAt: number) => number;
  /** Request i gets no answer: it ends (ok false) after `timeoutMs`. */
  fails?: (i: number, startedAt: number) => boolean;
  timeoutMs?: number;
  /** At most this many in flight whatever the controller allows (a sender held back by the limiter). */
  senderCap?: number;
}

/** Run for `ms` of simulated time: the limit after each answer, [time, limit], and the answers' times. */
function run(net: Net, ms: number, s: Concurrency = createConcurrency()) {
  const trace: Array<[number, number]> = [];
  const done: number[] = [];
  /** Each answer's time from its start (the browser's pool wait included). */
  const rtts: number[] = [];
  const ends: Array<{ at: number; sentAt: number; ok: boolean; slot: boolean }> = [];
  const waiting: Array<{ i: number; sentAt: number }> = [];
  let busy = 0;
  let inFlight = 0;
  let i = 0;
  let now = 0;
  const serve = () => {
    while (waiting.length && busy < net.slots) {
      const w = waiting.shift()!;
      busy++;
      const fail = net.fails?.(w.i, now) ?? false;
      ends.push({ at: fail ? w.sentAt + (net.timeoutMs ?? 10_000) : now + net.rtt(w.i, now), sentAt: w.sentAt, ok: !fail, slot: true });
    }
    ends.sort((a, b) => a.at - b.at);
  };
  for (;;) {
    while (inFlight < Math.min(limit(s), net.senderCap ?? Infinity)) {
      onStart(s, now);
      inFlight++;
      waiting.push({ i: i++, sentAt: now });
    }
    serve();
    const e = ends.shift();
    if (!e || e.at > ms) break;
    now = e.at;
    busy--;
    inFlight--;
    onAnswer(s, e.sentAt, now, e.ok);
    trace.push([now, limit(s)]);
    if (e.ok) done.push(now), rtts.push(now - e.sentAt);
  }
  return { trace, done, rtts, state: s };
}

const between = (trace: Array<[number, number]>, from: number, to = Infinity) => trace.filter(([t]) => t >= from && t < to).map(([, l]) => l);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const max = (xs: number[]) => Math.max(...xs);
const min = (xs: number[]) => Math.min(...xs);

describe('concurrency: HTTP/1.1-like, a fixed number of connections', () => {
  it.each([
    ['6 connections, 100 ms', { slots: 6, rtt: () => 100 }, 6],
    ['6 connections, 50-150 ms', { slots: 6, rtt: ((r) => () => 50 + 100 * r())(rng(1)) }, 6],
    ['6 connections, 50-150 ms (another seed)', { slots: 6, rtt: ((r) => () => 50 + 100 * r())(rng(2)) }, 6],
    ['10 connections, 200 ms', { slots: 10, rtt: () => 200 }, 10],
  ])('%s: keeps the connections full and never runs away (at most 2.25 x OPEN), no request waiting 2.5 s', (_name, net, C) => {
    // Opened to OPEN at the first answer (see the next tests), the window queues in the pool: a doubling that only
    // queued is taken back, but nothing brings it down to C; the pool's throughput is what C connections carry.
    const { trace, done, rtts } = run(net, 20_000);
    expect(min(between(trace, 3_000))).toBeGreaterThanOrEqual(C);
    expect(max(between(trace, 0))).toBeLessThanOrEqual(2.25 * OPEN);
    expect(max(rtts)).toBeLessThan(2_500);
    // Throughput: what C connections carry (C / mean RTT), less than 3%.
    const rate = done.filter((t) => t >= 3000).length / 17;
    const meanRtt = net.slots === 10 ? 200 : 100;
    expect(rate).toBeGreaterThanOrEqual((0.97 * (1000 * C)) / meanRtt);
  });

  it.each([
    ['100 ms', () => 100],
    ['50-150 ms', ((r) => () => 50 + 100 * r())(rng(3))],
  ])('from the default start over 6 connections at %s: opened to OPEN at the first answer, the pool full, no wait near the timeout', (_name, rtt) => {
    // Started over the connections, the base is measured with ours queued, so the 2 x base shrink does not hold the
    // window at the connections: the throughput test keeps it from running away (a doubling that only queued is taken
    // back). The price is a wait in the browser's pool (under 2 s here), with the throughput of the 6 connections.
    const { trace, done, rtts } = run({ slots: 6, rtt }, 20_000);
    expect(trace[0]![1]).toBe(OPEN);
    expect(max(between(trace, 0))).toBeLessThanOrEqual(2.25 * OPEN);
    expect(max(rtts)).toBeLessThan(2_500);
    expect(done.filter((t) => t >= 3000).length / 17).toBeGreaterThanOrEqual(0.97 * 60);
  });

  it.each([
    ['800 ms', 800],
    ['1.5 s', 1_500],
    ['3 s', 3_000],
  ])('a slow HTTP/1.1 network (6 connections, %s): the first answer opens the window only as far as the pool answers in 2.5 s, and no request nears the 10 s timeout', (_name, ms) => {
    // (A first answer of a page also paid for the preflight: twice the RTT at least, and the window opens half as far.)
    const { trace, rtts } = run({ slots: 6, rtt: () => ms }, 60_000);
    expect(trace[0]![1]).toBe(Math.max(12, Math.min(OPEN, Math.floor((2 * FLOOR * 2_500) / ms))));
    expect(max(rtts)).toBeLessThan(10_000 * 0.75);
    // Still the pool's throughput: 6 per round trip.
    expect(mean(between(trace, 10_000))).toBeGreaterThanOrEqual(FLOOR);
  });
});

describe('concurrency: HTTP/2-like, no connection limit', () => {
  it.each([
    ['100 ms', () => 100],
    ['50-150 ms', ((r) => () => 50 + 100 * r())(rng(4))],
    ['50-150 ms (another seed)', ((r) => () => 50 + 100 * r())(rng(5))],
  ])('%s: grows past 350/s x 0.15 s = 53 within 2 s, and stays under 350/s x RTT x 2', (_name, rtt) => {
    const { trace } = run({ slots: Infinity, rtt }, 5_000);
    const firstAt = trace.find(([, l]) => l >= 53)?.[0] ?? Infinity;
    expect(firstAt).toBeLessThanOrEqual(2_000);
    expect(max(between(trace, 0))).toBeLessThanOrEqual(0.7 * 150 + 1);
    expect(min(between(trace, 2_000))).toBeGreaterThanOrEqual(40);
  });

  it('a server that announces 30 streams is a 30-connection pool: settles near 30', () => {
    const { trace } = run({ slots: 30, rtt: () => 100 }, 20_000);
    const settled = between(trace, 3_000);
    expect(min(settled)).toBeGreaterThanOrEqual(30);
    expect(max(settled)).toBeLessThanOrEqual(2.5 * 30);
    expect(mean(settled)).toBeLessThanOrEqual(2.3 * 30);
  });

  it('loopback (RTT 1-3 ms): opened at the first answer, then the floor after the first round, which carries thousands a second', () => {
    const { trace, done } = run({ slots: Infinity, rtt: ((r) => () => 1 + 2 * r())(rng(6)) }, 2_000);
    expect(between(trace, 0).every((l) => l >= FLOOR && l <= OPEN)).toBe(true);
    expect(between(trace, 100).every((l) => l <= 8)).toBe(true);
    expect(done.length / 2).toBeGreaterThan(2_000);
  });

  it('a window the sender never fills (the limiter holds it back) does not grow past the opening', () => {
    const { trace } = run({ slots: Infinity, rtt: () => 100, senderCap: 10 }, 5_000);
    expect(max(between(trace, 0))).toBe(OPEN);
  });

  it('a network that gets slower for good (50 -> 150 ms): shrinks, takes the new RTT as its base at the floor, and grows back', () => {
    const { trace } = run({ slots: Infinity, rtt: (_i, at) => (at < 3_000 ? 50 : 150) }, 20_000);
    expect(max(between(trace, 0, 3_000))).toBeGreaterThanOrEqual(30);
    expect(min(between(trace, 3_000, 6_000))).toBe(FLOOR);
    expect(min(between(trace, 15_000))).toBeGreaterThanOrEqual(53);
  });
});

describe('concurrency: failures', () => {
  it('each request without an answer halves the window, down to the floor; its time is no RTT sample', () => {
    const s = createConcurrency();
    run({ slots: Infinity, rtt: () => 100 }, 2_000, s);
    expect(limit(s)).toBeGreaterThanOrEqual(53);
    const before = s.window_;
    onStart(s, 2_000);
    onAnswer(s, 2_000, 12_000, false);
    expect(s.window_).toBe(before / 2);
    for (let k = 0; k < 5; k++) onStart(s, 12_000), onAnswer(s, 12_000, 22_000, false);
    expect(limit(s)).toBe(FLOOR);
    // The 10 s timeouts did not enter the round's mean: the next round is judged on real answers.
    expect(s.rttSum_).toBe(0);
  });

  it('an outage of timeouts, then a recovery: back above 53 within 2 s of the network returning', () => {
    const { trace } = run(
      { slots: Infinity, rtt: () => 100, fails: (_i, at) => at >= 2_000 && at < 3_000, timeoutMs: 1_000 },
      8_000,
    );
    expect(min(between(trace, 3_000, 4_000))).toBe(FLOOR);
    expect(trace.find(([t, l]) => t >= 4_000 && l >= 53)?.[0] ?? Infinity).toBeLessThanOrEqual(6_000);
  });
});

describe('concurrency: the state', () => {
  it('the first answer opens the window: to OPEN within 625 ms, to 6 x 2 x 2.5 s / RTT after; never lowers it; a failure opens nothing', () => {
    const opened = (rtt: number, start?: number) => limit(onAnswer(onStart(createConcurrency(start), 0), 0, rtt, true));
    expect(opened(100)).toBe(OPEN);
    expect(opened(625)).toBe(OPEN);
    expect(opened(1_000)).toBe(30);
    expect(opened(5_000)).toBe(12);
    // A window carried over from the stored record (a tab taking over) stays.
    expect(opened(100, 80)).toBe(80);
    expect(limit(onAnswer(onStart(createConcurrency(), 0), 0, 100, false))).toBe(FLOOR);
    // Only the first answer opens it.
    const s = createConcurrency(FLOOR);
    onAnswer(onStart(s, 0), 0, 100, false);
    onAnswer(onStart(s, 100), 100, 200, true);
    expect(limit(s)).toBe(FLOOR);
  });

  it('starts at 12 (or the value given) and is plain JSON', () => {
    expect(limit(createConcurrency())).toBe(12);
    expect(limit(createConcurrency(8))).toBe(8);
    const s = createConcurrency();
    expect(JSON.parse(JSON.stringify({ ...s, b_: 0 }))).toEqual({ ...s, b_: 0 });
  });

  it('onStart and onAnswer return the state they were given (mutated in place)', () => {
    const s = createConcurrency();
    expect(onStart(s, 0)).toBe(s);
    expect(onAnswer(s, 0, 100, true)).toBe(s);
    expect(s.inFlight_).toBe(0);
  });
});
