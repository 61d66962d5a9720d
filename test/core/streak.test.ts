import { describe, expect, it } from 'vitest';
import { afterError, afterFailure, calm } from '../../src/core/streak';

const half = () => 0.5;

describe('afterFailure: the failure streak and the server pause', () => {
  it('a 429 pauses until Retry-After and leaves the streak alone', () => {
    const s = calm();
    expect(afterFailure(s, { action: 'pause', until: 5000 }, 0, 100, half)).toBe(5000);
    expect(s).toEqual({ fails: 0, failedAt: 0, throttled: 5000 });
    // An earlier pause never shortens a longer one.
    expect(afterFailure(s, { action: 'pause', until: 3000 }, 0, 200, half)).toBe(5000);
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
    const s = { fails: 2, failedAt: 0, throttled: 0 };
    expect(afterError(s, 1000, half)).toBe(1000 + 0.5 * 4000);
    expect(s.fails).toBe(3);
  });
});
