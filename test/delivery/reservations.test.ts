import { describe, expect, it } from 'vitest';
import { fromRecord } from '../../src/delivery/reservations';

describe('fromRecord: the stored limiter history as a state at now', () => {
  it('keeps times as they are when written before now; counts a vanished flusher\'s reservations as in flight', () => {
    const s = fromRecord({ bounds: [900, 950], reserved: [980], pausedUntil: 2000, savedAt: 990 }, 1000);
    // A reservation is spent by SLACK (1 s) after its time at the latest, never after now, and its request may be on
    // its way until PENDING_MS (11 s) after that.
    expect(s).toEqual({ bounds: [900, 950, 12_000], pausedUntil: 2000 });
  });

  it('shifts everything back by how far the record lies in the future: the clock went back', () => {
    const hour = 3_600_000;
    const s = fromRecord({ bounds: [hour + 900, hour + 950], reserved: [], pausedUntil: hour + 5000, savedAt: hour + 1000 }, 1000);
    expect(s).toEqual({ bounds: [900, 950], pausedUntil: 5000 });
  });

  it('takes a record without savedAt (written by an older version) as it is', () => {
    expect(fromRecord({ bounds: [5], reserved: [], pausedUntil: 0 }, 1000)).toEqual({ bounds: [5], pausedUntil: 0 });
  });
});
