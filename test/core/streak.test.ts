import { describe, expect, it } from 'vitest';
import { afterError, afterFailure, calm, spread, SPREAD_CAP } from '../../src/core/streak';

const half = () => 0.5;

describe('afterFailure: the failure streak and the server pause', () => {
  it('a first 429 pauses until Retry-After plus up to half of it again, and leaves the streak alone', () => {
    // Refused at 100 000 with Retry-After 4 s: until 104 000, spread 2 000.
    expect(afterFailure(calm(), { action: 'pause', until: 104_000 }, 99_000, 100_000, () => 0)).toBe(104_000);
    const s = calm();
    expect(afterFailure(s, { action: 'pause', until: 104_000 }, 99_000, 100_000, half)).toBe(105_000);
    expect(s).toEqual({ fails: 0, failedAt: 0, throttled: 105_000, ended: 105_000 });
    expect(afterFailure(calm(), { action: 'pause', until: 104_000 }, 99_000, 100_000, () => 0.999)).toBeCloseTo(105_998, 0);
  });

  it('a lone browser refused once waits at most 1.5 x Retry-After, whatever the draw', () => {
    for (const ra of [0, 1_000, 5_000, 59_000, 60_000, 600_000])
      for (const r of [0, 0.25, 0.5, 0.999999]) {
        const at = afterFailure(calm(), { action: 'pause', until: 100_000 + ra }, 99_000, 100_000, () => r);
        expect(at).toBeGreaterThanOrEqual(100_000 + ra);
        expect(at).toBeLessThanOrEqual(100_000 + 1.5 * ra);
      }
  });

  it('an earlier pause never shortens a longer one', () => {
    const s = calm();
    afterFailure(s, { action: 'pause', until: 104_000 }, 99_000, 100_000, half);
    // Another request of the same burst, refused with Retry-After 1 s.
    expect(afterFailure(s, { action: 'pause', until: 101_200 }, 99_100, 100_200, half)).toBe(105_000);
    expect(s.throttled).toBe(105_000);
  });

  it('refused again within a window of the pause ending: spread by the load Retry-After implies, W (W + RA) / (W - RA)', () => {
    // The pause ended at 105 000; the retry sent then is refused at 105 300 with Retry-After 20 s: spread
    // 60 * 80 / 40 = 120 s past until (125 300).
    const paused = () => ({ fails: 0, failedAt: 0, throttled: 105_000, ended: 105_000 });
    expect(afterFailure(paused(), { action: 'pause', until: 125_300 }, 105_000, 105_300, () => 0)).toBe(125_300);
    const s = paused();
    expect(afterFailure(s, { action: 'pause', until: 125_300 }, 105_000, 105_300, half)).toBe(125_300 + 60_000);
    // The streak of failures is not touched.
    expect(s).toEqual({ fails: 0, failedAt: 0, throttled: 185_300, ended: 185_300 });
    // Sent 59 s after the pause ended, Retry-After 20 s: still again.
    expect(afterFailure(paused(), { action: 'pause', until: 185_000 }, 164_000, 165_000, half)).toBe(185_000 + 60_000);
  });

  it('the spread past Retry-After, in plain numbers', () => {
    // A first 429: half of Retry-After.
    expect(spread(1_000, false)).toBe(500);
    expect(spread(40_000, false)).toBe(20_000);
    // Again: 60 s x (60 + RA) / (60 - RA), at most 3 min (reached at RA = 30 s).
    expect(spread(0, true)).toBe(60_000);
    expect(spread(1_000, true)).toBeCloseTo(62_034, 0);
    expect(spread(20_000, true)).toBe(120_000);
    expect(SPREAD_CAP).toBe(180_000);
    expect(spread(30_000, true)).toBe(180_000);
    expect(spread(45_000, true)).toBe(180_000);
    // A Retry-After of a window or more (not Klaviyo's windows): the cap, never a negative or infinite spread.
    expect(spread(60_000, true)).toBe(180_000);
    expect(spread(600_000, true)).toBe(180_000);
  });

  it('not again: sent over a window after the pause ended, sent before it ended (in flight), or no pause yet', () => {
    const s = () => ({ fails: 0, failedAt: 0, throttled: 105_000, ended: 105_000 });
    // Sent 60 s after the pause ended, refused with Retry-After 20 s: a first 429 (spread 10 s).
    expect(afterFailure(s(), { action: 'pause', until: 185_300 }, 165_000, 165_300, half)).toBe(185_300 + 5_000);
    // Sent before the pause ended (it was in flight): a first 429 too.
    expect(afterFailure(s(), { action: 'pause', until: 124_000 }, 103_000, 104_000, half)).toBe(124_000 + 5_000);
    // No pause yet, whatever the clock: a first 429.
    expect(afterFailure(calm(), { action: 'pause', until: 20_100 }, 0, 100, half)).toBe(20_100 + 5_000);
  });

  it('a failure grows the streak once per round trip: requests sent before it grew fail for the same reason', () => {
    const s = calm();
    // Three requests sent at 0, 10 and 20 fail at 100, 101 and 102: one step.
    afterFailure(s, { action: 'retry', at: 0 }, 0, 100, half);
    afterFailure(s, { action: 'retry', at: 0 }, 10, 101, half);
    afterFailure(s, { action: 'retry', at: 0 }, 20, 102, half);
    expect(s.fails).toBe(1);
    // The probe sent after that fails too: a second step.
    afterFailure(s, { action: 'retry', at: 0 }, 150, 300, half);
    expect(s).toMatchObject({ fails: 2, failedAt: 300 });
  });

  it('the item waits the later of its own retry time and the streak backoff (full jitter, 1 s doubling)', () => {
    const s = calm();
    // Streak 1: backoff 0.5 * 1000 ms.
    expect(afterFailure(s, { action: 'retry', at: 200 }, 0, 100, half)).toBe(600);
    // Streak 2: 0.5 * 2000 ms; the item's own retry is later.
    expect(afterFailure(s, { action: 'retry', at: 9000 }, 150, 300, half)).toBe(9000);
    expect(afterFailure(calm(), { action: 'retry', at: 0 }, 0, 100, () => 0.999)).toBeCloseTo(1099, 0);
  });

  it('settling that fails (storage) grows the streak and waits its backoff', () => {
    const s = { fails: 2, failedAt: 0, throttled: 0, ended: 0 };
    expect(afterError(s, 1000, half)).toBe(1000 + 0.5 * 4000);
    expect(s.fails).toBe(3);
  });
  it('a failure backoff taken over from storage is not a 429 pause: the first 429 after it waits at most 1.5 x RA', () => {
    // A round merges the stored pause (here an outage's backoff, ended at 10 000) into throttled.
    const s = { fails: 0, failedAt: 0, throttled: 10_000, ended: 0 };
    const at = afterFailure(s, { action: 'pause', until: 20_000 + 5_000 }, 20_000, 20_000, () => 0.999);
    expect(at).toBeLessThanOrEqual(20_000 + 1.5 * 5_000);
  });
});
