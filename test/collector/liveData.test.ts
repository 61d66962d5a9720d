// @vitest-environment node
// The live view's numbers (dev/collector/live/liveData.ts): bars in the collector's own 1 s windows at its phase,
// only counted requests in the busiest windows and the sliding 60 s count, and fault periods ended by their count.
import { describe, expect, it } from 'vitest';
import { faultLabel, liveData, type FaultPeriod } from '../../dev/collector/live/liveData';
import type { RecordedRequest } from '../../dev/collector/types';

let seq = 0;
const post = (time: number, status: number, extra: Partial<RecordedRequest> = {}): RecordedRequest => ({
  seq: ++seq, time, method: 'POST', path: '/client/profiles/', query: {}, headers: {}, body: undefined, status, company: 'AbC123', ...extra,
});
const limits = { perSecond: 350, perMinute: 3500 };

describe('liveData', () => {
  it('puts each request in the collector window it was counted in, at the phase', () => {
    // Phase 300: windows [..., 9300-10300, 10300-11300]; 10299 and 10300 fall on either side of a boundary.
    const records = [post(10_299, 202), post(10_300, 202), post(10_301, 429), post(10_400, 500, { fault: 'status' }), post(10_500, 0, { fault: 'drop' })];
    const d = liveData({ records, faults: [], profiles: 2, now: 10_900, phaseMs: 300, limits, seconds: 2 });
    expect(d.seconds).toEqual([
      { t: 9300, accepted: 1, refused: 0, throttled: 0, counted: 1, sliding60: 1 },
      { t: 10_300, accepted: 1, refused: 2, throttled: 1, counted: 1, sliding60: 2 },
    ]);
    expect(d.summary).toMatchObject({ posts: 5, accepted: 2, refused: 1, throttled: 1, unanswered: 1, profiles: 2 });
    expect(d.summary.busiest1s).toEqual({ count: 1, start: 9300, company: 'AbC123' });
  });

  it('finds the busiest windows over the whole record, per company, counting neither 429s nor faulted requests', () => {
    const records = [
      ...Array.from({ length: 5 }, (_, i) => post(1000 + i, 202)),
      ...Array.from({ length: 3 }, (_, i) => post(1100 + i, 429)),
      ...Array.from({ length: 4 }, (_, i) => post(1200 + i, 202, { company: 'XyZ789' })),
      ...Array.from({ length: 3 }, (_, i) => post(70_000 + i, 202)),
    ];
    const d = liveData({ records, faults: [], profiles: 0, now: 200_000, phaseMs: 0, limits });
    expect(d.summary.busiest1s).toEqual({ count: 5, start: 1000, company: 'AbC123' });
    expect(d.summary.busiest60s).toEqual({ count: 5, start: 0, company: 'AbC123' });
  });

  it('sums the sliding 60 s count over the 59 windows before the first one shown', () => {
    const records = [post(0, 202), post(30_000, 202), post(61_000, 202)];
    const d = liveData({ records, faults: [], profiles: 0, now: 61_500, phaseMs: 0, limits, seconds: 3 });
    expect(d.seconds.map((s) => [s.t, s.sliding60])).toEqual([
      [59_000, 2],
      [60_000, 1], // the one at 0 has left the 60 s ending at 61 000
      [61_000, 2],
    ]);
  });

  it('ends a fault period with its count, and keeps only those that overlap the span shown', () => {
    const faults: FaultPeriod[] = [
      { mode: 'status', label: 'outage (500)', start: 1000, end: 2000 },
      { mode: 'drop', label: 'drop', start: 100_000, end: null, count: 2 },
    ];
    const records = [post(100_100, 0, { fault: 'drop' }), post(100_200, 0, { fault: 'drop' }), post(100_300, 202)];
    const d = liveData({ records, faults, profiles: 0, now: 101_000, phaseMs: 0, limits });
    expect(d.faults).toEqual([{ mode: 'drop', label: 'drop', start: 100_000, end: 100_200, count: 2 }]);
  });

  it('labels faults as the chart shows them', () => {
    expect(faultLabel({ mode: 'status', status: 500, forMs: 5000 })).toBe('outage (500) for 5 s');
    expect(faultLabel({ mode: 'status', status: 429, retryAfter: 5, forMs: 5000 })).toBe('429, Retry-After 5 s for 5 s');
    expect(faultLabel({ mode: 'latency', ms: [50, 150] })).toBe('latency 50-150 ms');
    expect(faultLabel({ mode: 'hang' })).toBe('hang');
  });
});
