// Injected faults: at most one per mode, each expiring after forMs (collector clock) or count uses.
import type { Fault } from './types';

/** An active fault with its expiry (ms on the collector's clock) and remaining uses. */
export interface ActiveFault {
  fault: Fault;
  until: number;
  left: number;
}

/** Add `f`, replacing an active fault of the same mode. Returns the new list. */
export function addFault(list: ActiveFault[], f: Fault, now: number): ActiveFault[] {
  const forMs = 'forMs' in f && f.forMs !== undefined ? f.forMs : Infinity;
  const count = 'count' in f && f.count !== undefined ? f.count : Infinity;
  return [...list.filter((a) => a.fault.mode !== f.mode), { fault: f, until: now + forMs, left: count }];
}

/**
 * The fault that decides the answer to a request arriving at `now`: drop, then hang, then status
 * (latency is separate: see latencyFault). Uses one of its count. Expired faults are removed from `list`.
 */
export function takeFault(list: ActiveFault[], now: number): Fault | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.until <= now || list[i]!.left <= 0) list.splice(i, 1);
  for (const mode of ['drop', 'hang', 'status'] as const) {
    const a = list.find((x) => x.fault.mode === mode);
    if (a) {
      a.left -= 1;
      return a.fault;
    }
  }
  return undefined;
}

/** The active latency fault's value, if any. */
export function latencyFault(list: ActiveFault[], now: number): number | [number, number] | undefined {
  const a = list.find((x) => x.fault.mode === 'latency' && x.until > now);
  return a?.fault.mode === 'latency' ? a.fault.ms : undefined;
}

/** A latency option as milliseconds: fixed, or uniform in [min, max] from `random` in [0, 1). */
export function pickLatency(ms: number | [number, number] | undefined, random: () => number): number {
  if (ms === undefined) return 0;
  if (typeof ms === 'number') return ms;
  return Math.round(ms[0] + random() * (ms[1] - ms[0]));
}
